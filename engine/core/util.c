/* util.c — whole-file and atomic I/O, paths and small helpers. */
#include "util.h"
#include "lz4file.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ms_open_regular(const char *path, size_t *size) {
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer for ever, before fstat could tell what it is. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ms_seterr("cannot open: %s (%s)", strerror(errno), path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ms_seterr("not a regular file (%s)", path);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (size) *size = (size_t)st.st_size;
    return fd;
}

FILE *ms_fopen_regular(const char *path) {
    int fd = ms_open_regular(path, NULL);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        ms_seterr("cannot open: %s (%s)", strerror(errno), path);
        close(fd);
    }
    return f;
}

static int read_plain(const char *path, uint8_t **data, size_t *len) {
    size_t n = 0, got = 0;
    int fd = ms_open_regular(path, &n);
    if (fd < 0) return -1;
    uint8_t *buf = ms_try_alloc(n + 1, path);
    if (!buf) {
        close(fd);
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            close(fd);
            return ms_seterr("read failed: %s (%s)", r ? strerror(errno) : "short read", path);
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

int ms_read_file(const char *path, uint8_t **data, size_t *len) {
    uint8_t *raw = NULL;
    size_t n = 0;
    if (read_plain(path, &raw, &n)) return -1;
    if (!ms_ends_with(path, ".lz4")) {
        *data = raw;
        *len = n;
        return 0;
    }
    int rc = lz4_decompress_buf(raw, n, data, len, path);
    free(raw);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w == 0) errno = ENOSPC;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Removes path.tmp.PID files left by writers that died (kill -9, power
 * loss): PID no longer runs. Our own and live writers' files stay. */
static void sweep_temporaries(const char *path) {
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *base = ms_basename(path);
    if (slash) slash[slash == dir ? 1 : 0] = 0;
    DIR *d = opendir(slash ? dir : ".");
    size_t bl = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *s = e->d_name;
        if (strncmp(s, base, bl) || strncmp(s + bl, ".tmp.", 5)) continue;
        char *end;
        long pid = strtol(s + bl + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char *p = slash ? ms_path_join(dir, s) : xstrdup(s);
        unlink(p);
        free(p);
    }
    if (d) closedir(d);
    free(dir);
}

int ms_write_file_atomic(const char *path, const void *data, size_t len) {
    /* Past `ulimit -f` the default SIGXFSZ kills the process without a word
     * and leaves the temporary behind; ignored, write() fails with EFBIG and
     * the caller gets a one-line error. */
    signal(SIGXFSZ, SIG_IGN);
    sweep_temporaries(path);
    uint8_t *packed = NULL;
    if (ms_ends_with(path, ".lz4")) {
        if (lz4_compress_buf(data, len, &packed, &len, 9)) return -1;
        data = packed;
    }
    size_t tl = strlen(path) + 32;
    char *tmp = xmalloc(tl);
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = -1;
    if (fd < 0) {
        ms_seterr("cannot create: %s (%s)", strerror(errno), tmp);
        goto done;
    }
    if (write_all(fd, data, len) || fsync(fd)) {
        ms_seterr("cannot write: %s (%s)", strerror(errno), path);
        close(fd);
        unlink(tmp);
        goto done;
    }
    if (close(fd)) { /* some file systems report a full disk only here */
        ms_seterr("cannot write: %s (%s)", strerror(errno), path);
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path)) {
        ms_seterr("cannot rename to %s: %s (%s)", path, strerror(errno), tmp);
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(tmp);
    free(packed);
    return rc;
}

int ms_prepare_out_dir(const char *dir) {
    if (mkdir(dir, 0755) && errno != EEXIST) return ms_seterr("cannot create the folder: %s (%s)", strerror(errno), dir);
    if (!ms_is_dir(dir)) return ms_seterr("exists and is not a folder (%s)", dir);
    /* access() misses some cases (read-only bind mounts, quotas at create):
     * create and remove a probe file instead. */
    char name[64];
    snprintf(name, sizeof name, ".metascope-probe.%ld", (long)getpid());
    char *p = ms_path_join(dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = fd < 0 ? ms_seterr("cannot write into the folder: %s (%s)", strerror(errno), dir) : 0;
    if (fd >= 0) close(fd), unlink(p);
    free(p);
    return rc;
}

bool ms_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

bool ms_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool ms_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *ms_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = xmalloc(a + b + 2);
    memcpy(p, dir, a);
    size_t o = a;
    if (a && dir[a - 1] != '/') p[o++] = '/';
    memcpy(p + o, name, b + 1);
    return p;
}

const char *ms_basename(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

char *ms_find_file(const char *dir, const char *name) {
    char *p = ms_path_join(dir, name);
    if (ms_file_exists(p)) return p;
    size_t n = strlen(p);
    p = xrealloc(p, n + 5);
    memcpy(p + n, ".lz4", 5);
    if (ms_file_exists(p)) return p;
    free(p);
    return NULL;
}

bool ms_parse_unit_name(const char *text, const char *kind, int nfields, int *v) {
    size_t k = strlen(kind);
    if (strncmp(text, kind, k) || text[k] != ':') return false;
    const char *s = text + k + 1;
    for (int i = 0; i < nfields; i++) {
        if (i && *s++ != ':') return false;
        if (!(*s == '-' || (*s >= '0' && *s <= '9'))) return false; /* no blanks or '+' */
        char *end;
        errno = 0;
        long x = strtol(s, &end, 10); /* saturates on overflow, unlike sscanf's %d */
        if (end == s) return false;
        v[i] = x > INT_MAX ? INT_MAX : x < INT_MIN ? INT_MIN : (int)x;
        s = end;
    }
    return *s == 0;
}

#ifndef MS_ASSETS_DIR
#define MS_ASSETS_DIR "assets"
#endif

const char *ms_assets_dir(void) {
    const char *a = getenv("METASCOPE_ASSETS");
    return a && *a ? a : MS_ASSETS_DIR;
}

double ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Well-formed sequences per the Unicode standard (no overlongs, surrogates or
 * code points past U+10FFFF). */
size_t ms_utf8_len(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F)) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F)) return 0;
        return 4;
    }
    return 0;
}

void ms_fmt_minutes(char *buf, size_t n, double seconds) {
    int m = (int)(seconds / 60);
    snprintf(buf, n, "%d:%02d", m, (int)(seconds - 60 * m));
}

void ms_drop_pages(const void *p, size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) / page * page, e = ((uintptr_t)p + n) / page * page;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}
