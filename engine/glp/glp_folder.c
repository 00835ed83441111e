/* glp_folder.c — loading a published GLP folder (see glp_folder.h). */
#include "glp_folder.h"
#include "safetensors.h"
#include "torchpt.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shape of name (or "denoiser." + name) in f: rows and cols, or -1. */
static int shape_of(const st_file *f, const char *name, int64_t *rows, int64_t *cols) {
    char pref[160];
    snprintf(pref, sizeof pref, "denoiser.%s", name);
    const st_tensor *t = st_find(f, name);
    if (!t) t = st_find(f, pref);
    if (!t || t->ndim != 2) return -1;
    *rows = t->shape[0];
    *cols = t->shape[1];
    return 0;
}

/* Fills d_model / d_mlp that config.yaml left out from final.safetensors. */
static int infer_widths(glp_file_config *fc, const char *dir) {
    if (fc->d_model > 0 && fc->d_mlp > 0) return 0;
    char *path = ms_find_file(dir, "final.safetensors");
    if (!path) return ms_seterr("no final.safetensors in the GLP folder (%s)", dir);
    st_file f;
    int rc = st_open(&f, path);
    free(path);
    if (rc) return -1;
    int64_t dm, din, dmlp, dm2;
    if (shape_of(&f, "model.in_proj.weight", &dm, &din) || shape_of(&f, "model.layers.0.up_proj.weight", &dmlp, &dm2))
        rc = ms_seterr("cannot read d_model / d_mlp from model.in_proj / model.layers.0.up_proj (%s)", f.path);
    else if (din != fc->d_input || dm2 != dm || dm < 1 || dmlp < 1 || dm > (1 << 20) || dmlp > (1 << 20))
        rc = ms_seterr("weight shapes disagree with d_input %d in config.yaml (%s)", fc->d_input, f.path);
    else {
        if (fc->d_model <= 0) fc->d_model = (int)dm;
        if (fc->d_mlp <= 0) fc->d_mlp = (int)dmlp;
    }
    st_close(&f);
    return rc;
}

/* Takes row `row` of a [d] or [L, d] statistic into out[d]. */
static int stat_row(const float *data, int ndim, const int64_t *shape, int d, int row, float *out, const char *what,
                    const char *path) {
    if (ndim == 1 && shape[0] == d) {
        memcpy(out, data, sizeof(float) * (size_t)d);
        return 0;
    }
    if (ndim == 2 && shape[1] == d) {
        if (row < 0 || row >= shape[0])
            return ms_seterr("'%s' has %lld rows (one per layer); choose one of 0..%lld (%s)", what,
                             (long long)shape[0], (long long)shape[0] - 1, path);
        memcpy(out, data + (size_t)row * d, sizeof(float) * (size_t)d);
        return 0;
    }
    return ms_seterr("'%s' does not have d_input = %d values per row (%s)", what, d, path);
}

/* No NaN or negative variance. */
static int check_var(const float *var, int d, const char *path) {
    for (int i = 0; i < d; i++)
        if (!(var[i] >= 0)) return ms_seterr("negative or NaN variance at %d (%s)", i, path);
    return 0;
}

int glp_stats_pt_mem(const uint8_t *buf, size_t n, const char *name, int d, int row, float *mean, float *var) {
    pt_dict p;
    if (pt_load_dict_mem(&p, buf, n, name)) return -1;
    const pt_tensor *m = pt_get(&p, "mean"), *v = pt_get(&p, "var");
    int rc = !m || !v ? ms_seterr("no 'mean' and 'var' tensors (%s)", name)
                      : stat_row(m->data, m->ndim, m->shape, d, row, mean, "mean", name) ||
                            stat_row(v->data, v->ndim, v->shape, d, row, var, "var", name) || check_var(var, d, name);
    pt_free(&p);
    return rc ? -1 : 0;
}

static int load_stats_pt(const char *path, int d, int row, float *mean, float *var) {
    uint8_t *buf;
    size_t n;
    if (ms_read_file(path, &buf, &n)) return -1;
    int rc = glp_stats_pt_mem(buf, n, path, d, row, mean, var);
    free(buf);
    return rc;
}

static int load_stats_st(const char *path, int d, int row, float *mean, float *var) {
    st_file f;
    if (st_open(&f, path)) return -1;
    int rc = 0;
    const char *names[2] = {"mean", "var"};
    float *dst[2] = {mean, var};
    for (int i = 0; i < 2 && !rc; i++) {
        const st_tensor *t = st_find(&f, names[i]);
        if (!t) {
            rc = ms_seterr("no '%s' tensor (%s)", names[i], path);
            break;
        }
        float *tmp = xmalloc(sizeof(float) * (t->numel ? t->numel : 1));
        rc = st_to_f32(&f, t, tmp, t->numel) || stat_row(tmp, t->ndim, t->shape, d, row, dst[i], names[i], path);
        free(tmp);
    }
    if (!rc) rc = check_var(var, d, path);
    st_close(&f);
    return rc ? -1 : 0;
}

