/* cmd_index.c — commands over a top-activating examples index (index.h):
 * load index, top, latents, latent, export, label, cross. Each reads only the
 * records it needs. */
#include "cmd.h"
#include "index.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT_MAX 2048

static int need_index(session *S, const char *cmd) {
    if (cmd_need_model(S, cmd)) return -1;
    if (!S->index) return ms_seterr("no index loaded; use 'load index PATH' (%s)", cmd);
    return 0;
}

/* A unit of the index; a bare number is an SAE latent. */
static int index_unit(session *S, const char *text, const char *cmd) {
    char name[64];
    const char *t = text;
    if (text[0] >= '0' && text[0] <= '9') snprintf(name, sizeof name, "sae:%s", text), t = name;
    return index_unit_id(S->index->groups, S->index->n_groups, t, cmd);
}

static void unit_name(const session *S, int u, char *out, size_t cap) {
    index_unit_name(S->index->groups, S->index->n_groups, u, out, cap);
}

/* The user's label, else the automatic one marked "(auto)". */
static void label_text(const session *S, int u, const ix_record *r, char *out, size_t cap) {
    bool is_auto;
    const char *l = index_label(S->index, u, r, &is_auto);
    snprintf(out, cap, "%s%s", is_auto ? "(auto) " : "", *l ? l : "-");
}

static const char *category(const session *S, int seg) {
    int c = S->index->seg_cat[seg];
    return c >= 0 ? S->index->categories[c] : "";
}

static int token_at(const session *S, const ix_example *e, int p) {
    return S->index->stream[S->index->seg_start[e->seg] + p];
}

/* The window as text: the example's token [[marked]], others reaching half
 * the unit's max [marked]. */
static void context_text(const session *S, const ix_example *e, float max, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (int j = 0; j < e->n && o + 8 < cap; j++) {
        char piece[128];
        int p = e->w0 + j;
        cmd_token_text(S, token_at(S, e, p), piece, sizeof piece);
        bool center = p == e->pos, strong = !center && max > 0 && e->vals[j] >= 0.5f * max;
        o += (size_t)snprintf(out + o, cap - o, "%s%s%s", center ? "[[" : strong ? "[" : "", piece,
                              center ? "]]" : strong ? "]" : "");
    }
}

static json_object *example_json(const session *S, const ix_example *e) {
    json_object *o = json_object_new_object(), *t = json_object_new_array(), *v = json_object_new_array();
    for (int j = 0; j < e->n; j++) {
        size_t len;
        const char *b = tok_bytes(S->model.tok, token_at(S, e, e->w0 + j), &len);
        json_object_array_add(t, cmd_json_text(b ? b : "", b ? len : 0));
        json_object_array_add(v, cmd_jdouble(e->vals[j]));
    }
    json_object_object_add(o, "tokens", t);
    json_object_object_add(o, "values", v);
    json_object_object_add(o, "maxValue", cmd_jdouble(e->value));
    json_object_object_add(o, "maxValueTokenIndex", json_object_new_int(e->pos - e->w0));
    json_object_object_add(o, "doc", json_object_new_int(S->index->seg_doc[e->seg]));
    json_object_object_add(o, "segment", json_object_new_int(e->seg));
    json_object_object_add(o, "pos", json_object_new_int(e->pos));
    json_object_object_add(o, "category", json_object_new_string(category(S, e->seg)));
    json_object_object_add(o, "quantile", e->band ? json_object_new_int(e->band) : NULL);
    return o;
}

static void print_examples(session *S, const ix_example *ex, int n, float max) {
    char ctx[CONTEXT_MAX];
    for (int i = 0; i < n; i++) {
        context_text(S, &ex[i], max, ctx, sizeof ctx);
        sess_printf(S, "%4d %9.4f  %-24.24s %s\n", i + 1, ex[i].value, category(S, ex[i].seg), ctx);
    }
}

/* ------------------------------------------------------------ load index */

