/* sbuf.c — a growing text buffer (sbuf.h). */
#include "sbuf.h"
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>

void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)m + 1 > b->cap) b->cap = 2 * (b->n + (size_t)m + 1), b->s = xrealloc(b->s, b->cap);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)m;
}
