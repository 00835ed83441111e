/* statcache.c — small named statistics cached on disk (statcache.h). */
#include "statcache.h"
#include "hash.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAGIC "metascope statcache 1"

const char *statcache_dir(char *buf, size_t n) {
    const char *off = getenv("METASCOPE_CACHE");
    if (off && (!strcmp(off, "off") || !strcmp(off, "0"))) return NULL;
    const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (x && x[0] == '/') snprintf(buf, n, "%s/metascope", x); /* the spec ignores relative paths */
    else if (home && home[0]) snprintf(buf, n, "%s/.cache/metascope", home);
    else return NULL;
    return buf;
}

void statcache_path(const char *dir, const char *key, char *buf, size_t n) {
    snprintf(buf, n, "%s/stat-%016llx.txt", dir, (unsigned long long)hash64_str(HASH64_INIT, key));
}

/* The value of line "name v" in text, or NAN. */
static double find_value(const char *text, const char *name) {
    size_t k = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, name, k) && l[k] == ' ') {
            char *end;
            double v = strtod(l + k + 1, &end);
            return end > l + k + 1 && (*end == '\n' || !*end) ? v : NAN;
        }
    return NAN;
}

int statcache_get(const char *dir, const char *key, const char *const *names, double *vals, int n, char *note,
                  size_t nn) {
    char path[4096];
    statcache_path(dir, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    bool big = !feof(f);
    fclose(f);
    text[len] = 0;
    const char *why = NULL;
    size_t kl = strlen(key);
    const char *k = strchr(text, '\n');
    if (big || strncmp(text, MAGIC "\n", sizeof MAGIC) || !k) why = "not a cache entry";
    else if (strncmp(k + 1, "key ", 4) || strncmp(k + 5, key, kl) || k[5 + kl] != '\n') why = "made for another key";
    for (int i = 0; i < n && !why; i++)
        if (!isfinite(vals[i] = find_value(k + 6 + kl, names[i]))) why = "a value is missing or unreadable";
    if (!why) return 1;
    snprintf(note, nn, "ignoring cache entry %s (%s); recomputing", path, why);
    return -1;
}

/* mkdir -p */
static int make_dirs(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c) continue;
        *s = 0;
        if (mkdir(p, 0755) && errno != EEXIST) return ms_seterr("cannot create the cache folder: %s (%s)", strerror(errno), p);
        if (!c) return ms_is_dir(p) ? 0 : ms_seterr("not a folder (%s)", p);
        *s = c;
    }
}

int statcache_put(const char *dir, const char *key, const char *const *names, const double *vals, int n) {
    if (strchr(key, '\n')) return ms_seterr("cache key has a newline (statcache)");
    if (make_dirs(dir)) return -1;
    size_t cap = strlen(key) + 64 + (size_t)n * 96, len = 0;
    char *text = xmalloc(cap), path[4096];
    len += (size_t)snprintf(text + len, cap - len, MAGIC "\nkey %s\n", key);
    for (int i = 0; i < n; i++) len += (size_t)snprintf(text + len, cap - len, "%.40s %.17g\n", names[i], vals[i]);
    statcache_path(dir, key, path, sizeof path);
    int rc = ms_write_file_atomic(path, text, len);
    free(text);
    return rc;
}