int cmd_load_index(session *S, const char *dir) {
    if (sess_load_index(S, dir)) return -1;
    const ms_index *ix = S->index;
    if (S->json) {
        json_object *o = json_object_new_object(), *g = json_object_new_array();
        json_object_object_add(o, "cmd", json_object_new_string("load"));
        json_object_object_add(o, "index", json_object_new_string(dir));
        json_object_object_add(o, "units", json_object_new_int(ix->n_units));
        json_object_object_add(o, "tokens", json_object_new_int64(ix->tokens));
        for (int i = 0; i < ix->n_groups; i++) {
            char first[64];
            unit_name(S, ix->groups[i].first, first, sizeof first);
            json_object_array_add(g, json_object_new_string(first));
        }
        json_object_object_add(o, "groups", g);
        cmd_emit_json(S, o);
        return 0;
    }
    sess_printf(S, "loaded index %s: %d units over %ld tokens (%d segments), top %d, window -%d..+%d\n", dir,
                ix->n_units, ix->tokens, ix->n_seg, ix->K, ix->before, ix->after);
    for (int i = 0; i < ix->n_groups; i++) {
        const ix_group *g = &ix->groups[i];
        const char *what = g->kind == IX_SAE ? "SAE latents" : g->kind == IX_META ? "meta-neurons" : "MLP neurons";
        char first[64];
        unit_name(S, g->first, first, sizeof first);
        sess_printf(S, "  %-12s %6d %s of layer %d\n", first, g->count, what, g->layer);
    }
    return 0;
}

/* ------------------------------------------------------------ top */

int cmd_top(session *S, words *w) {
    if (need_index(S, "top")) return -1;
    long K = 10;
    bool quant = w->argc > 2 && !strcmp(w->argv[w->argc - 1], "--quantiles");
    int argc = w->argc - quant;
    if (argc < 2 || argc > 3) return ms_seterr("usage: top UNIT [K] [--quantiles] (top)");
    int u = index_unit(S, w->argv[1], "top");
    if (u < 0 || (argc == 3 && cmd_parse_int(w->argv[2], 1, 100000, &K, "top"))) return -1;
    ix_record r;
    if (index_read(S->index, u, &r)) return -1;
    int n = r.n_top < K ? r.n_top : (int)K;
    const ix_example *ex = quant ? r.ex + r.n_top : r.ex;
    if (quant) n = r.n_quant;
    char label[512];
    label_text(S, u, &r, label, sizeof label);
    if (S->json) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        json_object_object_add(o, "cmd", json_object_new_string("top"));
        json_object_object_add(o, "unit", json_object_new_string(w->argv[1]));
        json_object_object_add(o, "label", json_object_new_string(label));
        for (int i = 0; i < n; i++) json_object_array_add(a, example_json(S, &ex[i]));
        json_object_object_add(o, "examples", a);
        cmd_emit_json(S, o);
    } else {
        char name[64];
        unit_name(S, u, name, sizeof name);
        sess_printf(S, "%s %s: max %.4f, density %.4g  %s\n   #     value  category                 context\n", name,
                    quant ? "quantile examples (band 1 = lowest)" : "top examples", r.max,
                    (double)r.n_pos / (double)S->index->tokens, label);
        print_examples(S, ex, n, r.max);
    }
    index_record_free(&r);
    return 0;
}

/* ------------------------------------------------------------ latents */

typedef struct {
    int id;
    float key;
} sort_item;

static int by_key(const void *a, const void *b) {
    const sort_item *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? 1 : -1;
    return x->id - y->id;
}

static int latents_args(words *w, int *sort, const char **filter) {
    *sort = 0, *filter = NULL;
    for (int i = 1; i < w->argc; i += 2) {
        if (i + 1 >= w->argc) return ms_seterr("usage: latents [sort density|max|id] [filter WORD] (latents)");
        if (!strcmp(w->argv[i], "sort")) {
            const char *k = w->argv[i + 1];
            *sort = !strcmp(k, "id") ? 0 : !strcmp(k, "density") ? 1 : !strcmp(k, "max") ? 2 : -1;
            if (*sort < 0) return ms_seterr("sort by density, max or id (latents)");
        } else if (!strcmp(w->argv[i], "filter")) *filter = w->argv[i + 1];
        else return ms_seterr("usage: latents [sort density|max|id] [filter WORD] (latents)");
    }
    return 0;
}

