/* err.c — the thread-local error slot (err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[1024];

int ms_seterr(const char *fmt, ...) {
    /* Formatted aside first: callers wrap the current message, passing
     * ms_geterr() itself as an argument, and vsnprintf must not overlap. */
    char tmp[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(err_buf, tmp, sizeof err_buf);
    /* One line only: a message never spans lines. */
    for (char *c = err_buf; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    return -1;
}

const char *ms_geterr(void) { return err_buf[0] ? err_buf : "unknown error"; }
void ms_clearerr(void) { err_buf[0] = 0; }
