/* panes.c — the explorer's screen: semantic colors, clipped UTF-8 text,
 * layout for 80x24 and up, and one function per pane drawing from the
 * explorer's view of the session. Everything draws into stdscr; nothing here
 * refreshes the terminal (explorer.c does one doupdate per frame). */
#include "cmd.h"
#include "panes.h"
#include "probe.h"
#include "rlcurses.h"
#include "screen.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ------------------------------------------------------------ layout */

static const char *NAMES[N_PANES] = {"activations", "neuron",  "steering", "SAE latents", "top examples",
                                     "probe",       "frontier", "output"};
static const char *SHORT[N_PANES] = {"acts", "neuron", "steering", "latents", "examples", "probe", "frontier", "output"};
static const char *TINY[N_PANES] = {"acts", "neur", "steer", "lat", "ex", "probe", "front", "out"};
static const char *MINI[N_PANES] = {"acts", "neur", "st", "la", "ex", "pr", "fr", "out"};

static bool in_slot(int p) { return p >= P_STEER && p <= P_FRONTIER; }
static bool same_rect(rect a, rect b) { return a.y == b.y && a.x == b.x && a.h == b.h && a.w == b.w; }

static void split_rows(rect r, int top_h, rect *a, rect *b) {
    *a = (rect){r.y, r.x, top_h, r.w};
    *b = (rect){r.y + top_h, r.x, r.h - top_h, r.w};
}

/* Wide screens get three columns, every pane but one of probe/frontier
 * (which share a slot under steering); 80x24 gets two, with steering..frontier
 * sharing one slot (the last focused, or the one a command fills; taller for
 * probe and frontier); smaller screens show one pane at a time. */
void layout(explorer *X) {
    int H = LINES, W = COLS, B = H - 3;
    X->hints = (rect){H - 3, 0, 1, W};
    X->status = (rect){H - 2, 0, 1, W};
    X->prompt = (rect){H - 1, 0, 1, W};
    memset(X->shown, 0, sizeof X->shown);
    rect body = {0, 0, B, W}, ev;
    if (X->zoom >= 0) { /* 'z': the focused pane alone */
        for (int p = 0; p < N_PANES; p++) X->r[p] = body;
        X->shown[X->zoom] = true;
    } else if (W >= 150 && B >= 29) {
        int cw = (W - 2) / 3;
        rect c1 = {0, 0, B, cw}, c2 = {0, cw + 1, B, cw}, c3 = {0, 2 * cw + 2, B, W - 2 * cw - 2};
        split_rows(c1, B * 3 / 5, &X->r[P_ACTS], &X->r[P_NEURON]);
        split_rows(c2, B * 2 / 5, &X->r[P_STEER], &ev);
        split_rows(ev, ev.h - B / 4, &X->r[P_PROBE], &X->r[P_OUTPUT]);
        X->r[P_FRONTIER] = X->r[P_PROBE];
        split_rows(c3, B / 2, &X->r[P_LATENTS], &X->r[P_EXAMPLES]);
        for (int p = 0; p < N_PANES; p++) X->shown[p] = p != P_PROBE && p != P_FRONTIER;
        X->shown[X->eslot == P_FRONTIER ? P_FRONTIER : P_PROBE] = true;
    } else if (W >= 60 && B >= 13) {
        int lw = W * 55 / 100, sh = X->slot >= P_PROBE && X->slot <= P_FRONTIER ? B - 7 : B * 11 / 20;
        rect l = {0, 0, B, lw}, r = {0, lw + 1, B, W - lw - 1}, slot;
        split_rows(l, B * 11 / 20, &X->r[P_ACTS], &X->r[P_NEURON]);
        split_rows(r, sh > B * 11 / 20 ? sh : B * 11 / 20, &slot, &X->r[P_OUTPUT]);
        for (int p = P_STEER; p <= P_FRONTIER; p++) X->r[p] = slot;
        X->shown[P_ACTS] = X->shown[P_NEURON] = X->shown[P_OUTPUT] = X->shown[X->slot] = true;
    } else {
        for (int p = 0; p < N_PANES; p++) X->r[p] = body;
        X->shown[X->focus >= 0 ? X->focus : X->last] = true;
    }
}

/* ------------------------------------------------------------ panes */

/* The panes sharing p's slot, as tabs (the shown one in brackets, by its
 * short name), in the longest names that leave `need` columns for the rest of
 * the title. Returns the columns used, or -1 when p has its slot alone. */