/* Whether the label or a top output token contains word (any case). */
static bool matches(const session *S, const ix_record *r, const char *label, const char *word) {
    if (strcasestr(label, word)) return true;
    for (int i = 0; i < r->n_plus; i++) {
        char piece[128];
        cmd_token_text(S, r->logits[i].token, piece, sizeof piece);
        if (strcasestr(piece, word)) return true;
    }
    return false;
}

static void latent_line(session *S, json_object *arr, int u, const ix_record *r, const char *label) {
    const ix_group *g = index_unit_group(S->index->groups, S->index->n_groups, u);
    const ix_entry *e = &S->index->table[u];
    char top[256] = "";
    for (int i = 0, o = 0; i < r->n_plus && i < 3; i++) {
        char piece[64];
        cmd_token_text(S, r->logits[i].token, piece, sizeof piece);
        o += snprintf(top + o, sizeof top - (size_t)o, "%s\"%s\"", i ? " " : "", piece);
    }
    if (!arr) {
        sess_printf(S, "  sae:%-6d %9.5f %9.4f  %-28s %s\n", u - g->first, e->density, e->max, top, label);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "latent", json_object_new_int(u - g->first));
    json_object_object_add(o, "density", cmd_jdouble(e->density));
    json_object_object_add(o, "max", cmd_jdouble(e->max));
    json_object_object_add(o, "label", json_object_new_string(label));
    json_object_array_add(arr, o);
}

int cmd_latents(session *S, words *w) {
    int sort;
    const char *filter;
    if (need_index(S, "latents") || latents_args(w, &sort, &filter)) return -1;
    const ms_index *ix = S->index;
    const ix_group *g = index_find_group(ix->groups, ix->n_groups, IX_SAE);
    if (!g) return ms_seterr("the index holds no SAE latents (latents)");
    sort_item *it = xmalloc(sizeof(sort_item) * (size_t)g->count);
    for (int i = 0; i < g->count; i++) {
        const ix_entry *e = &ix->table[g->first + i];
        it[i] = (sort_item){g->first + i, sort == 1 ? e->density : sort == 2 ? e->max : (float)-i};
    }
    qsort(it, (size_t)g->count, sizeof *it, by_key);
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!arr) sess_printf(S, "  latent       density       max  top output tokens            label\n");
    int rc = 0, shown = 0;
    for (int i = 0; i < g->count && !rc; i++) {
        ix_record r;
        char label[512];
        if ((rc = index_read(ix, it[i].id, &r))) break;
        label_text(S, it[i].id, &r, label, sizeof label);
        if (!filter || matches(S, &r, label, filter)) latent_line(S, arr, it[i].id, &r, label), shown++;
        index_record_free(&r);
    }
    if (arr && !rc) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("latents"));
        json_object_object_add(o, "latents", arr);
        cmd_emit_json(S, o);
    } else if (arr) json_object_put(arr);
    else if (!rc) sess_printf(S, "%d of %d latents\n", shown, g->count);
    free(it);
    return rc;
}

/* ------------------------------------------------------------ latent, export */

static json_object *logits_json(const session *S, const ix_logit *l, int n, bool values) {
    json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *b = tok_bytes(S->model.tok, l[i].token, &len);
        json_object_array_add(a, values ? cmd_jdouble(l[i].value) : cmd_json_text(b ? b : "", b ? len : 0));
    }
    return a;
}

