/* torchpt.c — torch.save dict-of-tensors reader: a ZIP central-directory parser
 * (PKWARE APPNOTE 6.3, including ZIP64) for STORED entries, and a pickle
 * interpreter for the handful of opcodes (as documented by Python's pickletools)
 * that torch.save writes for such dicts.
 *
 * Safety rules: every offset and length read from the file is checked against
 * the buffer before use; nothing recurses on file-controlled depth; the pickle
 * objects live in one node pool freed in one go; GLOBAL only maps to an enum. */
#include "torchpt.h"

#include "half.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- ZIP ---- */

typedef struct {
    const uint8_t *name;
    uint16_t name_len;
    uint64_t size;       /* uncompressed == compressed (STORED) */
    uint64_t local_off;  /* offset of the local file header */
    uint16_t method;
    uint16_t flags;
} zip_entry;

typedef struct {
    const uint8_t *buf;
    size_t n;
    zip_entry *e;
    size_t ne;
    const char *fname;   /* for messages */
} zip_archive;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* True when [off, off+len) lies inside a buffer of n bytes (overflow-safe). */
static bool in_range(uint64_t off, uint64_t len, size_t n) { return off <= n && len <= n - off; }

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

/* Finds the end-of-central-directory record: the last signature whose record
 * plus comment ends exactly at the end of the file (so a signature inside the
 * comment or the data cannot be mistaken for it). */
static long find_eocd(const uint8_t *b, size_t n) {
    if (n < 22) return -1;
    size_t lo = n - 22 > 65535 ? n - 22 - 65535 : 0;
    for (size_t i = n - 22 + 1; i-- > lo;)
        if (rd32(b + i) == SIG_EOCD && i + 22 + rd16(b + i + 20) == n) return (long)i;
    return -1;
}

/* Where the central directory is and how many entries it declares; reads the
 * ZIP64 end record when the classic one holds 0xFFFF/0xFFFFFFFF markers. */
static int zip_locate_cd(const zip_archive *z, uint64_t *cd_off, uint64_t *cd_size, uint64_t *count) {
    const uint8_t *b = z->buf;
    long e = find_eocd(b, z->n);
    if (e < 0) return ms_seterr("not a ZIP archive: no end-of-central-directory record (%s)", z->fname);
    const uint8_t *r = b + e;
    if (rd16(r + 4) != 0 || rd16(r + 6) != 0) return ms_seterr("multi-disk ZIP archives are not supported (%s)", z->fname);
    *count = rd16(r + 10);
    *cd_size = rd32(r + 12);
    *cd_off = rd32(r + 16);
    if (*count != 0xFFFF && *cd_size != 0xFFFFFFFFu && *cd_off != 0xFFFFFFFFu) return 0;
    if (e < 20 || rd32(b + e - 20) != SIG_LOC64)
        return ms_seterr("ZIP64 end-of-central-directory locator missing (%s)", z->fname);
    uint64_t off64 = rd64(b + e - 20 + 8);
    if (!in_range(off64, 56, (size_t)e - 20) || rd32(b + off64) != SIG_EOCD64)
        return ms_seterr("bad ZIP64 end-of-central-directory record (%s)", z->fname);
    const uint8_t *q = b + off64;
    if (rd32(q + 16) != 0 || rd32(q + 20) != 0) return ms_seterr("multi-disk ZIP archives are not supported (%s)", z->fname);
    *count = rd64(q + 32);
    *cd_size = rd64(q + 40);
    *cd_off = rd64(q + 48);
    return 0;
}

/* Applies a ZIP64 extended-information extra field (id 0x0001): it holds, in
 * this order, only the values whose 32-bit header fields are 0xFFFFFFFF. */
static int zip64_extra(const zip_archive *z, const uint8_t *x, size_t xl, zip_entry *ze, uint32_t usz, uint32_t csz, uint64_t *csize) {
    for (size_t i = 0; i + 4 <= xl;) {
        uint16_t id = rd16(x + i), len = rd16(x + i + 2);
        if (len > xl - i - 4) return ms_seterr("ZIP extra field overruns its entry (%s)", z->fname);
        if (id == 0x0001) {
            const uint8_t *v = x + i + 4;
            size_t k = 0;
            if (usz == 0xFFFFFFFFu) {
                if (k + 8 > len) return ms_seterr("short ZIP64 extra field (%s)", z->fname);
                ze->size = rd64(v + k), k += 8;
            }
            if (csz == 0xFFFFFFFFu) {
                if (k + 8 > len) return ms_seterr("short ZIP64 extra field (%s)", z->fname);
                *csize = rd64(v + k), k += 8;
            }
            if (ze->local_off == 0xFFFFFFFFu) {
                if (k + 8 > len) return ms_seterr("short ZIP64 extra field (%s)", z->fname);
                ze->local_off = rd64(v + k), k += 8;
            }
        }
        i += 4 + (size_t)len;
    }
    return 0;
}