static int slot_tabs(explorer *X, int p, int role, int need) {
    static const char *const *SETS[] = {SHORT, TINY, MINI};
    rect r = X->r[p];
    int n = 0, set = 0, cols = 0;
    for (int q = P_STEER; q <= P_FRONTIER; q++) n += same_rect(X->r[q], r);
    if (n < 2) return -1;
    for (; set < 3; set++) { /* the widest set that fits: " name " and "[name]", or "name" and "[name]" spaced */
        cols = set ? n - 1 : 0;
        for (int q = P_STEER; q <= P_FRONTIER; q++)
            if (same_rect(X->r[q], r)) cols += (int)strlen(q == p ? SHORT[q] : SETS[set][q]) + (q == p || !set ? 2 : 0);
        if (cols + need <= r.w || set == 2) break;
    }
    int x = r.x;
    for (int q = P_STEER; q <= P_FRONTIER; q++) {
        if (!same_rect(X->r[q], r)) continue;
        char t[32];
        const char *name = q == p && r.w >= 30 ? SHORT[q] : SETS[set][q], *sep = set && x > r.x ? " " : "";
        snprintf(t, sizeof t, q == p ? "%s[%s]" : set ? "%s%s" : " %s%s ", sep, name);
        X->tab_x[q][0] = x + (int)strlen(sep); /* a click there shows that pane */
        x += ui_put(r.y, x, r.x + r.w - x, t, q == p ? role : R_DIM);
        X->tab_x[q][1] = x;
    }
    return x - r.x;
}

/* The title's extra text cut to w columns at a " · ", else after a whole
 * word: never inside a number such as 1/4096. */
static void fit_extra(const char *extra, int w, char *out, size_t cap) {
    snprintf(out, cap, "%s", extra);
    for (const char *sep = " · "; ui_width(out) > w;) {
        char *cut = NULL;
        for (char *q = strstr(out, sep); q; q = strstr(q + 1, sep)) cut = q;
        if (cut) *cut = 0;
        else if (sep[1]) sep = " "; /* no parts left: words */
        else {
            out[0] = 0;
            return;
        }
    }
}

void pane_header(explorer *X, int p, const char *extra) {
    rect r = X->r[p];
    bool f = X->focus == p;
    int role = f ? R_HEADER_FOCUS : R_HEADER, need = extra && extra[0] ? ui_width(extra) + 1 : 0;
    ui_fill(r.y, r.x, r.w, role);
    int x = in_slot(p) ? slot_tabs(X, p, role, need) : -1;
    if (x < 0) /* a pane of its own: its name */
        x = ui_put(r.y, r.x, r.w, f ? ">" : " ", role), x += ui_put(r.y, r.x + x, r.w - x, NAMES[p], role);
    x += r.x;
    char fit[256];
    if (extra && x < r.x + r.w - 2) fit_extra(extra, r.x + r.w - x - 1, fit, sizeof fit), ui_put(r.y, x + 1, r.x + r.w - x - 1, fit, role);
}

/* Keeps the cursor row of pane p within `rows` visible lines. */
void pane_scroll(explorer *X, int p, int rows, int n) {
    int *c = &X->cursor[p], *t = &X->top[p];
    X->vis[p] = rows;
    if (*c >= n) *c = n - 1;
    if (*c < 0) *c = 0;
    if (*c < *t) *t = *c;
    if (*c >= *t + rows) *t = *c - rows + 1;
    if (*t > n - rows) *t = n - rows > 0 ? n - rows : 0;
}

int pane_row_role(const explorer *X, int p, int i, int dflt) {
    return X->focus == p && X->cursor[p] == i ? R_CURSOR : dflt;
}

/* The active concept's cell: its label (+ fires, . not) and the
 * classifier's probability ('-' while it is not trained). */
static void concept_cell(int y, int x, const view_token *v, int role) {
    if (v->clab < 0) return;
    ui_put(y, x, 1, v->clab ? "+" : ".", role == R_CURSOR ? role : v->clab ? R_HOT3 : R_DIM);
    if (isfinite(v->cscore)) ui_putf(y, x + 2, 5, role, "%4.2f ", v->cscore);
    else ui_put(y, x + 2, 5, "   - ", R_DIM);
}

static void acts_row(explorer *X, int y, rect r, int t, int tw, int cw, int saew) {
    const view_acts *a = &X->acts;
    const view_token *v = &a->tok[t];
    int nw = saew == 10 ? 0 : 7, role = pane_row_role(X, P_ACTS, t, R_NORMAL), x = r.x;
    int bw = r.w - (4 + tw + 9 + cw + nw) - saew;
    if (role == R_CURSOR) ui_fill(y, r.x, r.w, R_CURSOR);
    ui_putf(y, x, 4, role, "%3d ", t);
    ui_put(y, x + 4, tw, v->text, role == R_CURSOR ? role : t == X->acts_mark ? R_HOT2 : R_TOKEN);
    ui_putf(y, x + 4 + tw, 9, role, "%+8.3f ", v->val);
    if (cw && !a->stale) concept_cell(y, x + 13 + tw, v, role);
    if (bw > 0 && a->absmax > 0) ui_bar(y, x + 13 + tw + cw, bw, fabsf(v->val) / a->absmax, v->val < 0);
    if (a->stale) return;
    if (nw) ui_putf(y, r.x + r.w - 7 - saew, 7, role == R_CURSOR ? role : R_DIM, "%7.2f", v->norm);
    if (!saew) return;
    char s[64] = "";
    for (int i = 0, o = 0; i < (saew >= 22 ? v->n_sae : v->n_sae > 0); i++) o += snprintf(s + o, sizeof s - (size_t)o, " %d:%.1f", v->sae_id[i], v->sae_val[i]);
    ui_put(y, r.x + r.w - saew, saew, s, role == R_CURSOR ? role : R_DIM);
}

