/* fuzz_commands.c — libFuzzer harness: arbitrary bytes as a command line for
 * a session with the tiny GPT-2 fixture loaded. */
#include "session.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static session S;

static void sink(void *ctx, const char *text, size_t len) {
    (void)ctx, (void)text, (void)len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sess_init(&S, sink, NULL);
    const char *m = getenv("MS_FUZZ_MODEL");
    if (sess_load_model(&S, m ? m : "tests/fixtures/models/gpt2_tiny")) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *line = xstrndup((const char *)data, size);
    /* 'load' would read arbitrary paths and 'set threads' change global state:
     * both are exercised by the unit tests, not here. */
    if (!strstr(line, "load") && !strstr(line, "threads")) sess_exec_multi(&S, line);
    S.quit = false;
    free(line);
    return 0;
}
