/* cmd_frontier_out.c — the steering frontier's output: a table per concept and
 * source, each method's frontier area, a terminal scatter plot (UTF-8 glyphs,
 * ASCII when the locale is not UTF-8), JSON, and OUT/frontier.csv. */
#include "cmd.h"
#include "cmd_frontier_int.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PLOT_W 56
#define PLOT_H 12

/* The locale's character set from the environment (batch mode never calls
 * setlocale, so nl_langinfo would always say ASCII). */
static bool utf8_locale(void) {
    const char *v[] = {getenv("LC_ALL"), getenv("LC_CTYPE"), getenv("LANG")};
    for (int i = 0; i < 3; i++) {
        if (!v[i] || !*v[i]) continue;
        char low[128];
        size_t n = 0;
        for (; v[i][n] && n + 1 < sizeof low; n++) low[n] = (char)tolower((unsigned char)v[i][n]);
        low[n] = 0;
        return strstr(low, "utf-8") || strstr(low, "utf8");
    }
    return false;
}

static void block_title(char *out, size_t cap, const frontier_block *B) {
    if (!strcmp(B->source, "diffmean")) snprintf(out, cap, "%s, DiffMean direction", B->concept);
    else snprintf(out, cap, "%s, SAE latent %s (cosine %.3f with the DiffMean direction)", B->concept, B->source + 4,
                  B->cosine);
}

/* ------------------------------------------------------------ table */

static void print_header(session *S, const frontier_result *r) {
    sess_printf(S,
                "steering frontier at layer %d: %d held-out prefixes (%d tokens, test split, outside the concepts' "
                "categories), %d greedy tokens each, %d points, %d continuations in %.1f s\n"
                "fluency = mean NLL (nats) of the continuation under the unsteered model (lower is better); concept = "
                "fraction of its words in the concept's lexicon; mean over prefixes [95%% bootstrap CI, %d resamples]; "
                "* = Pareto-optimal among the table's points; alpha in units of the mean residual norm\n",
                r->layer, r->o.prefixes, r->o.prefix_tokens, r->o.tokens,
                r->n_blocks * r->o.n_alphas * r->n_methods, r->generations, r->seconds, r->o.boot);
    if (r->note[0]) sess_printf(S, "(%s)\n", r->note);
    if (r->n_methods > 1) { /* what a +GLP point cost per steered token */
        sess_printf(S, "+GLP projection: %s sampler,", glp_solver_name(S->glp_ode.solver));
        for (int m = 1; m < r->n_methods; m++) {
            float u;
            const char *name = frontier_method(m, &u);
            sess_printf(S, " %s %d", name, glp_project_evals(u, 20, &S->glp_ode));
        }
        sess_printf(S, " denoiser evaluations per steered token\n");
    }
}

static void print_block(session *S, const frontier_result *r, const frontier_block *B) {
    char title[160];
    block_title(title, sizeof title, B);
    /* names over the cells' numbers: cells are 24 columns apart */
    sess_printf(S, "\n%s; lexicon %d words\n  alpha      ", title, B->lex_words);
    for (int m = 0; m < r->n_methods; m++)
        sess_printf(S, m < r->n_methods - 1 ? "%-24s" : "%s", frontier_method(m, NULL));
    sess_printf(S, "\n");
    for (int a = 0; a < r->o.n_alphas; a++) {
        sess_printf(S, "  %5.2f  fl", r->o.alphas[a]);
        for (int m = 0; m < r->n_methods; m++) {
            const fr_stat *f = &B->fl[a * r->n_methods + m];
            bool last = m == r->n_methods - 1, on = B->pareto[a * r->n_methods + m];
            sess_printf(S, "%s%5.2f [%5.2f,%5.2f]%s", m ? "   " : " ", f->mean, f->lo, f->hi,
                        on ? " *" : last ? "" : "  ");
        }
        sess_printf(S, "\n         co");
        for (int m = 0; m < r->n_methods; m++) {
            const fr_stat *c = &B->co[a * r->n_methods + m];
            sess_printf(S, "%s%5.3f [%5.3f,%5.3f]", m ? "     " : " ", c->mean, c->lo, c->hi);
        }
        sess_printf(S, "\n");
    }
    sess_printf(S, "  frontier area over fluency [%.3f, %.3f] (concept x nats; higher is better):", B->f_lo, B->f_hi);
    for (int m = 0; m < r->n_methods; m++) sess_printf(S, "  %s %.4f", frontier_method(m, NULL), B->area[m]);
    sess_printf(S, "\n");
}

