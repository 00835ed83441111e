/* pane_eval.c — the evaluation panes, drawn from the session's last results
 * (S->probe_last, S->frontier_last; never from printed text): the probe table
 * (per task and family the test AUC and winning unit, the mean and its CI),
 * and the steering frontier per concept x source (each method's area, the
 * alpha table with Pareto marks, a scatter plot). */
#include "cmd_frontier.h"
#include "panes.h"
#include "probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ probe */

static const char FAM_KEY[PF_N] = {'m', 's', 'r', 'l'}; /* keys of the family columns */

/* v with prec decimals and no leading zero (".61"), into b. */
static const char *nz(char *b, size_t cap, double v, int prec) {
    snprintf(b, cap, "%.*f", prec, v);
    return b[0] == '0' && b[1] == '.' ? b + 1 : b;
}

static bool has_fam(const probe_result *r, int f) { return (r->families >> f) & 1u; }

/* The family whose winner has the highest test AUC in row i, or -1. */
static int best_fam(const probe_result *r, int i) {
    int best = -1;
    for (int f = 0; f < PF_N; f++) {
        const probe_win *w = &r->rows[i].win[f];
        if (has_fam(r, f) && w->jump[0] && isfinite(w->test_auc) && (best < 0 || w->test_auc > r->rows[i].win[best].test_auc))
            best = f;
    }
    return best;
}

int eval_unit(const explorer *X, int fam, char *name, size_t cap, char *note, size_t ncap) {
    const probe_result *r = X->S->probe_last;
    int i = X->cursor[P_PROBE];
    if (!r || i < 0 || i >= r->n) return snprintf(note, ncap, "no probe table yet: probe TASK|all"), -1;
    int f = fam < 0 ? best_fam(r, i) : fam;
    if (f < 0 || !has_fam(r, f) || !r->rows[i].win[f].jump[0])
        return snprintf(note, ncap, "%s: no %s winner in this table", r->rows[i].name, f < 0 ? "" : PROBE_FAMILY[f]), -1;
    const probe_win *w = &r->rows[i].win[f];
    snprintf(name, cap, "%s", w->jump);
    char a[16];
    int n = snprintf(note, ncap, "%s %s, AUC %s", r->rows[i].name, PROBE_FAMILY[f], nz(a, sizeof a, w->test_auc, 3));
    if (f == PF_META && n > 0 && (size_t)n < ncap) snprintf(note + n, ncap - (size_t)n, ", %s (index: @0.1)", strchr(w->name, '@'));
    if (f == PF_RESID && n > 0 && (size_t)n < ncap) snprintf(note + n, ncap - (size_t)n, "; not in the index");
    return 0;
}

/* A winner in a cell: its test AUC and unit, without the family prefix nor
 * leading zeros (".708 2:3@.3"). */
static void cell_text(const probe_win *w, char *out, size_t cap) {
    const char *c = strchr(w->name, ':'), *u = c ? c + 1 : w->name, *z = strstr(u, "@0.");
    char a[16];
    snprintf(a, sizeof a, "%.3f", w->test_auc);
    if (z) snprintf(out, cap, "%s %.*s@%s", a[0] == '0' ? a + 1 : a, (int)(z - u), u, z + 2);
    else snprintf(out, cap, "%s %s", a[0] == '0' ? a + 1 : a, u);
}

typedef struct {
    int fam[PF_N], nf, taskw, cw;
    bool units; /* winners fit in the cells */
} probe_cols;

static probe_cols probe_layout(const probe_result *r, int w) {
    probe_cols c = {.nf = 0};
    for (int f = 0; f < PF_N; f++)
        if (has_fam(r, f)) c.fam[c.nf++] = f;
    int nf = c.nf ? c.nf : 1;
    c.units = w - nf * 14 >= 9;
    c.cw = c.units ? 14 : 6;
    c.taskw = w - nf * c.cw < 22 ? w - nf * c.cw : 22;
    if (c.taskw < 4) c.taskw = 4;
    return c;
}