/* The Neuronpedia-like object of one unit. */
static json_object *unit_json(session *S, int u, const ix_record *r) {
    char name[64], label[512];
    unit_name(S, u, name, sizeof name);
    label_text(S, u, r, label, sizeof label);
    json_object *o = json_object_new_object(), *h = json_object_new_array(), *a = json_object_new_array();
    json_object *p = json_object_new_array();
    json_object_object_add(o, "unit", json_object_new_string(name));
    json_object_object_add(o, "layer", json_object_new_int(index_unit_group(S->index->groups, S->index->n_groups, u)->layer));
    json_object_object_add(o, "label", json_object_new_string(label));
    json_object_object_add(o, "label_auto", json_object_new_boolean(!S->index->labels[u]));
    json_object_object_add(o, "maxValue", cmd_jdouble(r->max));
    json_object_object_add(o, "density", cmd_jdouble((double)r->n_pos / (double)S->index->tokens));
    json_object_object_add(o, "mean_positive", cmd_jdouble(r->mean_pos));
    json_object_object_add(o, "pos_str", logits_json(S, r->logits, r->n_plus, false));
    json_object_object_add(o, "pos_values", logits_json(S, r->logits, r->n_plus, true));
    json_object_object_add(o, "neg_str", logits_json(S, r->logits + r->n_plus, r->n_minus, false));
    json_object_object_add(o, "neg_values", logits_json(S, r->logits + r->n_plus, r->n_minus, true));
    for (int i = 0; i < INDEX_HIST_BINS; i++) json_object_array_add(h, json_object_new_int64(r->hist[i]));
    json_object_object_add(o, "hist_emin", json_object_new_int(INDEX_HIST_EMIN));
    json_object_object_add(o, "histogram", h);
    for (int i = 0; i < r->n_cross; i++) {
        json_object *e = json_object_new_object();
        unit_name(S, r->cross[i].unit, name, sizeof name);
        json_object_object_add(e, "unit", json_object_new_string(name));
        json_object_object_add(e, "r", cmd_jdouble(r->cross[i].r));
        json_object_array_add(p, e);
    }
    json_object_object_add(o, "correlated", p);
    for (int i = 0; i < r->n_top + r->n_quant; i++) json_object_array_add(a, example_json(S, &r->ex[i]));
    json_object_object_add(o, "activations", a);
    return o;
}

static void print_histogram(session *S, const ix_record *r) {
    uint32_t most = 0;
    for (int i = 0; i < INDEX_HIST_BINS; i++) most = r->hist[i] > most ? r->hist[i] : most;
    for (int i = 0; i < INDEX_HIST_BINS && most; i++) {
        if (!r->hist[i]) continue;
        char bar[41];
        int len = (int)lrint(40.0 * r->hist[i] / most);
        memset(bar, '#', (size_t)len), bar[len] = 0;
        sess_printf(S, "  [%9.3g, %9.3g) %9u %s\n", i ? ldexp(1, INDEX_HIST_EMIN + i) : 0.0,
                    ldexp(1, INDEX_HIST_EMIN + i + 1), r->hist[i], bar);
    }
}

static void print_logits(session *S, const char *what, const ix_logit *l, int n) {
    sess_printf(S, "%s", what);
    for (int i = 0; i < n; i++) {
        char piece[64];
        cmd_token_text(S, l[i].token, piece, sizeof piece);
        sess_printf(S, " \"%s\" %+.2f", piece, l[i].value);
    }
    sess_printf(S, "\n");
}

static void print_unit(session *S, int u, const ix_record *r) {
    char name[64], label[512];
    unit_name(S, u, name, sizeof name);
    label_text(S, u, r, label, sizeof label);
    sess_printf(S, "%s  %s\ndensity %.5f (%llu of %ld tokens), max %.4f, mean when active %.4f\n", name, label,
                (double)r->n_pos / (double)S->index->tokens, (unsigned long long)r->n_pos, S->index->tokens, r->max,
                r->mean_pos);
    if (r->n_plus) print_logits(S, "top output tokens:", r->logits, r->n_plus);
    if (r->n_minus) print_logits(S, "bottom output tokens:", r->logits + r->n_plus, r->n_minus);
    sess_printf(S, "histogram of positive values:\n");
    print_histogram(S, r);
    for (int i = 0; i < r->n_cross && i < 5; i++) {
        unit_name(S, r->cross[i].unit, name, sizeof name);
        sess_printf(S, "%s %s r %+.3f", i ? "," : "correlated:", name, r->cross[i].r);
    }
    if (r->n_cross) sess_printf(S, "\n");
    sess_printf(S, "top examples:\n");
    print_examples(S, r->ex, r->n_top < 10 ? r->n_top : 10, r->max);
    if (r->n_quant) sess_printf(S, "quantile examples (band 1 = lowest):\n");
    print_examples(S, r->ex + r->n_top, r->n_quant, r->max);
}

