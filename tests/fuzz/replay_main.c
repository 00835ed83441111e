/* replay_main.c — a main for the libFuzzer harnesses without libFuzzer: it
 * feeds every file under the given folders to LLVMFuzzerTestOneInput. Built
 * with gcc by `make` (build/replay/NAME) and run by tests/e2e/fuzz_replay.sh
 * on the seeds and the findings, so a harness's checks (abort on a broken
 * promise) guard the normal build too, without clang or sanitizers. */
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The raw bytes (ms_read_file would decompress a seed named *.lz4). */
static int replay(const char *path) {
    size_t n = 0;
    int fd = ms_open_regular(path, &n);
    if (fd < 0) return 0;
    FILE *f = fdopen(fd, "rb");
    uint8_t *buf = xmalloc(n + 1);
    if (!f || fread(buf, 1, n, f) != n) abort();
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int total = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) continue; /* no findings yet */
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char *p = ms_path_join(argv[i], e->d_name);
            total += replay(p);
            free(p);
        }
        closedir(d);
    }
    printf("%d inputs replayed\n", total);
    return 0;
}
