/* sae_io.c — SAE folders: SAELens (cfg.json + sae_weights.safetensors) and
 * EleutherAI sparsify (cfg.json + sae.safetensors, hookpoints layers.N/)
 * readers, the SAELens-layout writer, and hook-name mapping. */
#include "sae.h"

#include "half.h"
#include "jsonutil.h"
#include "safetensors.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CODES_WIDTH 64 /* codes kept per row for non-topk SAEs */

/* ------------------------------------------------------------ hooks */

/* Parses a non-negative decimal at *s (advancing it); -1 if none. */
static long parse_index(const char **s) {
    if (!isdigit((unsigned char)**s)) return -1;
    long v = 0;
    while (isdigit((unsigned char)**s) && v < 1000000) v = v * 10 + (*(*s)++ - '0');
    return isdigit((unsigned char)**s) ? -1 : v;
}

static const char *skip_prefix(const char *s, const char *p) {
    size_t n = strlen(p);
    return strncmp(s, p, n) ? NULL : s + n;
}

/* "blocks.L.hook_resid_post|pre" -> layer, or -2 when s is not of that form. */
static long blocks_hook(const char *s, const char **why) {
    const char *t = skip_prefix(s, "blocks.");
    if (!t) return -2;
    long L = parse_index(&t);
    if (L < 0 || *t != '.') return -2;
    if (!strcmp(t, ".hook_resid_post")) return L;
    if (!strcmp(t, ".hook_resid_pre")) {
        if (L == 0) *why = "it is the embedding output, before block 0";
        return L - 1;
    }
    *why = "it is not a residual stream hook";
    return -1;
}

/* "[model.|gpt_neox.|transformer.]layers.L" or "h.L" -> L, or -2. */
static long layers_hook(const char *s, const char **why) {
    static const char *const pre[] = {"model.", "gpt_neox.", "transformer.", ""};
    for (size_t i = 0; i < sizeof pre / sizeof *pre; i++) {
        const char *t = skip_prefix(s, pre[i]);
        const char *u = t ? skip_prefix(t, "layers.") : NULL;
        if (!u && t) u = skip_prefix(t, "h.");
        if (!u) continue;
        long L = parse_index(&u);
        if (L < 0) return -2;
        if (*u) *why = "it is not a block's residual output (a submodule of the block)";
        return *u ? -1 : L;
    }
    return -2;
}

int sae_hook_layer(const char *hook, int *layer) {
    const char *why = "it names no residual stream output we know";
    long L = blocks_hook(hook, &why);
    if (L == -2) L = layers_hook(hook, &why);
    if (L < 0) return ms_seterr("cannot map SAE hook '%s' onto a block's residual output: %s (sae)", hook, why);
    *layer = (int)L;
    return 0;
}

/* ------------------------------------------------------------ cfg.json */

