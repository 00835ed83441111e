/* folder.h — multi-file fuzz inputs for the loaders that take a folder. The
 * input is the folder's files in a fixed order (names[]), separated by the
 * line "\n--8<--\n"; a part that is empty or absent leaves its file absent. The files
 * go to a per-process folder on tmpfs, rewritten for every input, so the real
 * loader runs on real files (FIFO and size checks included).
 * tools/make_fuzz_seeds.sh joins real folders the same way for the seeds. */
#ifndef MS_FUZZ_FOLDER_H
#define MS_FUZZ_FOLDER_H

#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_SEP "\n--8<--\n"

static char fuzz_dir[128];
static const char *const *fuzz_names;
static int fuzz_n;

static void fuzz_cleanup(void) {
    for (int i = 0; i < fuzz_n; i++) {
        char *p = ms_path_join(fuzz_dir, fuzz_names[i]);
        unlink(p);
        free(p);
    }
    rmdir(fuzz_dir);
}

/* The folder (created on first use, removed at exit) holding the input's
 * files names[0..n). */
static const char *fuzz_folder(const uint8_t *data, size_t size, const char *const *names, int n) {
    char *dir = fuzz_dir;
    if (!dir[0]) {
        snprintf(dir, sizeof fuzz_dir, "/dev/shm/msfuzz.%ld", (long)getpid());
        mkdir(dir, 0700);
        fuzz_names = names, fuzz_n = n;
        atexit(fuzz_cleanup);
    }
    const uint8_t *p = data, *end = data + size;
    size_t sl = strlen(FUZZ_SEP);
    for (int i = 0; i < n; i++) {
        char *path = ms_path_join(dir, names[i]);
        unlink(path);
        if (p) {
            const uint8_t *q = memmem(p, (size_t)(end - p), FUZZ_SEP, sl);
            size_t len = q ? (size_t)(q - p) : (size_t)(end - p);
            FILE *f = len ? fopen(path, "wb") : NULL;
            if (len && (!f || fwrite(p, 1, len, f) != len || fclose(f))) abort();
            p = q ? q + sl : NULL;
        }
        free(path);
    }
    return dir;
}

/* A failed load must say where (the folder or one of its files), on one line. */
static void fuzz_check_error(const char *const *names, int n) {
    const char *e = ms_geterr();
    bool named = strstr(e, "msfuzz") != NULL;
    for (int i = 0; i < n && !named; i++) named = strstr(e, names[i]) != NULL;
    if (!named) {
        fprintf(stderr, "error message names no file: %s\n", e);
        abort();
    }
    if (strchr(e, '\n')) abort(); /* one line */
}

#endif