static void probe_head(int y, rect r, const probe_cols *c) {
    ui_put(y, r.x, c->taskw, "task", R_DIM);
    for (int k = 0; k < c->nf; k++) {
        char t[32];
        snprintf(t, sizeof t, c->units ? "%s [%c]" : "%s", PROBE_FAMILY[c->fam[k]], FAM_KEY[c->fam[k]]);
        ui_put(y, r.x + c->taskw + k * c->cw, c->cw - 1, t, R_DIM);
    }
}

static void probe_row_draw(explorer *X, int y, rect r, const probe_cols *c, int i) {
    const probe_result *pr = X->S->probe_last;
    const probe_row *row = &pr->rows[i];
    int role = pane_row_role(X, P_PROBE, i, R_NORMAL), best = best_fam(pr, i);
    if (role == R_CURSOR) ui_fill(y, r.x, r.w, R_CURSOR);
    ui_put(y, r.x, c->taskw - 1, row->name, role);
    for (int k = 0; k < c->nf; k++) {
        const probe_win *w = &row->win[c->fam[k]];
        char t[48];
        if (!isfinite(w->test_auc)) snprintf(t, sizeof t, "  -");
        else if (c->units) cell_text(w, t, sizeof t);
        else snprintf(t, sizeof t, "%.3f", w->test_auc);
        ui_put(y, r.x + c->taskw + k * c->cw, c->cw - 1, t, role == R_CURSOR ? role : c->fam[k] == best ? R_HOT2 : R_NORMAL);
    }
}

/* The mean test AUC and its 95% CI: one row when the cells are wide, else a
 * mean row and the CI's bounds on two rows. Returns rows drawn. */
static int probe_mean(int y, rect r, const probe_cols *c, const probe_result *pr) {
    ui_put(y, r.x, c->taskw, "mean", R_DIM);
    if (c->units) ui_put(y, r.x, c->taskw, "mean [CI]", R_DIM);
    else ui_put(y + 1, r.x, c->taskw, "CI lo", R_DIM), ui_put(y + 2, r.x, c->taskw, "CI hi", R_DIM);
    for (int k = 0; k < c->nf; k++) {
        int f = c->fam[k], x = r.x + c->taskw + k * c->cw;
        char a[3][16];
        if (c->units)
            ui_putf(y, x, c->cw - 1, R_NORMAL, "%s [%s,%s]", nz(a[0], 16, pr->mean[f], 2), nz(a[1], 16, pr->lo[f], 2),
                    nz(a[2], 16, pr->hi[f], 2));
        else {
            ui_putf(y, x, c->cw - 1, R_NORMAL, "%.3f", pr->mean[f]);
            ui_putf(y + 1, x, c->cw - 1, R_DIM, "%.3f", pr->lo[f]);
            ui_putf(y + 2, x, c->cw - 1, R_DIM, "%.3f", pr->hi[f]);
        }
    }
    return c->units ? 1 : 3;
}

/* The cursor row's winners with the keys that select them. */
static void probe_keys(explorer *X, char *out, size_t cap) {
    const probe_result *pr = X->S->probe_last;
    int i = X->cursor[P_PROBE] < pr->n ? X->cursor[P_PROBE] : 0, b = best_fam(pr, i);
    size_t o = (size_t)snprintf(out, cap, "%s: Enter %s", pr->rows[i].name, b >= 0 ? pr->rows[i].win[b].jump : "-");
    for (int f = 0; f < PF_N && o < cap; f++)
        if (has_fam(pr, f) && pr->rows[i].win[f].jump[0])
            o += (size_t)snprintf(out + o, cap - o, " · %c %s", FAM_KEY[f], pr->rows[i].win[f].name);
}

