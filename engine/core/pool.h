/* pool.h — a persistent pool of worker threads for the weight products.
 *
 * pool_run calls fn(ctx, i) once for every item i in [0, n); the calling
 * thread and ms_get_threads() - 1 workers claim items one at a time from a
 * shared counter, so a core slowed by other load simply takes fewer items
 * (no static halves waiting for the slower core). Items must be independent.
 * A call made while the pool is busy (from another thread, or from inside an
 * item) runs its items on the calling thread. */
#ifndef MS_POOL_H
#define MS_POOL_H

#define POOL_MAX_THREADS 16

typedef void (*pool_fn)(void *ctx, int item);
void pool_run(int n, pool_fn fn, void *ctx);

#endif
