/* screen.c — what every part of the explorer draws with: semantic colors,
 * clipped UTF-8 text, bars and word-wrapped text (screen.h). Everything draws
 * into stdscr; nothing here refreshes the terminal. */
#include "screen.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

bool ui_utf8;

/* ------------------------------------------------------------ colors */

typedef struct {
    short fg, bg;
    attr_t color_attr, mono_attr;
} role_def;

static const role_def ROLES[N_ROLES] = {
    [R_NORMAL] = {-1, -1, A_NORMAL, A_NORMAL},
    [R_HEADER] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_UNDERLINE},
    [R_HEADER_FOCUS] = {COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_REVERSE | A_BOLD},
    [R_SEP] = {COLOR_BLUE, -1, A_NORMAL, A_NORMAL},
    [R_DIM] = {COLOR_CYAN, -1, A_NORMAL, A_DIM},
    [R_BAR_POS] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [R_BAR_NEG] = {COLOR_RED, -1, A_NORMAL, A_DIM},
    [R_STATUS] = {COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_REVERSE},
    [R_ERROR] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD},
    [R_BUSY] = {COLOR_BLACK, COLOR_YELLOW, A_NORMAL, A_REVERSE},
    [R_PROMPT] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
    [R_CURSOR] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
    [R_PLAIN] = {COLOR_CYAN, -1, A_NORMAL, A_NORMAL},
    [R_GLP] = {COLOR_MAGENTA, -1, A_BOLD, A_BOLD},
    [R_HOT1] = {COLOR_YELLOW, -1, A_NORMAL, A_UNDERLINE},
    [R_HOT2] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [R_HOT3] = {COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_REVERSE},
    [R_TOKEN] = {-1, -1, A_NORMAL, A_NORMAL},
    [R_METH1] = {COLOR_GREEN, -1, A_BOLD, A_UNDERLINE},
    [R_METH2] = {COLOR_YELLOW, -1, A_BOLD, A_DIM},
};
static attr_t g_attr[N_ROLES];

void ui_colors_init(bool mono) {
    if (!mono && has_colors()) {
        start_color();
        bool dflt = use_default_colors() == OK; /* -1: the terminal's own colors */
        for (int r = 0; r < N_ROLES; r++) {
            short fg = ROLES[r].fg, bg = ROLES[r].bg;
            if (!dflt) fg = fg < 0 ? COLOR_WHITE : fg, bg = bg < 0 ? COLOR_BLACK : bg;
            init_pair((short)(r + 1), fg, bg);
            g_attr[r] = COLOR_PAIR(r + 1) | ROLES[r].color_attr;
        }
    } else
        for (int r = 0; r < N_ROLES; r++) g_attr[r] = ROLES[r].mono_attr;
}

attr_t ui_attr(int role) { return g_attr[role]; }

/* ------------------------------------------------------------ text */

int ui_charw(const char *s, size_t n, int *cols) {
    unsigned char c = (unsigned char)s[0];
    *cols = 1;
    if (c < 0x80) return 1;
    int len = (int)ms_utf8_len((const uint8_t *)s, n);
    if (!len || !ui_utf8) return len ? len : 1; /* outside UTF-8 drawn as one '?' (or its ASCII stand-in) */
    wchar_t wc;
    mbstate_t st = {0};
    if (mbrtowc(&wc, s, (size_t)len, &st) != (size_t)len) return len;
    int w = wcwidth(wc);
    *cols = w < 0 ? 1 : w;
    return len;
}

static bool printable_at(const char *s, size_t n) {
    unsigned char c = (unsigned char)s[0];
    if (c < 0x20 || c == 0x7f) return false;
    if (c < 0x80) return true;
    if (!ui_utf8 || !ms_utf8_len((const uint8_t *)s, n)) return false;
    wchar_t wc;
    mbstate_t st = {0};
    return mbrtowc(&wc, s, n, &st) < (size_t)-2 && wcwidth(wc) >= 0;
}

/* Outside UTF-8 the screen's own punctuation falls back to ASCII; other
 * characters show as one '?'. */
