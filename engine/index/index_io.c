/* index_io.c — the index folder's format (see index.h): unit names, record
 * (de)serialization, records.bin with its offset table, and the reader. A
 * reader trusts nothing: every count, length and offset is checked against
 * what holds it, and errors name the file. */
#include "index.h"
#include "half.h"
#include "jsonutil.h"
#include "lz4file.h"
#include "safetensors.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REC_MAGIC "MSIXREC1"
#define REC_HEADER 24              /* magic, u32 version, u32 units, u64 file size */
#define REC_ENTRY 24               /* u64 offset, u32 clen, u32 raw, f32 max, f32 density */
#define REC_MAX_RAW (64u << 20)    /* no honest record comes near this */

/* ------------------------------------------------------------ unit names */

const ix_group *index_unit_group(const ix_group *g, int ng, int u) {
    for (int i = 0; i < ng; i++)
        if (u >= g[i].first && u < g[i].first + g[i].count) return &g[i];
    return NULL;
}

const ix_group *index_find_group(const ix_group *g, int ng, ix_kind kind) {
    for (int i = 0; i < ng; i++)
        if (g[i].kind == kind) return &g[i];
    return NULL;
}

void index_units_text(const ix_group *g, int ng, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < ng && o < cap; i++) {
        char first[64];
        index_unit_name(g, ng, g[i].first, first, sizeof first);
        first[strlen(first) - 1] = 0; /* the trailing "0" */
        o += (size_t)snprintf(out + o, cap - o, "%s%s0..%d", i ? ", " : "", first, g[i].count - 1);
    }
}

void index_unit_name(const ix_group *g, int ng, int u, char *out, size_t cap) {
    const ix_group *x = index_unit_group(g, ng, u);
    if (!x) snprintf(out, cap, "?%d", u);
    else if (x->kind == IX_SAE) snprintf(out, cap, "sae:%d", u - x->first);
    else if (x->kind == IX_META) snprintf(out, cap, "meta:%d:%d", x->block, u - x->first);
    else snprintf(out, cap, "mlp:%d:%d", x->layer, u - x->first);
}

int index_unit_id(const ix_group *g, int ng, const char *name, const char *cmd) {
    int v[2] = {0, 0}, a, b;
    ix_kind kind;
    if (ms_parse_unit_name(name, "sae", 1, v + 1)) kind = IX_SAE;
    else if (ms_parse_unit_name(name, "meta", 2, v)) kind = IX_META;
    else if (ms_parse_unit_name(name, "mlp", 2, v)) kind = IX_MLP;
    else return ms_seterr("'%s' is not an index unit: sae:I, meta:B:I or mlp:L:I (%s)", name, cmd);
    a = v[0], b = v[1];
    for (int i = 0; i < ng; i++) {
        const ix_group *x = &g[i];
        if (x->kind != kind || (kind == IX_META && x->block != a) || (kind == IX_MLP && x->layer != a)) continue;
        if (b < 0 || b >= x->count) return ms_seterr("%s outside 0..%d in the index (%s)", name, x->count - 1, cmd);
        return x->first + b;
    }
    return ms_seterr("the index holds no %s units (%s)", name, cmd);
}

/* ------------------------------------------------------------ records */

static void put(ix_buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = 2 * (b->len + n) + 256;
        b->buf = xrealloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}
static void put_u32(ix_buf *b, uint32_t x) { put(b, &x, 4); }
static void put_i32(ix_buf *b, int32_t x) { put(b, &x, 4); }
static void put_f32(ix_buf *b, float x) { put(b, &x, 4); }

void index_encode_record(ix_buf *b, const ix_record *r) {
    put_u32(b, (uint32_t)r->unit);
    put(b, &r->n_pos, 8);
    put_f32(b, r->max), put_f32(b, r->mean_pos);
    put(b, r->hist, sizeof r->hist);
    uint32_t counts[] = {(uint32_t)r->n_top, (uint32_t)r->n_quant, (uint32_t)r->n_plus, (uint32_t)r->n_minus,
                         (uint32_t)r->n_cross, r->auto_label ? (uint32_t)strlen(r->auto_label) : 0};
    put(b, counts, sizeof counts);
    for (int i = 0; i < r->n_top + r->n_quant; i++) {
        const ix_example *e = &r->ex[i];
        put_i32(b, e->seg), put_i32(b, e->pos), put_f32(b, e->value);
        put_i32(b, e->band), put_i32(b, e->w0), put_i32(b, e->n);
        for (int j = 0; j < e->n; j++) {
            uint16_t h = f32_to_f16(e->vals[j]);
            put(b, &h, 2);
        }
    }
    for (int i = 0; i < r->n_plus + r->n_minus; i++) put_i32(b, r->logits[i].token), put_f32(b, r->logits[i].value);
    for (int i = 0; i < r->n_cross; i++) put_i32(b, r->cross[i].unit), put_f32(b, r->cross[i].r);
    if (r->auto_label) put(b, r->auto_label, counts[5]);
}

