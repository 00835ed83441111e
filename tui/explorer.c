/* explorer.c — the curses explorer: terminal setup and restore, signals, the
 * key loop, focus, and running command lines through the same interpreter as
 * batch mode. Each frame is drawn into stdscr and sent with one doupdate, so
 * nothing flickers; command output is captured into the output pane. */
#include "cmd.h"
#include "cmd_frontier.h"
#include "frontend.h"
#include "panes.h"
#include "rlcurses.h"
#include "rlshared.h"
#include "util.h"

#include <ctype.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/history.h>
#include <term.h>

#define PROMPT "metascope> "
#define LIVE_PROMPT "prompt (live)> "
#define FRAME_GAP 0.015 /* seconds between frames while output streams */

static volatile sig_atomic_t g_cancel, g_demo_stop; /* Ctrl-C: both */
static explorer *g_x; /* for the session callbacks */
static double g_last_frame;

/* Bracketed paste (xterm mode 2004): the terminal wraps a paste in these,
 * which define_key turns into two key codes of our own. */
#define KEY_PASTE_BEGIN (KEY_MAX + 101)
#define KEY_PASTE_END (KEY_MAX + 102)
static bool g_paste; /* inside a paste: newlines are blanks, nothing runs */

/* ------------------------------------------------------------ timing */

typedef struct {
    double *ms;
    int n, cap;
} timings;
static timings g_keys, g_live;

static void timing_add(timings *t, double ms) {
    if (t->n == t->cap) t->cap = t->cap ? 2 * t->cap : 256, t->ms = xrealloc(t->ms, sizeof(double) * (size_t)t->cap);
    t->ms[t->n++] = ms;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void timing_report(const char *what, timings *t) {
    if (!t->n) return;
    qsort(t->ms, (size_t)t->n, sizeof(double), dbl_cmp);
    double sum = 0;
    for (int i = 0; i < t->n; i++) sum += t->ms[i];
    fprintf(stderr, "%s: %d keys, mean %.2f ms, p50 %.2f ms, p95 %.2f ms, max %.2f ms\n", what, t->n, sum / t->n,
            t->ms[t->n / 2], t->ms[t->n * 95 / 100], t->ms[t->n - 1]);
}

/* ------------------------------------------------------------ terminal */

static void on_sigint(int sig) {
    (void)sig;
    g_cancel = 1, g_demo_stop = 1;
}

/* A crash or a kill must not leave the terminal in raw mode on the
 * alternate screen: restore it, then die of the same signal. */
static void on_fatal(int sig) {
    if (!isendwin()) endwin();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void restore_at_exit(void) {
    if (stdscr && !isendwin()) printf("\033[?2004l"), fflush(stdout), endwin();
}

/* Before initscr, so curses keeps our SIGINT (cancel) and SIGTERM handlers;
 * it installs its own for SIGTSTP (Ctrl-Z / fg) and SIGWINCH. */
static void install_signals(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART; /* a terminal write must not fail with EINTR */
    sigaction(SIGINT, &sa, NULL);
    int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) signal(fatal[i], on_fatal);
    atexit(restore_at_exit);
}

static bool want_mono(const explorer_opts *o) {
    const char *nc = getenv("NO_COLOR"); /* no-color.org: set and not empty */
    return o->no_color || (nc && *nc) || !has_colors();
}

static void start_curses(explorer *X, const explorer_opts *o) {
    setlocale(LC_ALL, "");
    ui_utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    initscr();
    cbreak(); /* not raw: Ctrl-C and Ctrl-Z stay signals, so they work during long commands */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    timeout(100); /* wake up to notice Ctrl-C at the prompt */
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0); /* a press is a click: no wait for the release */
    define_key("\033[200~", KEY_PASTE_BEGIN);
    define_key("\033[201~", KEY_PASTE_END);
    putp("\033[?2004h"), fflush(stdout);
    X->mono = want_mono(o);
    ui_colors_init(X->mono);
}

static void frame(explorer *X) {
    draw_frame(X);
    curs_set(X->focus < 0 && !X->help && !X->searching ? 1 : 0);
    wnoutrefresh(stdscr);
    doupdate();
    g_last_frame = ms_now();
}

/* ------------------------------------------------------------ output pane */

/* A line of output longer than this goes on in a new log line (after a
 * blank near the end when there is one): a stream without newlines (gen
 * 100000) stays in lines short enough to wrap and measure on every frame. */
#define LOG_LINE_MAX 4096

static unsigned long g_dropped; /* lines the ring has let go */

/* Adds a line; the oldest goes when the ring is full, and the output pane's
 * cursor and row counts move with the lines they belong to. */
static void log_push(explorer *X, char *line) {
    if (X->log_n == LOG_LINES) {
        g_dropped++;
        free(X->log[0]);
        memmove(X->log, X->log + 1, sizeof(char *) * (LOG_LINES - 1));
        memmove(X->log_rows, X->log_rows + 1, sizeof(int) * (LOG_LINES - 1));
        X->log_n--;
        if (X->cursor[P_OUTPUT] > 0) X->cursor[P_OUTPUT]--;
    }
    X->log_rows[X->log_n] = 0;
    X->log[X->log_n++] = line;
}

static bool g_open; /* the last log line is still being written */

/* Ends the open line at a blank (or a character boundary) near LOG_LINE_MAX
 * and opens the next with the rest. */