void draw_probe(explorer *X) {
    rect r = X->r[P_PROBE];
    const probe_result *pr = X->S->probe_last;
    char extra[96] = "";
    if (pr) snprintf(extra, sizeof extra, "%d task%s · layer %d · %.1f s", pr->n, pr->n == 1 ? "" : "s", pr->layer, pr->seconds);
    pane_header(X, P_PROBE, extra);
    if (!pr || !pr->n) {
        ui_wrapped(r.y + 1, r.x, r.w, r.h - 1,
                   "no probe yet — probe TASK|PREFIX*|all [--tasks N] [--per-class N] ('probe list' lists the tasks); "
                   "then Enter on a row, or m/s/r/l, opens a winner's top examples", R_DIM);
        return;
    }
    probe_cols c = probe_layout(pr, r.w);
    char keys[256];
    probe_keys(X, keys, sizeof keys);
    int kh = ui_wrapped_rows(keys, r.w), mh = c.units ? 1 : 3, rows = r.h - 2 - mh - kh;
    if (rows < 1) rows = 1, kh = r.h - 3 - mh > 0 ? r.h - 3 - mh : 0;
    probe_head(r.y + 1, r, &c);
    pane_scroll(X, P_PROBE, rows, pr->n);
    int i = 0;
    for (; i < rows && X->top[P_PROBE] + i < pr->n; i++) probe_row_draw(X, r.y + 2 + i, r, &c, X->top[P_PROBE] + i);
    int y = r.y + 2 + i;
    if (y + mh <= r.y + r.h) y += probe_mean(y, r, &c, pr);
    if (kh) ui_wrapped(y, r.x, r.w, r.y + r.h - y, keys, R_DIM);
}

/* ------------------------------------------------------------ frontier */

static void method_name(int m, char *out, size_t cap);

static const int METH_ROLE[FR_MAX_METHODS] = {R_PLAIN, R_METH1, R_METH2, R_GLP};
static const char *GLYPH_U[FR_MAX_METHODS] = {"●", "▲", "■", "◆"}, *GLYPH_A[FR_MAX_METHODS] = {"o", "+", "x", "#"};

static const char *glyph(int m) { return ui_utf8 ? GLYPH_U[m] : GLYPH_A[m]; }

/* Content lines drawn with a scroll offset: line() gives the screen row of
 * the next line, or -1 when it is out of view (or a counting pass). */
typedef struct {
    rect r;
    int n, skip;
    bool dry;
} canvas;

static int line(canvas *c) {
    int k = c->n++ - c->skip;
    return c->dry || k < 0 || k >= c->r.h ? -1 : c->r.y + k;
}

static const frontier_block *cur_block(explorer *X) {
    const frontier_result *fr = X->S->frontier_last;
    if (!fr || !fr->n_blocks) return NULL;
    X->fr_block = (X->fr_block % fr->n_blocks + fr->n_blocks) % fr->n_blocks;
    return &fr->blocks[X->fr_block];
}

int frontier_unit(explorer *X, char *name, size_t cap) {
    const frontier_result *fr = X->S->frontier_last;
    const frontier_block *B = cur_block(X);
    for (int i = 0; B && i < fr->n_blocks; i++) {
        const frontier_block *b = &fr->blocks[i];
        if (!strcmp(b->concept, B->concept) && !strncmp(b->source, "sae:", 4)) return snprintf(name, cap, "%s", b->source), 0;
    }
    return -1;
}

/* "glp@0.3" as "glp@.3": table columns are 7 wide. */
static void method_name(int m, char *out, size_t cap) {
    const char *s = frontier_method(m, NULL), *z = strstr(s, "@0.");
    if (z) snprintf(out, cap, "%.*s@%s", (int)(z - s), s, z + 2);
    else snprintf(out, cap, "%s", s);
}

/* Per alpha a fluency row (Pareto points starred) and a concept row; then
 * each method's frontier area (over the block's fluency span). */