typedef struct {
    const uint8_t *p;
    size_t n, at;
    const char *where;
    int bad;
} cursor;

static int take(cursor *c, void *dst, size_t n) {
    if (c->bad || n > c->n - c->at) {
        if (!c->bad) ms_seterr("record truncated at byte %zu (%s)", c->at, c->where);
        c->bad = 1;
        memset(dst, 0, n);
        return -1;
    }
    memcpy(dst, c->p + c->at, n);
    c->at += n;
    return 0;
}

static int32_t take_i32(cursor *c) {
    int32_t x;
    take(c, &x, 4);
    return x;
}

/* The window's values are stored as f16, the example's value as f32: the
 * peak takes its exact value, so it never shows above the value reported
 * beside it (13.15625 beside a max of 13.152413). Other window tokens may
 * lie outside the index's tokens and exceed it. */
static int decode_example(cursor *c, ix_example *e) {
    e->seg = take_i32(c), e->pos = take_i32(c);
    take(c, &e->value, 4);
    e->band = take_i32(c), e->w0 = take_i32(c), e->n = take_i32(c);
    if (c->bad) return -1;
    if (e->n < 1 || e->n > INDEX_MAX_WINDOW || e->seg < 0 || e->pos < e->w0 || e->pos >= e->w0 + e->n || e->w0 < 0)
        return ms_seterr("bad example window (%s)", c->where);
    e->vals = xmalloc(sizeof(float) * (size_t)e->n);
    if ((size_t)e->n * 2 > c->n - c->at) return take(c, e->vals, (size_t)e->n * 2);
    f16_to_f32_n(c->p + c->at, e->vals, (size_t)e->n);
    c->at += (size_t)e->n * 2;
    e->vals[e->pos - e->w0] = e->value;
    return 0;
}

static int decode_record(const uint8_t *p, size_t n, ix_record *r, const char *where) {
    cursor c = {p, n, 0, where, 0};
    r->unit = take_i32(&c);
    take(&c, &r->n_pos, 8), take(&c, &r->max, 4), take(&c, &r->mean_pos, 4);
    take(&c, r->hist, sizeof r->hist);
    uint32_t k[6];
    if (take(&c, k, sizeof k)) return -1;
    /* Each count bounded by the bytes that would hold it. */
    if (k[0] + (uint64_t)k[1] > n / 24 || k[2] + (uint64_t)k[3] > n / 8 || k[4] > n / 8 || k[5] > n)
        return ms_seterr("record counts exceed its size (%s)", where);
    r->n_top = (int)k[0], r->n_quant = (int)k[1], r->n_plus = (int)k[2], r->n_minus = (int)k[3];
    r->n_cross = (int)k[4];
    r->ex = xcalloc((size_t)(r->n_top + r->n_quant) + 1, sizeof(ix_example));
    for (int i = 0; i < r->n_top + r->n_quant; i++)
        if (decode_example(&c, &r->ex[i])) return -1;
    r->logits = xcalloc((size_t)(r->n_plus + r->n_minus) + 1, sizeof(ix_logit));
    for (int i = 0; i < r->n_plus + r->n_minus; i++) r->logits[i].token = take_i32(&c), take(&c, &r->logits[i].value, 4);
    r->cross = xcalloc((size_t)r->n_cross + 1, sizeof(ix_partner));
    for (int i = 0; i < r->n_cross; i++) r->cross[i].unit = take_i32(&c), take(&c, &r->cross[i].r, 4);
    r->auto_label = xcalloc(k[5] + 1, 1);
    if (take(&c, r->auto_label, k[5])) return -1;
    if (c.at != n) return ms_seterr("%zu stray bytes after the record (%s)", n - c.at, where);
    return 0;
}