static void log_split(explorer *X) {
    char *l = X->log[X->log_n - 1];
    size_t cut = LOG_LINE_MAX;
    for (size_t i = LOG_LINE_MAX; i > LOG_LINE_MAX - 256; i--)
        if (l[i - 1] == ' ') {
            cut = i;
            break;
        }
    while (cut > 1 && (l[cut] & 0xc0) == 0x80) cut--; /* not inside a UTF-8 character */
    char *rest = xstrdup(l + cut);
    l[cut] = 0;
    X->log_rows[X->log_n - 1] = 0;
    log_push(X, rest);
}

/* Screen rows of the log lines from `from` on. */
static int rows_from(explorer *X, int from) {
    int n = 0;
    for (int i = from < 0 ? 0 : from; i < X->log_n; i++) n += log_line_rows(X, i);
    return n;
}

/* Appends output bytes: lines split at '\n' (and past LOG_LINE_MAX), tabs
 * become spaces. Scrolled back, the rows that arrive are added to how far
 * back the pane is, so what is being read does not move. */
static void log_append(explorer *X, const char *s, size_t n) {
    int from = X->log_n - (g_open ? 1 : 0), before = X->log_scroll ? rows_from(X, from) : 0;
    unsigned long dropped = g_dropped;
    for (size_t i = 0; i < n;) {
        if (!g_open) log_push(X, xstrdup("")), g_open = true;
        size_t j = i;
        while (j < n && s[j] != '\n') j++;
        char **l = &X->log[X->log_n - 1];
        size_t old = strlen(*l), add = j - i;
        *l = xrealloc(*l, old + add + 1);
        for (size_t k = 0; k < add; k++) (*l)[old + k] = s[i + k] == '\t' ? ' ' : s[i + k] == '\r' ? ' ' : s[i + k];
        (*l)[old + add] = 0;
        X->log_rows[X->log_n - 1] = 0;
        while (strlen(X->log[X->log_n - 1]) > LOG_LINE_MAX) log_split(X);
        if (j < n) g_open = false;
        i = j < n ? j + 1 : j;
    }
    if (X->log_scroll) { /* lines dropped from the ring's start shift `from` */
        int grow = rows_from(X, from - (int)(g_dropped - dropped)) - before;
        X->log_scroll += grow;
        X->log_new += grow > 0 ? grow : 0;
    }
}

