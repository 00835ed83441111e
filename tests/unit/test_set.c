/* test_set.c — `set` refuses what it cannot honour and then changes nothing
 * (tests/e2e/set.sh checks the messages; batch mode stops at the first
 * refusal, so the state after one is checked here), and a cancelled command
 * line stops before its next command. */
#include "testutil.h"

#include "session.h"
#include "util.h"
#include "wmat.h"

#include <signal.h>
#include <stdlib.h>

static void quiet(void *ctx, const char *t, size_t n) {
    (void)ctx, (void)t, (void)n;
}

typedef struct {
    float temperature, top_p;
    int top_k, gen, threads, max_seq, ctx, bos, n_prompt, evals, solver, precision;
    unsigned long long seed;
    bool eos, json, cache_off, bf16;
} settings;

static settings take(const session *S) {
    settings x;
    memset(&x, 0, sizeof x); /* padding too: compared with memcmp */
    x.temperature = S->scfg.temperature, x.top_p = S->scfg.top_p, x.top_k = S->scfg.top_k;
    x.gen = S->gen_tokens, x.threads = S->threads, x.max_seq = S->st.max_seq, x.ctx = S->ctx, x.bos = S->bos;
    x.n_prompt = S->n_prompt, x.evals = S->glp_ode.evals, x.solver = (int)S->glp_ode.solver, x.seed = S->seed;
    x.eos = S->stop_at_eos, x.json = S->json, x.cache_off = S->cache_off, x.bf16 = S->glp_bf16;
    x.precision = (int)wmat_precision();
    return x;
}

static void test_refusals_change_nothing(void **st) {
    (void)st;
    session S;
    sess_init(&S, quiet, NULL);
    assert_int_equal(sess_load_model(&S, FIXTURES "/models/gpt2_tiny"), 0);
    assert_int_equal(sess_exec(&S, "prompt one two three four"), 0);
    settings before = take(&S);
    static const char *const refused[] = {
        "set temperature -1", "set temperature hot", "set top_k 301", "set top_k 1.5", "set top_p 0",
        "set top_p 1.5", "set seed -1", "set seed 18446744073709551616", "set gen 0", "set threads 17",
        "set threads 0", "set ctx 2", "set ctx 129", "set bos maybe", "set eos never", "set json yes",
        "set glp_sampler rk4", "set glp_evals 10001", "set glp_dtype f16", "set cache maybe", "set colour red",
        "set matmul_precision high",
        "set temperature", NULL};
    for (int i = 0; refused[i]; i++) {
        assert_int_equal(sess_exec(&S, refused[i]), -1);
        assert_non_null(strstr(ms_geterr(), "(set")); /* names the command */
        settings after = take(&S);
        if (memcmp(&before, &after, sizeof before)) fail_msg("'%s' was refused but changed a setting", refused[i]);
    }
    setenv("METASCOPE_CACHE", "off", 1);
    assert_int_equal(sess_exec(&S, "set cache on"), -1);
    assert_non_null(strstr(ms_geterr(), "METASCOPE_CACHE=off"));
    unsetenv("METASCOPE_CACHE");
    settings after = take(&S);
    assert_memory_equal(&before, &after, sizeof before);
    /* what is honoured is applied */
    assert_int_equal(sess_exec(&S, "set top_k 300"), 0);
    assert_int_equal(S.scfg.top_k, 300);
    assert_int_equal(sess_exec(&S, "set ctx 64"), 0);
    assert_int_equal(S.st.max_seq, 64);
    sess_free(&S);
}

/* A model without BOS and EOS tokens refuses bos on and eos stop. */
static void test_model_without_bos_eos(void **st) {
    (void)st;
    session S;
    sess_init(&S, quiet, NULL);
    assert_int_equal(sess_load_model(&S, FIXTURES "/models/gpt2_tiny"), 0);
    S.model.c.bos_id = S.model.c.eos_id = -1; /* as loaded from a folder that names neither */
    int bos = S.bos;
    assert_int_equal(sess_exec(&S, "set bos on"), -1);
    assert_non_null(strstr(ms_geterr(), "no beginning-of-text token"));
    assert_int_equal(S.bos, bos);
    assert_int_equal(sess_exec(&S, "set eos ignore"), 0);
    assert_int_equal(sess_exec(&S, "set eos stop"), -1);
    assert_non_null(strstr(ms_geterr(), "no end-of-text token"));
    assert_false(S.stop_at_eos);
    sess_free(&S);
}

/* Ctrl-C during a command of a ';' line: the rest of the line does not run. */
static void test_cancel_stops_the_line(void **st) {
    (void)st;
    session S;
    volatile sig_atomic_t cancel = 1;
    sess_init(&S, quiet, NULL);
    assert_int_equal(sess_load_model(&S, FIXTURES "/models/gpt2_tiny"), 0);
    int layer = S.layer;
    S.cancel = &cancel;
    assert_int_equal(sess_exec_multi(&S, "layer 2; layer 0"), 0);
    assert_int_equal(S.layer, layer);
    cancel = 0;
    assert_int_equal(sess_exec_multi(&S, "layer 2; layer 0"), 0);
    assert_int_equal(S.layer, 0);
    sess_free(&S);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_change_nothing),
        cmocka_unit_test(test_model_without_bos_eos),
        cmocka_unit_test(test_cancel_stops_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
