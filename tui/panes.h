/* panes.h — the curses explorer's screen: the explorer's state, the data the
 * panes show (gathered from the session by view.c) and one draw function per
 * pane (panes.c); colors and text helpers are in screen.h. Drawing goes to
 * stdscr only; explorer.c calls doupdate once per frame. */
#ifndef MS_PANES_H
#define MS_PANES_H

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>

#include "cmd_concept.h"
#include "screen.h"
#include "session.h"

/* ------------------------------------------------------------ data */

typedef struct {
    char text[48]; /* printable token text */
    float val;     /* the selected unit */
    float norm;    /* residual norm at the session's layer */
    int top_dim;   /* residual dimension with the largest |value| */
    int sae_id[3]; /* top SAE latents (n_sae of them) */
    float sae_val[3];
    int n_sae;
    int8_t clab;   /* the active concept's label: 1 fires, 0 not, -1 none (BOS, no concept) */
    float cscore;  /* its classifier's probability (NaN: not trained) */
} view_token;

typedef struct {
    view_token *tok;
    int n, cap;
    char next[5][32]; /* next-token prediction */
    float next_p[5];
    int n_next;
    float vmin, vmax, vmean, absmax, normmax;
    int argmax;
    bool stale;    /* norms, next, SAE latents and concept labels not yet recomputed */
    bool concept;  /* a concept is active: the label column shows */
    char err[200]; /* why the unit could not be shown, or "" */
} view_acts;

typedef struct {
    double alpha, fluency, concept;
    bool glp;
    char *text;
} steer_row;

typedef struct {
    char vec[32];
    steer_row *rows;
    int n, cap, total; /* rows so far, rows expected */
} view_steer;

/* One row of the SAE-latents list and one top example (index adapters). */
typedef struct {
    int id;
    double density, max;
    char label[64];  /* the user's label, else the automatic one */
    bool auto_label;
    char top[160];   /* top output tokens, quoted: "a" "b" ... */
} ixa_latent;
typedef struct {
    int ntok;
    char (*tok)[32];
    float *val;
    float max;       /* the example's activating value (its token: peak) */
    int peak;        /* index of the activating token in tok */
    int8_t mark;     /* a concept's token: its label (1 fires, 0 not); -1 for a unit's example */
} ixa_example;

/* The index panes' data comes through these adapters (pane_index.c): they
 * return 0 with malloc'd rows, or -1 with why[] saying what is missing. */
int ixa_latents(session *S, ixa_latent **rows, int *n, char *why, size_t cap);
int ixa_examples(session *S, const char *unit, ixa_example **ex, int *n, char *why, size_t cap);
void ixa_free_examples(ixa_example *ex, int n);
/* pane_concept.c: the active concept's highest-scoring held-out tokens as
 * examples (values: the classifier's scores over each context). */
int cxa_examples(session *S, ixa_example **ex, int *n, char *why, size_t cap);

/* ------------------------------------------------------------ explorer */

/* P_STEER..P_FRONTIER can share one tabbed slot (80x24); at 150x32 and up
 * only probe and frontier share one. */
enum { P_ACTS, P_NEURON, P_STEER, P_LATENTS, P_EXAMPLES, P_PROBE, P_FRONTIER, P_OUTPUT, N_PANES };

typedef struct {
    int y, x, h, w;
} rect;

#define LOG_LINES 1000