static void log_printf(explorer *X, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_printf(explorer *X, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (g_open) log_append(X, "\n", 1);
    log_append(X, buf, strlen(buf));
    log_append(X, "\n", 1);
}

/* ------------------------------------------------------------ while a command runs */

/* Keys typed while a command runs: those that scroll act at once (PgUp/PgDn
 * and End on the output pane, the wheel on the list under the pointer), so a
 * long stream can be read back as it grows; the others, clicks included,
 * wait here and reach the explorer afterwards, in order. Ctrl-C is a signal. */
static int g_queue[512], g_qn;
static MEVENT g_mqueue[64], g_mev; /* the clicks behind queued KEY_MOUSE codes */
static int g_mqn;
static bool g_have_mev; /* on_mouse takes g_mev rather than getmouse */

static int pane_at(const explorer *X, int y, int x);
static void list_wheel(explorer *X, int p, int d);
static bool output_scroll_key(explorer *X, int k, bool busy);

static void busy_keys(explorer *X) {
    timeout(0);
    for (int k; (k = getch()) != ERR;) {
        MEVENT ev;
        if (k == KEY_RESIZE) continue; /* the next frame lays out again */
        if (k == KEY_MOUSE) {
            if (getmouse(&ev) != OK) continue;
            int p = pane_at(X, ev.y, ev.x);
            if (ev.bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) {
                if (p >= 0) list_wheel(X, p, ev.bstate & BUTTON4_PRESSED ? -3 : 3);
                continue;
            }
            if (g_mqn == (int)(sizeof g_mqueue / sizeof *g_mqueue)) continue;
            g_mqueue[g_mqn++] = ev;
        } else if (output_scroll_key(X, k, true)) continue;
        if (g_qn < (int)(sizeof g_queue / sizeof *g_queue)) g_queue[g_qn++] = k;
    }
    timeout(100);
}

/* The next queued key (a queued click becomes g_mev), or getch's. */
static int next_key(void) {
    g_have_mev = false;
    if (!g_qn) return getch();
    int k = g_queue[0];
    memmove(g_queue, g_queue + 1, sizeof(int) * (size_t)--g_qn);
    if (k == KEY_MOUSE && g_mqn) {
        g_mev = g_mqueue[0], g_have_mev = true;
        memmove(g_mqueue, g_mqueue + 1, sizeof(MEVENT) * (size_t)--g_mqn);
    }
    return k;
}

/* A frame while a command runs, at most every FRAME_GAP, after the keys. */
static void busy_frame(explorer *X) {
    if (ms_now() - g_last_frame <= FRAME_GAP) return;
    if (X->busy) busy_keys(X);
    frame(X);
}

/* Session output: into the output pane, redrawn as it streams. */
static void on_output(void *ctx, const char *text, size_t len) {
    explorer *X = ctx;
    log_append(X, text, len); /* scrolled back, the view stays where it is */
    busy_frame(X);
}

static void on_compare_row(void *ctx, const sess_compare_row *r) {
    explorer *X = ctx;
    view_steer_add(X, r);
    snprintf(X->msg, sizeof X->msg, "compare %d/%d — Ctrl-C cancels", r->row + 1, r->rows);
    g_last_frame = 0; /* each row is drawn */
    busy_frame(X);
}

/* Probe and frontier progress lines: in the status line while they run. */
static void on_progress(void *ctx, const char *line) {
    explorer *X = ctx;
    snprintf(X->msg, sizeof X->msg, "%s — Ctrl-C cancels", line);
    X->msg_role = R_BUSY;
    busy_frame(X);
}

static void on_matches(char **m, int n) {
    char buf[1024];
    size_t o = 0;
    for (int i = 1; i <= n && o + 2 < sizeof buf; i++) o += (size_t)snprintf(buf + o, sizeof buf - o, "%s  ", m[i]);
    log_printf(g_x, "%s", buf);
}

static void set_msg(explorer *X, int role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(explorer *X, int role, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(X->msg, sizeof X->msg, fmt, ap);
    va_end(ap);
    X->msg_role = role;
}

/* ------------------------------------------------------------ commands */

/* Lines are added after readline has started the next one, whose history
 * position would then point at the new entry (and readline would overwrite
 * it when that next line is edited): move the position past the end. */
static void hist_add(const char *line) {
    add_history(line);
    using_history();
}

/* A selected unit: everywhere, the examples pane showing its examples. */
static int select_unit(explorer *X, const char *name) {
    unit u;
    if (cmd_parse_unit(X->S, name, &u, "select")) return -1;
    snprintf(X->unit, sizeof X->unit, "%s", name);
    X->ex_concept = false;
    return 0;
}

/* Pane p fills the shared slot (and probe/frontier's own on wide screens). */
static void show_pane(explorer *X, int p) {
    X->slot = X->last = p;
    if (p == P_PROBE || p == P_FRONTIER) X->eslot = p;
}

/* After a 'latents' command the pane shows what it printed: its sort and
 * filter (id order and no filter unless given). */
static void latents_state(explorer *X, const char *cmd) {
    char k[4][64] = {""};
    int n = sscanf(cmd, " %*s %63s %63s %63s %63s", k[0], k[1], k[2], k[3]);
    X->lat_sort[0] = X->lat_filter[0] = 0;
    for (int i = 0; i + 1 < n; i += 2) {
        if (!strcmp(k[i], "sort")) snprintf(X->lat_sort, sizeof X->lat_sort, "%s", k[i + 1]);
        if (!strcmp(k[i], "filter")) snprintf(X->lat_filter, sizeof X->lat_filter, "%s", k[i + 1]);
    }
}

/* What the explorer itself answers, or notes before the engine runs it.
 * Returns 1 when the command was handled here. */
static int explorer_command(explorer *X, const char *cmd, int *rc) {
    char w0[32] = "", w1[64] = "";
    int n = sscanf(cmd, " %31s %63s", w0, w1);
    if (!strcmp(w0, "select")) {
        *rc = n == 2 ? select_unit(X, w1) : ms_seterr("usage: select UNIT (select)");
        if (!*rc) log_printf(X, "selected %s", X->unit);
        return 1;
    }
    if (!strcmp(w0, "keys") || (!strcmp(w0, "help") && !strcmp(w1, "keys"))) {
        X->help = true, X->help_top = 0;
        return *rc = 0, 1;
    }
    if (!strcmp(w0, "compare")) show_pane(X, P_STEER), view_steer_reset(X, NULL);
    if (!strcmp(w0, "latents")) show_pane(X, P_LATENTS);
    if (!strcmp(w0, "top") || !strcmp(w0, "latent")) show_pane(X, P_EXAMPLES);
    return 0;
}

static int run_one(explorer *X, const char *cmd) {
    int rc;
    if (explorer_command(X, cmd, &rc)) return rc;
    char w0[32] = "", w1[64] = "";
    int n = sscanf(cmd, " %31s %63s", w0, w1);
    if (n < 1) return 0;
    X->busy = w0;
    set_msg(X, R_BUSY, "running %s — Ctrl-C cancels", w0);
    frame(X);
    rc = sess_exec(X->S, cmd);
    X->busy = NULL;
    if (g_open) log_append(X, "\n", 1);
    if (!rc && n == 2 && (!strcmp(w0, "show") || !strcmp(w0, "neuron"))) select_unit(X, w1);
    if (!rc && !strcmp(w0, "latents")) latents_state(X, cmd);
    if (!rc && !strcmp(w0, "probe") && strcmp(w1, "list") && strcmp(w1, "add")) /* a new table */
        show_pane(X, P_PROBE), X->cursor[P_PROBE] = X->top[P_PROBE] = 0;
    if (!rc && !strcmp(w0, "frontier")) show_pane(X, P_FRONTIER), X->fr_block = X->top[P_FRONTIER] = 0;
    if (!rc && !strcmp(w0, "concept") && n == 2 && strcmp(w1, "export")) { /* defined, activated, top or off */
        X->ex_concept = strcmp(w1, "off") != 0;
        if (X->ex_concept) show_pane(X, P_EXAMPLES), X->cursor[P_EXAMPLES] = X->top[P_EXAMPLES] = 0;
    }
    if (!rc && n >= 2 && (!strcmp(w0, "top") || !strcmp(w0, "latent"))) { /* the examples pane follows */
        char name[48];
        snprintf(name, sizeof name, "%s%.40s", w1[0] >= '0' && w1[0] <= '9' ? "sae:" : "", w1);
        select_unit(X, name);
    }
    return rc;
}

/* The active concept's classifier, trained when a command left it untrained
 * (seconds: the status line says so, Ctrl-C cancels); the outcome stays on
 * the status line. */
static void concept_ensure(explorer *X) {
    concept_info ci;
    if (!concept_active(X->S, &ci) || ci.trained || ci.why[0]) return;
    set_msg(X, R_BUSY, "concept %s: training its classifier on corpus samples — Ctrl-C cancels", ci.name);
    frame(X);
    g_cancel = 0;
    if (!concept_train(X->S, "concept") && concept_active(X->S, &ci))
        set_msg(X, R_STATUS, "concept %s: %s trained in %.1f s, AUC %.3f on %d held-out tokens", ci.name, ci.clf,
                ci.seconds, ci.auc, ci.test_tok);
    else if (g_cancel || !strncmp(ms_geterr(), "cancelled", 9))
        set_msg(X, R_BUSY, "(cancelled) concept %s is not trained: 'concept %s' trains it", ci.name, ci.name);
    else {
        set_msg(X, R_ERROR, "error: %s", ms_geterr());
        log_printf(X, "error: %s", ms_geterr());
    }
    g_cancel = 0;
}

/* Splits at ';' outside quotes, as batch mode does; stops at an error. */
static void run_line(explorer *X, const char *line) {
    X->log_scroll = 0; /* a new command: the output pane follows again */
    X->acts_mark = -1;
    log_printf(X, "> %s", line);
    X->msg[0] = 0;
    g_cancel = 0;
    int rc = 0;
    char *cmd;
    while (!rc && !X->S->quit && !g_cancel && (cmd = sess_next_command(&line))) {
        rc = run_one(X, cmd);
        free(cmd);
    }
    if (rc && (g_cancel || !strncmp(ms_geterr(), "cancelled", 9))) rc = 0, g_cancel = 1; /* not an error */
    if (rc) {
        set_msg(X, R_ERROR, "error: %s", ms_geterr());
        log_printf(X, "error: %s", ms_geterr());
    } else if (g_cancel) set_msg(X, R_BUSY, "(cancelled)"), log_printf(X, "(cancelled)");
    else X->msg[0] = 0;
    g_cancel = 0;
    if (!rc) concept_ensure(X);
    view_refresh(X);
    view_index(X);
}

/* ------------------------------------------------------------ live prompt */

static char *g_live_saved, *g_live_last;

static void live_start(explorer *X) {
    X->live = true;
    free(g_live_saved), free(g_live_last);
    g_live_saved = xstrdup(X->S->prompt ? X->S->prompt : "");
    g_live_last = xstrdup(g_live_saved);
    rlc_set_prompt(LIVE_PROMPT);
    rlc_set_text(g_live_saved);
    set_msg(X, R_BUSY, "live prompt: each key re-runs it; Enter keeps it, Ctrl-C restores");
}

/* Re-runs the prompt when its text changed (about a millisecond on the
 * default model), so the activations follow the typing. */
static void live_update(explorer *X) {
    const char *t = rlc_text();
    if (!strcmp(t, g_live_last)) return;
    free(g_live_last);
    g_live_last = xstrdup(t);
    if (!X->S->has_model || !*t) return;
    if (sess_set_prompt(X->S, t, "prompt")) set_msg(X, R_ERROR, "error: %s", ms_geterr());
    else set_msg(X, R_BUSY, "live prompt: %d tokens", X->S->n_prompt);
    view_refresh_fast(X);
}

static void live_end(explorer *X, bool keep) {
    X->live = false;
    rlc_set_prompt(PROMPT);
    X->msg[0] = 0;
    if (keep && *g_live_last) {
        char *cmd = xmalloc(strlen(g_live_last) + 8);
        sprintf(cmd, "prompt %s", g_live_last);
        hist_add(cmd);
        run_line(X, cmd);
        free(cmd);
    } else if (!keep && *g_live_saved && X->S->has_model) {
        sess_set_prompt(X->S, g_live_saved, "prompt");
        view_refresh(X);
    }
}

/* ------------------------------------------------------------ keys */

static void focus_move(explorer *X, int dir) {
    int p = X->focus < 0 ? (dir > 0 ? -1 : N_PANES) : X->focus;
    p = (p + dir + N_PANES) % N_PANES;
    X->focus = X->last = p;
    if (p >= P_STEER && p <= P_FRONTIER) show_pane(X, p);
    if (p == P_OUTPUT) X->cursor[p] = X->log_n - 1; /* from the newest line */
    if (X->zoom >= 0) X->zoom = p;
}

/* Enter on a concept's token: the start of its document through a few
 * tokens past it becomes the prompt (a 'prompt' command, in the history),
 * so the activations pane shows every token's label and score in that
 * context; the token's row is marked there. */
static void concept_row_prompt(explorer *X, int i) {
    int pos;
    char *text = concept_hit_text(X->S, i, &pos);
    if (!text) return;
    size_t n = strlen(text), o = 0;
    char *cmd = xmalloc(4 * n + 16);
    o += (size_t)sprintf(cmd, "prompt \"");
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)text[k];
        if (ch == '"' || ch == '\\') cmd[o++] = '\\', cmd[o++] = (char)ch;
        else if (ch == '\n') cmd[o++] = '\\', cmd[o++] = 'n';
        else if (ch < 32 || ch == 127) o += (size_t)sprintf(cmd + o, "\\x%02x", ch);
        else cmd[o++] = (char)ch;
    }
    cmd[o++] = '"', cmd[o] = 0;
    hist_add(cmd);
    run_line(X, cmd);
    if (!X->msg[0] || X->msg_role != R_ERROR) {
        X->acts_mark = pos + (sess_use_bos(X->S) ? 1 : 0);
        X->cursor[P_ACTS] = X->acts_mark, X->top[P_ACTS] = 0;
        set_msg(X, R_STATUS, "prompt: the context of \"%s\" (row %d of the activations pane), each token with its "
                "label and score", X->ex && i < X->n_ex ? X->ex[i].tok[X->ex[i].peak] : "", X->acts_mark);
    }
    free(cmd), free(text);
}