static json_object *jget(json_object *o, const char *k) {
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *k) {
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Optional boolean: missing or null keeps *out. */
static int jbool(json_object *o, const char *k, bool *out, const char *where) {
    json_object *v = jget(o, k);
    if (!v) return 0;
    if (!json_object_is_type(v, json_type_boolean)) return ms_seterr("'%s' is not true or false (%s)", k, where);
    *out = json_object_get_boolean(v);
    return 0;
}

static int jint_req(json_object *o, const char *k, long lo, long hi, long *out, const char *where) {
    *out = -1;
    if (ms_json_int(o, k, lo, hi, out, where)) return -1;
    return *out < 0 ? ms_seterr("missing '%s' (%s)", k, where) : 0;
}

static int set_arch(const char *a, sae_config *c, const char *where) {
    if (!strcmp(a, "topk"))
        c->arch = SAE_TOPK;
    else if (!strcmp(a, "standard"))
        c->arch = SAE_STANDARD;
    else if (!strcmp(a, "jumprelu"))
        c->arch = SAE_JUMPRELU;
    else
        return ms_seterr("SAE architecture '%s' is not supported (standard, topk, jumprelu) (%s)", a, where);
    return 0;
}

/* k from "k", or from activation_fn_kwargs.k for the older topk activation. */
static int saelens_k(json_object *root, sae_config *c, const char *where) {
    const char *fn = jstr(root, "activation_fn_str");
    if (!fn) fn = jstr(root, "activation_fn");
    long k = -1;
    if (fn && !strcmp(fn, "topk")) {
        if (c->arch == SAE_STANDARD) c->arch = SAE_TOPK; /* pre-6.0 SAELens spelling */
        if (ms_json_int(jget(root, "activation_fn_kwargs"), "k", 1, c->n_latents, &k, where)) return -1;
    } else if (fn && strcmp(fn, "relu")) {
        return ms_seterr("SAE activation '%s' is not supported (%s)", fn, where);
    }
    if (ms_json_int(root, "k", 1, c->n_latents, &k, where)) return -1;
    if (c->arch == SAE_TOPK && k < 1) return ms_seterr("topk SAE without 'k' (%s)", where);
    c->k = c->arch == SAE_TOPK ? (int)k : (c->n_latents < CODES_WIDTH ? c->n_latents : CODES_WIDTH);
    return 0;
}

static int saelens_norm(json_object *root, const char *where) {
    json_object *v = jget(root, "normalize_activations");
    if (!v || json_object_is_type(v, json_type_null)) return 0;
    if (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v)) return 0;
    const char *s = json_object_get_string(v);
    if (json_object_is_type(v, json_type_string) && !strcmp(s, "none")) return 0;
    return ms_seterr("normalize_activations '%s' is not supported, only 'none' (%s)", s, where);
}

static void copy_hook(char *dst, size_t n, const char *s) { snprintf(dst, n, "%s", s ? s : ""); }

static int parse_saelens(json_object *root, sae_config *c, char *hook, size_t hn, const char *where) {
    long d, L;
    if (jint_req(root, "d_in", 1, 1 << 20, &d, where) || jint_req(root, "d_sae", 1, 1 << 24, &L, where)) return -1;
    c->d_in = (int)d, c->n_latents = (int)L;
    const char *a = jstr(root, "architecture");
    if (set_arch(a ? a : "standard", c, where) || saelens_k(root, c, where) || saelens_norm(root, where)) return -1;
    c->apply_b_dec_to_input = true;
    if (jbool(root, "apply_b_dec_to_input", &c->apply_b_dec_to_input, where)) return -1;
    const char *h = jstr(jget(root, "metadata"), "hook_name");
    if (!h) h = jstr(root, "hook_name");
    if (!h) h = jstr(root, "hook_point");
    copy_hook(hook, hn, h);
    return 0;
}

static int refuse_flag(json_object *root, const char *key, const char *what, const char *where) {
    bool b = false;
    if (jbool(root, key, &b, where)) return -1;
    return b ? ms_seterr("sparsify SAE with %s is not supported (%s)", what, where) : 0;
}

static int parse_sparsify(json_object *root, sae_config *c, const char *where) {
    long d, k, L = 0, ef = 0;
    if (jint_req(root, "d_in", 1, 1 << 20, &d, where) || jint_req(root, "k", 1, 1 << 24, &k, where)) return -1;
    if (ms_json_int(root, "num_latents", 0, 1 << 24, &L, where) ||
        ms_json_int(root, "expansion_factor", 0, 1 << 16, &ef, where))
        return -1;
    if (L == 0) L = ef * d;
    if (L < 1 || L > (1 << 24)) return ms_seterr("no usable num_latents or expansion_factor (%s)", where);
    const char *act = jstr(root, "activation");
    if (act && strcmp(act, "topk")) return ms_seterr("sparsify activation '%s' is not supported (%s)", act, where);
    if (refuse_flag(root, "signed", "signed latents", where) ||
        refuse_flag(root, "skip_connection", "a skip connection", where) ||
        refuse_flag(root, "transcode", "transcoding (not an autoencoder)", where))
        return -1;
    if (k > L) return ms_seterr("k = %ld exceeds num_latents %ld (%s)", k, L, where);
    *c = (sae_config){.d_in = (int)d, .n_latents = (int)L, .k = (int)k, .arch = SAE_TOPK,
                      .apply_b_dec_to_input = true};
    return 0;
}