/* The column header; the concept's column is named after it. */
static void acts_header(explorer *X, int y, rect r, int tw, int cw, int saew) {
    int nw = saew >= 22 || !saew ? 7 : 0;
    ui_put(y, r.x, 4 + tw, "pos token", R_DIM);
    ui_put(y, r.x + 4 + tw, 9, "   value", R_DIM);
    if (cw) ui_putf(y, r.x + 13 + tw, cw - 1, R_DIM, "%s", X->concept.name);
    if (nw) ui_put(y, r.x + r.w - saew - 5, 5, "norm", R_DIM);
    if (saew) ui_put(y, r.x + r.w - saew + 1, saew - 1, saew >= 22 ? "top SAE latents" : "top SAE", R_DIM);
}

static void draw_acts(explorer *X) {
    rect r = X->r[P_ACTS];
    const view_acts *a = &X->acts;
    session *S = X->S;
    char extra[96];
    unit u;
    int L = S->layer;
    if (S->has_model && !cmd_parse_unit(S, X->unit, &u, "acts")) L = cmd_unit_layer(S, &u); /* where its values come from */
    snprintf(extra, sizeof extra, "%s · layer %d", X->unit, L);
    pane_header(X, P_ACTS, extra);
    int y = r.y + 1, rows = r.h - 3;
    if (!S->has_model) ui_put(y, r.x, r.w, "no model loaded — load model PATH", R_DIM);
    else if (!a->n) ui_wrapped(y, r.x, r.w, r.h - 1, "no prompt yet — type: prompt TEXT   (F2 edits the prompt live)", R_DIM);
    if (!a->n || rows < 1) return;
    /* Narrow, the top SAE latent (what Enter selects) replaces the norm; the
     * concept's column (its label and score) comes before the bar, which
     * gives way first, then the token column, down to 8. */
    int saew = !S->has_sae ? 0 : r.w >= 60 ? 22 : r.w >= 36 ? 10 : 0, tw = r.w >= 60 ? 16 : r.w >= 40 ? 10 : 6;
    int nw = saew >= 22 || !saew ? 7 : 0, cw = a->concept ? 7 : 0, short_by = 6 - (r.w - (13 + tw + cw + nw) - saew);
    if (cw && short_by > 0) tw -= short_by < tw - 8 ? short_by : tw - 8 > 0 ? tw - 8 : 0;
    if (a->err[0]) ui_put(y, r.x, r.w, a->err, R_ERROR);
    else acts_header(X, y, r, tw, cw, saew);
    X->row0[P_ACTS] = y + 1;
    pane_scroll(X, P_ACTS, rows, a->n);
    for (int i = 0; i < rows && X->top[P_ACTS] + i < a->n; i++) acts_row(X, y + 1 + i, r, X->top[P_ACTS] + i, tw, cw, saew);
    char next[256] = "next:";
    for (int i = 0, o = 5; i < a->n_next && o < (int)sizeof next; i++)
        o += snprintf(next + o, sizeof next - (size_t)o, " \"%s\" %.0f%%", a->next[i], 100 * a->next_p[i]);
    ui_put(r.y + r.h - 1, r.x, r.w, next, R_DIM);
}