/* On failure the partly decoded record is freed here (a fuzzer found the
 * leak when a caller forgot to). */
int index_decode_record(const uint8_t *p, size_t n, ix_record *r, const char *where) {
    memset(r, 0, sizeof *r);
    if (decode_record(p, n, r, where) == 0) return 0;
    index_record_free(r);
    return -1;
}

void index_record_free(ix_record *r) {
    for (int i = 0; r->ex && i < r->n_top + r->n_quant; i++) free(r->ex[i].vals);
    free(r->ex), free(r->logits), free(r->cross), free(r->auto_label);
    memset(r, 0, sizeof *r);
}

int index_write_records(const char *path, ix_buf *raw, int n_units, const float *max, const float *density) {
    ix_buf f = {0};
    put(&f, REC_MAGIC, 8);
    put_u32(&f, INDEX_VERSION), put_u32(&f, (uint32_t)n_units);
    uint64_t zero = 0;
    put(&f, &zero, 8); /* file size, patched below */
    size_t table = f.len;
    for (int u = 0; u < n_units; u++) put(&f, (uint8_t[REC_ENTRY]){0}, REC_ENTRY);
    for (int u = 0; u < n_units; u++) {
        uint8_t *z;
        size_t zn;
        if (lz4_compress_buf(raw[u].buf, raw[u].len, &z, &zn, 1)) {
            free(f.buf);
            return -1;
        }
        uint64_t off = f.len;
        uint32_t cl = (uint32_t)zn, rl = (uint32_t)raw[u].len;
        uint8_t *e = f.buf + table + (size_t)u * REC_ENTRY;
        memcpy(e, &off, 8), memcpy(e + 8, &cl, 4), memcpy(e + 12, &rl, 4);
        memcpy(e + 16, &max[u], 4), memcpy(e + 20, &density[u], 4);
        put(&f, z, zn);
        free(z);
    }
    uint64_t size = f.len;
    memcpy(f.buf + 16, &size, 8);
    int rc = ms_write_file_atomic(path, f.buf, f.len);
    free(f.buf);
    return rc;
}

/* ------------------------------------------------------------ reader */

static int read_table(ms_index *ix, const char *path) {
    FILE *f = ms_fopen_regular(path);
    if (!f) return -1;
    uint8_t h[REC_HEADER];
    int rc = 0;
    fseeko(f, 0, SEEK_END);
    uint64_t fsize = (uint64_t)ftello(f), size = 0;
    uint32_t ver = 0, n = 0;
    rewind(f);
    if (fread(h, 1, REC_HEADER, f) != REC_HEADER || memcmp(h, REC_MAGIC, 8)) rc = ms_seterr("not an index records file (%s)", path);
    if (!rc) memcpy(&ver, h + 8, 4), memcpy(&n, h + 12, 4), memcpy(&size, h + 16, 8);
    if (!rc && ver != INDEX_VERSION) rc = ms_seterr("records version %u, this build reads %d (%s)", ver, INDEX_VERSION, path);
    if (!rc && size != fsize) rc = ms_seterr("file is %llu bytes, its header says %llu: truncated? (%s)",
                                             (unsigned long long)fsize, (unsigned long long)size, path);
    if (!rc && n != (uint32_t)ix->n_units)
        rc = ms_seterr("records hold %u units, the manifest %d (%s)", n, ix->n_units, path);
    uint64_t data0 = REC_HEADER + (uint64_t)n * REC_ENTRY;
    if (!rc && data0 > fsize) rc = ms_seterr("offset table runs past the end of the file (%s)", path);
    ix->table = xcalloc((size_t)ix->n_units + 1, sizeof(ix_entry));
    for (int u = 0; !rc && u < ix->n_units; u++) {
        uint8_t e[REC_ENTRY];
        ix_entry *t = &ix->table[u];
        if (fread(e, 1, REC_ENTRY, f) != REC_ENTRY) rc = ms_seterr("offset table truncated (%s)", path);
        memcpy(&t->offset, e, 8), memcpy(&t->clen, e + 8, 4), memcpy(&t->rawlen, e + 12, 4);
        memcpy(&t->max, e + 16, 4), memcpy(&t->density, e + 20, 4);
        if (!rc && (t->offset < data0 || t->offset > fsize || t->clen > fsize - t->offset || t->rawlen > REC_MAX_RAW))
            rc = ms_seterr("unit %d's record lies outside the file (%s)", u, path);
    }
    fclose(f);
    return rc;
}

