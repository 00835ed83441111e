/* fuzz_commands.c — libFuzzer harness: arbitrary bytes as a command line for
 * a session with the tiny GPT-2 fixture loaded. `load` and `set threads` are
 * reached too: run.sh starts the harness in a scratch copy of the fixtures
 * (MS_FUZZ_SANDBOX), so whatever a command loads or writes by a relative
 * path is a copy. */
#include "session.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static session S;

static void sink(void *ctx, const char *text, size_t len) {
    (void)ctx, (void)text, (void)len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *box = getenv("MS_FUZZ_SANDBOX");
    if (box && chdir(box)) abort();
    sess_init(&S, sink, NULL);
    const char *m = getenv("MS_FUZZ_MODEL");
    if (sess_load_model(&S, m ? m : "tests/fixtures/models/gpt2_tiny")) abort();
    return 0;
}

/* True when the line may name a path outside the working folder: a word
 * starting with '/', "..", "~", or an escaped '/' or '.'. */
static bool escapes(const char *s) {
    if (strstr(s, "..") || strchr(s, '~') || strcasestr(s, "\\x2f") || strcasestr(s, "\\x2e")) return true;
    for (const char *p = s; (p = strchr(p, '/')); p++)
        if (p == s || strchr(" \t\";", p[-1])) return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *line = xstrndup((const char *)data, size);
    /* Absolute paths could reach the real tree: only relative ones, which
     * resolve inside the sandbox (without one, no load at all). */
    bool boxed = getenv("MS_FUZZ_SANDBOX") != NULL;
    if (boxed ? !escapes(line) : !strstr(line, "load")) sess_exec_multi(&S, line);
    if (!S.has_model) abort(); /* a failed load keeps what the session had */
    S.quit = false;
    free(line);
    return 0;
}