/* Reads one central-directory header at *pos; advances *pos past it. */
static int zip_read_central(zip_archive *z, uint64_t *pos, uint64_t cd_end, zip_entry *ze) {
    const uint8_t *b = z->buf;
    if (!in_range(*pos, 46, cd_end) || rd32(b + *pos) != SIG_CENTRAL)
        return ms_seterr("bad ZIP central directory entry at byte %llu (%s)", (unsigned long long)*pos, z->fname);
    const uint8_t *h = b + *pos;
    uint16_t nl = rd16(h + 28), xl = rd16(h + 30), cl = rd16(h + 32);
    if (!in_range(*pos + 46, (uint64_t)nl + xl + cl, cd_end))
        return ms_seterr("ZIP central directory entry overruns the directory (%s)", z->fname);
    memset(ze, 0, sizeof *ze);
    ze->flags = rd16(h + 8);
    ze->method = rd16(h + 10);
    uint32_t csz = rd32(h + 20), usz = rd32(h + 24);
    ze->size = usz;
    uint64_t csize = csz;
    ze->local_off = rd32(h + 42);
    ze->name = h + 46;
    ze->name_len = nl;
    if (zip64_extra(z, h + 46 + nl, xl, ze, usz, csz, &csize)) return -1;
    if (ze->method == 0 && csize != ze->size)
        return ms_seterr("STORED ZIP entry '%.*s' has different packed and unpacked sizes (%s)", nl < 200 ? nl : 200, ze->name, z->fname);
    *pos += 46 + (uint64_t)nl + xl + cl;
    return 0;
}

static void zip_close(zip_archive *z) {
    free(z->e);
    z->e = NULL;
    z->ne = 0;
}

static int zip_open(zip_archive *z, const uint8_t *buf, size_t n, const char *fname) {
    memset(z, 0, sizeof *z);
    z->buf = buf, z->n = n, z->fname = fname;
    uint64_t cd_off = 0, cd_size = 0, count = 0; /* set on success; zeroed for -O3 flow analysis */
    if (zip_locate_cd(z, &cd_off, &cd_size, &count)) return -1;
    if (!in_range(cd_off, cd_size, n)) return ms_seterr("ZIP central directory lies outside the file (%s)", fname);
    if (count > cd_size / 46) return ms_seterr("ZIP declares %llu entries in a %llu-byte directory (%s)", (unsigned long long)count, (unsigned long long)cd_size, fname);
    z->e = xcalloc(count ? count : 1, sizeof *z->e);
    uint64_t pos = cd_off;
    for (uint64_t i = 0; i < count; i++, z->ne++)
        if (zip_read_central(z, &pos, cd_off + cd_size, &z->e[i])) return zip_close(z), -1;
    return 0;
}

/* The bytes of the entry named exactly `name` (NULL/-1 if absent or broken;
 * *absent tells the two apart). Checks the local header against the central one. */
static int zip_get(const zip_archive *z, const char *name, const uint8_t **data, uint64_t *size, bool *absent) {
    size_t len = strlen(name);
    *absent = false;
    for (size_t i = 0; i < z->ne; i++) {
        const zip_entry *e = &z->e[i];
        if (e->name_len != len || memcmp(e->name, name, len)) continue;
        if (e->flags & 1) return ms_seterr("ZIP entry '%s' is encrypted (%s)", name, z->fname);
        if (e->method != 0) return ms_seterr("ZIP entry '%s' is compressed (method %u); only STORED entries are supported (%s)", name, e->method, z->fname);
        if (!in_range(e->local_off, 30, z->n) || rd32(z->buf + e->local_off) != SIG_LOCAL)
            return ms_seterr("bad ZIP local header for '%s' (%s)", name, z->fname);
        const uint8_t *h = z->buf + e->local_off;
        uint16_t nl = rd16(h + 26), xl = rd16(h + 28);
        if (rd16(h + 8) != 0) return ms_seterr("ZIP entry '%s' is compressed (local header) (%s)", name, z->fname);
        uint64_t start = e->local_off + 30 + (uint64_t)nl + xl;
        if (nl != len || !in_range(e->local_off + 30, nl, z->n) || memcmp(h + 30, name, len))
            return ms_seterr("ZIP local header name differs from the directory for '%s' (%s)", name, z->fname);
        if (!in_range(start, e->size, z->n))
            return ms_seterr("ZIP entry '%s' (%llu bytes) extends beyond the file (%s)", name, (unsigned long long)e->size, z->fname);
        *data = z->buf + start;
        *size = e->size;
        return 0;
    }
    *absent = true;
    return ms_seterr("ZIP entry '%s' not found (%s)", name, z->fname);
}

