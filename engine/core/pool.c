/* pool.c — see pool.h. Workers sleep on a condition variable between jobs
 * after spinning briefly, because a decode step issues ~65 products a few
 * tens of microseconds apart and a wake-up per product would cost that much
 * again. A worker checks in to a job before claiming its items; once the
 * caller has run out of items it closes the job, and waits only for the
 * workers inside it: a worker the scheduler has not run yet (its core busy
 * with other work) is not waited for, it finds the job closed and goes back
 * to sleep. */
#include "pool.h"
#include "ops.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SPIN_SECONDS 50e-6
#define CLOSED (1 << 30)

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int started;          /* workers created so far */
    atomic_ulong gen;     /* job number; a change wakes the workers */
    int want;             /* workers taking part in the current job */
    atomic_int inside;    /* workers checked in and not finished; | CLOSED once the caller is done */
    atomic_int next;      /* next unclaimed item */
    int n;
    pool_fn fn;
    void *ctx;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static _Thread_local bool t_worker;

static void claim_items(void) {
    int i;
    while ((i = atomic_fetch_add_explicit(&P.next, 1, memory_order_relaxed)) < P.n) P.fn(P.ctx, i);
}

static void spin_while(atomic_ulong *gen, unsigned long seen) {
    double t0 = ms_now();
    for (int k = 1; atomic_load_explicit(gen, memory_order_acquire) == seen; k++) {
        cpu_relax();
        if (!(k & 255) && ms_now() - t0 > SPIN_SECONDS) return;
    }
}

/* Enters the current job unless the caller has closed it. */
static bool check_in(void) {
    int s = atomic_load(&P.inside);
    while (!(s & CLOSED))
        if (atomic_compare_exchange_weak(&P.inside, &s, s + 1)) return true;
    return false;
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg; /* 1 .. started */
    unsigned long seen = 0;
    t_worker = true;
    for (;;) {
        spin_while(&P.gen, seen);
        pthread_mutex_lock(&P.mu);
        while (atomic_load(&P.gen) == seen) pthread_cond_wait(&P.go, &P.mu);
        seen = atomic_load(&P.gen);
        bool mine = id <= P.want;
        pthread_mutex_unlock(&P.mu);
        if (!mine || !check_in()) continue;
        claim_items();
        if (atomic_fetch_sub(&P.inside, 1) == CLOSED + 1) { /* the last one out of a closed job */
            pthread_mutex_lock(&P.mu);
            pthread_cond_signal(&P.done);
            pthread_mutex_unlock(&P.mu);
        }
    }
    return NULL;
}

void pool_run(int n, pool_fn fn, void *ctx) {
    int nt = ms_get_threads();
    nt = nt < 1 ? 1 : nt > POOL_MAX_THREADS ? POOL_MAX_THREADS : nt;
    if (nt > n) nt = n;
    if (nt <= 1 || t_worker || pthread_mutex_trylock(&run_mu)) {
        for (int i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&P.mu);
    while (P.started < nt - 1) { /* grow on first use; a failed create just means fewer workers */
        pthread_t th;
        if (pthread_create(&th, NULL, worker, (void *)(intptr_t)(P.started + 1))) break;
        pthread_detach(th);
        P.started++;
    }
    P.want = nt - 1 < P.started ? nt - 1 : P.started;
    P.fn = fn, P.ctx = ctx, P.n = n;
    atomic_store(&P.next, 0);
    atomic_store(&P.inside, 0); /* open: after fn, ctx and n, which a worker checking in may read at once */
    atomic_fetch_add(&P.gen, 1);
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    claim_items();
    atomic_fetch_or(&P.inside, CLOSED); /* no item left: workers not yet inside stay out */
    double t0 = ms_now();
    for (int k = 1; atomic_load(&P.inside) != CLOSED; k++) { /* spin: those inside finish their last item */
        cpu_relax();
        if (!(k & 255) && ms_now() - t0 > SPIN_SECONDS) break;
    }
    pthread_mutex_lock(&P.mu);
    while (atomic_load(&P.inside) != CLOSED) pthread_cond_wait(&P.done, &P.mu);
    pthread_mutex_unlock(&P.mu);
    pthread_mutex_unlock(&run_mu);
}