static void activate_row(explorer *X) {
    int p = X->focus, c = X->cursor[p];
    char name[48] = "";
    if (p == P_EXAMPLES && X->ex_concept) {
        concept_row_prompt(X, c);
        return;
    }
    if ((p == P_ACTS || p == P_NEURON) && c < X->acts.n) {
        const view_token *v = &X->acts.tok[c];
        if (v->n_sae) snprintf(name, sizeof name, "sae:%d", v->sae_id[0]);
        else snprintf(name, sizeof name, "resid:%d", v->top_dim);
    } else if (p == P_LATENTS && c < X->n_lat) snprintf(name, sizeof name, "sae:%d", X->lat[c].id);
    else if (p == P_OUTPUT && c >= 0 && c < X->log_n && !line_unit(X->log[c], name, sizeof name)) {
        set_msg(X, R_STATUS, "this line names no unit: Enter selects on result rows (meta top, cross, acts, latents, top)");
        return;
    }
    if (!name[0]) return;
    if (select_unit(X, name)) set_msg(X, R_ERROR, "error: %s", ms_geterr());
    else set_msg(X, R_STATUS, "selected %s", name);
    view_refresh(X);
    view_index(X);
}

/* Selects a unit from an evaluation pane and shows its top examples; when
 * they replace that pane on screen the focus follows ('b' goes back). */