/* The archive folder P of the single entry named "P/data.pkl" (P has no '/'). */
static int zip_find_prefix(const zip_archive *z, char **prefix) {
    *prefix = NULL;
    for (size_t i = 0; i < z->ne; i++) {
        const zip_entry *e = &z->e[i];
        const size_t sl = sizeof "/data.pkl" - 1;
        if (e->name_len <= sl || memcmp(e->name + e->name_len - sl, "/data.pkl", sl)) continue;
        size_t pl = e->name_len - sl;
        if (memchr(e->name, '/', pl) || memchr(e->name, 0, pl)) continue;
        if (*prefix) {
            free(*prefix), *prefix = NULL;
            return ms_seterr("more than one data.pkl in the archive (%s)", z->fname);
        }
        *prefix = xstrndup((const char *)e->name, pl);
    }
    return *prefix ? 0 : ms_seterr("no <folder>/data.pkl entry: not a torch.save file (%s)", z->fname);
}

/* ------------------------------------------------------------- pickle ---- */

enum { N_NONE, N_BOOL, N_INT, N_STR, N_GLOBAL, N_TUPLE, N_DICT, N_STORAGE, N_TENSOR };
enum { G_ODICT, G_REBUILD_V2, G_REBUILD_PARAM, G_STORAGE };
enum { DT_F32, DT_F16, DT_BF16, DT_F64 };

typedef struct {
    uint8_t type;
    uint8_t sub;          /* N_GLOBAL: G_*; N_STORAGE / G_STORAGE: DT_* */
    int n, cap;           /* N_TUPLE: items; N_DICT: key/value pairs */
    int *items;
    int64_t i;            /* N_INT / N_BOOL value; N_STORAGE numel; N_TENSOR index */
    const uint8_t *s;     /* N_STR / N_STORAGE key, inside the pickle */
    uint32_t slen;
} pnode;

typedef struct {
    int storage;          /* node index */
    int64_t offset;
    int ndim;
    int64_t size[PT_MAX_DIMS], stride[PT_MAX_DIMS];
} ptens;

/* Limits far above what torch.save writes for a dict of tensors, low enough
 * that hostile input cannot make the reader use much memory. */
#define MAX_NODES (1 << 22)
#define MAX_STACK (1 << 16)
#define MAX_MARKS 256
#define MAX_MEMO (1 << 20)
#define MAX_TENSORS 4096

typedef struct {
    const uint8_t *p;
    size_t n, pos, op_pos;
    const char *fname;
    pnode *nodes;
    int nn, ncap;
    int *stack, sp;
    int marks[MAX_MARKS], nmarks;
    int *memo, nmemo;
    ptens *tens;
    int nt;
} pvm;

static int vm_err_op(pvm *vm, const char *what) {
    return ms_seterr("pickle: %s at byte %zu (%s)", what, vm->op_pos, vm->fname);
}

static int new_node(pvm *vm, int type) {
    if (vm->nn >= MAX_NODES) return vm_err_op(vm, "too many objects");
    if (vm->nn == vm->ncap) {
        vm->ncap = vm->ncap ? vm->ncap * 2 : 64;
        vm->nodes = xrealloc(vm->nodes, (size_t)vm->ncap * sizeof *vm->nodes);
    }
    memset(&vm->nodes[vm->nn], 0, sizeof *vm->nodes);
    vm->nodes[vm->nn].type = (uint8_t)type;
    return vm->nn++;
}

static int push(pvm *vm, int node) {
    if (node < 0) return -1;
    if (vm->sp >= MAX_STACK) return vm_err_op(vm, "stack too deep");
    vm->stack[vm->sp++] = node;
    return 0;
}

/* Pops one object; never below the innermost MARK (as CPython enforces). */
static int pop(pvm *vm) {
    int floor = vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
    if (vm->sp <= floor) return vm_err_op(vm, "stack underflow");
    return vm->stack[--vm->sp];
}

static int push_int(pvm *vm, int type, int64_t v) {
    int k = new_node(vm, type);
    if (k < 0) return -1;
    vm->nodes[k].i = v;
    return push(vm, k);
}

/* Pointer to the next `len` argument bytes, or NULL after an error. */
static const uint8_t *take(pvm *vm, size_t len) {
    if (len > vm->n - vm->pos) {
        vm_err_op(vm, "truncated opcode argument");
        return NULL;
    }
    const uint8_t *r = vm->p + vm->pos;
    vm->pos += len;
    return r;
}

