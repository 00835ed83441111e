/* alloc.h — checked allocation. */
#ifndef MS_ALLOC_H
#define MS_ALLOC_H

#include <stddef.h>

/* Allocation that never returns NULL: out of memory prints one line and exits. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Allocation for sizes that come from a file: NULL with the error set
 * ("out of memory allocating N bytes (where)") instead of ending the
 * process, so a bad file cannot end the explorer or a running script. */
void *ms_try_alloc(size_t n, const char *where);
void *ms_try_calloc(size_t count, size_t size, const char *where);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* n*size with overflow check (exits on overflow, like OOM). */
size_t xmul(size_t a, size_t b);

#endif
