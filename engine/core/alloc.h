/* alloc.h — checked allocation. */
#ifndef MS_ALLOC_H
#define MS_ALLOC_H

#include <stddef.h>

/* Allocation that never returns NULL: out of memory prints one line and exits. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* n*size with overflow check (exits on overflow, like OOM). */
size_t xmul(size_t a, size_t b);

#endif