static void jump_unit(explorer *X, const char *name, const char *note) {
    int from = X->focus;
    if (select_unit(X, name)) {
        set_msg(X, R_ERROR, "error: %s", ms_geterr());
        return;
    }
    view_refresh(X);
    view_index(X);
    rect a = from >= 0 ? X->r[from] : (rect){0}, b = X->r[P_EXAMPLES];
    bool shared = from >= 0 && a.y == b.y && a.x == b.x && a.h == b.h && a.w == b.w;
    show_pane(X, P_EXAMPLES);
    X->back = from;
    if (shared) X->focus = P_EXAMPLES;
    set_msg(X, R_STATUS, "selected %s — %s%s", name, note, shared ? " · b: back" : "");
}

/* Probe pane: Enter the row's best winner, m/s/r/l a family's. */
static bool probe_key(explorer *X, int k) {
    static const char FAM[] = "msrl"; /* PF_META, PF_SAE, PF_RESID, PF_MLP */
    const char *f = k > 0 && k < 128 ? strchr(FAM, k) : NULL;
    if (!f && k != '\r' && k != '\n' && k != KEY_ENTER) return false;
    char name[48], note[200];
    if (eval_unit(X, f ? (int)(f - FAM) : -1, name, sizeof name, note, sizeof note)) set_msg(X, R_ERROR, "%s", note);
    else jump_unit(X, name, note);
    return true;
}

/* Frontier pane: blocks, scrolling, and the SAE-latent source's examples. */
static bool frontier_key(explorer *X, int k) {
    int *top = &X->top[P_FRONTIER];
    char name[32], note[128];
    if (!X->S->frontier_last) return false;
    switch (k) {
    case KEY_RIGHT: case KEY_NPAGE: X->fr_block++, *top = 0; return true;
    case KEY_LEFT: case KEY_PPAGE: X->fr_block--, *top = 0; return true;
    case KEY_DOWN: *top += 1; return true;
    case KEY_UP: *top -= *top > 0; return true;
    case KEY_HOME: *top = 0; return true;
    case KEY_END: *top = X->fr_lines; return true;
    case 's': case '\r': case '\n': case KEY_ENTER:
        if (frontier_unit(X, name, sizeof name)) {
            set_msg(X, R_ERROR, "this frontier has no SAE-latent source (it needs an SAE of the GLP's layer)");
            return true;
        }
        snprintf(note, sizeof note, "the SAE-latent source of %s", X->S->frontier_last->blocks[X->fr_block].concept);
        jump_unit(X, name, note);
        return true;
    default: return false;
    }
}

/* '/' search: the next row (dir 1) or previous (-1) after the cursor whose
 * text holds the search text, any case, wrapping around. */
static void search_next(explorer *X, int dir) {
    int p = X->focus, n = p == P_OUTPUT ? X->log_n : pane_rows(X, p), c = X->cursor[p];
    char row[1024];
    if (!X->search[0] || n <= 0) return;
    for (int i = 1; i <= n; i++) {
        int r = ((c + dir * i) % n + n) % n;
        pane_row_text(X, p, r, row, sizeof row);
        if (strcasestr(row, X->search)) {
            X->cursor[p] = r;
            set_msg(X, R_STATUS, "/%s: row %d of %d · n/N next/previous", X->search, r + 1, n);
            return;
        }
    }
    set_msg(X, R_ERROR, "/%s: not found in %d rows", X->search, n);
}

/* Typing the search text: Enter finds, Esc drops it. */
static void search_key(explorer *X, int k) {
    size_t n = strlen(X->search);
    if (k == 27) X->searching = false, X->search[0] = 0;
    else if (k == '\r' || k == '\n' || k == KEY_ENTER) X->searching = false, search_next(X, 1);
    else if ((k == KEY_BACKSPACE || k == 127 || k == 8) && n) X->search[n - 1] = 0;
    else if (k >= 32 && k < 256 && k != 127 && n + 1 < sizeof X->search) X->search[n] = (char)k, X->search[n + 1] = 0;
}

