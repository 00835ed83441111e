/* util.h — file I/O helpers. It includes alloc.h (checked allocation) and
 * err.h, the error slot and the engine's convention for failures, e.g.
 * "header length 9999999999 exceeds file size (model.safetensors)". */
#ifndef MS_UTIL_H
#define MS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alloc.h"
#include "err.h"

#define MS_VERSION "0.1.0"

/* Whole-file read. A path ending in ".lz4" is decompressed transparently (lz4
 * frame format). The returned buffer has one extra NUL byte after len. */
int ms_read_file(const char *path, uint8_t **data, size_t *len);
/* Atomic write: write to "path.tmp.PID", fsync, rename over path. A path ending
 * in ".lz4" is compressed as an lz4 frame. */
int ms_write_file_atomic(const char *path, const void *data, size_t len);

/* Opens path for reading and returns the descriptor (and the file's size),
 * or -1 with the error set. Anything but a regular file is refused: a FIFO
 * would block open and read for ever, a device has no size. Every loader
 * opens through this (or ms_read_file / ms_fopen_regular). */
int ms_open_regular(const char *path, size_t *size);
FILE *ms_fopen_regular(const char *path);

/* Destination folder of a long run, checked before the work starts: creates
 * dir when missing (its parent must exist) and proves it writable by
 * creating and removing a probe file. */
int ms_prepare_out_dir(const char *dir);

/* True when something other than a directory is at path: a FIFO or a device
 * counts, so that the loader that follows refuses it by name instead of the
 * caller silently treating the file as absent. */
bool ms_file_exists(const char *path);
bool ms_is_dir(const char *path);
bool ms_ends_with(const char *s, const char *suffix);
/* Gives the whole pages inside p[0, n) back (MADV_DONTNEED): anonymous ones
 * then read as zeros, file-mapped ones leave the resident set (the page
 * cache keeps them). */
void ms_drop_pages(const void *p, size_t n);
/* dir + "/" + name, freshly allocated. */
char *ms_path_join(const char *dir, const char *name);
/* Basename pointer into path (no allocation). */
const char *ms_basename(const char *path);
/* If path exists, a copy of it; else if path+".lz4" exists, that; else NULL. */
char *ms_find_file(const char *dir, const char *name);

/* Length of the well-formed UTF-8 sequence at s (no overlongs, surrogates or
 * code points past U+10FFFF), or 0 when none starts there. */
size_t ms_utf8_len(const uint8_t *s, size_t n);

/* Parses a unit name "KIND:A" (nfields 1) or "KIND:A:B" (2) into v. A number
 * too large for an int saturates to INT_MAX / INT_MIN, so the caller's range
 * check refuses it; messages then quote the text as typed, never a wrapped
 * value (sae:99999999999999999999 must not read sae:-1). */
bool ms_parse_unit_name(const char *text, const char *kind, int nfields, int *v);

/* The bundled assets folder: $METASCOPE_ASSETS, else the build's assets/. */
const char *ms_assets_dir(void);

/* Monotonic seconds. */
double ms_now(void);
/* Seconds as "M:SS" (progress lines). */
void ms_fmt_minutes(char *buf, size_t n, double seconds);

#endif
