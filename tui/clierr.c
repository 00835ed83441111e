/* clierr.c — see clierr.h. */
#include "clierr.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool cli_json;

void cli_json_args(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json")) cli_json = true;
}

static void emit(json_object *o) {
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    fflush(stdout);
}

int cli_error_at(const char *what, const char *file, int line) {
    fflush(stdout); /* results so far come first */
    if (!cli_json) {
        if (file) fprintf(stderr, "error: %s [%s:%d]\n", what, file, line);
        else fprintf(stderr, "error: %s\n", what);
        return 2;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(what));
    if (file) json_object_object_add(o, "file", json_object_new_string(file));
    if (file) json_object_object_add(o, "line", json_object_new_int(line));
    emit(o);
    return 2;
}

int cli_errorf(const char *fmt, ...) {
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return cli_error_at(what, NULL, 0);
}

void cli_cancelled(const char *msg, bool json, FILE *f) {
    char cmd[64];
    const char *p = strchr(msg, '(');
    if (!strncmp(msg, "cancelled", 9) && p) snprintf(cmd, sizeof cmd, "%.*s", (int)strcspn(p + 1, ")"), p + 1);
    else snprintf(cmd, sizeof cmd, "%.*s", (int)strcspn(msg + strspn(msg, " "), " ;"), msg + strspn(msg, " "));
    if (!json) {
        fprintf(f, "cancelled (%s)\n", cmd);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "cmd", json_object_new_string(cmd));
    json_object_object_add(o, "cancelled", json_object_new_boolean(1));
    emit(o);
}