/* ------------------------------------------------------------ weights */

/* Copies tensor `name` of shape [r] (c == 0) or [r, c] into dst as f32,
 * transposed to [c, r] when asked. */
static int load_t(const st_file *f, const char *name, int64_t r, int64_t c, bool transpose, float *dst) {
    const st_tensor *t = st_find(f, name);
    if (!t) return ms_seterr("missing tensor %s (%s)", name, f->path);
    int nd = c ? 2 : 1;
    if (t->ndim != nd || t->shape[0] != r || (nd == 2 && t->shape[1] != c)) {
        if (nd == 2)
            return ms_seterr("tensor %s must have shape [%lld, %lld] per cfg.json (%s)", name, (long long)r,
                             (long long)c, f->path);
        return ms_seterr("tensor %s must have shape [%lld] per cfg.json (%s)", name, (long long)r, f->path);
    }
    if (!transpose) return st_to_f32(f, t, dst, t->numel);
    float *tmp = xmalloc(xmul(t->numel, sizeof(float)));
    int rc = st_to_f32(f, t, tmp, t->numel);
    for (int64_t i = 0; !rc && i < r; i++)
        for (int64_t j = 0; j < c; j++) dst[j * r + i] = tmp[i * c + j];
    free(tmp);
    return rc;
}

static int load_saelens_weights(sae_model *m, const st_file *f) {
    int64_t d = m->c.d_in, L = m->c.n_latents;
    int rc = load_t(f, "W_enc", d, L, true, m->p.W_enc);
    if (!rc) rc = load_t(f, "b_enc", L, 0, false, m->p.b_enc);
    if (!rc) rc = load_t(f, "W_dec", L, d, false, m->p.W_dec);
    if (!rc) rc = load_t(f, "b_dec", d, 0, false, m->p.b_dec);
    if (!rc && m->threshold) rc = load_t(f, "threshold", L, 0, false, m->threshold);
    return rc;
}

static int load_sparsify_weights(sae_model *m, const st_file *f) {
    int64_t d = m->c.d_in, L = m->c.n_latents;
    int rc = load_t(f, "encoder.weight", L, d, false, m->p.W_enc);
    if (!rc) rc = load_t(f, "encoder.bias", L, 0, false, m->p.b_enc);
    if (!rc) rc = load_t(f, "W_dec", L, d, false, m->p.W_dec);
    if (!rc) rc = load_t(f, "b_dec", d, 0, false, m->p.b_dec);
    return rc;
}

/* ------------------------------------------------------------ folders */

/* The folder's last component (trailing slashes ignored) into out. */
static void folder_name(const char *dir, char *out, size_t n) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t b = len;
    while (b > 0 && dir[b - 1] != '/') b--;
    snprintf(out, n, "%.*s", (int)(len - b), dir + b);
}

static int finish_hook(sae_model *m, const char *cfg_path) {
    m->layer = -1;
    if (!m->hook_name[0]) return 0;
    if (sae_hook_layer(m->hook_name, &m->layer) == 0) return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ms_geterr());
    size_t n = strlen(msg);
    if (n >= 6 && !strcmp(msg + n - 6, " (sae)")) msg[n - 6] = 0;
    return ms_seterr("%s (%s)", msg, cfg_path);
}