/* ------------------------------------------------------------ plot */

static const char *GLYPH_U[] = {"\u25cf", "\u25b2", "\u25a0", "\u25c6"}, *GLYPH_A[] = {"o", "+", "x", "#"};

/* cell[y][x] = method + 1, or -1 where methods overlap. */
static void plot_cells(const frontier_result *r, const frontier_block *B, double cmax, signed char cell[PLOT_H][PLOT_W]) {
    memset(cell, 0, PLOT_H * PLOT_W);
    double span = B->f_hi - B->f_lo > 0 ? B->f_hi - B->f_lo : 1;
    for (int i = 0; i < r->o.n_alphas * r->n_methods; i++) {
        double f = B->fl[i].mean, c = B->co[i].mean;
        if (!isfinite(f) || !isfinite(c)) continue;
        int x = (int)lround((f - B->f_lo) / span * (PLOT_W - 1)), y = (int)lround(c / cmax * (PLOT_H - 1));
        x = x < 0 ? 0 : x >= PLOT_W ? PLOT_W - 1 : x, y = y < 0 ? 0 : y >= PLOT_H ? PLOT_H - 1 : y;
        signed char m = (signed char)(i % r->n_methods + 1), *p = &cell[PLOT_H - 1 - y][x];
        *p = *p == 0 || *p == m ? m : -1;
    }
}

static void print_plot(session *S, const frontier_result *r, const frontier_block *B) {
    bool u = utf8_locale();
    const char **g = u ? GLYPH_U : GLYPH_A, *vbar = u ? "\u2502" : "|", *hbar = u ? "\u2500" : "-";
    double cmax = 0;
    for (int i = 0; i < r->o.n_alphas * r->n_methods; i++)
        if (isfinite(B->co[i].mean)) cmax = fmax(cmax, B->co[i].mean);
    cmax = cmax > 0 ? cmax : 0.01;
    signed char cell[PLOT_H][PLOT_W];
    plot_cells(r, B, cmax, cell);
    sess_printf(S, "  concept\n");
    for (int y = 0; y < PLOT_H; y++) {
        if (y == 0 || y == PLOT_H - 1 || y == PLOT_H / 2)
            sess_printf(S, "  %6.3f %s", cmax * (PLOT_H - 1 - y) / (PLOT_H - 1), vbar);
        else sess_printf(S, "         %s", vbar);
        int end = PLOT_W; /* no trailing blanks */
        while (end > 0 && !cell[y][end - 1]) end--;
        for (int x = 0; x < end; x++)
            sess_printf(S, "%s", cell[y][x] > 0 ? g[cell[y][x] - 1] : cell[y][x] < 0 ? "&" : " ");
        sess_printf(S, "\n");
    }
    sess_printf(S, "         %s", u ? "\u2514" : "+");
    for (int x = 0; x < PLOT_W; x++) sess_printf(S, "%s", hbar);
    sess_printf(S, "\n         %-*.3f%*.3f  fluency (NLL, nats)\n         ", PLOT_W / 2, B->f_lo, PLOT_W / 2 + 1, B->f_hi);
    for (int m = 0; m < r->n_methods; m++) sess_printf(S, "%s %s   ", g[m], frontier_method(m, NULL));
    sess_printf(S, "& several methods\n");
}

/* ------------------------------------------------------------ JSON */

static json_object *stat_json(const fr_stat *s) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "mean", cmd_jdouble(s->mean));
    json_object_object_add(o, "lo", cmd_jdouble(s->lo));
    json_object_object_add(o, "hi", cmd_jdouble(s->hi));
    return o;
}

static json_object *block_json(const frontier_result *r, const frontier_block *B) {
    json_object *o = json_object_new_object(), *pts = json_object_new_array(), *area = json_object_new_object();
    json_object_object_add(o, "concept", json_object_new_string(B->concept));
    json_object_object_add(o, "source", json_object_new_string(B->source));
    if (strcmp(B->source, "diffmean")) json_object_object_add(o, "cosine", cmd_jdouble(B->cosine));
    json_object_object_add(o, "f_lo", cmd_jdouble(B->f_lo));
    json_object_object_add(o, "f_hi", cmd_jdouble(B->f_hi));
    for (int m = 0; m < r->n_methods; m++) json_object_object_add(area, frontier_method(m, NULL), cmd_jdouble(B->area[m]));
    json_object_object_add(o, "area", area);
    for (int i = 0; i < r->o.n_alphas * r->n_methods; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "alpha", cmd_jdouble(r->o.alphas[i / r->n_methods]));
        json_object_object_add(p, "method", json_object_new_string(frontier_method(i % r->n_methods, NULL)));
        json_object_object_add(p, "fluency", stat_json(&B->fl[i]));
        json_object_object_add(p, "concept", stat_json(&B->co[i]));
        json_object_object_add(p, "pareto", json_object_new_boolean(B->pareto[i]));
        json_object_array_add(pts, p);
    }
    json_object_object_add(o, "points", pts);
    return o;
}

