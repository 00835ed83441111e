/* probe_tasks.c — reading the probing tasks (built-in tasks.json, user task
 * files) and adding a user task from two files of texts. */
#include "probe.h"
#include "jsonutil.h"
#include "rng.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint32_t probe_tok_hash(const tokenizer *t) {
    uint32_t h = 2166136261u;
    int V = tok_vocab_size(t);
    for (int i = 0; i < V; i++) {
        size_t n;
        const char *b = tok_bytes(t, i, &n);
        for (size_t k = 0; b && k < n; k++) h = (h ^ (uint8_t)b[k]) * 16777619u;
        h = (h ^ 0xffu) * 16777619u; /* separator: token boundaries matter */
    }
    return h;
}

void probe_task_counts(const probe_task *t, int c[4]) {
    memset(c, 0, sizeof(int) * 4);
    for (int i = 0; i < t->n; i++) c[2 * t->ex[i].test + t->ex[i].y]++;
}

/* ------------------------------------------------------------ reading */

static const char *SIDE_KEYS[4] = {"train_neg", "train_pos", "test_neg", "test_pos"};

/* Appends the examples of one list (stride 1: docs or texts; 2: doc, pos). */
static int read_list(probe_task *t, json_object *o, int k, int stride, uint8_t space, int limit, const char *where) {
    json_object *a;
    if (!json_object_object_get_ex(o, SIDE_KEYS[k], &a) || !json_object_is_type(a, json_type_array))
        return ms_seterr("task '%s' has no list %s (%s)", t->name, SIDE_KEYS[k], where);
    int n = (int)json_object_array_length(a);
    if (n % stride) return ms_seterr("task '%s': odd-length %s (%s)", t->name, SIDE_KEYS[k], where);
    t->ex = xrealloc(t->ex, sizeof(probe_ex) * (size_t)(t->n + n / stride + 1));
    for (int i = 0; i < n; i += stride) {
        int doc = json_object_get_int(json_object_array_get_idx(a, (size_t)i));
        int pos = stride == 2 ? json_object_get_int(json_object_array_get_idx(a, (size_t)i + 1)) : -1;
        if (doc < 0 || doc >= limit || pos < -1 || pos >= PROBE_MAX_TOKENS - 1)
            return ms_seterr("task '%s': reference %d:%d out of range in %s (%s)", t->name, doc, pos, SIDE_KEYS[k],
                             where);
        t->ex[t->n++] = (probe_ex){doc, pos, space, (uint8_t)(k & 1), (uint8_t)(k >> 1)};
    }
    return 0;
}

static const char *jstr(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                            : NULL;
}

static int read_texts(probe_task *t, json_object *o, const char *where) {
    json_object *a;
    if (!json_object_object_get_ex(o, "texts", &a) || !json_object_is_type(a, json_type_array))
        return ms_seterr("user task '%s' has no texts (%s)", t->name, where);
    t->n_texts = (int)json_object_array_length(a);
    t->texts = xcalloc((size_t)t->n_texts + 1, sizeof(char *));
    for (int i = 0; i < t->n_texts; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(a, (size_t)i));
        t->texts[i] = xstrdup(s ? s : "");
    }
    return 0;
}

/* One task object; sizes[3] = train, held-out and 0 (texts use their own). */
static int read_task(probe_task *t, json_object *o, const int sizes[2], bool user, const char *where) {
    memset(t, 0, sizeof *t);
    const char *name = jstr(o, "name"), *kind = jstr(o, "kind"), *desc = jstr(o, "desc");
    if (!name || !kind) return ms_seterr("a task without name or kind (%s)", where);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    snprintf(t->desc, sizeof t->desc, "%s", desc ? desc : "");
    t->user = user;
    bool text = !strcmp(kind, "text"), token = !strcmp(kind, "token");
    if (!text && !token && strcmp(kind, "doc")) return ms_seterr("task '%s': unknown kind '%s' (%s)", name, kind, where);
    if (text && read_texts(t, o, where)) return -1;
    for (int k = 0; k < 4; k++) {
        int limit = text ? t->n_texts : sizes[k >> 1];
        uint8_t space = text ? PROBE_TEXT : (uint8_t)(k >> 1);
        if (read_list(t, o, k, token ? 2 : 1, space, limit, where)) return -1;
    }
    return 0;
}