/* Loads cfg.json + weights file `wname` of one SAE folder. */
static int load_one(sae_model *m, const char *dir, const char *cfg_path, const char *wpath, bool sparsify) {
    json_object *root = ms_json_read(cfg_path);
    if (!root) return -1;
    sae_config c = {0};
    char hook[128] = "";
    int rc = !json_object_is_type(root, json_type_object) ? ms_seterr("cfg.json is not an object (%s)", cfg_path)
             : sparsify ? parse_sparsify(root, &c, cfg_path)
                        : parse_saelens(root, &c, hook, sizeof hook, cfg_path);
    json_object_put(root);
    if (sparsify) folder_name(dir, hook, sizeof hook);
    st_file f;
    if (rc || st_open(&f, wpath)) return -1;
    /* The two weight matrices take at least 2 bytes a value in the file: a
     * cfg.json declaring more than the file holds is refused before allocating. */
    if (c.d_in > 0 && c.n_latents > 0 && 4 * (uint64_t)c.d_in * (uint64_t)c.n_latents > (uint64_t)f.size)
        rc = ms_seterr("cfg.json declares d_in %d x d_sae %d, more than the %zu-byte weights file holds (%s)", c.d_in,
                       c.n_latents, f.size, cfg_path);
    if (!rc) rc = sae_init(m, &c);
    if (rc) {
        st_close(&f);
        return -1;
    }
    copy_hook(m->hook_name, sizeof m->hook_name, hook);
    rc = sparsify ? load_sparsify_weights(m, &f) : load_saelens_weights(m, &f);
    st_close(&f);
    if (!rc) rc = finish_hook(m, cfg_path);
    if (rc) sae_free(m);
    return rc;
}

static int load_leaf(sae_model *m, const char *dir) {
    char *cfg = ms_find_file(dir, "cfg.json");
    char *w = ms_find_file(dir, "sae_weights.safetensors");
    bool sparsify = !w;
    if (!w) w = ms_find_file(dir, "sae.safetensors");
    int rc = !w ? ms_seterr("cfg.json without sae_weights.safetensors or sae.safetensors (%s)", dir)
                : load_one(m, dir, cfg, w, sparsify);
    free(cfg), free(w);
    return rc;
}

static bool has_cfg(const char *dir) {
    char *p = ms_find_file(dir, "cfg.json");
    free(p);
    return p != NULL;
}

/* The only subfolder holding a cfg.json, into *out (freshly allocated). */
static int only_hookpoint(const char *dir, char **out) {
    DIR *dp = opendir(dir);
    if (!dp) return ms_seterr("cannot open folder (%s)", dir);
    int n = 0;
    char first[256] = "";
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        char *sub = ms_path_join(dir, e->d_name);
        if (ms_is_dir(sub) && has_cfg(sub) && n++ == 0) snprintf(first, sizeof first, "%s", e->d_name);
        free(sub);
    }
    closedir(dp);
    if (n == 0) return ms_seterr("no cfg.json and no SAE subfolders (layers.N/) (%s)", dir);
    if (n > 1) return ms_seterr("%d SAE subfolders (e.g. %s); choose a layer (%s)", n, first, dir);
    *out = ms_path_join(dir, first);
    return 0;
}

int sae_load_folder(sae_model *m, const char *dir, int layer) {
    memset(m, 0, sizeof *m);
    if (!ms_is_dir(dir)) return ms_seterr("not a folder (%s)", dir);
    if (has_cfg(dir)) return load_leaf(m, dir);
    char *sub = NULL;
    if (layer >= 0) {
        char nm[32];
        snprintf(nm, sizeof nm, "layers.%d", layer);
        sub = ms_path_join(dir, nm);
        if (!ms_is_dir(sub) || !has_cfg(sub)) {
            free(sub);
            return ms_seterr("no cfg.json and no SAE for layer %d (layers.%d/) (%s)", layer, layer, dir);
        }
    } else if (only_hookpoint(dir, &sub)) {
        return -1;
    }
    int rc = load_leaf(m, sub);
    free(sub);
    return rc;
}

/* ------------------------------------------------------------ save */

static const char *arch_name(sae_arch a) {
    return a == SAE_TOPK ? "topk" : a == SAE_JUMPRELU ? "jumprelu" : "standard";
}