/* Builds a tuple from the top k stack objects (k < 0: everything above MARK). */
static int make_tuple(pvm *vm, int k) {
    int base;
    if (k < 0) {
        if (!vm->nmarks) return vm_err_op(vm, "TUPLE without MARK");
        base = vm->marks[--vm->nmarks];
    } else {
        int floor = vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
        if (vm->sp - floor < k) return vm_err_op(vm, "stack underflow");
        base = vm->sp - k;
    }
    int t = new_node(vm, N_TUPLE);
    if (t < 0) return -1;
    pnode *tn = &vm->nodes[t];
    tn->n = vm->sp - base;
    tn->items = xmalloc(((size_t)tn->n + 1) * sizeof(int));
    memcpy(tn->items, vm->stack + base, (size_t)tn->n * sizeof(int));
    vm->sp = base;
    return push(vm, t);
}

/* Copies s into a printable form for messages (the bytes come from the file). */
static void printable(char *out, size_t cap, const uint8_t *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) out[k++] = (s[i] >= 32 && s[i] < 127) ? (char)s[i] : '?';
    out[k] = 0;
}

static bool line_is(const uint8_t *s, size_t n, const char *lit) { return strlen(lit) == n && !memcmp(s, lit, n); }

/* GLOBAL "module\nname\n": only names from the allow-list become objects. */
static int op_global(pvm *vm) {
    const uint8_t *m = vm->p + vm->pos;
    const uint8_t *e1 = memchr(m, '\n', vm->n - vm->pos);
    if (!e1) return vm_err_op(vm, "truncated GLOBAL");
    const uint8_t *nm = e1 + 1;
    const uint8_t *e2 = memchr(nm, '\n', vm->n - (size_t)(nm - vm->p));
    if (!e2) return vm_err_op(vm, "truncated GLOBAL");
    vm->pos = (size_t)(e2 + 1 - vm->p);
    size_t ml = (size_t)(e1 - m), nl = (size_t)(e2 - nm);
    static const struct { const char *mod, *name; int kind, dt; } allow[] = {
        {"collections", "OrderedDict", G_ODICT, 0},
        {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_V2, 0},
        {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, 0},
        {"torch", "FloatStorage", G_STORAGE, DT_F32},
        {"torch", "HalfStorage", G_STORAGE, DT_F16},
        {"torch", "BFloat16Storage", G_STORAGE, DT_BF16},
        {"torch", "DoubleStorage", G_STORAGE, DT_F64},
    };
    for (size_t i = 0; i < sizeof allow / sizeof allow[0]; i++) {
        if (!line_is(m, ml, allow[i].mod) || !line_is(nm, nl, allow[i].name)) continue;
        int k = new_node(vm, N_GLOBAL);
        if (k < 0) return -1;
        vm->nodes[k].sub = (uint8_t)(allow[i].kind == G_STORAGE ? allow[i].dt : 0);
        vm->nodes[k].i = allow[i].kind;
        return push(vm, k);
    }
    char a[64], b[64];
    printable(a, sizeof a, m, ml);
    printable(b, sizeof b, nm, nl);
    return ms_seterr("pickle: GLOBAL '%s %s' is not allowed at byte %zu (%s)", a, b, vm->op_pos, vm->fname);
}

static bool is_global(const pvm *vm, int k, int kind) { return vm->nodes[k].type == N_GLOBAL && vm->nodes[k].i == kind; }

/* BINPERSID: ('storage', <Storage class>, key, location, numel) -> storage. */
static int op_persid(pvm *vm) {
    int t = pop(vm);
    if (t < 0) return -1;
    const pnode *pt = &vm->nodes[t];
    if (pt->type != N_TUPLE || pt->n != 5) return vm_err_op(vm, "persistent id is not a 5-tuple");
    const pnode *tag = &vm->nodes[pt->items[0]], *key = &vm->nodes[pt->items[2]], *cnt = &vm->nodes[pt->items[4]];
    if (tag->type != N_STR || !line_is(tag->s, tag->slen, "storage")) return vm_err_op(vm, "persistent id is not a storage");
    if (!is_global(vm, pt->items[1], G_STORAGE)) return vm_err_op(vm, "persistent id names no known storage type");
    if (key->type != N_STR || key->slen == 0 || key->slen > 64 || memchr(key->s, 0, key->slen) || memchr(key->s, '/', key->slen))
        return vm_err_op(vm, "bad storage key");
    if (cnt->type != N_INT || cnt->i < 0) return vm_err_op(vm, "bad storage size");
    int k = new_node(vm, N_STORAGE);
    if (k < 0) return -1;
    pnode *s = &vm->nodes[k];
    pt = &vm->nodes[t]; /* new_node may have moved the pool */
    s->sub = vm->nodes[pt->items[1]].sub;
    s->s = vm->nodes[pt->items[2]].s;
    s->slen = vm->nodes[pt->items[2]].slen;
    s->i = vm->nodes[pt->items[4]].i;
    return push(vm, k);
}