static void task_free(probe_task *t) {
    for (int i = 0; i < t->n_texts; i++) free(t->texts[i]);
    free(t->texts), free(t->ex);
}

static int read_builtin(probe_taskset *ts, const char *path) {
    json_object *root = ms_json_read(path), *arr, *cs;
    if (!root) return -1;
    long c[3] = {0, 0, 0};
    int rc = 0;
    const char *tok = jstr(root, "tokenizer");
    if (!json_object_object_get_ex(root, "tasks", &arr) || !json_object_is_type(arr, json_type_array) ||
        !json_object_object_get_ex(root, "corpus", &cs) || !tok)
        rc = ms_seterr("not a tasks file: no tasks, corpus or tokenizer (%s)", path);
    static const char *names[3] = {"train", "valid", "test"};
    for (int i = 0; i < 3 && !rc; i++) rc = ms_json_int(cs, names[i], 0, 1L << 30, &c[i], path);
    if (!rc) {
        ts->tok_hash = (uint32_t)strtoul(tok, NULL, 16);
        ts->n_train = (int)c[0], ts->n_valid = (int)c[1], ts->n_test = (int)c[2];
        int n = (int)json_object_array_length(arr), sizes[2] = {(int)c[0], (int)(c[1] + c[2])};
        ts->t = xrealloc(ts->t, sizeof(probe_task) * (size_t)(ts->n + n + 1));
        for (int i = 0; i < n && !rc; i++) {
            rc = read_task(&ts->t[ts->n], json_object_array_get_idx(arr, (size_t)i), sizes, false, path);
            if (rc) task_free(&ts->t[ts->n]);
            else ts->n++;
        }
    }
    json_object_put(root);
    return rc;
}

static bool known(const probe_taskset *ts, const char *name) {
    for (int i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i].name, name)) return true;
    return false;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every *.json in dir (sorted, so the task order is stable); a name already
 * taken (assets before the user folder) is skipped. */
static int read_user_dir(probe_taskset *ts, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **names = NULL;
    int n = 0, rc = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (ms_ends_with(e->d_name, ".json")) names = xrealloc(names, sizeof(char *) * (size_t)(n + 1)), names[n++] = xstrdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        char *path = ms_path_join(dir, names[i]);
        json_object *o = rc ? NULL : ms_json_read(path);
        if (!rc && !o) rc = -1;
        if (o) {
            ts->t = xrealloc(ts->t, sizeof(probe_task) * (size_t)(ts->n + 1));
            static const int none[2] = {0, 0};
            if ((rc = read_task(&ts->t[ts->n], o, none, true, path)) || known(ts, ts->t[ts->n].name))
                task_free(&ts->t[ts->n]);
            else ts->n++;
            json_object_put(o);
        }
        free(path), free(names[i]);
    }
    free(names);
    return rc;
}

char *probe_user_dir(void) {
    const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char buf[4096];
    if (x && *x) snprintf(buf, sizeof buf, "%s/metascope/probe", x);
    else snprintf(buf, sizeof buf, "%s/.local/share/metascope/probe", home && *home ? home : ".");
    return xstrdup(buf);
}

int probe_tasks_load(probe_taskset *ts, const char *dir) {
    memset(ts, 0, sizeof *ts);
    char *path = ms_path_join(dir, "tasks.json"), *user = ms_path_join(dir, "user"), *xdg = probe_user_dir();
    int rc = ms_file_exists(path) ? read_builtin(ts, path) : 0;
    if (!rc) rc = read_user_dir(ts, user);
    if (!rc) rc = read_user_dir(ts, xdg);
    free(path), free(user), free(xdg);
    if (rc) probe_tasks_free(ts);
    return rc;
}

void probe_tasks_free(probe_taskset *ts) {
    for (int i = 0; i < ts->n; i++) task_free(&ts->t[i]);
    free(ts->t);
    memset(ts, 0, sizeof *ts);
}

/* ------------------------------------------------------------ probe add */