const char *index_label(const ms_index *ix, int u, const ix_record *rec, bool *is_auto) {
    const char *user = u >= 0 && u < ix->n_units ? ix->labels[u] : NULL;
    *is_auto = !user;
    return user ? user : rec && rec->auto_label ? rec->auto_label : "";
}

int index_read(const ms_index *ix, int u, ix_record *rec) {
    memset(rec, 0, sizeof *rec);
    if (u < 0 || u >= ix->n_units) return ms_seterr("no unit %d in the index (%s)", u, ix->dir);
    char *path = ms_path_join(ix->dir, "records.bin");
    const ix_entry *t = &ix->table[u];
    uint8_t *z = xmalloc(t->clen + 1), *raw = NULL;
    size_t rn = 0;
    FILE *f = ms_fopen_regular(path);
    int rc = !f ? -1 : 0;
    if (!rc && (fseeko(f, (off_t)t->offset, SEEK_SET) || fread(z, 1, t->clen, f) != t->clen))
        rc = ms_seterr("cannot read unit %d's record (%s)", u, path);
    if (f) fclose(f);
    if (!rc && lz4_decompress_buf(z, t->clen, &raw, &rn, path)) rc = -1;
    if (!rc && rn != t->rawlen) rc = ms_seterr("unit %d's record decompresses to %zu bytes, not %u (%s)", u, rn, t->rawlen, path);
    if (!rc) rc = index_decode_record(raw, rn, rec, path);
    if (!rc && rec->unit != u) rc = ms_seterr("record %d is labelled unit %d (%s)", u, rec->unit, path);
    for (int i = 0; !rc && i < rec->n_top + rec->n_quant; i++) {
        const ix_example *e = &rec->ex[i];
        if (e->seg >= ix->n_seg || e->w0 + e->n > ix->seg_len[e->seg])
            rc = ms_seterr("unit %d's example lies outside the token stream (%s)", u, path);
    }
    for (int i = 0; !rc && i < rec->n_plus + rec->n_minus; i++)
        if (rec->logits[i].token < 0 || rec->logits[i].token >= ix->vocab)
            rc = ms_seterr("unit %d's logit token outside the vocabulary (%s)", u, path);
    for (int i = 0; !rc && i < rec->n_cross; i++)
        if (rec->cross[i].unit < 0 || rec->cross[i].unit >= ix->n_units)
            rc = ms_seterr("unit %d's partner outside the index (%s)", u, path);
    if (rc) index_record_free(rec);
    free(z), free(raw), free(path);
    return rc;
}

/* ------------------------------------------------------------ manifest */

static const char *jstr(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                           : NULL;
}

static int read_groups(ms_index *ix, json_object *arr, const char *where) {
    int n = json_object_is_type(arr, json_type_array) ? (int)json_object_array_length(arr) : -1;
    if (n < 1 || n > INDEX_MAX_GROUPS) return ms_seterr("'units' must be a list of 1..%d groups (%s)", INDEX_MAX_GROUPS, where);
    for (int i = 0; i < n; i++) {
        json_object *g = json_object_array_get_idx(arr, i);
        const char *kind = json_object_is_type(g, json_type_object) ? jstr(g, "kind") : NULL;
        long count = -1, layer = -1, block = 0;
        ix_group *x = &ix->groups[i];
        if (!kind || ms_json_int(g, "count", 1, 1 << 24, &count, where) || ms_json_int(g, "layer", 0, 4096, &layer, where) ||
            ms_json_int(g, "block", 0, 4096, &block, where))
            return kind ? -1 : ms_seterr("unit group %d has no kind (%s)", i, where);
        if (!strcmp(kind, "sae")) x->kind = IX_SAE;
        else if (!strcmp(kind, "meta")) x->kind = IX_META;
        else if (!strcmp(kind, "mlp")) x->kind = IX_MLP;
        else return ms_seterr("unknown unit kind '%s' (%s)", kind, where);
        if (count < 1) return ms_seterr("unit group %d has no count (%s)", i, where);
        x->count = (int)count, x->layer = (int)layer, x->block = (int)block, x->first = ix->n_units;
        if (ix->n_units > (1 << 26)) return ms_seterr("too many units (%s)", where);
        ix->n_units += x->count;
    }
    ix->n_groups = n;
    return 0;
}