/* The optional 'basis' and 'basis_inv' [d, d] of a statistics file: both or
 * neither, finite, and inverse to each other (within 1e-3: they are saved
 * in f32 from a double inverse). */
static int load_basis(const st_file *f, int d, float **B, float **Bi) {
    const st_tensor *t[2] = {st_find(f, "basis"), st_find(f, "basis_inv")};
    *B = *Bi = NULL;
    if (!t[0] && !t[1]) return 0;
    if (!t[0] || !t[1]) return ms_seterr("'basis' and 'basis_inv' come together (%s)", f->path);
    size_t dd = (size_t)d * d;
    float *dst[2] = {xmalloc(sizeof(float) * dd), xmalloc(sizeof(float) * dd)};
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        if (t[k]->ndim != 2 || t[k]->shape[0] != d || t[k]->shape[1] != d)
            rc = ms_seterr("'%s' is not [%d, %d] (%s)", k ? "basis_inv" : "basis", d, d, f->path);
        else rc = st_to_f32(f, t[k], dst[k], dd);
        for (size_t i = 0; i < dd && !rc; i++)
            if (!isfinite(dst[k][i])) rc = ms_seterr("'%s' is not finite (%s)", k ? "basis_inv" : "basis", f->path);
    }
    if (!rc) { /* B Bi = I; one product (d^3: a naive loop takes a minute at d 2048) */
        float *P = xmalloc(sizeof(float) * dd);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0f, dst[0], d, dst[1], d, 0.0f, P, d);
        for (size_t i = 0; i < dd && !rc; i++)
            if (!(fabsf(P[i] - (i % ((size_t)d + 1) == 0)) <= 1e-3f))
                rc = ms_seterr("'basis_inv' is not the inverse of 'basis' (%s)", f->path);
        free(P);
    }
    if (rc) {
        free(dst[0]), free(dst[1]);
        return -1;
    }
    *B = dst[0], *Bi = dst[1];
    return 0;
}

/* The basis of the statistics file at path into m (none: m keeps none). */
static int set_basis_from(glp_model *m, const char *path) {
    st_file f;
    float *B = NULL, *Bi = NULL;
    if (st_open(&f, path)) return -1;
    int rc = load_basis(&f, m->c.d_input, &B, &Bi);
    st_close(&f);
    if (!rc) glp_set_basis(m, B, Bi);
    free(B), free(Bi);
    return rc;
}

int glp_normalizer_load(glp_model *m, const char *path) {
    int d = m->c.d_input;
    float *mean = xmalloc(sizeof(float) * (size_t)d), *var = xmalloc(sizeof(float) * (size_t)d);
    int rc = load_stats_st(path, d, -1, mean, var) || set_basis_from(m, path) ? -1 : 0;
    if (!rc) glp_set_stats(m, mean, var);
    free(mean), free(var);
    return rc;
}

int glp_normalizer_save(const glp_model *m, const char *path) {
    int64_t d = m->c.d_input;
    st_wtensor w[] = {{"mean", ST_F32, 1, {d}, m->mean}, {"var", ST_F32, 1, {d}, m->var},
                      {"basis", ST_F32, 2, {d, d}, m->basis}, {"basis_inv", ST_F32, 2, {d, d}, m->basis_inv}};
    return st_write(path, w, m->basis ? 4 : 2, NULL, 0);
}

int glp_load_folder(glp_model *m, glp_file_config *fc, const char *dir, int stats_row) {
    return glp_load_folder_as(m, fc, dir, stats_row, false);
}

int glp_load_folder_as(glp_model *m, glp_file_config *fc, const char *dir, int stats_row, bool bf16) {
    memset(m, 0, sizeof *m);
    if (!ms_is_dir(dir)) return ms_seterr("not a GLP folder (%s)", dir);
    char *cfg = ms_find_file(dir, "config.yaml");
    if (!cfg) return ms_seterr("no config.yaml in the GLP folder (%s)", dir);
    int rc = glp_config_load(fc, cfg);
    free(cfg);
    if (rc || infer_widths(fc, dir)) return -1;
    glp_config c = {fc->d_input, fc->d_model, fc->d_mlp, fc->n_layers, fc->multi_layer_n_layers};
    if (glp_load_as(m, dir, &c, bf16)) { /* glp_load allocates the model */
        glp_free(m);
        return -1;
    }
    int d = c.d_input;
    float *mean = xmalloc(sizeof(float) * (size_t)d), *var = xmalloc(sizeof(float) * (size_t)d);
    char *pt = ms_find_file(dir, "rep_statistics.pt"), *st = pt ? NULL : ms_find_file(dir, "rep_statistics.safetensors");
    if (pt) rc = load_stats_pt(pt, d, stats_row, mean, var);
    else if (st) rc = load_stats_st(st, d, stats_row, mean, var);
    else rc = ms_seterr("no rep_statistics.pt or rep_statistics.safetensors (%s)", dir);
    if (!rc) glp_set_stats(m, mean, var);
    if (!rc && st) rc = set_basis_from(m, st); /* metascope's own may carry a basis */
    free(pt), free(st), free(mean), free(var);
    if (rc) glp_free(m);
    return rc;
}
