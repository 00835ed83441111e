/* alloc.c — allocation that never returns NULL (alloc.h). */
#include "alloc.h"
#include "err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Noreturn void oom(size_t n) {
    fprintf(stderr, "error: out of memory allocating %zu bytes\n", n);
    exit(3);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

void *ms_try_alloc(size_t n, const char *where) {
    void *p = malloc(n ? n : 1);
    if (!p) ms_seterr("out of memory allocating %zu bytes (%s)", n, where);
    return p;
}

void *ms_try_calloc(size_t count, size_t size, const char *where) {
    if (size && count > SIZE_MAX / size) {
        ms_seterr("allocation of %zu x %zu bytes overflows (%s)", count, size, where);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) ms_seterr("out of memory allocating %zu bytes (%s)", count * size, where);
    return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

size_t xmul(size_t a, size_t b) {
    if (b && a > SIZE_MAX / b) oom(SIZE_MAX);
    return a * b;
}