/* One row of per-token values: eighth-height blocks (or ASCII levels). */
static void sparkline(int y, int x, int w, const view_acts *a) {
    static const char *U[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    static const char A[] = " .:-=+*#";
    float span = a->vmax - a->vmin;
    attrset(ui_attr(R_BAR_POS));
    move(y, x);
    for (int t = 0; t < a->n && t < w; t++) {
        int lvl = span > 0 ? (int)lroundf(7 * (a->tok[t].val - a->vmin) / span) : 0;
        if (ui_utf8) addstr(U[lvl]);
        else addch((chtype)A[lvl]);
    }
    attrset(A_NORMAL);
}

static void histogram(int y, int x, int w, int h, const view_acts *a) {
    int cnt[32] = {0}, bins = h < 10 ? h : 10, mx = 0;
    float span = a->vmax - a->vmin;
    if (bins < 1 || w < 12) return;
    for (int t = 0; t < a->n; t++) {
        int b = span > 0 ? (int)((a->tok[t].val - a->vmin) / span * bins) : 0;
        b = b >= bins ? bins - 1 : b;
        if (++cnt[b] > mx) mx = cnt[b];
    }
    for (int b = bins - 1, i = 0; b >= 0; b--, i++) { /* high values on top */
        ui_putf(y + i, x, 12, R_DIM, "%+8.2f %3d", a->vmin + span * b / bins, cnt[b]);
        ui_bar(y + i, x + 13, w - 13, mx ? (double)cnt[b] / mx : 0, false);
    }
}

static void draw_neuron(explorer *X) {
    rect r = X->r[P_NEURON];
    const view_acts *a = &X->acts;
    pane_header(X, P_NEURON, X->unit);
    if (!a->n) return;
    if (a->err[0]) {
        ui_wrapped(r.y + 1, r.x, r.w, r.h - 1, a->err, R_ERROR);
        return;
    }
    ui_putf(r.y + 1, r.x, r.w, R_NORMAL, "min %+.3f  mean %+.3f  max %+.3f at \"%s\"", a->vmin, a->vmean, a->vmax,
            a->tok[a->argmax].text);
    sparkline(r.y + 2, r.x, r.w, a);
    int rows = r.h - 3, lw = r.w >= 36 ? r.w / 2 : 0, y = r.y + 3;
    if (rows < 1) return;
    X->row0[P_NEURON] = y;
    pane_scroll(X, P_NEURON, rows, a->n);
    for (int i = 0; lw && i < rows && X->top[P_NEURON] + i < a->n; i++) {
        int t = X->top[P_NEURON] + i, role = pane_row_role(X, P_NEURON, t, R_NORMAL);
        ui_putf(y + i, r.x, 4, role, "%3d ", t);
        ui_put(y + i, r.x + 4, lw - 14, a->tok[t].text, role);
        ui_putf(y + i, r.x + lw - 10, 9, role, "%+9.3f", a->tok[t].val);
    }
    histogram(y, r.x + lw + (lw ? 1 : 0), r.w - lw - 1, rows, a);
}

/* ------------------------------------------------------------ steering */

typedef struct {
    double alpha;
    int plain, glp; /* row indices, -1 when absent */
} alpha_group;

static int steer_groups(const view_steer *s, alpha_group *g, int cap) {
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        if (!n || g[n - 1].alpha != s->rows[i].alpha || (s->rows[i].glp ? g[n - 1].glp : g[n - 1].plain) >= 0) {
            if (n == cap) break;
            g[n++] = (alpha_group){s->rows[i].alpha, -1, -1};
        }
        if (s->rows[i].glp) g[n - 1].glp = i;
        else g[n - 1].plain = i;
    }
    return n;
}

static void fmt_point(char *out, size_t cap, const view_steer *s, int i) {
    if (i < 0) snprintf(out, cap, "%6s %5s", "", "");
    else if (isfinite(s->rows[i].concept)) snprintf(out, cap, "%6.2f %5.2f", s->rows[i].fluency, s->rows[i].concept);
    else snprintf(out, cap, "%6.2f %5s", s->rows[i].fluency, "-");
}

static int steer_table(explorer *X, rect r, const alpha_group *g, int ng, int rows) {
    ui_putf(r.y, r.x, r.w, R_DIM, "%6s %-12s %-12s", "alpha", " plain fl  co", " +GLP fl  co");
    pane_scroll(X, P_STEER, rows - 1, ng);
    int i = 0;
    for (; i < rows - 1 && X->top[P_STEER] + i < ng; i++) {
        int k = X->top[P_STEER] + i, role = pane_row_role(X, P_STEER, k, R_NORMAL);
        char p[32], q[32];
        fmt_point(p, sizeof p, &X->steer, g[k].plain);
        fmt_point(q, sizeof q, &X->steer, g[k].glp);
        ui_putf(r.y + 1 + i, r.x, 7, role, "%6.2f ", g[k].alpha);
        ui_put(r.y + 1 + i, r.x + 7, 13, p, role == R_CURSOR ? role : R_PLAIN);
        ui_put(r.y + 1 + i, r.x + 20, r.w - 20, q, role == R_CURSOR ? role : R_GLP);
    }
    return i + 1;
}

/* Concept against fluency (NLL, lower is better), one glyph per method. */
static void frontier(const view_steer *s, rect r) {
    if (r.h < 4 || r.w < 16 || !s->n) return;
    double f0 = INFINITY, f1 = -INFINITY, c0 = INFINITY, c1 = -INFINITY;
    for (int i = 0; i < s->n; i++) {
        double f = s->rows[i].fluency, c = isfinite(s->rows[i].concept) ? s->rows[i].concept : s->rows[i].alpha;
        if (isfinite(f)) f0 = fmin(f0, f), f1 = fmax(f1, f);
        c0 = fmin(c0, c), c1 = fmax(c1, c);
    }
    bool concept = isfinite(s->rows[0].concept);
    int pw = r.w - 2, ph = r.h - 2;
    ui_putf(r.y, r.x, r.w, R_DIM, "%s  %s plain %s +GLP", concept ? "concept^" : "alpha^", ui_utf8 ? "●" : "o",
            ui_utf8 ? "◆" : "*");
    for (int i = 0; i < ph; i++) ui_put(r.y + 1 + i, r.x, 1, ui_utf8 ? "│" : "|", R_DIM);
    ui_put(r.y + r.h - 1, r.x, 1, ui_utf8 ? "└" : "+", R_DIM);
    for (int i = 1; i < r.w; i++) ui_put(r.y + r.h - 1, r.x + i, 1, ui_utf8 ? "─" : "-", R_DIM);
    if (isfinite(f0)) ui_putf(r.y + r.h - 1, r.x + 2, r.w - 2, R_DIM, " NLL %.2f..%.2f ", f0, f1);
    for (int i = 0; i < s->n; i++) {
        const steer_row *p = &s->rows[i];
        double c = isfinite(p->concept) ? p->concept : p->alpha;
        if (!isfinite(p->fluency)) continue;
        int x = f1 > f0 ? (int)lround((p->fluency - f0) / (f1 - f0) * (pw - 1)) : pw / 2;
        int y = c1 > c0 ? (int)lround((c1 - c) / (c1 - c0) * (ph - 1)) : ph / 2;
        ui_put(r.y + 1 + y, r.x + 2 + x, 1, p->glp ? (ui_utf8 ? "◆" : "*") : (ui_utf8 ? "●" : "o"), p->glp ? R_GLP : R_PLAIN);
    }
}