int cmd_latent(session *S, words *w) {
    if (need_index(S, "latent")) return -1;
    if (w->argc != 2) return ms_seterr("usage: latent I|UNIT (latent)");
    int u = index_unit(S, w->argv[1], "latent");
    ix_record r;
    if (u < 0 || index_read(S->index, u, &r)) return -1;
    if (S->json) {
        json_object *o = unit_json(S, u, &r);
        json_object_object_add(o, "cmd", json_object_new_string("latent"));
        cmd_emit_json(S, o);
    } else print_unit(S, u, &r);
    index_record_free(&r);
    return 0;
}

/* One JSON line per unit, whatever the json setting. */
int cmd_export(session *S, words *w) {
    if (need_index(S, "export")) return -1;
    int n = 0;
    for (int i = 1; i < w->argc; i++) n += strcmp(w->argv[i], "--json") != 0;
    if (!n) return ms_seterr("usage: export UNIT... [--json] (export)");
    int *units = xmalloc(sizeof(int) * (size_t)n), k = 0;
    for (int i = 1; i < w->argc; i++)
        if (strcmp(w->argv[i], "--json") && (units[k++] = index_unit(S, w->argv[i], "export")) < 0) return free(units), -1;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        ix_record r;
        if ((rc = index_read(S->index, units[i], &r))) break;
        cmd_emit_json(S, unit_json(S, units[i], &r));
        index_record_free(&r);
    }
    free(units);
    return rc;
}

/* ------------------------------------------------------------ label, cross */

int cmd_label(session *S, words *w) {
    if (need_index(S, "label")) return -1;
    if (w->argc < 2) return ms_seterr("usage: label UNIT [TEXT | --auto] (label)");
    int u = index_unit(S, w->argv[1], "label");
    if (u < 0) return -1;
    if (w->argc > 2) {
        const char *text = w->rest + strlen(w->argv[1]);
        while (*text == ' ' || *text == '\t') text++;
        char *t = w->argc == 3 ? xstrdup(w->argv[2]) : xstrdup(text);
        int rc = index_set_label(S->index, u, strcmp(t, "--auto") ? t : NULL);
        free(t);
        if (rc) return ms_seterr("%s (label)", ms_geterr());
    }
    ix_record r;
    if (index_read(S->index, u, &r)) return -1;
    char name[64], label[512];
    unit_name(S, u, name, sizeof name);
    label_text(S, u, &r, label, sizeof label);
    if (S->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("label"));
        json_object_object_add(o, "unit", json_object_new_string(name));
        json_object_object_add(o, "label", json_object_new_string(label));
        json_object_object_add(o, "auto", json_object_new_boolean(!S->index->labels[u]));
        cmd_emit_json(S, o);
    } else sess_printf(S, "%s  %s\n", name, label);
    index_record_free(&r);
    return 0;
}

int cmd_cross(session *S, words *w) {
    if (need_index(S, "cross")) return -1;
    if (w->argc != 2) return ms_seterr("usage: cross meta:B:I|sae:I (cross)");
    if (!S->index->cross) return ms_seterr("the index has no correlations (it needs both an SAE and a GLP) (cross)");
    int u = index_unit(S, w->argv[1], "cross");
    ix_record r;
    if (u < 0 || index_read(S->index, u, &r)) return -1;
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!arr) sess_printf(S, "units most correlated with %s over %ld index tokens (Pearson r)\n", w->argv[1], S->index->tokens);
    for (int i = 0; i < r.n_cross; i++) {
        char name[64];
        const char *user = S->index->labels[r.cross[i].unit];
        unit_name(S, r.cross[i].unit, name, sizeof name);
        if (arr) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "unit", json_object_new_string(name));
            json_object_object_add(e, "r", cmd_jdouble(r.cross[i].r));
            json_object_array_add(arr, e);
        } else sess_printf(S, "  %-16s %+.4f  %s\n", name, r.cross[i].r, user ? user : "");
    }
    if (arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("cross"));
        json_object_object_add(o, "unit", json_object_new_string(w->argv[1]));
        json_object_object_add(o, "partners", arr);
        cmd_emit_json(S, o);
    } else if (!r.n_cross) sess_printf(S, "  (none: the unit never varied with any partner)\n");
    index_record_free(&r);
    return 0;
}