static int write_cfg(const sae_model *m, const char *dir) {
    json_object *o = json_object_new_object(), *meta = json_object_new_object();
    json_object_object_add(o, "architecture", json_object_new_string(arch_name(m->c.arch)));
    json_object_object_add(o, "d_in", json_object_new_int(m->c.d_in));
    json_object_object_add(o, "d_sae", json_object_new_int(m->c.n_latents));
    if (m->c.arch == SAE_TOPK) json_object_object_add(o, "k", json_object_new_int(m->c.k));
    json_object_object_add(o, "dtype", json_object_new_string("float32"));
    json_object_object_add(o, "device", json_object_new_string("cpu"));
    json_object_object_add(o, "apply_b_dec_to_input", json_object_new_boolean(m->c.apply_b_dec_to_input));
    json_object_object_add(o, "normalize_activations", json_object_new_string("none"));
    json_object_object_add(o, "reshape_activations", json_object_new_string("none"));
    if (m->hook_name[0]) json_object_object_add(meta, "hook_name", json_object_new_string(m->hook_name));
    json_object_object_add(meta, "model_name", json_object_new_string("metascope"));
    json_object_object_add(o, "metadata", meta);
    return ms_json_write(o, dir, "cfg.json");
}

/* One named tensor for st_write, in f32 or converted to f16 into h. */
static void wt(st_wtensor *t, const char *name, const float *x, size_t n, uint16_t *h, int64_t r, int64_t c) {
    t->name = name;
    t->dtype = h ? ST_F16 : ST_F32;
    for (size_t i = 0; h && i < n; i++) h[i] = f32_to_f16(x[i]);
    t->data = h ? (const void *)h : (const void *)x;
    t->ndim = c ? 2 : 1;
    t->shape[0] = r, t->shape[1] = c;
}

static int write_weights(const sae_model *m, const char *dir, unsigned flags) {
    int d = m->c.d_in, L = m->c.n_latents;
    size_t Ld = (size_t)L * d, tot = 2 * Ld + (size_t)L + (size_t)d + (m->threshold ? (size_t)L : 0);
    bool half = flags & SAE_SAVE_F16;
    float *enc_t = xmalloc(xmul(Ld, sizeof(float))); /* SAELens W_enc is [d_in, d_sae] */
    for (int j = 0; j < L; j++)
        for (int i = 0; i < d; i++) enc_t[(size_t)i * L + j] = m->p.W_enc[(size_t)j * d + i];
    uint16_t *h = half ? xmalloc(xmul(tot, sizeof(uint16_t))) : NULL, *hp = h;
    st_wtensor t[5] = {{0}};
    int n = 0;
    wt(&t[n++], "W_enc", enc_t, Ld, hp, d, L), hp = h ? hp + Ld : NULL;
    wt(&t[n++], "b_enc", m->p.b_enc, (size_t)L, hp, L, 0), hp = h ? hp + L : NULL;
    wt(&t[n++], "W_dec", m->p.W_dec, Ld, hp, L, d), hp = h ? hp + Ld : NULL;
    wt(&t[n++], "b_dec", m->p.b_dec, (size_t)d, hp, d, 0), hp = h ? hp + d : NULL;
    if (m->threshold) wt(&t[n++], "threshold", m->threshold, (size_t)L, hp, L, 0);
    char *path = ms_path_join(dir, flags & SAE_SAVE_LZ4 ? "sae_weights.safetensors.lz4" : "sae_weights.safetensors");
    const char *meta[] = {"format", "pt"};
    int rc = st_write(path, t, n, meta, 1);
    free(path), free(enc_t), free(h);
    return rc;
}

int sae_save_folder(const sae_model *m, const char *dir, unsigned flags) {
    if (!ms_is_dir(dir) && mkdir(dir, 0755)) return ms_seterr("cannot create folder: %s (%s)", strerror(errno), dir);
    if (write_weights(m, dir, flags)) return -1;
    return write_cfg(m, dir);
}
