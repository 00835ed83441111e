/* statcache.h — small named statistics cached on disk, one text file per key:
 *
 *   metascope statcache 1
 *   key <the full key, one line>
 *   <name> <value>          (one line per statistic, %.17g: read back exactly)
 *
 * The file name is a hash of the key; the key line is compared in full on
 * read, so a hash collision or a stale file reads as a mismatch. Entries are
 * written atomically (temp file + rename): a reader sees the old entry or the
 * new one, never half of one. */
#ifndef MS_STATCACHE_H
#define MS_STATCACHE_H

#include <stddef.h>

/* The cache folder: $XDG_CACHE_HOME/metascope (when absolute), else
 * $HOME/.cache/metascope; NULL when neither is set or when
 * $METASCOPE_CACHE is "off" or "0". Writes into buf[n]. */
const char *statcache_dir(char *buf, size_t n);

/* The entry's path for key under dir, into buf[n]. */
void statcache_path(const char *dir, const char *key, char *buf, size_t n);

/* Reads names[0..n) of the entry for key into vals. Returns 1 on a hit, 0
 * when there is no entry, -1 when an entry exists but is unusable (corrupt,
 * another key, a missing or non-finite value): note[nn] says why. */
int statcache_get(const char *dir, const char *key, const char *const *names, double *vals, int n, char *note,
                  size_t nn);

/* Writes the entry (creating dir and its parents). Returns 0, or -1 with the
 * error set. */
int statcache_put(const char *dir, const char *key, const char *const *names, const double *vals, int n);

#endif
