/* lz4file.h — lz4 frame (de)compression of whole buffers, via Debian's liblz4.
 * `name` is only used in error messages. */
#ifndef MS_LZ4FILE_H
#define MS_LZ4FILE_H

#include <stddef.h>
#include <stdint.h>

/* Decompress a complete lz4 frame (or several concatenated frames). The output
 * buffer is NUL-terminated one past *outlen. Refuses outputs over 16 GiB. */
int lz4_decompress_buf(const uint8_t *src, size_t n, uint8_t **out, size_t *outlen,
                       const char *name);
/* Compress into a single lz4 frame with content size and checksum. */
int lz4_compress_buf(const uint8_t *src, size_t n, uint8_t **out, size_t *outlen,
                     int level);

#endif