/* Reads a tuple of ints (sizes or strides) into out[]; returns its length. */
static int int_tuple(const pvm *vm, int k, int64_t *out) {
    const pnode *t = &vm->nodes[k];
    if (t->type != N_TUPLE || t->n > PT_MAX_DIMS) return -1;
    for (int i = 0; i < t->n; i++) {
        const pnode *v = &vm->nodes[t->items[i]];
        if (v->type != N_INT || v->i < 0) return -1;
        out[i] = v->i;
    }
    return t->n;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static int rebuild_tensor(pvm *vm, const pnode *args) {
    if (args->n != 6 && args->n != 7) return vm_err_op(vm, "_rebuild_tensor_v2 expects 6 or 7 arguments");
    const int *a = args->items;
    if (vm->nodes[a[0]].type != N_STORAGE) return vm_err_op(vm, "_rebuild_tensor_v2 without a storage");
    if (vm->nodes[a[1]].type != N_INT || vm->nodes[a[1]].i < 0) return vm_err_op(vm, "bad tensor storage offset");
    if (vm->nt >= MAX_TENSORS) return vm_err_op(vm, "too many tensors");
    ptens pt = {.storage = a[0], .offset = vm->nodes[a[1]].i};
    pt.ndim = int_tuple(vm, a[2], pt.size);
    if (pt.ndim < 0 || int_tuple(vm, a[3], pt.stride) != pt.ndim)
        return vm_err_op(vm, "bad tensor size or stride (at most 8 non-negative ints each, same length)");
    int k = new_node(vm, N_TENSOR);
    if (k < 0) return -1;
    vm->tens = xrealloc(vm->tens, (size_t)(vm->nt + 1) * sizeof *vm->tens);
    vm->tens[vm->nt] = pt;
    vm->nodes[k].i = vm->nt++;
    return push(vm, k);
}

static int op_reduce(pvm *vm) {
    int args = pop(vm);
    if (args < 0) return -1;
    int fn = pop(vm);
    if (fn < 0) return -1;
    if (vm->nodes[args].type != N_TUPLE) return vm_err_op(vm, "REDUCE arguments are not a tuple");
    if (is_global(vm, fn, G_ODICT)) {
        if (vm->nodes[args].n != 0) return vm_err_op(vm, "OrderedDict() with arguments is not supported");
        return push(vm, new_node(vm, N_DICT));
    }
    if (is_global(vm, fn, G_REBUILD_V2)) {
        pnode a = vm->nodes[args]; /* copy: the pool may move */
        return rebuild_tensor(vm, &a);
    }
    if (is_global(vm, fn, G_REBUILD_PARAM)) {
        const pnode *a = &vm->nodes[args];
        if (a->n != 3 || vm->nodes[a->items[0]].type != N_TENSOR) return vm_err_op(vm, "bad _rebuild_parameter arguments");
        return push(vm, a->items[0]);
    }
    return vm_err_op(vm, "REDUCE of something other than OrderedDict or a tensor rebuild");
}

/* d[key] = value, replacing an existing string key as Python would. */
static int dict_set(pvm *vm, int d, int key, int val) {
    pnode *dn = &vm->nodes[d];
    const pnode *kn = &vm->nodes[key];
    if (kn->type == N_STR)
        for (int i = 0; i < dn->n; i++) {
            const pnode *o = &vm->nodes[dn->items[2 * i]];
            if (o->type == N_STR && o->slen == kn->slen && !memcmp(o->s, kn->s, kn->slen)) {
                dn->items[2 * i + 1] = val;
                return 0;
            }
        }
    if (dn->n >= MAX_TENSORS) return vm_err_op(vm, "dict too large");
    if (dn->n == dn->cap) {
        dn->cap = dn->cap ? dn->cap * 2 : 4;
        dn->items = xrealloc(dn->items, (size_t)dn->cap * 2 * sizeof(int));
    }
    dn->items[2 * dn->n] = key;
    dn->items[2 * dn->n + 1] = val;
    dn->n++;
    return 0;
}

static int op_setitems(pvm *vm, bool many) {
    int base;
    if (many) {
        if (!vm->nmarks) return vm_err_op(vm, "SETITEMS without MARK");
        base = vm->marks[--vm->nmarks];
    } else {
        int floor = vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
        if (vm->sp - floor < 3) return vm_err_op(vm, "stack underflow");
        base = vm->sp - 2;
    }
    int floor = vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
    if (base - 1 < floor || (vm->sp - base) % 2) return vm_err_op(vm, "bad SETITEM(S) operands");
    int d = vm->stack[base - 1];
    if (vm->nodes[d].type != N_DICT) return vm_err_op(vm, "SETITEM(S) on something other than a dict");
    for (int i = base; i < vm->sp; i += 2)
        if (dict_set(vm, d, vm->stack[i], vm->stack[i + 1])) return -1;
    vm->sp = base;
    return 0;
}

static int memo_put(pvm *vm, uint64_t idx) {
    if (!vm->sp || (vm->nmarks && vm->marks[vm->nmarks - 1] == vm->sp)) return vm_err_op(vm, "memo store of an empty stack");
    if (idx >= MAX_MEMO) return vm_err_op(vm, "memo index too large");
    if ((int)idx >= vm->nmemo) {
        int nm = (int)idx + 1 > 2 * vm->nmemo ? (int)idx + 1 : 2 * vm->nmemo;
        vm->memo = xrealloc(vm->memo, (size_t)nm * sizeof(int));
        for (int i = vm->nmemo; i < nm; i++) vm->memo[i] = -1;
        vm->nmemo = nm;
    }
    vm->memo[idx] = vm->stack[vm->sp - 1];
    return 0;
}

static int memo_get(pvm *vm, uint64_t idx) {
    if (idx >= (uint64_t)vm->nmemo || vm->memo[idx] < 0) return vm_err_op(vm, "memo lookup of an unset index");
    return push(vm, vm->memo[idx]);
}

/* LONG1: n-byte little-endian two's complement; we only need values fitting int64. */
static int op_long1(pvm *vm) {
    const uint8_t *a = take(vm, 1);
    if (!a) return -1;
    const uint8_t *v = take(vm, a[0]);
    if (!v) return -1;
    if (a[0] > 8) return vm_err_op(vm, "LONG1 integer too large");
    uint64_t u = 0;
    for (int i = 0; i < a[0]; i++) u |= (uint64_t)v[i] << (8 * i);
    if (a[0] && a[0] < 8 && (v[a[0] - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * a[0]);
    return push_int(vm, N_INT, (int64_t)u);
}

static int op_string(pvm *vm, size_t lenbytes) {
    const uint8_t *a = take(vm, lenbytes);
    if (!a) return -1;
    size_t len = lenbytes == 1 ? a[0] : rd32(a);
    const uint8_t *s = take(vm, len);
    if (!s) return -1;
    int k = new_node(vm, N_STR);
    if (k < 0) return -1;
    vm->nodes[k].s = s;
    vm->nodes[k].slen = (uint32_t)len;
    return push(vm, k);
}

/* One opcode; returns 1 on STOP, 0 to continue, -1 on error. */
static int step(pvm *vm) {
    vm->op_pos = vm->pos;
    if (vm->pos >= vm->n) return vm_err_op(vm, "data ends without STOP");
    uint8_t op = vm->p[vm->pos++];
    const uint8_t *a;
    switch (op) {
    case 0x80: /* PROTO */
        if (!(a = take(vm, 1))) return -1;
        return a[0] >= 2 && a[0] <= 5 ? 0 : vm_err_op(vm, "unsupported pickle protocol");
    case '}': return push(vm, new_node(vm, N_DICT));          /* EMPTY_DICT */
    case ')': return make_tuple(vm, 0);                       /* EMPTY_TUPLE */
    case 'X': return op_string(vm, 4);                        /* BINUNICODE */
    case 0x8c: return op_string(vm, 1);                       /* SHORT_BINUNICODE */
    case '(':                                                 /* MARK */
        if (vm->nmarks >= MAX_MARKS) return vm_err_op(vm, "nesting too deep");
        vm->marks[vm->nmarks++] = vm->sp;
        return 0;
    case 'q': return (a = take(vm, 1)) ? memo_put(vm, a[0]) : -1;     /* BINPUT */
    case 'r': return (a = take(vm, 4)) ? memo_put(vm, rd32(a)) : -1;  /* LONG_BINPUT */
    case 'h': return (a = take(vm, 1)) ? memo_get(vm, a[0]) : -1;     /* BINGET */
    case 'j': return (a = take(vm, 4)) ? memo_get(vm, rd32(a)) : -1;  /* LONG_BINGET */
    case 'c': return op_global(vm);
    case 'Q': return op_persid(vm);                           /* BINPERSID */
    case 't': return make_tuple(vm, -1);                      /* TUPLE */
    case 0x85: return make_tuple(vm, 1);
    case 0x86: return make_tuple(vm, 2);
    case 0x87: return make_tuple(vm, 3);
    case 'J': return (a = take(vm, 4)) ? push_int(vm, N_INT, (int32_t)rd32(a)) : -1; /* BININT */
    case 'K': return (a = take(vm, 1)) ? push_int(vm, N_INT, a[0]) : -1;             /* BININT1 */
    case 'M': return (a = take(vm, 2)) ? push_int(vm, N_INT, rd16(a)) : -1;          /* BININT2 */
    case 0x8a: return op_long1(vm);
    case 0x88: return push_int(vm, N_BOOL, 1);                /* NEWTRUE */
    case 0x89: return push_int(vm, N_BOOL, 0);                /* NEWFALSE */
    case 'N': return push(vm, new_node(vm, N_NONE));
    case 'R': return op_reduce(vm);
    case 's': return op_setitems(vm, false);
    case 'u': return op_setitems(vm, true);
    case 'b': {                                               /* BUILD: state ignored */
        if (pop(vm) < 0) return -1;
        int floor = vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
        if (vm->sp <= floor) return vm_err_op(vm, "stack underflow");
        int t = vm->nodes[vm->stack[vm->sp - 1]].type;
        return t == N_DICT || t == N_TENSOR ? 0 : vm_err_op(vm, "BUILD on something other than a dict or tensor");
    }
    case '.': return 1;                                       /* STOP */
    default:
        return ms_seterr("unsupported pickle opcode 0x%02x at byte %zu (%s)", op, vm->op_pos, vm->fname);
    }
}

static void vm_free(pvm *vm) {
    for (int i = 0; i < vm->nn; i++) free(vm->nodes[i].items);
    free(vm->nodes);
    free(vm->stack);
    free(vm->memo);
    free(vm->tens);
}

/* Runs the pickle; on success returns the node index of the top-level dict. */
static int vm_run(pvm *vm) {
    vm->stack = xmalloc(MAX_STACK * sizeof(int));
    int rc;
    while ((rc = step(vm)) == 0) {}
    if (rc < 0) return -1;
    if (vm->sp != 1 || vm->nmarks) return vm_err_op(vm, "STOP with a malformed stack");
    int top = vm->stack[0];
    if (vm->nodes[top].type != N_DICT) return ms_seterr("pickle: top-level object is not a dict (%s)", vm->fname);
    return top;
}

/* ------------------------------------------------------------- tensors --- */

static const size_t dt_size[] = {4, 2, 2, 8};

static float load_elem(const uint8_t *p, int dt) {
    switch (dt) {
    case DT_F16: return f16_to_f32(rd16(p));
    case DT_BF16: return bf16_to_f32(rd16(p));
    case DT_F64: {
        uint64_t u = rd64(p);
        double d;
        memcpy(&d, &u, sizeof d);
        return (float)d;
    }
    default: {
        uint32_t u = rd32(p);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    }
}

/* Checks that every element a view can touch lies inside the storage and that
 * the view is no larger than its storage (which also bounds our allocation by
 * the file size: broadcast views with stride 0 are refused). */
static int check_view(const ptens *t, uint64_t have, size_t *numel, const char *key, const char *fname) {
    uint64_t count = 1, last = (uint64_t)t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (t->size[i] == 0) count = 0;
        else if (count && __builtin_mul_overflow(count, (uint64_t)t->size[i], &count))
            return ms_seterr("tensor '%s' is too large (%s)", key, fname);
    }
    if (count == 0) {
        *numel = 0;
        return 0;
    }
    for (int i = 0; i < t->ndim; i++) {
        uint64_t span;
        if (__builtin_mul_overflow((uint64_t)(t->size[i] - 1), (uint64_t)t->stride[i], &span) ||
            __builtin_add_overflow(last, span, &last))
            return ms_seterr("tensor '%s' view overflows (%s)", key, fname);
    }
    if (last >= have)
        return ms_seterr("tensor '%s' reaches element %llu of a %llu-element storage (%s)", key, (unsigned long long)last, (unsigned long long)have, fname);
    if (count > have)
        return ms_seterr("tensor '%s' has more elements than its storage (broadcast views are not supported) (%s)", key, fname);
    *numel = (size_t)count;
    return 0;
}

/* Gathers a strided view into contiguous row-major floats (odometer order). */
static void gather(const ptens *t, const uint8_t *base, int dt, size_t numel, float *out) {
    int64_t idx[PT_MAX_DIMS] = {0};
    uint64_t off = (uint64_t)t->offset;
    size_t es = dt_size[dt];
    for (size_t k = 0; k < numel; k++) {
        out[k] = load_elem(base + off * es, dt);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->size[d]) {
                off += (uint64_t)t->stride[d];
                break;
            }
            off -= (uint64_t)t->stride[d] * (uint64_t)(t->size[d] - 1);
            idx[d] = 0;
        }
    }
}

static int load_tensor(const zip_archive *z, const char *prefix, const pvm *vm, const ptens *t, pt_tensor *out) {
    const pnode *st = &vm->nodes[t->storage];
    char *key = xstrndup((const char *)st->s, st->slen); /* no NUL inside: checked in op_persid */
    char *dir = ms_path_join(prefix, "data");
    char *ename = ms_path_join(dir, key);
    free(dir), free(key);
    const uint8_t *data;
    uint64_t bytes;
    bool absent;
    int rc = zip_get(z, ename, &data, &bytes, &absent);
    if (rc) return free(ename), -1;
    size_t es = dt_size[st->sub];
    uint64_t have = bytes / es;
    if ((uint64_t)st->i > have) {
        ms_seterr("storage '%s' declares %lld elements but holds %llu (%s)", ename, (long long)st->i, (unsigned long long)have, z->fname);
        return free(ename), -1;
    }
    free(ename);
    have = (uint64_t)st->i;
    if (check_view(t, have, &out->numel, out->name, z->fname)) return -1;
    out->ndim = t->ndim;
    memcpy(out->shape, t->size, sizeof t->size);
    out->data = xmalloc((out->numel ? out->numel : 1) * sizeof(float));
    gather(t, data, st->sub, out->numel, out->data);
    return 0;
}

/* Converts the top-level dict's entries into d (string keys, tensor values). */
static int collect(pt_dict *d, const zip_archive *z, const char *prefix, const pvm *vm, int top) {
    const pnode *dn = &vm->nodes[top];
    d->t = xcalloc((size_t)dn->n + 1, sizeof *d->t);
    for (int i = 0; i < dn->n; i++) {
        const pnode *k = &vm->nodes[dn->items[2 * i]], *v = &vm->nodes[dn->items[2 * i + 1]];
        if (k->type != N_STR || memchr(k->s, 0, k->slen)) return ms_seterr("dict key %d is not a string (%s)", i, z->fname);
        char key[64];
        printable(key, sizeof key, k->s, k->slen);
        if (v->type != N_TENSOR) return ms_seterr("dict value '%s' is not a tensor (%s)", key, z->fname);
        pt_tensor *o = &d->t[d->n++];
        o->name = xstrndup((const char *)k->s, k->slen);
        if (load_tensor(z, prefix, vm, &vm->tens[v->i], o)) return -1;
    }
    return 0;
}

static int check_byteorder(const zip_archive *z, const char *prefix) {
    char *name = ms_path_join(prefix, "byteorder");
    const uint8_t *bo;
    uint64_t len;
    bool absent;
    int rc = zip_get(z, name, &bo, &len, &absent);
    free(name);
    if (rc) return absent ? 0 : -1; /* absent: older writers, little-endian */
    if (len != 6 || memcmp(bo, "little", 6)) return ms_seterr("byteorder is not 'little' (%s)", z->fname);
    return 0;
}

int pt_load_dict_mem(pt_dict *d, const uint8_t *buf, size_t n, const char *name) {
    memset(d, 0, sizeof *d);
    zip_archive z;
    if (zip_open(&z, buf, n, name)) return -1;
    char *prefix = NULL;
    pvm vm = {.fname = name};
    int rc = -1;
    if (zip_find_prefix(&z, &prefix) || check_byteorder(&z, prefix)) goto out;
    char *pkl = ms_path_join(prefix, "data.pkl");
    uint64_t plen;
    bool absent;
    int g = zip_get(&z, pkl, &vm.p, &plen, &absent);
    free(pkl);
    if (g) goto out;
    vm.n = (size_t)plen;
    int top = vm_run(&vm);
    if (top < 0) goto out;
    rc = collect(d, &z, prefix, &vm, top);
out:
    vm_free(&vm);
    free(prefix);
    zip_close(&z);
    if (rc) pt_free(d);
    return rc;
}

int pt_load_dict(pt_dict *d, const char *path) {
    memset(d, 0, sizeof *d);
    uint8_t *buf;
    size_t len;
    if (ms_read_file(path, &buf, &len)) return -1;
    int rc = pt_load_dict_mem(d, buf, len, ms_basename(path));
    free(buf);
    return rc;
}

void pt_free(pt_dict *d) {
    for (int i = 0; i < d->n; i++) {
        free(d->t[i].name);
        free(d->t[i].data);
    }
    free(d->t);
    d->t = NULL;
    d->n = 0;
}

const pt_tensor *pt_get(const pt_dict *d, const char *name) {
    for (int i = 0; i < d->n; i++)
        if (!strcmp(d->t[i].name, name)) return &d->t[i];
    return NULL;
}