static char ascii_of(const char *s, int len) {
    static const struct { const char *u; char a; } T[] = {
        {"·", '|'}, {"—", '-'}, {"…", '~'}, {"●", 'o'}, {"◆", '*'}, {"│", '|'}, {"─", '-'}, {"└", '+'}};
    for (size_t i = 0; i < sizeof T / sizeof *T; i++)
        if ((int)strlen(T[i].u) == len && !memcmp(T[i].u, s, (size_t)len)) return T[i].a;
    return '?';
}

int ui_putn(int y, int x, int w, const char *s, size_t n, int role) {
    int col = 0, cw;
    attrset(g_attr[role]);
    move(y, x);
    for (size_t i = 0; i < n && s[i];) {
        int len = ui_charw(s + i, n - i, &cw); /* outside UTF-8: one '?' per character, not per byte */
        if (col + cw > w) break;
        if (printable_at(s + i, n - i)) addnstr(s + i, len);
        else addch(ui_utf8 ? '?' : (chtype)ascii_of(s + i, len));
        col += cw, i += (size_t)len;
    }
    attrset(A_NORMAL);
    return col;
}

int ui_put(int y, int x, int w, const char *s, int role) { return ui_putn(y, x, w, s, strlen(s), role); }

void ui_fill(int y, int x, int w, int role) {
    attrset(g_attr[role]);
    mvhline(y, x, ' ', w);
    attrset(A_NORMAL);
}

void ui_bar(int y, int x, int w, double frac, bool neg) {
    static const char *EIGHTHS[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    if (!(frac > 0)) return;
    if (frac > 1) frac = 1;
    attrset(g_attr[neg ? R_BAR_NEG : R_BAR_POS]);
    move(y, x);
    if (ui_utf8) {
        int e = (int)lround(frac * w * 8);
        for (int i = 0; i < e / 8; i++) addstr("█");
        if (e % 8) addstr(EIGHTHS[e % 8]);
    } else
        for (int i = 0, n = (int)lround(frac * w); i < n; i++) addch(neg ? '-' : '#');
    attrset(A_NORMAL);
}

int ui_putf(int y, int x, int w, int role, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ui_put(y, x, w, buf, role);
}

int ui_width(const char *s) {
    int col = 0, cw;
    for (size_t i = 0, n = strlen(s); i < n; col += cw) i += (size_t)ui_charw(s + i, n - i, &cw);
    return col;
}

/* The end of the screen row of w columns that starts at s[i]: after the last
 * blank that fits when the text goes on (words stay whole), else where the
 * columns run out (a word longer than the row). */
static size_t wrap_end(const char *s, size_t i, size_t n, int w) {
    size_t j = i, blank = 0;
    int col = 0, cw;
    while (j < n) {
        int len = ui_charw(s + j, n - j, &cw);
        if (col + cw > w) break;
        if (s[j] == ' ') blank = j + 1;
        col += cw, j += (size_t)len;
    }
    if (j < n && s[j] != ' ' && blank > i) j = blank;
    while (j < n && j > i && s[j] == ' ' && j - i < (size_t)w * 4) j++; /* the blank at the break is not shown */
    return j > i ? j : n;
}

/* Wraps s into rows of w columns, skips the first `skip` of them and draws
 * the next (at most h) from row y; returns rows drawn. */
int ui_wrapped_skip(int y, int x, int w, int h, const char *s, int role, int skip) {
    size_t n = strlen(s), i = 0;
    int row = -skip;
    while (i < n && row < h) {
        size_t j = wrap_end(s, i, n, w);
        if (row >= 0) ui_putn(y + row, x, w, s + i, j - i, role);
        row++;
        i = j;
    }
    return row > 0 ? row : 0;
}

int ui_wrapped(int y, int x, int w, int h, const char *s, int role) {
    return ui_wrapped_skip(y, x, w, h, s, role, 0);
}

/* Rows line s takes when wrapped to w columns. */
int ui_wrapped_rows(const char *s, int w) {
    int rows = 0;
    for (size_t i = 0, n = strlen(s); i < n; rows++) i = wrap_end(s, i, n, w);
    return rows ? rows : 1;
}
