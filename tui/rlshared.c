/* rlshared.c — history file and Tab completion shared by the readline front
 * ends. Completion knows the command language's shape: the first word is a
 * command, units follow show/neuron/select/top/..., vector names follow
 * steer/compare, settings follow set, concept names and words follow
 * concept; anything else completes file names. */
#include "rlshared.h"
#include "cmd_concept.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <readline/history.h>
#include <readline/readline.h>

static session *g_sess;
static const char *const *g_extra;

char *rls_history_load(void) {
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char *base;
    if (state && *state) base = xstrdup(state);
    else if (home && *home) base = ms_path_join(home, ".local/state");
    else return NULL;
    char *dir = ms_path_join(base, "metascope");
    free(base);
    for (char *p = dir + 1; *p; p++) /* mkdir -p: a fresh home lacks ~/.local */
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0700);
    char *path = ms_path_join(dir, "history");
    free(dir);
    using_history();
    read_history(path);
    return path;
}

void rls_history_save(char *path) {
    if (!path) return;
    if (write_history(path) == 0) history_truncate_file(path, 2000);
    free(path);
}

/* ------------------------------------------------------------ candidates */

/* The candidate list a generator walks; rebuilt for each completion. */
static char **g_cand;
static int g_ncand, g_capcand;

static void cand_reset(void) {
    for (int i = 0; i < g_ncand; i++) free(g_cand[i]);
    g_ncand = 0;
}

static void cand_add(const char *s) {
    if (g_ncand == g_capcand) {
        g_capcand = g_capcand ? 2 * g_capcand : 64;
        g_cand = xrealloc(g_cand, sizeof(char *) * (size_t)g_capcand);
    }
    g_cand[g_ncand++] = xstrdup(s);
}

static void cand_words(const char *list) { /* space-separated */
    char buf[256];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        snprintf(buf, sizeof buf, "%.*s", (int)n, p);
        cand_add(buf);
        p += n + (p[n] == ' ');
    }
}

static void cand_commands(void) {
    int n;
    const sess_cmd_info *c = sess_commands(&n);
    for (int i = 0; i < n; i++) cand_add(c[i].name);
    for (int i = 0; g_extra && g_extra[i]; i++) cand_add(g_extra[i]);
}

/* Unit prefixes down to the block: "mlp:" grows into "mlp:0:".."mlp:L-1:". */
static void cand_units(const char *text) {
    session *S = g_sess;
    char buf[64];
    if (!S || !S->has_model) return;
    if (!strncmp(text, "mlp:", 4) || !strncmp(text, "meta:", 5)) {
        bool mlp = text[1] == 'l';
        int nb = mlp ? S->model.c.n_layers : S->has_glp ? S->glp.c.n_layers : 0;
        for (int b = 0; b < nb; b++) {
            snprintf(buf, sizeof buf, "%s:%d:", mlp ? "mlp" : "meta", b);
            cand_add(buf);
        }
        return;
    }
    cand_add("resid:");
    cand_add("mlp:");
    if (S->has_glp) cand_add("meta:");
    if (S->has_sae) cand_add("sae:");
}

static void cand_vectors(void) {
    for (int i = 0; g_sess && i < g_sess->n_vecs; i++) cand_add(g_sess->vecs[i].name);
}

static bool is_one_of(const char *w, const char *list) {
    size_t n = strlen(w);
    for (const char *p = list; *p;) {
        size_t m = strcspn(p, " ");
        if (m == n && !strncmp(p, w, n)) return true;
        p += m + (p[m] == ' ');
    }
    return false;
}

/* concept: its words and the concepts' names, then units and options. */
static bool cand_concept(int argi, const char *word1, const char *text) {
    if (argi == 1) {
        cand_words("off top export --auto");
        for (int i = 0; g_sess && concept_name(g_sess, i); i++) cand_add(concept_name(g_sess, i));
        cand_units(text);
        return true;
    }
    if (!strcmp(word1, "export")) return false; /* a folder */
    cand_words("--auto --family --k --docs --expand --features --layer --radius --category");
    cand_units(text);
    return true;
}

/* Fills the candidates for word number `argi` after command `cmd` (and its
 * first argument word1); returns false when file names should be completed
 * instead. */
static bool fill_candidates(const char *cmd, const char *word1, int argi, const char *text) {
    cand_reset();
    if (argi == 0) cand_commands();
    else if (!strcmp(cmd, "concept")) return cand_concept(argi, word1, text);
    else if (is_one_of(cmd, "show neuron select top latent export label cross")) cand_units(text);
    else if (argi == 1 && is_one_of(cmd, "steer compare")) cand_vectors();
    else if (argi == 1 && !strcmp(cmd, "load")) cand_words("model glp sae index");
    else if (argi == 1 && !strcmp(cmd, "set"))
        cand_words("temperature top_k top_p seed gen threads ctx bos eos json");
    else if (argi == 1 && !strcmp(cmd, "help")) cand_commands();
    else return false;
    return true;
}

static char *generator(const char *text, int state) {
    static int i;
    if (!state) i = 0;
    size_t n = strlen(text);
    while (i < g_ncand) {
        const char *c = g_cand[i++];
        if (strncmp(c, text, n)) continue;
        /* a unit prefix is not a finished word: no space after "mlp:3:" */
        if (c[strlen(c) - 1] == ':') rl_completion_suppress_append = 1;
        return xstrdup(c);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end) {
    (void)end;
    char cmd[64] = "", word1[64] = "";
    int argi = 0;
    for (int p = 0; p < start;) { /* words before the one being completed */
        while (p < start && rl_line_buffer[p] == ' ') p++;
        if (p >= start) break;
        int q = p;
        while (q < start && rl_line_buffer[q] != ' ') q++;
        if (argi == 0) snprintf(cmd, sizeof cmd, "%.*s", q - p, rl_line_buffer + p);
        if (argi == 1) snprintf(word1, sizeof word1, "%.*s", q - p, rl_line_buffer + p);
        argi++;
        p = q;
    }
    if (!fill_candidates(cmd, word1, argi, text)) return NULL; /* file names */
    rl_attempted_completion_over = 1;
    return rl_completion_matches(text, generator);
}

void rls_completion_init(session *S, const char *const *extra) {
    g_sess = S;
    g_extra = extra;
    rl_readline_name = "metascope";
    rl_attempted_completion_function = complete;
}
