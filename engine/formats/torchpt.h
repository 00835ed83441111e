/* torchpt.h — reader for small PyTorch `torch.save` files holding a dict of
 * tensors, e.g. a GLP checkpoint's rep_statistics.pt ({"mean", "var"}).
 *
 * A .pt file is a ZIP archive of STORED entries: P/data.pkl (a pickle), P/data/KEY
 * (raw little-endian storage bytes), P/byteorder, P/version. The pickle is run by
 * a bounds-checked interpreter that knows only the opcodes torch.save emits and
 * resolves GLOBAL against a fixed allow-list (OrderedDict, _rebuild_tensor_v2,
 * _rebuild_parameter, Float/Half/BFloat16/DoubleStorage); nothing is executed.
 *
 * Every tensor is converted to contiguous row-major float32 (storage offset and
 * strides are honoured, so saved views come out as torch would show them).
 * Errors follow util.h: -1 and a one-line message naming the file. */
#ifndef MS_TORCHPT_H
#define MS_TORCHPT_H

#include <stddef.h>
#include <stdint.h>

#define PT_MAX_DIMS 8

typedef struct {
    char *name;
    int ndim;                   /* 0 for a scalar */
    int64_t shape[PT_MAX_DIMS];
    size_t numel;
    float *data;                /* numel floats (never NULL, even when numel is 0) */
} pt_tensor;

typedef struct {
    pt_tensor *t;
    int n;
} pt_dict;

/* Loads the top-level dict {str: tensor} of a .pt file (".lz4" is decompressed).
 * On failure *d is left empty (safe to pt_free). */
int pt_load_dict(pt_dict *d, const char *path);
/* Same from memory; `name` is used in error messages. buf is not kept. */
int pt_load_dict_mem(pt_dict *d, const uint8_t *buf, size_t n, const char *name);
void pt_free(pt_dict *d);
/* The tensor called `name`, or NULL. */
const pt_tensor *pt_get(const pt_dict *d, const char *name);

#endif
