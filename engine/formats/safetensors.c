/* safetensors.c — bounds-checked reader and atomic writer. Every length and
 * offset from the file is checked before use: the header length against the
 * file size and the 100 MB limit, each tensor's byte count against its shape and
 * dtype (overflow-checked), and the offsets against the data buffer, which the
 * tensors must cover exactly (no holes, no overlap). */
#include "safetensors.h"
#include "half.h"
#include "jsonutil.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct { const char *name; size_t size; } DTYPES[ST_NDTYPES] = {
    [ST_F64] = {"F64", 8},   [ST_F32] = {"F32", 4},   [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I64] = {"I64", 8},   [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2},   [ST_I8] = {"I8", 1},     [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1},
    [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_U16] = {"U16", 2}, [ST_U32] = {"U32", 4},
    [ST_U64] = {"U64", 8},
};

const char *st_dtype_name(st_dtype d) { return d < ST_NDTYPES ? DTYPES[d].name : "?"; }
size_t st_dtype_size(st_dtype d) { return d < ST_NDTYPES ? DTYPES[d].size : 0; }

static int dtype_parse(const char *s, st_dtype *d) {
    for (int i = 0; i < ST_NDTYPES; i++)
        if (strcmp(s, DTYPES[i].name) == 0) { *d = (st_dtype)i; return 0; }
    return -1;
}

static void free_parsed(st_file *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    for (int i = 0; i < 2 * f->nmeta; i++) free(f->meta[i]);
    free(f->t);
    free(f->meta);
    f->t = NULL;
    f->meta = NULL;
    f->n = f->nmeta = 0;
}

static int parse_metadata(st_file *f, json_object *m, const char *name) {
    if (!json_object_is_type(m, json_type_object))
        return ms_seterr("__metadata__ is not an object (%s)", name);
    f->meta = xcalloc((size_t)json_object_object_length(m) * 2 + 1, sizeof(char *));
    json_object_object_foreach(m, k, v) {
        if (!json_object_is_type(v, json_type_string))
            return ms_seterr("__metadata__ value of '%s' is not a string (%s)", k, name);
        f->meta[2 * f->nmeta] = xstrdup(k);
        f->meta[2 * f->nmeta + 1] = xstrdup(json_object_get_string(v));
        f->nmeta++;
    }
    return 0;
}

static int get_u64(json_object *v, uint64_t *out) {
    if (!json_object_is_type(v, json_type_int)) return -1;
    errno = 0;
    int64_t x = json_object_get_int64(v);
    if (x < 0 || errno == ERANGE) return -1;
    *out = (uint64_t)x;
    return 0;
}

static int parse_tensor(st_tensor *t, const char *key, json_object *v, const uint8_t *data,
                        size_t dlen, const char *name, uint64_t *begin) {
    json_object *dt, *sh, *off;
    if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "dtype", &dt) ||
        !json_object_object_get_ex(v, "shape", &sh) ||
        !json_object_object_get_ex(v, "data_offsets", &off))
        return ms_seterr("tensor '%s' lacks dtype, shape or data_offsets (%s)", key, name);
    if (!json_object_is_type(dt, json_type_string) || dtype_parse(json_object_get_string(dt), &t->dtype))
        return ms_seterr("tensor '%s' has unknown dtype %s (%s)", key, json_object_to_json_string(dt), name);
    if (!json_object_is_type(sh, json_type_array) || json_object_array_length(sh) > ST_MAX_DIMS)
        return ms_seterr("tensor '%s' has a bad shape (%s)", key, name);
    t->ndim = (int)json_object_array_length(sh);
    size_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t d;
        if (get_u64(json_object_array_get_idx(sh, (size_t)i), &d) || d > ((uint64_t)1 << 40))
            return ms_seterr("tensor '%s' has a bad dimension (%s)", key, name);
        t->shape[i] = (int64_t)d;
        if (d && numel > SIZE_MAX / d) return ms_seterr("tensor '%s' is too large (%s)", key, name);
        numel *= (size_t)d;
    }
    size_t es = st_dtype_size(t->dtype);
    if (numel > SIZE_MAX / es) return ms_seterr("tensor '%s' is too large (%s)", key, name);
    uint64_t b, e;
    if (!json_object_is_type(off, json_type_array) || json_object_array_length(off) != 2 ||
        get_u64(json_object_array_get_idx(off, 0), &b) || get_u64(json_object_array_get_idx(off, 1), &e))
        return ms_seterr("tensor '%s' has bad data_offsets (%s)", key, name);
    if (b > e || e > dlen)
        return ms_seterr("tensor '%s' offsets [%llu,%llu] outside the %zu-byte data buffer (%s)", key,
                         (unsigned long long)b, (unsigned long long)e, dlen, name);
    if (e - b != numel * es)
        return ms_seterr("tensor '%s' has %llu bytes but shape and dtype need %zu (%s)", key,
                         (unsigned long long)(e - b), numel * es, name);
    t->name = xstrdup(key);
    t->numel = numel;
    t->nbytes = numel * es;
    t->data = data + b;
    *begin = b;
    return 0;
}

