/* nospace.c — LD_PRELOAD shim for tests/e2e/diskfull.sh where no tmpfs can
 * be mounted (no user namespaces): write() to a file under
 * $MS_NOSPACE_UNDER fails with ENOSPC, as a full disk's would, once
 * $MS_NOSPACE_BYTES bytes have gone there. Everything else passes through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long used;

ssize_t write(int fd, const void *buf, size_t n) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    const char *under = getenv("MS_NOSPACE_UNDER"), *cap = getenv("MS_NOSPACE_BYTES");
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = under && cap ? readlink(link, path, sizeof path - 1) : -1;
    if (k > 0) {
        path[k] = 0;
        if (!strncmp(path, under, strlen(under))) {
            long long room = atoll(cap) - used;
            if (room <= 0) return errno = ENOSPC, -1;
            if ((long long)n > room) n = (size_t)room; /* a short write, then ENOSPC */
            ssize_t w = real(fd, buf, n);
            if (w > 0) used += w;
            return w;
        }
    }
    return real(fd, buf, n);
}
