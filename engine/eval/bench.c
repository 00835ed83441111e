/* bench.c — prefill / decode throughput measurement for `metascope bench`. */
#include "bench.h"
#include "rng.h"
#include "sampler.h"
#include "transformer.h"
#include "util.h"

#include <stdlib.h>

int bench_lm(const char *dir, int prefill, int decode, int reps, bench_result *r) {
    tf_model m;
    if (tf_load(&m, dir)) return -1;
    if (prefill + decode > m.c.max_seq) {
        ms_seterr("prefill + decode exceed the model's %d positions (bench)", m.c.max_seq);
        tf_free(&m);
        return -1;
    }
    tf_state s;
    if (tf_state_init(&s, &m, prefill + decode)) {
        tf_free(&m);
        return -1;
    }
    int *tok = xmalloc(sizeof(int) * (size_t)prefill);
    rng_t rng;
    rng_seed(&rng, 42);
    for (int i = 0; i < prefill; i++) tok[i] = (int)rng_below(&rng, (uint64_t)m.c.vocab);
    r->prefill_tok_s = r->decode_tok_s = 0;
    int rc = 0;
    for (int rep = 0; rep < reps && !rc; rep++) {
        tf_state_reset(&s);
        double t0 = ms_now();
        rc = tf_forward(&m, &s, tok, prefill, LOGITS_LAST, NULL);
        double t1 = ms_now();
        for (int i = 0; i < decode && !rc; i++) {
            int next = argmax(s.logits, m.c.vocab);
            rc = tf_forward(&m, &s, &next, 1, LOGITS_LAST, NULL);
        }
        double t2 = ms_now();
        if (prefill / (t1 - t0) > r->prefill_tok_s) r->prefill_tok_s = prefill / (t1 - t0);
        if (decode / (t2 - t1) > r->decode_tok_s) r->decode_tok_s = decode / (t2 - t1);
    }
    free(tok);
    tf_state_free(&s);
    tf_free(&m);
    return rc;
}
