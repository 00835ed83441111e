/* jsonutil.c — parsing a whole JSON document with json-c, with one-line
 * errors that name the file and the byte. */
#include "jsonutil.h"
#include "util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

json_object *ms_json_parse(const char *buf, size_t len, const char *where) {
    if (!len) {
        ms_seterr("empty file (%s)", where);
        return NULL;
    }
    if (len > INT_MAX) {
        ms_seterr("JSON over 2 GiB (%s)", where);
        return NULL;
    }
    json_tokener *tk = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tk, buf, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tk);
    size_t end = json_tokener_get_parse_end(tk);
    json_tokener_free(tk);
    if (!o || err != json_tokener_success) {
        json_object_put(o);
        if (err == json_tokener_continue || err == json_tokener_success)
            ms_seterr("truncated JSON (%s)", where);
        else
            ms_seterr("bad JSON at byte %zu: %s (%s)", end, json_tokener_error_desc(err), where);
        return NULL;
    }
    while (end < len && strchr(" \t\r\n", buf[end]) && buf[end]) end++;
    if (end < len) {
        json_object_put(o);
        ms_seterr("trailing data after JSON at byte %zu (%s)", end, where);
        return NULL;
    }
    return o;
}

json_object *ms_json_read(const char *path) {
    uint8_t *buf;
    size_t len;
    if (ms_read_file(path, &buf, &len)) return NULL;
    json_object *o = ms_json_parse((const char *)buf, len, path);
    free(buf);
    return o;
}

int ms_json_int(json_object *o, const char *key, long lo, long hi, long *out, const char *where) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v)) return 0;
    if (!json_object_is_type(v, json_type_int)) return ms_seterr("'%s' must be an integer (%s)", key, where);
    long x = (long)json_object_get_int64(v);
    if (x < lo || x > hi) return ms_seterr("'%s' = %ld outside %ld..%ld (%s)", key, x, lo, hi, where);
    *out = x;
    return 0;
}

int ms_json_num(json_object *o, const char *key, double lo, double hi, double *out, const char *where) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v)) return 0;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return ms_seterr("'%s' must be a number (%s)", key, where);
    double x = json_object_get_double(v);
    if (!(x >= lo && x <= hi)) return ms_seterr("'%s' = %g outside %g..%g (%s)", key, x, lo, hi, where);
    *out = x;
    return 0;
}

int ms_json_known_keys(json_object *o, const char *const *known, const char *where) {
    json_object_object_foreach(o, key, val) {
        (void)val;
        const char *const *k = known;
        while (*k && strcmp(*k, key)) k++;
        if (!*k) return ms_seterr("unknown key '%s' (%s)", key, where);
    }
    return 0;
}

int ms_json_write(json_object *o, const char *dir, const char *name) {
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t n = strlen(s);
    char *text = xmalloc(n + 2), *path = ms_path_join(dir, name);
    memcpy(text, s, n);
    text[n++] = '\n';
    int rc = ms_write_file_atomic(path, text, n);
    free(text), free(path);
    json_object_put(o);
    return rc;
}