static void fr_table(canvas *c, const frontier_result *fr, const frontier_block *B) {
    int y = line(c), nm = fr->n_methods;
    if (y >= 0) ui_put(y, c->r.x, 7, "alpha", R_DIM);
    for (int m = 0; m < nm && y >= 0; m++) {
        char t[16];
        method_name(m, t, sizeof t);
        ui_putf(y, c->r.x + 7 + 7 * m, 7, METH_ROLE[m], "%7s", t);
    }
    for (int a = 0; a < fr->o.n_alphas; a++) {
        y = line(c);
        if (y >= 0) ui_putf(y, c->r.x, 7, R_NORMAL, "%4.2f fl", fr->o.alphas[a]);
        for (int m = 0; m < nm && y >= 0; m++) {
            double f = B->fl[a * nm + m].mean;
            ui_putf(y, c->r.x + 7 + 7 * m, 7, B->pareto[a * nm + m] ? R_HOT2 : R_NORMAL, f < 10 ? "%6.2f%s" : "%6.1f%s", f,
                    B->pareto[a * nm + m] ? "*" : "");
        }
        y = line(c);
        if (y >= 0) ui_put(y, c->r.x, 7, "     co", R_NORMAL);
        for (int m = 0; m < nm && y >= 0; m++) ui_putf(y, c->r.x + 7 + 7 * m, 7, R_NORMAL, "%6.3f", B->co[a * nm + m].mean);
    }
    if ((y = line(c)) >= 0) ui_put(y, c->r.x, 7, "area", R_DIM);
    for (int m = 0; m < nm && y >= 0; m++) ui_putf(y, c->r.x + 7 + 7 * m, 7, METH_ROLE[m], "%6.3f", B->area[m]);
}

/* The plot's first line: the concept axis' range and the methods' glyphs. */
static void fr_legend(int y, rect r, const frontier_result *fr, double cmax) {
    int x = r.x + ui_putf(y, r.x, r.w, R_DIM, r.w >= 50 ? "concept^ 0..%.3f " : "co<=%.3f ", cmax);
    for (int m = 0; m < fr->n_methods && x < r.x + r.w; m++) {
        char nm[16];
        method_name(m, nm, sizeof nm);
        x += ui_put(y, x, r.x + r.w - x, glyph(m), METH_ROLE[m]);
        x += ui_putf(y, x, r.x + r.w - x, METH_ROLE[m], "%s ", r.w >= 50 || m == 0 ? nm : nm + 3);
    }
}

/* Where a point lands in a plot of pw x ph cells, or false. */
static bool fr_cell(const frontier_block *B, int i, double cmax, int pw, int ph, int *x, int *y) {
    double f = B->fl[i].mean, co = B->co[i].mean, span = B->f_hi - B->f_lo > 0 ? B->f_hi - B->f_lo : 1;
    if (!isfinite(f) || !isfinite(co)) return false;
    *x = (int)lround((f - B->f_lo) / span * (pw - 1)), *y = ph - 1 - (int)lround(co / cmax * (ph - 1));
    *x = *x < 0 ? 0 : *x >= pw ? pw - 1 : *x, *y = *y < 0 ? 0 : *y >= ph ? ph - 1 : *y;
    return true;
}

/* Concept against fluency, one glyph and color per method ('&' where
 * methods overlap), as the frontier command plots it. */