static int read_categories(ms_index *ix, json_object *arr, const char *where) {
    int n = json_object_is_type(arr, json_type_array) ? (int)json_object_array_length(arr) : -1;
    if (n < 0) return ms_seterr("'categories' must be a list (%s)", where);
    ix->categories = xcalloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(c, json_type_string)) return ms_seterr("category %d is not a string (%s)", i, where);
        ix->categories[ix->n_cat++] = xstrdup(json_object_get_string(c));
    }
    return 0;
}

static int read_manifest(ms_index *ix, const char *path) {
    json_object *o = ms_json_read(path), *v;
    if (!o) return -1;
    long ver = -1, vocab = 0, d = 0, K = 0, before = 0, after = 0, bands = 0, per = 0, tokens = 0, seed = 0;
    const char *fmt = jstr(o, "format"), *model = jstr(o, "model");
    int rc = ms_json_int(o, "version", 0, 1000, &ver, path) || ms_json_int(o, "vocab", 1, 1 << 24, &vocab, path) ||
             ms_json_int(o, "d_model", 1, 1 << 20, &d, path) || ms_json_int(o, "K", 1, 100000, &K, path) ||
             ms_json_int(o, "before", 0, INDEX_MAX_WINDOW, &before, path) ||
             ms_json_int(o, "after", 0, INDEX_MAX_WINDOW, &after, path) || ms_json_int(o, "bands", 0, 1000, &bands, path) ||
             ms_json_int(o, "per_band", 0, 1000, &per, path) || ms_json_int(o, "tokens", 1, 1L << 40, &tokens, path) ||
             ms_json_int(o, "seed", 0, INT64_MAX, &seed, path);
    if (!rc && (!fmt || strcmp(fmt, "metascope-index"))) rc = ms_seterr("not a metascope index manifest (%s)", path);
    if (!rc && ver != INDEX_VERSION) rc = ms_seterr("index version %ld, this build reads %d (%s)", ver, INDEX_VERSION, path);
    if (!rc && before + after + 1 > INDEX_MAX_WINDOW) rc = ms_seterr("window too wide (%s)", path);
    if (!rc) rc = read_groups(ix, json_object_object_get(o, "units"), path);
    if (!rc) rc = read_categories(ix, json_object_object_get(o, "categories"), path);
    if (!rc) {
        snprintf(ix->model, sizeof ix->model, "%s", model ? model : "");
        ix->vocab = (int)vocab, ix->d_model = (int)d, ix->K = (int)K, ix->before = (int)before, ix->after = (int)after;
        ix->bands = (int)bands, ix->per_band = (int)per, ix->tokens = tokens, ix->seed = (uint64_t)seed;
        ix->bos = json_object_object_get_ex(o, "bos", &v) && json_object_get_boolean(v);
        ix->cross = json_object_object_get_ex(o, "cross", &v) && json_object_get_boolean(v);
    }
    json_object_put(o);
    return rc;
}

/* ------------------------------------------------------------ token stream */

static int *take_i32_tensor(const st_file *f, const char *name, int *n, const char *where) {
    const st_tensor *t = st_find(f, name);
    if (!t || t->dtype != ST_I32 || t->ndim != 1 || t->shape[0] > (1 << 30)) {
        ms_seterr("missing or malformed tensor '%s' (%s)", name, where);
        return NULL;
    }
    *n = (int)t->shape[0];
    int *x = xmalloc(sizeof(int) * ((size_t)*n + 1));
    memcpy(x, t->data, sizeof(int) * (size_t)*n);
    return x;
}

static int check_stream(ms_index *ix, const char *where) {
    long total = 0;
    for (int s = 0; s < ix->n_seg; s++) {
        if (ix->seg_start[s] < 0 || ix->seg_len[s] < 2 || ix->seg_start[s] > ix->n_stream - ix->seg_len[s] ||
            ix->seg_cat[s] < -1 || ix->seg_cat[s] >= ix->n_cat)
            return ms_seterr("segment %d lies outside the token stream (%s)", s, where);
        total += ix->seg_len[s] - 1;
    }
    for (int i = 0; i < ix->n_stream; i++)
        if (ix->stream[i] < 0 || ix->stream[i] >= ix->vocab) return ms_seterr("token %d outside the vocabulary (%s)", i, where);
    if (total != ix->tokens) return ms_seterr("segments hold %ld tokens, the manifest %ld (%s)", total, ix->tokens, where);
    return 0;
}