/* The output pane's cursor is a log line; the end follows new output. */
static void output_key(explorer *X, int k, int page) {
    int *c = &X->cursor[P_OUTPUT];
    switch (k) {
    case KEY_UP: *c -= 1; break;
    case KEY_DOWN: *c += 1; break;
    case KEY_PPAGE: *c -= page; break;
    case KEY_NPAGE: *c += page; break;
    case KEY_HOME: *c = 0; break;
    case KEY_END: *c = X->log_n - 1, X->log_scroll = 0; break;
    }
    *c = *c >= X->log_n ? X->log_n - 1 : *c < 0 ? 0 : *c;
}

/* vi and less keys for lists: j/k, g/G. */
static int list_alias(int k) {
    return k == 'j' ? KEY_DOWN : k == 'k' ? KEY_UP : k == 'g' ? KEY_HOME : k == 'G' ? KEY_END : k;
}

/* Keys while a pane has the focus; false hands the key to the prompt. The
 * hint line lists the keys a pane takes; any other key is typed at the
 * prompt, so no character is lost. */
static bool pane_key(explorer *X, int k) {
    int p = X->focus, n = pane_rows(X, p), page = X->r[p].h > 4 ? X->r[p].h - 3 : 1;
    int *c = &X->cursor[p];
    k = list_alias(k);
    switch (k) {
    case 'z': X->zoom = X->zoom >= 0 ? -1 : p; return true;
    case '?': X->help = true, X->help_top = 0; return true;
    case 27: case 'q': case ':': X->focus = -1; return true;
    case '/': X->searching = true, X->search[0] = 0; return true;
    case 'n': case 'N': search_next(X, k == 'n' ? 1 : -1); return true;
    default: break;
    }
    if ((p == P_PROBE && probe_key(X, k)) || (p == P_FRONTIER && frontier_key(X, k))) return true;
    if (p == P_EXAMPLES && k == 'c') { /* the unit's examples <-> the concept's tokens */
        X->ex_concept = !X->ex_concept, X->cursor[p] = X->top[p] = 0;
        view_index(X);
        set_msg(X, R_STATUS, "%s", X->ex_concept ? "the active concept's highest-scoring held-out tokens · Enter: "
                "its context becomes the prompt · c: the unit's examples" : "the selected unit's top examples · c: "
                "the concept's tokens");
        return true;
    }
    if (p == P_EXAMPLES && k == 'b' && X->back >= 0) {
        X->focus = X->back, show_pane(X, X->back), X->back = -1;
        return true;
    }
    if (p == P_OUTPUT && k != '\t' && k != KEY_BTAB && k != KEY_LEFT && k != KEY_RIGHT && k != '\r' && k != '\n' &&
        k != KEY_ENTER) {
        bool mine = k == KEY_UP || k == KEY_DOWN || k == KEY_PPAGE || k == KEY_NPAGE || k == KEY_HOME || k == KEY_END;
        if (mine) output_key(X, k, page);
        return mine;
    }
    switch (k) {
    case '\t': case KEY_RIGHT: focus_move(X, 1); return true;
    case KEY_BTAB: case KEY_LEFT: focus_move(X, -1); return true;
    case KEY_UP: *c -= 1; break;
    case KEY_DOWN: *c += 1; break;
    case KEY_PPAGE: *c -= page; break;
    case KEY_NPAGE: *c += page; break;
    case KEY_HOME: *c = 0; break;
    case KEY_END: *c = n - 1; break;
    case '\r': case '\n': case KEY_ENTER: activate_row(X); return true;
    case 's':
        if (p != P_LATENTS) return false;
        snprintf(X->lat_sort, sizeof X->lat_sort, "%s", !strcmp(X->lat_sort, "density") ? "max" : !strcmp(X->lat_sort, "max") ? "id" : "density");
        view_index(X);
        return true;
    default: return false;
    }
    *c = *c >= n ? n - 1 : *c < 0 ? 0 : *c;
    return true;
}

/* The wheel over the output pane: scrolls it by d rows (back when d < 0). */
static void output_wheel(explorer *X, int d) {
    X->log_scroll = X->log_scroll - d > 0 ? X->log_scroll - d : 0;
}

/* The output pane's scrolling from the prompt (or while a command runs):
 * PgUp/PgDn by a screen less a row, End back to following new output (at
 * the prompt only when the line is empty: else it is readline's). */
static bool output_scroll_key(explorer *X, int k, bool busy) {
    int page = X->r[P_OUTPUT].h > 3 ? X->r[P_OUTPUT].h - 2 : 1;
    switch (k) {
    case KEY_PPAGE: X->log_scroll += page; return true;
    case KEY_NPAGE: X->log_scroll = X->log_scroll > page ? X->log_scroll - page : 0; return true;
    case KEY_END:
        if (!busy && (*rlc_text() || !X->log_scroll)) return false;
        X->log_scroll = 0;
        return true;
    default: return false;
    }
}

/* Keys the explorer keeps for itself at the prompt; false feeds readline. */
static bool prompt_key(explorer *X, int k) {
    if (output_scroll_key(X, k, false)) return true;
    switch (k) {
    case KEY_BTAB: focus_move(X, -1); return true;
    case '\t':
        if (*rlc_text() || X->live) return false; /* completion */
        focus_move(X, 1);
        return true;
    case KEY_F(2):
        if (X->live) live_end(X, true);
        else live_start(X);
        return true;
    case 12: clearok(curscr, TRUE); return true; /* Ctrl-L */
    default: return false;
    }
}

