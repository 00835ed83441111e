/* err.c — the thread-local error slot (err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char err_buf[1024];

/* Length of a well-formed UTF-8 sequence at s (util.c has the full check;
 * err is below util, so a compact copy of the rule lives here). */
static size_t utf8_ok(const unsigned char *s) {
    unsigned char c = s[0];
    size_t k = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && k && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return k;
}

/* Messages quote names and values read from files; raw bytes from a hostile
 * file must not reach the terminal (escape sequences) nor split the line.
 * Line breaks become spaces, other control bytes and malformed UTF-8 \xHH. */
static void escape_into(char *dst, size_t cap, const char *src) {
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)src;
    while (*s && o + 5 < cap) {
        size_t k = *s >= 0x80 ? utf8_ok(s) : 1;
        if (*s == '\n' || *s == '\r') {
            dst[o++] = ' ';
        } else if (k == 0 || *s < 0x20 || *s == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", *s);
            k = 1;
        } else {
            if (o + k + 1 > cap) break;
            memcpy(dst + o, s, k);
            o += k;
        }
        s += k ? k : 1;
    }
    dst[o] = 0;
}

/* A message too long for the slot keeps its head and its tail: the tail is
 * "(where)", which must survive a long quoted value (a fuzzer found a 600-byte
 * model_type pushing the file name out). */
static void shorten_into(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src), tail = cap / 4;
    if (n < cap) {
        memcpy(dst, src, n + 1);
        return;
    }
    size_t head = cap - tail - 6, t = n - tail;
    while (t < n && (src[t] & 0xC0) == 0x80) t++; /* not inside a UTF-8 sequence */
    while (head > 0 && (src[head] & 0xC0) == 0x80) head--;
    memcpy(dst, src, head);
    memcpy(dst + head, " ... ", 5);
    memcpy(dst + head + 5, src + t, n - t + 1);
}

int ms_seterr(const char *fmt, ...) {
    /* Formatted aside first: callers wrap the current message, passing
     * ms_geterr() itself as an argument, and vsnprintf must not overlap. */
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t n = need > 0 ? (size_t)need : 0;
    char *tmp = malloc(n + 1), *esc = malloc(4 * n + 8);
    if (!tmp || !esc) { /* no memory: a bounded message rather than none */
        free(tmp), free(esc);
        vsnprintf(err_buf, sizeof err_buf, fmt, ap2);
        va_end(ap2);
        return -1;
    }
    vsnprintf(tmp, n + 1, fmt, ap2);
    va_end(ap2);
    escape_into(esc, 4 * n + 8, tmp);
    shorten_into(err_buf, sizeof err_buf, esc);
    free(tmp), free(esc);
    return -1;
}

const char *ms_geterr(void) { return err_buf[0] ? err_buf : "unknown error"; }
void ms_clearerr(void) { err_buf[0] = 0; }