typedef struct explorer {
    session *S;
    char unit[48];           /* the selected unit, as typed */
    view_acts acts;
    view_steer steer;
    ixa_latent *lat;         /* SAE latents from the index (sorted, filtered) */
    int n_lat;
    char lat_why[200], lat_sort[16], lat_filter[64];
    ixa_example *ex;
    int n_ex;
    char ex_why[300];
    bool ex_concept;         /* the examples pane lists the active concept's tokens, not the unit's */
    concept_info concept;    /* the active concept (has_concept), read by view.c */
    bool has_concept;
    int acts_mark;           /* the activations row a concept token came from (Enter), or -1 */
    char *log[LOG_LINES];    /* output pane: a ring of lines, the last partial */
    int log_n;
    int log_scroll;          /* screen rows the output pane is scrolled back; 0 follows new output */
    int log_new;             /* rows of output that arrived while scrolled back */
    int log_rows[LOG_LINES]; /* screen rows of each line at log_rows_w columns, 0 until measured */
    int log_rows_w;
    int focus;               /* a pane, or -1: the prompt has the keyboard */
    int slot;                /* which of steering..frontier the shared slot shows */
    int eslot;               /* which of probe/frontier their own slot shows (wide screens) */
    int fr_block;            /* the frontier pane's concept x source block */
    int fr_lines;            /* the frontier pane's content lines (for scrolling) */
    int back;                /* the pane a jump to the examples came from ('b'), or -1 */
    int last;                /* the last focused pane: what a one-pane screen shows */
    int cursor[N_PANES], top[N_PANES];
    rect r[N_PANES];
    bool shown[N_PANES];
    rect status, prompt;
    char msg[256];           /* status-line message */
    int msg_role;            /* R_STATUS, R_ERROR or R_BUSY */
    const char *busy;        /* the running command, or NULL */
    bool live;               /* F2: the prompt line edits the prompt text */
    bool mono;
    bool help;               /* the full-screen key help is open */
    int help_top;            /* its first shown line */
    int zoom;                /* the pane zoomed to the whole body ('z'), or -1 */
    bool searching;          /* '/' in a list: typing the search text */
    char search[64];         /* the last search text (n/N repeat it) */
    int row0[N_PANES];       /* screen row of a list's first shown row (mouse), or -1 */
    int vis[N_PANES];        /* list rows a pane shows (the wheel scrolls by them) */
    int tab_x[N_PANES][2];   /* a shared slot's tab on its title row: columns [from, to), or -1 */
    int out_line[256];       /* output pane: the log line drawn on each screen row, or -1 */
    rect hints;              /* the key-hint line */
} explorer;

/* view.c: re-reads the session after a command (prompt, unit, steering). */
void view_refresh(explorer *X);
void view_refresh_fast(explorer *X);
void view_index(explorer *X);
void view_steer_reset(explorer *X, const char *vec);
void view_steer_add(explorer *X, const sess_compare_row *r);
void view_free(explorer *X);

/* panes.c */
void layout(explorer *X);
void draw_frame(explorer *X);
void draw_too_small(void);
/* Shared by the pane files: a pane's title bar (tabs when it shares a
 * slot), keeping the cursor row in view, the cursor row's role. */
void pane_header(explorer *X, int p, const char *extra);
void pane_scroll(explorer *X, int p, int rows, int n);
int pane_row_role(const explorer *X, int p, int i, int dflt);

/* pane_eval.c: the probe table and the steering frontier, from the
 * session's last results; eval_unit names a probe winner to select (the
 * task's best family when fam < 0) with a note on what the index holds. */
void draw_probe(explorer *X);
void draw_frontier(explorer *X);
int eval_unit(const explorer *X, int fam, char *name, size_t cap, char *note, size_t ncap);
int frontier_unit(explorer *X, char *name, size_t cap);

/* Rows a pane's cursor can move over (for keys), and a row's text for '/'
 * search ("" when the pane has none). */
int pane_rows(const explorer *X, int p);
void pane_row_text(const explorer *X, int p, int i, char *out, size_t cap);
/* Screen rows log line i takes in the output pane (cached per width). */
int log_line_rows(explorer *X, int i);
/* The unit a result line of the output pane names (sae:I, meta:B:I, ...),
 * or 0 when it names none. */
int line_unit(const char *s, char *out, size_t cap);

/* help.c: the full-screen key help (F1, '?', 'keys'), its keys, and the
 * key-hint line that follows the focus. */
void draw_help(explorer *X);
bool help_key(explorer *X, int k); /* false: the help closed */
void draw_hints(explorer *X);

#endif
