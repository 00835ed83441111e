/* jsonutil.h — whole-document JSON parsing (json-c) for the engine's
 * readers: config.json, tokenizer.json, shard indexes, training configs. */
#ifndef MS_JSONUTIL_H
#define MS_JSONUTIL_H

#include <json-c/json.h>
#include <stddef.h>

/* Parses buf as one JSON value followed only by blanks; NULL with a message
 * naming `where` (empty, truncated, bad at byte N, trailing data). */
json_object *ms_json_parse(const char *buf, size_t len, const char *where);
/* Reads path (.lz4 decompressed) and parses it. */
json_object *ms_json_read(const char *path);

/* Optional typed fields of an object: a missing key leaves *out untouched
 * and succeeds; a wrong type or a value outside [lo, hi] fails with a
 * message naming the key and `where`. */
int ms_json_int(json_object *o, const char *key, long lo, long hi, long *out, const char *where);
int ms_json_num(json_object *o, const char *key, double lo, double hi, double *out, const char *where);
/* Fails on a key of o not in the NULL-terminated list `known`: a misspelt
 * key in a config would otherwise silently leave the default in place. */
/* Writes o as pretty JSON (with a final newline) to dir/name atomically and
 * releases o. */
int ms_json_write(json_object *o, const char *dir, const char *name);
int ms_json_known_keys(json_object *o, const char *const *known, const char *where);

#endif