static void steer_texts(const view_steer *s, const alpha_group *g, rect r) {
    if (r.h < 1 || !g) return;
    int half = r.w / 2;
    ui_put(r.y, r.x, half, "plain", R_PLAIN);
    ui_put(r.y, r.x + half, r.w - half, "+GLP", R_GLP);
    if (g->plain >= 0) ui_wrapped(r.y + 1, r.x, half - 1, r.h - 1, s->rows[g->plain].text, R_NORMAL);
    if (g->glp >= 0) ui_wrapped(r.y + 1, r.x + half, r.w - half, r.h - 1, s->rows[g->glp].text, R_NORMAL);
}

static void draw_steer(explorer *X) {
    rect r = X->r[P_STEER];
    const view_steer *s = &X->steer;
    char extra[96] = "";
    if (s->n < s->total) snprintf(extra, sizeof extra, "%s %d/%d", s->vec, s->n, s->total);
    else if (s->n) snprintf(extra, sizeof extra, "%s", s->vec);
    pane_header(X, P_STEER, extra);
    rect c = {r.y + 1, r.x, r.h - 1, r.w};
    if (!s->n) {
        ui_wrapped(c.y, c.x, c.w, c.h, "no comparison yet — vec NAME diffmean CATEGORY, then compare NAME 0 0.25 0.5 1 (alpha in mean residual norms; above ~1 the text turns to gibberish)", R_DIM);
        return;
    }
    alpha_group g[64];
    int ng = steer_groups(s, g, 64), trows = ng + 1 < c.h / 2 ? ng + 1 : c.h / 2;
    bool side = c.w >= 60; /* the plot beside the table, else below it */
    X->row0[P_STEER] = c.y + 1;
    int used = steer_table(X, (rect){c.y, c.x, trows, side ? 33 : c.w}, g, ng, trows < 2 ? 2 : trows);
    int tall = c.h / 2 < 12 ? c.h / 2 : 12, ph = side ? (used > tall ? used : tall) : c.h - used >= 9 ? 5 : c.h - used >= 7 ? 4 : 0;
    if (side) frontier(s, (rect){c.y, c.x + 35, ph < c.h ? ph : c.h, c.w - 35});
    else if (ph) frontier(s, (rect){c.y + used, c.x, ph, c.w});
    int ty = side ? c.y + (ph > used ? ph : used) : c.y + used + ph;
    steer_texts(s, ng ? &g[X->cursor[P_STEER] < ng ? X->cursor[P_STEER] : 0] : NULL, (rect){ty, c.x, c.y + c.h - ty, c.w});
}

/* ------------------------------------------------------------ index panes */

/* Columns: unit, density, max, label ('~' marks an automatic one), top
 * output tokens with what is left; down to 30 columns all but the tokens
 * stay (the sort key is always one of them). */
static void latent_row(int y, rect r, const ixa_latent *l, int role, int labw) {
    char name[16];
    snprintf(name, sizeof name, "sae:%d", l->id);
    ui_put(y, r.x, 9, name, role);
    int x = r.x + 9;
    ui_putf(y, x, 9, role, "%7.5f  ", l->density), x += 9;
    ui_putf(y, x, 8, role, "%6.2f  ", l->max), x += 8;
    char label[80];
    snprintf(label, sizeof label, "%s%s", l->auto_label ? "~" : "", l->label[0] ? l->label : "-");
    ui_put(y, x, labw, label, role);
    x += labw + 1;
    if (r.x + r.w - x > 4) ui_put(y, x, r.x + r.w - x, l->top, role == R_CURSOR ? role : R_DIM);
}

