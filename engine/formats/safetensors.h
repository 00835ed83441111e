/* safetensors.h — reader (mmap, or decompressed when the path ends in .lz4)
 * and atomic writer of the safetensors format, plus sharded model folders.
 *
 * Format: u64 LE header length N, N bytes of JSON {name: {dtype, shape,
 * data_offsets:[begin,end]}, "__metadata__": {str: str}}, then the data buffer;
 * offsets are relative to byte 8+N and tensors must cover it exactly. */
#ifndef MS_SAFETENSORS_H
#define MS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_MAX_HEADER (100u << 20)
#define ST_MAX_DIMS 8

typedef enum {
    ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_F8_E4M3, ST_F8_E5M2, ST_U16, ST_U32, ST_U64, ST_NDTYPES
} st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel, nbytes;
    const uint8_t *data; /* points into the mapped file */
} st_tensor;

typedef struct {
    char *path;
    uint8_t *base;  /* whole file */
    size_t size;
    bool mapped;    /* munmap vs free */
    st_tensor *t;
    int n;
    char **meta;    /* key, value, key, value, ... */
    int nmeta;
} st_file;

const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);

int st_open(st_file *f, const char *path);
/* Parse an in-memory buffer (copied); `name` is used in messages. */
int st_open_mem(st_file *f, const uint8_t *buf, size_t len, const char *name);
void st_close(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);
const char *st_meta(const st_file *f, const char *key);
/* Convert a floating tensor (F32/F16/BF16/F64) to f32; n must equal numel. */
int st_to_f32(const st_file *f, const st_tensor *t, float *dst, size_t n);
/* Drops a mapped tensor's whole pages from this process's resident set once
 * it has been copied out (the page cache keeps them; reading faults them
 * back). Nothing for a file read into memory. */
void st_release(const st_file *f, const st_tensor *t);
/* Copy of the tensor as f32 after checking its shape (ndim dims; -1 = any). */
float *st_load_f32(const st_file *f, const char *name, int ndim, const int64_t *shape);

/* A model folder's weights: model.safetensors or the shards listed in
 * model.safetensors.index.json (each file also found with a .lz4 suffix). */
typedef struct {
    st_file *files;
    int nfiles;
} st_set;

int st_set_open(st_set *s, const char *dir);
void st_set_close(st_set *s);
/* Finds a tensor in any file; *file receives its file. NULL if absent. */
const st_tensor *st_set_find(const st_set *s, const char *name, const st_file **file);

/* Writer. The data of each tensor is numel * dtype size bytes. */
typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
} st_wtensor;

/* Writes atomically (temp file + rename); ".lz4" paths are compressed.
 * meta: key, value pairs (nmeta pairs), may be NULL. */
int st_write(const char *path, const st_wtensor *t, int n, const char *const *meta, int nmeta);

#endif
