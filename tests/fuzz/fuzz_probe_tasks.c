/* fuzz_probe_tasks.c — libFuzzer harness: probe task files (tasks.json, the
 * built-in tasks; user tasks come from the same reader). */
#include "folder.h"
#include "probe.h"

static const char *const names[] = {"tasks.json"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    setenv("XDG_DATA_HOME", "/nonexistent-msfuzz", 1); /* no user tasks from the machine */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_folder(data, size, names, 1);
    probe_taskset ts;
    if (probe_tasks_load(&ts, dir)) {
        fuzz_check_error(names, 1);
        return 0;
    }
    for (int i = 0; i < ts.n; i++) {
        int c[4];
        probe_task_counts(&ts.t[i], c);
        if (c[0] < 0 || c[1] < 0 || c[2] < 0 || c[3] < 0) abort();
    }
    probe_tasks_free(&ts);
    return 0;
}