static void print_json(session *S, const frontier_result *r) {
    json_object *o = json_object_new_object(), *blocks = json_object_new_array();
    json_object_object_add(o, "cmd", json_object_new_string("frontier"));
    json_object_object_add(o, "layer", json_object_new_int(r->layer));
    json_object_object_add(o, "prefixes", json_object_new_int(r->o.prefixes));
    json_object_object_add(o, "tokens", json_object_new_int(r->o.tokens));
    json_object_object_add(o, "note", r->note[0] ? json_object_new_string(r->note) : NULL);
    json_object_object_add(o, "seconds", cmd_jdouble(r->seconds));
    for (int b = 0; b < r->n_blocks; b++) json_object_array_add(blocks, block_json(r, &r->blocks[b]));
    json_object_object_add(o, "blocks", blocks);
    cmd_emit_json(S, o);
}

void frontier_print(session *S, const frontier_result *r) {
    if (S->json) {
        print_json(S, r);
        return;
    }
    print_header(S, r);
    for (int b = 0; b < r->n_blocks; b++) {
        print_block(S, r, &r->blocks[b]);
        print_plot(S, r, &r->blocks[b]);
    }
    if (r->o.out[0]) sess_printf(S, "\n(points in %s/frontier.csv, areas in %s/frontier_area.csv)\n", r->o.out, r->o.out);
}

/* ------------------------------------------------------------ CSV */

static int write_text(const char *dir, const char *name, char *buf, size_t len, const char *cmd) {
    char *path = ms_path_join(dir, name);
    int rc = ms_write_file_atomic(path, buf, len);
    if (rc) ms_seterr("%s (%s)", ms_geterr(), cmd);
    free(path);
    return rc;
}

static void csv_points(FILE *f, const frontier_result *r) {
    fprintf(f, "concept,source,method,alpha,fluency,fluency_lo,fluency_hi,concept_score,concept_lo,concept_hi,pareto\n");
    for (int b = 0; b < r->n_blocks; b++) {
        const frontier_block *B = &r->blocks[b];
        for (int i = 0; i < r->o.n_alphas * r->n_methods; i++)
            fprintf(f, "%s,%s,%s,%g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%d\n", B->concept, B->source,
                    frontier_method(i % r->n_methods, NULL), r->o.alphas[i / r->n_methods], B->fl[i].mean,
                    B->fl[i].lo, B->fl[i].hi, B->co[i].mean, B->co[i].lo, B->co[i].hi, B->pareto[i] ? 1 : 0);
    }
}

static void csv_areas(FILE *f, const frontier_result *r) {
    fprintf(f, "concept,source,method,area,f_lo,f_hi\n");
    for (int b = 0; b < r->n_blocks; b++)
        for (int m = 0; m < r->n_methods; m++)
            fprintf(f, "%s,%s,%s,%.6f,%.6f,%.6f\n", r->blocks[b].concept, r->blocks[b].source, frontier_method(m, NULL),
                    r->blocks[b].area[m], r->blocks[b].f_lo, r->blocks[b].f_hi);
}

int frontier_make_dir(const char *dir) {
    if (!ms_is_dir(dir) && mkdir(dir, 0755)) return ms_seterr("cannot create folder: %s (%s)", strerror(errno), dir);
    return 0;
}

int frontier_write_csv(const frontier_result *r, const char *cmd) {
    const char *dir = r->o.out;
    void (*fill[2])(FILE *, const frontier_result *) = {csv_points, csv_areas};
    const char *names[2] = {"frontier.csv", "frontier_area.csv"};
    for (int k = 0; k < 2; k++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) return ms_seterr("out of memory (%s)", cmd);
        fill[k](f, r);
        fclose(f);
        int rc = write_text(dir, names[k], buf, len, cmd);
        free(buf);
        if (rc) return -1;
    }
    return 0;
}