static void fr_plot(canvas *c, const frontier_result *fr, const frontier_block *B, int ph) {
    int np = fr->o.n_alphas * fr->n_methods, pw = c->r.w - 2;
    double cmax = 0;
    for (int i = 0; i < np; i++)
        if (isfinite(B->co[i].mean)) cmax = fmax(cmax, B->co[i].mean);
    cmax = cmax > 0 ? cmax : 0.01;
    int y0 = line(c), *rows = malloc(sizeof(int) * (size_t)ph);
    signed char *cell = calloc((size_t)(pw * ph), 1);
    if (y0 >= 0) fr_legend(y0, c->r, fr, cmax);
    for (int i = 0; i < np && pw > 0; i++) {
        int x, y;
        signed char m = (signed char)(i % fr->n_methods + 1), *p;
        if (!fr_cell(B, i, cmax, pw, ph, &x, &y)) continue;
        p = &cell[y * pw + x];
        *p = *p == 0 || *p == m ? m : -1;
    }
    for (int y = 0; y < ph; y++) {
        rows[y] = line(c);
        if (rows[y] < 0) continue;
        ui_put(rows[y], c->r.x, 1, ui_utf8 ? "│" : "|", R_DIM);
        for (int x = 0; x < pw; x++) {
            signed char v = cell[y * pw + x];
            if (v) ui_put(rows[y], c->r.x + 2 + x, 1, v > 0 ? glyph(v - 1) : "&", v > 0 ? METH_ROLE[v - 1] : R_NORMAL);
        }
    }
    int yb = line(c);
    if (yb >= 0) {
        for (int x = 0; x < c->r.w; x++) ui_put(yb, c->r.x + x, 1, x ? (ui_utf8 ? "─" : "-") : ui_utf8 ? "└" : "+", R_DIM);
        ui_putf(yb, c->r.x + 2, c->r.w - 2, R_DIM, " NLL %.2f..%.2f ", B->f_lo, B->f_hi);
    }
    free(cell), free(rows);
}

static void fr_content(explorer *X, canvas *c, const frontier_result *fr, const frontier_block *B) {
    int y = line(c);
    char t[160];
    if (!strcmp(B->source, "diffmean")) snprintf(t, sizeof t, "%s · DiffMean direction · lexicon %d", B->concept, B->lex_words);
    else snprintf(t, sizeof t, "%s · SAE latent %s (cos %.2f) · lexicon %d", B->concept, B->source, B->cosine, B->lex_words);
    if (y >= 0) ui_put(y, c->r.x, c->r.w, t, R_NORMAL);
    fr_table(c, fr, B);
    int ph = c->r.h - c->n - 2; /* the plot fills what is left of the first screen, 3 to 10 rows */
    fr_plot(c, fr, B, ph < 3 ? 3 : ph > 10 ? 10 : ph);
    if (fr->note[0] && (y = line(c)) >= 0) ui_putf(y, c->r.x, c->r.w, R_DIM, "(%s)", fr->note);
    char name[32] = "";
    if ((y = line(c)) >= 0)
        ui_put(y, c->r.x, c->r.w, ui_utf8 ? "←→ PgUp/PgDn: concept x source · ↑↓ scroll" : "Left/Right PgUp/PgDn: next block",
               R_DIM);
    if (!frontier_unit(X, name, sizeof name) && (y = line(c)) >= 0)
        ui_putf(y, c->r.x, c->r.w, R_DIM, "Enter or s: top examples of %s", name);
}

void draw_frontier(explorer *X) {
    rect r = X->r[P_FRONTIER];
    const frontier_result *fr = X->S->frontier_last;
    const frontier_block *B = cur_block(X);
    char extra[128] = "";
    if (B) snprintf(extra, sizeof extra, "%d/%d %s %s", X->fr_block + 1, fr->n_blocks, B->concept, B->source);
    pane_header(X, P_FRONTIER, extra);
    if (!B) {
        ui_wrapped(r.y + 1, r.x, r.w, r.h - 1,
                   "no frontier yet — frontier [--concepts C,...] [--alphas A,...] [--prefixes N] [--tokens T]", R_DIM);
        return;
    }
    canvas c = {{r.y + 1, r.x, r.h - 1, r.w}, 0, 0, true};
    fr_content(X, &c, fr, B);
    X->fr_lines = c.n;
    int *top = &X->top[P_FRONTIER], most = c.n - c.r.h > 0 ? c.n - c.r.h : 0;
    *top = *top > most ? most : *top < 0 ? 0 : *top;
    c = (canvas){c.r, 0, *top, false};
    fr_content(X, &c, fr, B);
}