typedef struct { uint64_t b, e; } span;
static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b ? 1 : (x->e < y->e ? -1 : x->e > y->e);
}

/* Tensors must tile [0, dlen) exactly. */
static int check_coverage(const st_file *f, const uint64_t *begins, size_t dlen, const char *name) {
    span *s = xmalloc(sizeof(span) * (size_t)(f->n ? f->n : 1));
    for (int i = 0; i < f->n; i++) s[i] = (span){begins[i], begins[i] + f->t[i].nbytes};
    qsort(s, (size_t)f->n, sizeof(span), span_cmp);
    uint64_t at = 0;
    int rc = 0;
    for (int i = 0; i < f->n && !rc; i++) {
        if (s[i].b != at) rc = ms_seterr("tensor data %s at byte %llu (%s)",
                                         s[i].b < at ? "overlaps" : "leaves a hole",
                                         (unsigned long long)at, name);
        at = s[i].e;
    }
    if (!rc && at != dlen)
        rc = ms_seterr("tensors cover %llu of %zu data bytes (%s)", (unsigned long long)at, dlen, name);
    free(s);
    return rc;
}

static int parse(st_file *f, const char *name) {
    if (f->size < 8) return ms_seterr("file too short for a safetensors header (%s)", name);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | f->base[i];
    if (n > ST_MAX_HEADER) return ms_seterr("header length %llu exceeds 100 MB (%s)", (unsigned long long)n, name);
    if (n > f->size - 8)
        return ms_seterr("header length %llu exceeds file size %zu (%s)", (unsigned long long)n, f->size, name);
    if (n < 2 || f->base[8] != '{') return ms_seterr("header is not a JSON object (%s)", name);
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, (const char *)f->base + 8, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        return ms_seterr("bad header JSON: %s (%s)", json_tokener_error_desc(jerr), name);
    }
    for (size_t i = used; i < n; i++) /* only padding may follow the object */
        if (!strchr(" \t\r\n", f->base[8 + i])) {
            json_object_put(root);
            return ms_seterr("trailing bytes after header JSON (%s)", name);
        }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return ms_seterr("header is not a JSON object (%s)", name);
    }
    const uint8_t *data = f->base + 8 + n;
    size_t dlen = f->size - 8 - (size_t)n;
    int cap = json_object_object_length(root);
    f->t = xcalloc((size_t)cap + 1, sizeof(st_tensor));
    uint64_t *begins = xcalloc((size_t)cap + 1, sizeof(uint64_t));
    int rc = 0;
    json_object_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) rc = parse_metadata(f, val, name);
        else if (!(rc = parse_tensor(&f->t[f->n], key, val, data, dlen, name, &begins[f->n]))) f->n++;
        if (rc) break;
    }
    if (!rc) rc = check_coverage(f, begins, dlen, name);
    free(begins);
    json_object_put(root);
    if (rc) free_parsed(f);
    return rc;
}

int st_open(st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    const char *name = ms_basename(path);
    if (ms_ends_with(path, ".lz4")) {
        if (ms_read_file(path, &f->base, &f->size)) return -1;
    } else {
        int fd = ms_open_regular(path, &f->size); /* refuses FIFOs without blocking */
        if (fd < 0) return -1;
        if (f->size == 0) {
            close(fd);
            return ms_seterr("file is empty (%s)", path);
        }
        f->base = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (f->base == MAP_FAILED) {
            f->base = NULL;
            return ms_seterr("cannot map: %s (%s)", strerror(errno), path);
        }
        f->mapped = true;
    }
    f->path = xstrdup(path);
    if (parse(f, name)) {
        st_close(f);
        return -1;
    }
    return 0;
}

int st_open_mem(st_file *f, const uint8_t *buf, size_t len, const char *name) {
    memset(f, 0, sizeof *f);
    f->base = xmalloc(len + 1);
    memcpy(f->base, buf, len);
    f->size = len;
    f->path = xstrdup(name);
    if (parse(f, name)) {
        st_close(f);
        return -1;
    }
    return 0;
}

void st_close(st_file *f) {
    free_parsed(f);
    if (f->base) {
        if (f->mapped) munmap(f->base, f->size);
        else free(f->base);
    }
    free(f->path);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

void st_release(const st_file *f, const st_tensor *t) {
    if (f->mapped && t) ms_drop_pages(t->data, t->nbytes);
}

int st_to_f32(const st_file *f, const st_tensor *t, float *dst, size_t n) {
    const char *fname = f && f->path ? ms_basename(f->path) : "?";
    if (n != t->numel)
        return ms_seterr("tensor '%s' has %zu elements, expected %zu (%s)", t->name, t->numel, n, fname);
    switch (t->dtype) {
    case ST_F32: memcpy(dst, t->data, n * 4); return 0; /* little-endian host */
    case ST_F16: f16_to_f32_n(t->data, dst, n); return 0;
    case ST_BF16: bf16_to_f32_n(t->data, dst, n); return 0;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, t->data + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    default:
        return ms_seterr("tensor '%s' has dtype %s, not a supported float type (%s)", t->name,
                         st_dtype_name(t->dtype), fname);
    }
}

float *st_load_f32(const st_file *f, const char *name, int ndim, const int64_t *shape) {
    const st_tensor *t = st_find(f, name);
    const char *fname = ms_basename(f->path);
    if (!t) return ms_seterr("missing tensor '%s' (%s)", name, fname), NULL;
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) return ms_seterr("tensor '%s' has an unexpected shape (%s)", name, fname), NULL;
    float *p = xmalloc(xmul(t->numel ? t->numel : 1, sizeof(float)));
    if (st_to_f32(f, t, p, t->numel)) {
        free(p);
        return NULL;
    }
    return p;
}