/* The shown pane under a screen cell, or -1. */
static int pane_at(const explorer *X, int y, int x) {
    for (int p = 0; p < N_PANES; p++) {
        rect r = X->r[p];
        if (X->shown[p] && y >= r.y && y < r.y + r.h && x >= r.x && x < r.x + r.w) return p;
    }
    return -1;
}

/* The wheel over a list: its rows move by d and the cursor with them (it
 * keeps its place on screen), whether or not the pane has the focus. */
static void list_wheel(explorer *X, int p, int d) {
    int n = p == P_OUTPUT ? X->log_n : pane_rows(X, p), *c = &X->cursor[p], *t = &X->top[p];
    if (p == P_OUTPUT && X->focus != P_OUTPUT) return output_wheel(X, d);
    if (p == P_FRONTIER) { /* a text, not rows: its first line */
        *t = *t + d > 0 ? *t + d : 0;
        return;
    }
    int last = n - X->vis[p] > 0 ? n - X->vis[p] : 0;
    if (p != P_OUTPUT) *t = *t + d > last ? last : *t + d < 0 ? 0 : *t + d;
    *c = *c + d >= n ? n - 1 : *c + d < 0 ? 0 : *c + d;
}

/* A tab of a shared slot's title under (y, x): that pane, or -1. */
static int tab_at(const explorer *X, int y, int x) {
    for (int p = P_STEER; p <= P_FRONTIER; p++)
        if (X->tab_x[p][0] >= 0 && y == X->r[p].y && x >= X->tab_x[p][0] && x < X->tab_x[p][1]) return p;
    return -1;
}

/* A click on a tab shows and focuses its pane; elsewhere in a pane it
 * focuses the pane and selects the row under it; the wheel scrolls the list
 * under the pointer. */
static void on_mouse(explorer *X) {
    MEVENT ev = g_mev;
    if (!g_have_mev && getmouse(&ev) != OK) return;
    g_have_mev = false;
    int p = pane_at(X, ev.y, ev.x), t = tab_at(X, ev.y, ev.x);
    if (p < 0) return;
    if (ev.bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) return list_wheel(X, p, ev.bstate & BUTTON4_PRESSED ? -3 : 3);
    if (t >= 0) {
        show_pane(X, t);
        X->focus = t;
        return;
    }
    int *c = &X->cursor[p], n = p == P_OUTPUT ? X->log_n : pane_rows(X, p);
    X->focus = X->last = p;
    int row = ev.y - X->r[p].y - 1;
    if (p == P_OUTPUT && row >= 0 && row < 256 && X->out_line[row] >= 0) *c = X->out_line[row];
    else if (p != P_OUTPUT && X->row0[p] >= 0 && ev.y >= X->row0[p] && X->top[p] + ev.y - X->row0[p] < n)
        *c = X->top[p] + ev.y - X->row0[p];
}

static void on_ctrl_c(explorer *X) {
    g_cancel = 0;
    X->help = X->searching = false;
    if (X->live) live_end(X, false);
    else if (X->focus >= 0) X->focus = -1;
    else rlc_cancel();
    X->msg[0] = 0;
}

/* One key; returns false when the explorer should end. */
static bool handle_key(explorer *X, int k) {
    if (k == KEY_RESIZE) return true;
    if (k == KEY_PASTE_BEGIN || k == KEY_PASTE_END) { /* the paste goes to the prompt as one line */
        g_paste = k == KEY_PASTE_BEGIN, X->focus = X->focus >= 0 && g_paste ? -1 : X->focus;
        return true;
    }
    if (g_paste) {
        rlc_feed(k == '\r' || k == '\n' || k == '\t' ? ' ' : k);
        return true;
    }
    if (X->help) return help_key(X, k), true;
    if (k == KEY_F(1)) return X->help = true, X->help_top = 0, true;
    if (k == KEY_MOUSE) return on_mouse(X), true;
    if (X->searching) return search_key(X, k), true;
    if (X->focus >= 0 && pane_key(X, k)) return true;
    if (X->focus >= 0) X->focus = -1; /* typing goes back to the prompt */
    if (prompt_key(X, k)) return true;
    rlc_feed(k);
    bool eof;
    char *line = rlc_take_line(&eof);
    if (eof) return false;
    if (!line) {
        if (X->live) live_update(X);
        return true;
    }
    if (X->live) live_end(X, true);
    else if (*line) {
        hist_add(line);
        run_line(X, line);
    }
    free(line);
    return !X->S->quit;
}

/* ------------------------------------------------------------ demo */

static int g_delay = 40; /* ms per typed character (METASCOPE_DEMO_DELAY) */

/* Waits up to ms for a key; true when one came (Ctrl-C sets g_demo_stop). */
static bool demo_wait(explorer *X, int ms) {
    if (ms <= 0 || g_demo_stop) return false;
    if (g_qn) return g_qn = g_mqn = 0, true; /* typed while the demo's command ran */
    double end = ms_now() + ms / 1e3;
    for (double left = ms; left > 0 && !g_demo_stop; left = 1e3 * (end - ms_now())) {
        timeout((int)left + 1);
        int k = getch();
        if (k == KEY_RESIZE) frame(X);
        else if (k != ERR) return timeout(100), true;
    }
    timeout(100);
    return false;
}

/* Types line into the prompt one character at a time (a key finishes it),
 * shows it a moment, then runs it. */