static void draw_latents(explorer *X) {
    rect r = X->r[P_LATENTS];
    const char *sort = X->lat_sort[0] ? X->lat_sort : "id", *arrow = ui_utf8 ? "▼" : "v";
    char extra[128];
    snprintf(extra, sizeof extra, "%d/%d · sort %s %s%s%s", X->n_lat ? X->cursor[P_LATENTS] + 1 : 0, X->n_lat, sort,
             arrow, X->lat_filter[0] ? " · filter " : "", X->lat_filter);
    pane_header(X, P_LATENTS, extra);
    if (!X->lat) {
        ui_wrapped(r.y + 1, r.x, r.w, r.h - 1, X->lat_why, R_DIM);
        return;
    }
    int rest = r.w - 26, labw = rest >= 36 ? rest * 11 / 20 : rest;
    char hu[16], hd[16], hm[16]; /* the sorted column carries the arrow */
    snprintf(hu, sizeof hu, "%s%s", "unit", !strcmp(sort, "id") ? arrow : "");
    snprintf(hd, sizeof hd, "%s%s", "density", !strcmp(sort, "density") ? arrow : "");
    snprintf(hm, sizeof hm, "%s%s", "max", !strcmp(sort, "max") ? arrow : "");
    int x = r.x;
    ui_put(r.y + 1, x, 9, hu, R_DIM), x = r.x + 9;
    ui_put(r.y + 1, x, 9, hd, R_DIM), x = r.x + 18;
    ui_put(r.y + 1, x, 8, hm, R_DIM), x = r.x + 26;
    ui_putf(r.y + 1, x, r.x + r.w - x, R_DIM, "%-*s %s", labw, "label (~ auto)", labw < rest ? "top output tokens" : "");
    int rows = r.h - 2;
    X->row0[P_LATENTS] = r.y + 2;
    if (!X->n_lat) ui_put(r.y + 2, r.x, r.w, "no latent matches the filter — 'latents' clears it", R_DIM);
    pane_scroll(X, P_LATENTS, rows, X->n_lat);
    for (int i = 0; i < rows && X->top[P_LATENTS] + i < X->n_lat; i++) {
        int k = X->top[P_LATENTS] + i, role = pane_row_role(X, P_LATENTS, k, R_NORMAL);
        if (role == R_CURSOR) ui_fill(r.y + 2 + i, r.x, r.w, role);
        latent_row(r.y + 2 + i, r, &X->lat[k], role, labw);
    }
}

static int strength_role(float v, float max) {
    float f = max > 0 ? v / max : 0;
    return f > 0.75f ? R_HOT3 : f > 0.5f ? R_HOT2 : f > 0.25f ? R_HOT1 : R_NORMAL;
}

/* The title: the unit, or the active concept with its classifier. */
static void examples_header(explorer *X) {
    char extra[160];
    const concept_info *c = &X->concept;
    if (!X->ex_concept) snprintf(extra, sizeof extra, "%s", X->unit);
    else if (!X->has_concept) snprintf(extra, sizeof extra, "concept (none)");
    else if (!c->trained) snprintf(extra, sizeof extra, "concept %s", c->name);
    else snprintf(extra, sizeof extra, "concept %s · %s AUC %.2f", c->name, c->clf, c->auc);
    pane_header(X, P_EXAMPLES, extra);
}

/* One context per row: its activating value (a concept's token: the
 * classifier's score and the concept's label), then its tokens from a few
 * before the peak, each highlighted by its value's strength. */
static void draw_examples(explorer *X) {
    rect r = X->r[P_EXAMPLES];
    examples_header(X);
    if (!X->ex) {
        ui_wrapped(r.y + 1, r.x, r.w, r.h - 1, X->ex_why, R_DIM);
        return;
    }
    int head = X->ex_concept && r.h > 4, rows = r.h - 1 - head, vw = r.w >= 30 ? 8 : 0;
    if (head) { /* what the rows are: the title may be cut in a shared slot */
        const concept_info *c = &X->concept;
        ui_putf(r.y + 1, r.x, r.w, R_DIM, "%sbest %d of %d held-out by %s · %s = %s", vw ? "score   " : "", X->n_ex,
                c->test_tok, c->clf, c->name, c->units);
    }
    X->row0[P_EXAMPLES] = r.y + 1 + head;
    pane_scroll(X, P_EXAMPLES, rows, X->n_ex);
    for (int i = 0; i < rows && X->top[P_EXAMPLES] + i < X->n_ex; i++) {
        int k = X->top[P_EXAMPLES] + i, y = r.y + 1 + head + i, x = r.x + vw;
        const ixa_example *e = &X->ex[k];
        if (pane_row_role(X, P_EXAMPLES, k, R_NORMAL) == R_CURSOR) ui_fill(y, r.x, r.w, R_CURSOR);
        if (vw && e->mark >= 0) {
            int role = pane_row_role(X, P_EXAMPLES, k, R_DIM);
            ui_putf(y, r.x, 6, role, "%5.3f ", e->val[e->peak]);
            ui_put(y, r.x + 6, 2, e->mark ? "+ " : ". ", role == R_CURSOR ? role : e->mark ? R_HOT3 : R_DIM);
        } else if (vw) ui_putf(y, r.x, vw, pane_row_role(X, P_EXAMPLES, k, R_DIM), "%7.2f ", e->max);
        /* The firing token's middle at the middle of the context column, at
         * any width: as many tokens before it as fit in the left half. */
        int left = (r.w - vw) / 2 - ui_width(e->tok[e->peak]) / 2, t = e->peak;
        while (t > 0 && ui_width(e->tok[t - 1]) <= left) left -= ui_width(e->tok[--t]);
        x += left > 0 ? left : 0;
        for (; t < e->ntok && x < r.x + r.w; t++)
            x += ui_put(y, x, r.x + r.w - x, e->tok[t], strength_role(e->val[t], e->max));
    }
}

