/* session.c — session state: model loading, the prompt, output helpers. The
 * command handlers live in commands.c. */
#include "session.h"
#include "ops.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sess_init(session *S, sess_out_fn out, void *out_ctx) {
    memset(S, 0, sizeof *S);
    S->out = out;
    S->out_ctx = out_ctx;
    S->scfg = (sampler_cfg){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f};
    S->seed = 1234;
    rng_seed(&S->rng, S->seed);
    S->gen_tokens = 32;
    S->bos = -1;
    S->stop_at_eos = true;
    S->threads = ms_get_threads();
}

static void unload(session *S) {
    if (!S->has_model) return;
    tf_state_free(&S->st);
    sampler_free(&S->smp);
    tf_free(&S->model);
    S->has_model = false;
    free(S->prompt_ids);
    S->prompt_ids = NULL;
    S->n_prompt = 0;
}

void sess_free(session *S) {
    unload(S);
    free(S->prompt);
    S->prompt = NULL;
}

void sess_printf(session *S, const char *fmt, ...) {
    char small[512], *buf = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof small) {
        buf = xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (S->out) S->out(S->out_ctx, buf, (size_t)n);
    if (buf != small) free(buf);
}

int sess_load_model(session *S, const char *dir) {
    tf_model m;
    if (tf_load(&m, dir)) return -1; /* the old model stays loaded on failure */
    unload(S);
    S->model = m;
    S->has_model = true;
    int ctx = S->ctx > 0 ? S->ctx : (m.c.max_seq < 2048 ? m.c.max_seq : 2048);
    tf_state_init(&S->st, &S->model, ctx);
    sampler_init(&S->smp, m.c.vocab);
    S->layer = m.c.n_layers / 2;
    return 0;
}