static void demo_type(explorer *X, const char *line) {
    size_t n = strlen(line);
    for (size_t i = 0; i < n && g_delay > 0;) {
        size_t len = ms_utf8_len((const uint8_t *)line + i, n - i);
        i += len ? len : 1;
        char *part = xstrndup(line, i);
        rlc_set_text(part);
        free(part);
        frame(X);
        if (demo_wait(X, g_delay)) break;
    }
    rlc_set_text(line);
    frame(X);
    demo_wait(X, 8 * g_delay);
    rlc_set_text("");
    if (g_demo_stop) return;
    hist_add(line);
    run_line(X, line);
}

/* A caption: in the status line and the output pane, held long enough to
 * read (a key skips). */
static void demo_caption(explorer *X, const char *text) {
    set_msg(X, R_BUSY, "%s", text);
    log_printf(X, "# %s", text);
    frame(X);
    int len = (int)strlen(text);
    demo_wait(X, g_delay * (len > 30 ? len : 30));
}

static void demo_play(explorer *X, const char *path) {
    char **ln, caption[256] = "";
    int n;
    const char *d = getenv("METASCOPE_DEMO_DELAY");
    if (d && *d) g_delay = atoi(d) < 0 ? 0 : atoi(d);
    if (demo_read(path, &ln, &n)) {
        set_msg(X, R_ERROR, "error: %s", ms_geterr());
        return;
    }
    g_demo_stop = 0;
    for (int i = 0; i < n && !g_demo_stop && !X->S->quit; i++) {
        if (!strncmp(ln[i], "#:", 2)) {
            snprintf(caption, sizeof caption, "%s", ln[i] + 2 + (ln[i][2] == ' '));
            demo_caption(X, caption);
            continue;
        }
        demo_type(X, ln[i]);
        if (caption[0] && !X->msg[0]) set_msg(X, R_BUSY, "%s", caption); /* the step's caption stays */
        frame(X);
        demo_wait(X, 25 * g_delay);
    }
    for (int i = 0; i < n; i++) free(ln[i]);
    free(ln);
    const char *how = g_demo_stop ? "stopped" : "finished";
    set_msg(X, R_STATUS, "demo %s — the explorer is yours: 'help' lists commands, F1 the keys", how);
    log_printf(X, "(demo %s)", how);
    g_cancel = g_demo_stop = 0;
    rlc_set_text("");
}

/* ------------------------------------------------------------ main loop */

static void explorer_init(explorer *X, session *S) {
    memset(X, 0, sizeof *X);
    X->S = S;
    X->focus = -1;
    X->slot = P_STEER;
    X->eslot = P_PROBE;
    X->back = X->zoom = X->acts_mark = -1;
    for (int p = 0; p < N_PANES; p++) X->row0[p] = -1;
    snprintf(X->unit, sizeof X->unit, "%s", S->has_glp ? "meta:0:0" : "resid:0");
    S->out = on_output, S->out_ctx = X;
    S->compare_row = on_compare_row, S->compare_ctx = X;
    S->progress = on_progress, S->progress_ctx = X;
    S->cancel = &g_cancel;
    g_x = X;
    rlc_show_matches = on_matches;
    log_printf(X, "metascope %s — 'help' lists commands, F1 the keys; Tab on an empty line moves into the panes.", MS_VERSION);
    if (!S->has_model) log_printf(X, "No model loaded: use 'load model PATH'.");
    view_refresh(X);
    view_index(X);
}

static void loop(explorer *X) {
    bool timing = getenv("METASCOPE_TIMING") != NULL;
    for (;;) {
        int k = next_key(); /* keys typed while a command ran come first */
        if (k == ERR) {
            if (g_cancel) on_ctrl_c(X), frame(X);
            else if (X->acts.stale) view_refresh(X), frame(X); /* typing paused: the rest of the view */
            else if (rlc_dirty) rlc_dirty = false, frame(X);
            continue;
        }
        double t0 = ms_now();
        bool live = X->live, ran = false;
        const char *before = X->log_n ? X->log[X->log_n - 1] : NULL;
        if (!handle_key(X, k)) break;
        ran = X->log_n && X->log[X->log_n - 1] != before && !live; /* a command ran: not a keystroke redraw */
        rlc_dirty = false;
        frame(X);
        if (timing && !ran) timing_add(live ? &g_live : &g_keys, 1e3 * (ms_now() - t0));
    }
}

int explorer_run(session *S, const explorer_opts *o) {
    int err;
    if (setupterm(NULL, 1, &err) != OK) return repl_run(S); /* no terminfo entry for $TERM */
    explorer X;
    install_signals();
    char *hist = rls_history_load();
    static const char *const extra[] = {"select", "keys", NULL};
    rls_completion_init(S, extra);
    start_curses(&X, o);
    explorer_init(&X, S);
    rlc_init(PROMPT);
    if (o->warning) set_msg(&X, R_ERROR, "%s", o->warning);
    frame(&X);
    if (o->bench_startup) {
        endwin();
        fprintf(stderr, "startup_ms %.1f\n", 1e3 * (ms_now() - o->t0));
    } else {
        if (o->demo) demo_play(&X, o->demo), frame(&X);
        if (!S->quit) loop(&X);
    }
    rlc_end();
    putp("\033[?2004l"), fflush(stdout);
    endwin();
    rls_history_save(hist);
    if (getenv("METASCOPE_TIMING")) {
        timing_report("keystroke redraw", &g_keys);
        timing_report("live prompt keystroke (re-run + redraw)", &g_live);
    }
    S->out = NULL, S->compare_row = NULL, S->cancel = NULL, S->progress = NULL;
    view_free(&X);
    return 0;
}