/* ---- sharded folders ---- */

static int set_add(st_set *s, const char *dir, const char *file) {
    for (int i = 0; i < s->nfiles; i++) { /* already open? (the file may carry .lz4) */
        const char *have = ms_basename(s->files[i].path);
        size_t n = strlen(file);
        if (strncmp(have, file, n) == 0 && (have[n] == 0 || strcmp(have + n, ".lz4") == 0)) return 0;
    }
    char *p = ms_find_file(dir, file);
    if (!p) {
        char *want = ms_path_join(dir, file);
        ms_seterr("missing weights file (%s)", want);
        free(want);
        return -1;
    }
    s->files = xrealloc(s->files, sizeof(st_file) * (size_t)(s->nfiles + 1));
    int rc = st_open(&s->files[s->nfiles], p);
    free(p);
    if (!rc) s->nfiles++;
    return rc;
}

static int set_from_index(st_set *s, const char *dir, const char *index) {
    json_object *root = ms_json_read(index), *wm;
    int rc = 0;
    if (!root) rc = -1;
    else if (!json_object_object_get_ex(root, "weight_map", &wm) || !json_object_is_type(wm, json_type_object))
        rc = ms_seterr("no weight_map object (%s)", index);
    else {
        json_object_object_foreach(wm, k, v) {
            (void)k;
            const char *file = json_object_get_string(v);
            if (!json_object_is_type(v, json_type_string) || strchr(file, '/')) {
                rc = ms_seterr("weight_map entry '%s' is not a plain file name (%s)", k, index);
                break;
            }
            if ((rc = set_add(s, dir, file))) break;
        }
    }
    json_object_put(root);
    return rc;
}

int st_set_open(st_set *s, const char *dir) {
    memset(s, 0, sizeof *s);
    char *single = ms_find_file(dir, "model.safetensors");
    int rc;
    if (single) {
        rc = set_add(s, dir, ms_basename(single));
        free(single);
    } else {
        char *index = ms_find_file(dir, "model.safetensors.index.json");
        if (!index) return ms_seterr("no model.safetensors or model.safetensors.index.json (%s)", dir);
        rc = set_from_index(s, dir, index);
        free(index);
    }
    if (rc) st_set_close(s);
    return rc;
}

void st_set_close(st_set *s) {
    for (int i = 0; i < s->nfiles; i++) st_close(&s->files[i]);
    free(s->files);
    memset(s, 0, sizeof *s);
}

const st_tensor *st_set_find(const st_set *s, const char *name, const st_file **file) {
    for (int i = 0; i < s->nfiles; i++) {
        const st_tensor *t = st_find(&s->files[i], name);
        if (t) {
            if (file) *file = &s->files[i];
            return t;
        }
    }
    return NULL;
}

/* ---- writer ---- */

int st_write(const char *path, const st_wtensor *t, int n, const char *const *meta, int nmeta) {
    json_object *root = json_object_new_object();
    if (nmeta > 0) {
        json_object *m = json_object_new_object();
        for (int i = 0; i < nmeta; i++)
            json_object_object_add(m, meta[2 * i], json_object_new_string(meta[2 * i + 1]));
        json_object_object_add(root, "__metadata__", m);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        json_object *sh = json_object_new_array();
        for (int d = 0; d < t[i].ndim; d++) {
            numel = xmul(numel, (size_t)t[i].shape[d]);
            json_object_array_add(sh, json_object_new_int64(t[i].shape[d]));
        }
        size_t nb = xmul(numel, st_dtype_size(t[i].dtype));
        json_object *e = json_object_new_object(), *o = json_object_new_array();
        json_object_object_add(e, "dtype", json_object_new_string(st_dtype_name(t[i].dtype)));
        json_object_object_add(e, "shape", sh);
        json_object_array_add(o, json_object_new_int64((int64_t)off));
        json_object_array_add(o, json_object_new_int64((int64_t)(off + nb)));
        json_object_object_add(e, "data_offsets", o);
        json_object_object_add(root, t[i].name, e);
        off += nb;
    }
    const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    size_t hl = strlen(js), padded = (hl + 7) & ~(size_t)7;
    size_t total = 8 + padded + off;
    uint8_t *buf = xmalloc(total);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, js, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    json_object_put(root);
    uint8_t *p = buf + 8 + padded;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        size_t nb = numel * st_dtype_size(t[i].dtype);
        if (nb) memcpy(p, t[i].data, nb);
        p += nb;
    }
    int rc = ms_write_file_atomic(path, buf, total);
    free(buf);
    return rc;
}