static int read_stream(ms_index *ix, const char *path) {
    st_file f;
    if (st_open(&f, path)) return -1;
    int n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    ix->stream = take_i32_tensor(&f, "tokens", &ix->n_stream, path);
    ix->seg_start = ix->stream ? take_i32_tensor(&f, "seg_start", &ix->n_seg, path) : NULL;
    ix->seg_len = ix->seg_start ? take_i32_tensor(&f, "seg_len", &n1, path) : NULL;
    ix->seg_doc = ix->seg_len ? take_i32_tensor(&f, "seg_doc", &n2, path) : NULL;
    ix->seg_cat = ix->seg_doc ? take_i32_tensor(&f, "seg_cat", &n3, path) : NULL;
    st_close(&f);
    (void)n4;
    if (!ix->seg_cat) return -1;
    if (n1 != ix->n_seg || n2 != ix->n_seg || n3 != ix->n_seg) return ms_seterr("segment tables disagree in length (%s)", path);
    return check_stream(ix, path);
}

/* ------------------------------------------------------------ labels */

static int read_labels(ms_index *ix) {
    ix->labels = xcalloc((size_t)ix->n_units + 1, sizeof(char *));
    char *path = ms_path_join(ix->dir, "labels.tsv");
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = ms_file_exists(path) ? ms_read_file(path, &buf, &n) : 0;
    for (char *line = (char *)buf; !rc && line && *line;) {
        char *nl = strchr(line, '\n'), *tab = strchr(line, '\t');
        if (nl) *nl = 0;
        if (!tab || (nl && tab > nl)) rc = ms_seterr("label line without a tab (%s)", path);
        else {
            *tab = 0;
            int u = index_unit_id(ix->groups, ix->n_groups, line, path);
            if (u < 0) rc = -1;
            else free(ix->labels[u]), ix->labels[u] = xstrdup(tab + 1);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf), free(path);
    return rc;
}

int index_set_label(ms_index *ix, int u, const char *text) {
    if (text && (strchr(text, '\n') || strchr(text, '\t'))) return ms_seterr("a label is one line without tabs (label)");
    free(ix->labels[u]);
    ix->labels[u] = text && *text ? xstrdup(text) : NULL;
    ix_buf b = {0};
    for (int i = 0; i < ix->n_units; i++) {
        if (!ix->labels[i]) continue;
        char name[48];
        index_unit_name(ix->groups, ix->n_groups, i, name, sizeof name);
        put(&b, name, strlen(name)), put(&b, "\t", 1), put(&b, ix->labels[i], strlen(ix->labels[i])), put(&b, "\n", 1);
    }
    char *path = ms_path_join(ix->dir, "labels.tsv");
    int rc = ms_write_file_atomic(path, b.buf ? (const void *)b.buf : "", b.len);
    free(path), free(b.buf);
    return rc;
}

/* ------------------------------------------------------------ open / close */

int index_open(ms_index *ix, const char *dir) {
    memset(ix, 0, sizeof *ix);
    ix->dir = xstrdup(dir);
    char *man = ms_path_join(dir, "manifest.json"), *tok = ms_path_join(dir, "tokens.safetensors.lz4");
    char *rec = ms_path_join(dir, "records.bin");
    int rc = !ms_is_dir(dir) ? ms_seterr("not a folder (%s)", dir) : 0;
    if (!rc) rc = read_manifest(ix, man) || read_stream(ix, tok) || read_table(ix, rec) || read_labels(ix) ? -1 : 0;
    free(man), free(tok), free(rec);
    if (rc) index_close(ix);
    return rc;
}

void index_close(ms_index *ix) {
    for (int i = 0; i < ix->n_cat; i++) free(ix->categories[i]);
    for (int i = 0; ix->labels && i < ix->n_units; i++) free(ix->labels[i]);
    free(ix->categories), free(ix->labels), free(ix->table), free(ix->dir);
    free(ix->stream), free(ix->seg_start), free(ix->seg_len), free(ix->seg_doc), free(ix->seg_cat);
    memset(ix, 0, sizeof *ix);
}
