/* lz4file.c — lz4 frame format through liblz4's LZ4F API. */
#include "lz4file.h"
#include "alloc.h"
#include "err.h"

#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>

#define LZ4_MAX_OUT ((size_t)16 << 30)

int lz4_decompress_buf(const uint8_t *src, size_t n, uint8_t **out, size_t *outlen,
                       const char *name) {
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return ms_seterr("cannot create lz4 context (%s)", name);
    size_t cap = n * 3 + 4096, len = 0, pos = 0;
    /* Use the content size from the frame header when present. */
    LZ4F_frameInfo_t info;
    size_t hdr = n;
    size_t r = LZ4F_getFrameInfo(dctx, &info, src, &hdr);
    if (LZ4F_isError(r)) {
        LZ4F_freeDecompressionContext(dctx);
        return ms_seterr("not an lz4 frame: %s (%s)", LZ4F_getErrorName(r), name);
    }
    pos = hdr;
    if (info.contentSize > 0) {
        /* lz4 expands at most ~255x: a larger declared size is a lie, and
         * trusting it would allocate gigabytes for a 40-byte file. */
        if (info.contentSize > LZ4_MAX_OUT || info.contentSize > 255 * (unsigned long long)n + 64) {
            LZ4F_freeDecompressionContext(dctx);
            return ms_seterr("lz4 content size %llu impossible for %zu compressed bytes (%s)",
                             (unsigned long long)info.contentSize, n, name);
        }
        cap = (size_t)info.contentSize + 1;
    }
    uint8_t *buf = xmalloc(cap + 1);
    while (pos < n) {
        if (len == cap) {
            if (cap >= LZ4_MAX_OUT) {
                free(buf);
                LZ4F_freeDecompressionContext(dctx);
                return ms_seterr("lz4 output exceeds 16 GiB (%s)", name);
            }
            cap *= 2;
            buf = xrealloc(buf, cap + 1);
        }
        size_t dst = cap - len, srcn = n - pos;
        r = LZ4F_decompress(dctx, buf + len, &dst, src + pos, &srcn, NULL);
        if (LZ4F_isError(r)) {
            free(buf);
            LZ4F_freeDecompressionContext(dctx);
            return ms_seterr("corrupt lz4 data: %s (%s)", LZ4F_getErrorName(r), name);
        }
        len += dst;
        pos += srcn;
        if (srcn == 0 && dst == 0 && len < cap) break; /* no progress */
        if (r == 0 && pos < n) LZ4F_resetDecompressionContext(dctx); /* next frame */
    }
    LZ4F_freeDecompressionContext(dctx);
    if (r != 0) {
        free(buf);
        return ms_seterr("truncated lz4 frame (%s)", name);
    }
    buf[len] = 0;
    *out = buf;
    *outlen = len;
    return 0;
}

int lz4_compress_buf(const uint8_t *src, size_t n, uint8_t **out, size_t *outlen,
                     int level) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.contentSize = n;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockSizeID = LZ4F_max4MB;
    prefs.compressionLevel = level;
    size_t cap = LZ4F_compressFrameBound(n, &prefs);
    uint8_t *buf = xmalloc(cap);
    size_t r = LZ4F_compressFrame(buf, cap, src, n, &prefs);
    if (LZ4F_isError(r)) {
        free(buf);
        return ms_seterr("lz4 compression failed: %s (lz4)", LZ4F_getErrorName(r));
    }
    *out = buf;
    *outlen = r;
    return 0;
}