/* Non-empty lines of a file (trailing CR/blanks trimmed). */
static int read_lines(const char *path, char ***lines, int *n) {
    uint8_t *data;
    size_t len;
    if (ms_read_file(path, &data, &len)) return -1;
    *lines = NULL, *n = 0;
    for (char *p = (char *)data, *end = p + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        char *q = e;
        while (q > p && isspace((unsigned char)q[-1])) q--;
        if (q > p) *lines = xrealloc(*lines, sizeof(char *) * (size_t)(*n + 1)), (*lines)[(*n)++] = xstrndup(p, (size_t)(q - p));
        p = e + 1;
    }
    free(data);
    if (*n < 2) return ms_seterr("need at least 2 non-empty lines, found %d (%s)", *n, path);
    return 0;
}

static bool valid_name(const char *s) {
    size_t n = strlen(s);
    if (!n || n > 48 || s[0] == '.' || !strcmp(s, "all") || !strcmp(s, "list") || !strcmp(s, "add")) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i])) return false;
    return true;
}

/* Texts of one class into `texts` from index base; seeded halves into the
 * train and test lists. */
static void split_half(int base, int n, rng_t *r, json_object *train, json_object *test) {
    int *idx = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) idx[i] = base + i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1), t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
    for (int i = 0; i < n; i++) json_object_array_add(i < (n + 1) / 2 ? train : test, json_object_new_int(idx[i]));
    free(idx);
}

static json_object *user_json(const char *name, const char *pf, const char *nf, char **p, int np, char **q, int nq,
                              uint64_t seed) {
    json_object *o = json_object_new_object(), *texts = json_object_new_array(), *l[4];
    for (int k = 0; k < 4; k++) l[k] = json_object_new_array();
    for (int i = 0; i < np; i++) json_object_array_add(texts, json_object_new_string(p[i]));
    for (int i = 0; i < nq; i++) json_object_array_add(texts, json_object_new_string(q[i]));
    rng_t r;
    rng_seed(&r, seed);
    split_half(0, np, &r, l[1], l[3]);
    split_half(np, nq, &r, l[0], l[2]);
    char desc[128];
    snprintf(desc, sizeof desc, "%s vs %s (last token)", ms_basename(pf), ms_basename(nf));
    json_object_object_add(o, "format", json_object_new_string("metascope-probe-user-1"));
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "kind", json_object_new_string("text"));
    json_object_object_add(o, "desc", json_object_new_string(desc));
    json_object_object_add(o, "texts", texts);
    for (int k = 0; k < 4; k++) json_object_object_add(o, SIDE_KEYS[k], l[k]);
    return o;
}

static int mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/* dir/user when dir is writable, else the XDG data folder. */
static char *user_target(const char *dir) {
    char *u = ms_path_join(dir, "user");
    if ((ms_is_dir(u) && !access(u, W_OK)) || (!ms_is_dir(u) && ms_is_dir(dir) && !access(dir, W_OK) && !mkdirs(u)))
        return u;
    free(u);
    u = probe_user_dir();
    if (mkdirs(u)) {
        ms_seterr("cannot create folder (%s)", u);
        free(u);
        return NULL;
    }
    return u;
}

int probe_task_add(const char *dir, const char *name, const char *pos_file, const char *neg_file, uint64_t seed,
                   char **where) {
    if (!valid_name(name))
        return ms_seterr("task name '%s' must be 1-48 of [A-Za-z0-9._-], not all/list/add (probe add)", name);
    probe_taskset ts;
    if (probe_tasks_load(&ts, dir)) return -1;
    bool builtin = false;
    for (int i = 0; i < ts.n; i++) builtin |= !ts.t[i].user && !strcmp(ts.t[i].name, name);
    probe_tasks_free(&ts);
    if (builtin) return ms_seterr("'%s' is a built-in task (probe add)", name);
    char **p = NULL, **q = NULL;
    int np = 0, nq = 0, rc = read_lines(pos_file, &p, &np) || read_lines(neg_file, &q, &nq) ? -1 : 0;
    char *target = rc ? NULL : user_target(dir);
    if (!rc && !target) rc = -1;
    if (!rc) {
        json_object *o = user_json(name, pos_file, neg_file, p, np, q, nq, seed);
        char file[128];
        snprintf(file, sizeof file, "%s.json", name);
        *where = ms_path_join(target, file);
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        rc = ms_write_file_atomic(*where, s, strlen(s));
        json_object_put(o);
        if (rc) free(*where), *where = NULL;
    }
    for (int i = 0; i < np; i++) free(p[i]);
    for (int i = 0; i < nq; i++) free(q[i]);
    free(p), free(q), free(target);
    return rc;
}
