/* sbuf.h — a growing text buffer for building CSV and report text. */
#ifndef MS_SBUF_H
#define MS_SBUF_H

#include <stddef.h>

typedef struct {
    char *s; /* NUL-terminated once anything is written; free() when done */
    size_t n, cap;
} sbuf;

void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