/* ------------------------------------------------------------ output */

int log_line_rows(explorer *X, int i) {
    int w = X->r[P_OUTPUT].w > 0 ? X->r[P_OUTPUT].w : 1;
    if (w != X->log_rows_w) memset(X->log_rows, 0, sizeof X->log_rows), X->log_rows_w = w;
    if (!X->log_rows[i]) X->log_rows[i] = ui_wrapped_rows(X->log[i], w);
    return X->log_rows[i];
}

/* Lines wrapped at word boundaries, scrolled by screen rows (log_scroll rows
 * back from the newest: explorer.c keeps that count growing with the output
 * that arrives meanwhile, so the rows read stay put); focused, the cursor
 * line is highlighted and kept in view. Records which line each screen row
 * shows (mouse clicks). */
static void draw_output(explorer *X) {
    rect r = X->r[P_OUTPUT];
    int h = r.h - 1, n = X->log_n, total = 0, c = X->cursor[P_OUTPUT], start = 0;
    bool f = X->focus == P_OUTPUT;
    for (int i = 0; i < n; i++) {
        if (i == c) start = total;
        total += log_line_rows(X, i);
    }
    int bottom = total - X->log_scroll;
    if (f && c >= 0 && c < n) { /* the cursor line in view */
        int rc = log_line_rows(X, c);
        if (start + rc > bottom) bottom = start + rc;
        if (start < bottom - h) bottom = start + (rc < h ? rc : h);
    }
    int least = total < h ? total : h; /* a short log shows from its first line */
    bottom = bottom > total ? total : bottom < least ? least : bottom;
    X->log_scroll = total - bottom;
    if (!X->log_scroll) X->log_new = 0;
    char extra[96] = ""; /* scrolled back: how far, what arrived since, the way back; shorter when narrow */
    static const char *const FMT[] = {"%d rows back · %d new below · End follows", "%d back · %d new · End follows",
                                      "%d back · %d new"};
    for (int i = 0; X->log_scroll && i < 3; i++) {
        if (X->log_new) snprintf(extra, sizeof extra, FMT[i], X->log_scroll, X->log_new);
        else snprintf(extra, sizeof extra, i ? "%d back · End follows" : "%d rows back · End follows", X->log_scroll);
        if (ui_width(extra) + 8 <= r.w) break;
    }
    pane_header(X, P_OUTPUT, extra);
    for (int i = 0; i < h && i < 256; i++) X->out_line[i] = -1;
    int first = bottom - h, a = total;
    for (int i = n - 1; i >= 0 && a > first; i--) {
        int rows = log_line_rows(X, i);
        a -= rows;
        if (a >= bottom) continue;
        const char *s = X->log[i];
        int skip = a < first ? first - a : 0, y0 = a + skip - first, cnt = (a + rows < bottom ? a + rows : bottom) - (a + skip);
        int role = !strncmp(s, "error:", 6) ? R_ERROR : s[0] == '>' ? R_PROMPT : s[0] == '#' ? R_HOT2 : R_NORMAL; /* # caption */
        if (f && i == c) {
            role = R_CURSOR;
            for (int k = 0; k < cnt; k++) ui_fill(r.y + 1 + y0 + k, r.x, r.w, R_CURSOR);
        }
        ui_wrapped_skip(r.y + 1 + y0, r.x, r.w, cnt, s, role, skip);
        for (int k = 0; k < cnt && y0 + k < 256; k++) X->out_line[y0 + k] = i;
    }
}

/* The unit a result row names: sae:I, meta:B:I, mlp:L:I or resid:I, else
 * an 'acts' row's first "dim:+value" as resid:dim. */
int line_unit(const char *s, char *out, size_t cap) {
    static const char *const K[] = {"sae:", "meta:", "mlp:", "resid:"};
    for (const char *p = s; *p; p++)
        for (int k = 0; k < 4; k++) {
            size_t l = strlen(K[k]);
            if (strncmp(p, K[k], l) || (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) || !isdigit((unsigned char)p[l]))
                continue;
            size_t e = l;
            while (isdigit((unsigned char)p[e]) || (p[e] == ':' && isdigit((unsigned char)p[e + 1]))) e++;
            snprintf(out, cap, "%.*s", (int)e, p);
            return 1;
        }
    for (const char *p = s; *p; p++) /* acts: "   0  \"The\"   47.477   240:+7.998 ..." */
        if (isdigit((unsigned char)*p) && (p == s || *(p - 1) == ' ')) {
            const char *q = p;
            while (isdigit((unsigned char)*q)) q++;
            if (*q == ':' && (q[1] == '+' || q[1] == '-') && isdigit((unsigned char)q[2])) {
                snprintf(out, cap, "resid:%.*s", (int)(q - p), p);
                return 1;
            }
        }
    return 0;
}

/* ------------------------------------------------------------ status */

