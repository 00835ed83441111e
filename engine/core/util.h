/* util.h — checked allocation, one error slot, file I/O helpers.
 *
 * Convention used across the engine: functions that can fail return 0 (or a
 * valid pointer) on success and -1 (or NULL) on failure, after recording a
 * one-line message with ms_seterr(). Messages read "<what> (<where>)", e.g.
 * "header length 9999999999 exceeds file size (model.safetensors)". The caller
 * that reports to the user prints "error: " + ms_geterr(). */
#ifndef MS_UTIL_H
#define MS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_VERSION "0.1.0"

#if defined(__GNUC__)
#define MS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MS_PRINTF(a, b)
#endif

/* Allocation that never returns NULL: out of memory prints one line and exits. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* n*size with overflow check (exits on overflow, like OOM). */
size_t xmul(size_t a, size_t b);

/* Error slot (thread-local). ms_seterr returns -1 so callers can
 * `return ms_seterr("...")`. */
int ms_seterr(const char *fmt, ...) MS_PRINTF(1, 2);
const char *ms_geterr(void);
void ms_clearerr(void);

/* Whole-file read. A path ending in ".lz4" is decompressed transparently (lz4
 * frame format). The returned buffer has one extra NUL byte after len. */
int ms_read_file(const char *path, uint8_t **data, size_t *len);
/* Atomic write: write to "path.tmp.PID", fsync, rename over path. A path ending
 * in ".lz4" is compressed as an lz4 frame. */
int ms_write_file_atomic(const char *path, const void *data, size_t len);

bool ms_file_exists(const char *path);
bool ms_is_dir(const char *path);
bool ms_ends_with(const char *s, const char *suffix);
/* dir + "/" + name, freshly allocated. */
char *ms_path_join(const char *dir, const char *name);
/* Basename pointer into path (no allocation). */
const char *ms_basename(const char *path);
/* If path exists, a copy of it; else if path+".lz4" exists, that; else NULL. */
char *ms_find_file(const char *dir, const char *name);

/* Length of the well-formed UTF-8 sequence at s (no overlongs, surrogates or
 * code points past U+10FFFF), or 0 when none starts there. */
size_t ms_utf8_len(const uint8_t *s, size_t n);

/* The bundled assets folder: $METASCOPE_ASSETS, else the build's assets/. */
const char *ms_assets_dir(void);

/* Monotonic seconds. */
double ms_now(void);
/* Seconds as "M:SS" (progress lines). */
void ms_fmt_minutes(char *buf, size_t n, double seconds);

#endif
