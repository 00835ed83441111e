/* model_digest.c — a model folder's identity (model_digest.h). */
#include "model_digest.h"
#include "hash.h"
#include "safetensors.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#define CHUNKS 16
#define CHUNK 64
#define SMALL_TENSOR 4096

static bool relevant(const char *name) {
    char base[1024];
    snprintf(base, sizeof base, "%s", name);
    size_t n = strlen(base);
    if (n > 4 && !strcmp(base + n - 4, ".lz4")) base[n - 4] = 0;
    return ms_ends_with(base, ".json") || ms_ends_with(base, ".txt") || ms_ends_with(base, ".safetensors");
}

static int hash_whole(const char *path, uint64_t *h) {
    FILE *f = fopen(path, "rb");
    if (!f) return ms_seterr("cannot open: %s (%s)", strerror(errno), path);
    unsigned char *buf = xmalloc(1 << 16);
    size_t got;
    while ((got = fread(buf, 1, 1 << 16, f)) > 0) *h = hash64(*h, buf, got);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    return bad ? ms_seterr("read failed (%s)", path) : 0;
}

/* n bytes at p inside f, by pread when f is mapped: touching the mapping
 * would map whole (large) page-cache folios into this process, a transient
 * 1 GB of resident memory on a Llama-1B folder. */
static int sample(const st_file *f, int fd, const uint8_t *p, size_t n, uint8_t *buf, uint64_t *h) {
    if (fd < 0) {
        *h = hash64(*h, p, n);
        return 0;
    }
    if (pread(fd, buf, n, (off_t)(p - f->base)) != (ssize_t)n) return ms_seterr("read failed (%s)", f->path);
    *h = hash64(*h, buf, n);
    return 0;
}

/* Tensor table and sampled bytes of a large safetensors file. */
static int hash_sampled(const char *path, uint64_t *h) {
    st_file f;
    if (st_open(&f, path)) return -1;
    int fd = f.mapped ? open(path, O_RDONLY | O_CLOEXEC) : -1, rc = 0;
    if (f.mapped && fd < 0) rc = ms_seterr("cannot open: %s (%s)", strerror(errno), path);
    uint8_t *buf = xmalloc(SMALL_TENSOR);
    for (int i = 0; i < f.n && !rc; i++) {
        const st_tensor *t = &f.t[i];
        *h = hash64_str(*h, t->name);
        *h = hash64(*h, &t->dtype, sizeof t->dtype);
        *h = hash64(*h, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        if (t->nbytes <= SMALL_TENSOR) {
            rc = sample(&f, fd, t->data, t->nbytes, buf, h);
            continue;
        }
        for (int c = 0; c < CHUNKS && !rc; c++) /* offsets 0 .. nbytes - CHUNK, evenly */
            rc = sample(&f, fd, t->data + (t->nbytes - CHUNK) * (size_t)c / (CHUNKS - 1), CHUNK, buf, h);
    }
    if (fd >= 0) close(fd);
    free(buf);
    st_close(&f);
    return rc;
}

int model_digest_file(const char *path, uint64_t h, uint64_t *out) {
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode)) return ms_seterr("not a regular file (%s)", path);
    uint64_t size = (uint64_t)st.st_size;
    h = hash64_str(h, ms_basename(path));
    h = hash64(h, &size, sizeof size);
    int rc = ms_ends_with(path, ".safetensors") && size > DIGEST_FULL_MAX ? hash_sampled(path, &h)
                                                                          : hash_whole(path, &h);
    *out = h;
    return rc;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int model_digest(const char *dir, uint64_t *out) {
    DIR *d = opendir(dir);
    if (!d) return ms_seterr("cannot open folder: %s (%s)", strerror(errno), dir);
    char **names = NULL;
    int n = 0, rc = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && relevant(e->d_name)) {
            names = xrealloc(names, sizeof(char *) * (size_t)(n + 1));
            names[n++] = xstrdup(e->d_name);
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_name);
    uint64_t h = HASH64_INIT;
    for (int i = 0; i < n; i++) {
        char *p = ms_path_join(dir, names[i]);
        if (!rc) rc = model_digest_file(p, h, &h);
        free(p), free(names[i]);
    }
    free(names);
    *out = h;
    return rc;
}