static void status_info(explorer *X, char *out, size_t cap) {
    session *S = X->S;
    size_t o = 0;
    if (!S->has_model) o += (size_t)snprintf(out, cap, "no model");
    else
        o += (size_t)snprintf(out, cap, "%s %s · layer %d/%d", ms_basename(S->model.path),
                              S->model.c.arch == ARCH_LLAMA ? "llama" : "gpt2", S->layer, S->model.c.n_layers);
    if (S->has_glp) o += (size_t)snprintf(out + o, cap - o, " · GLP L%d", sess_glp_layer(S));
    else o += (size_t)snprintf(out + o, cap - o, " · no GLP");
    if (S->has_sae) o += (size_t)snprintf(out + o, cap - o, " · SAE %d", S->sae.c.n_latents);
    o += (size_t)snprintf(out + o, cap - o, " · %s", X->unit);
    if (X->has_concept && o < cap) o += (size_t)snprintf(out + o, cap - o, " · concept %s", X->concept.name);
    if (o < cap) o += (size_t)snprintf(out + o, cap - o, " · T %g · gen %d", S->scfg.temperature, S->gen_tokens);
    if (S->steer.vec >= 0 && o < cap)
        snprintf(out + o, cap - o, " · steer %s %g%s", S->vecs[S->steer.vec].name, S->steer.ratio, S->steer.glp ? "+GLP" : "");
}

static void draw_status(explorer *X) {
    rect r = X->status;
    char info[256];
    status_info(X, info, sizeof info);
    ui_fill(r.y, 0, r.w, R_STATUS);
    int x = 0;
    if (X->msg[0]) {
        x = ui_put(r.y, 0, r.w, X->msg, X->msg_role);
        x += ui_put(r.y, x, r.w - x, " ", R_STATUS);
    }
    ui_put(r.y, x, r.w - x, info, R_STATUS);
}

int pane_rows(const explorer *X, int p) {
    switch (p) {
    case P_ACTS:
    case P_NEURON: return X->acts.n;
    case P_STEER: {
        alpha_group g[64];
        return steer_groups(&X->steer, g, 64);
    }
    case P_LATENTS: return X->n_lat;
    case P_EXAMPLES: return X->n_ex;
    case P_PROBE: return X->S->probe_last ? X->S->probe_last->n : 0;
    default: return 0;
    }
}

void pane_row_text(const explorer *X, int p, int i, char *out, size_t cap) {
    out[0] = 0;
    if ((p == P_ACTS || p == P_NEURON) && i < X->acts.n) snprintf(out, cap, "%s", X->acts.tok[i].text);
    else if (p == P_LATENTS && i < X->n_lat)
        snprintf(out, cap, "sae:%d %s %s", X->lat[i].id, X->lat[i].label, X->lat[i].top);
    else if (p == P_EXAMPLES && i < X->n_ex)
        for (int t = 0, o = 0; t < X->ex[i].ntok && o < (int)cap - 1; t++) o += snprintf(out + o, cap - (size_t)o, "%s", X->ex[i].tok[t]);
    else if (p == P_PROBE && X->S->probe_last && i < X->S->probe_last->n) snprintf(out, cap, "%s", X->S->probe_last->rows[i].name);
    else if (p == P_OUTPUT && i < X->log_n) snprintf(out, cap, "%s", X->log[i]);
}

void draw_too_small(void) {
    erase();
    ui_put(0, 0, COLS, "too small: 30x9 needed", R_ERROR);
}

static void separators(explorer *X) {
    bool done[512] = {0};
    for (int p = 0; p < N_PANES; p++) {
        rect r = X->r[p];
        int x = r.x + r.w;
        if (!X->shown[p] || x >= COLS || x >= 512 || done[x]) continue;
        done[x] = true;
        attrset(ui_attr(R_SEP));
        if (ui_utf8) mvvline(0, x, ACS_VLINE, LINES - 3);
        else mvvline(0, x, '|', LINES - 3);
        attrset(A_NORMAL);
    }
}

static void (*const DRAW[N_PANES])(explorer *) = {draw_acts,     draw_neuron,  draw_steer,    draw_latents,
                                                   draw_examples, draw_probe,   draw_frontier, draw_output};

/* The whole screen into stdscr; leaves the terminal cursor on the prompt. */
void draw_frame(explorer *X) {
    if (LINES < 9 || COLS < 30) {
        draw_too_small();
        int cx = rlc_draw(LINES - 1, COLS, R_PROMPT, R_NORMAL);
        move(LINES - 1, cx < COLS ? cx : COLS - 1);
        return;
    }
    layout(X);
    if (X->help) { /* the full-screen key help, over everything */
        draw_help(X);
        curs_set(0);
        return;
    }
    erase();
    for (int p = 0; p < N_PANES; p++) X->row0[p] = X->tab_x[p][0] = X->tab_x[p][1] = -1;
    for (int p = 0; p < N_PANES; p++)
        if (X->shown[p]) DRAW[p](X);
    separators(X);
    draw_hints(X);
    draw_status(X);
    int cx = rlc_draw(X->prompt.y, X->prompt.w, R_PROMPT, R_NORMAL);
    move(X->prompt.y, cx < COLS ? cx : COLS - 1);
}
