/* screen.h — the explorer's drawing primitives (screen.c): semantic color
 * roles, clipped UTF-8 text, bars and word-wrapped text. */
#ifndef MS_SCREEN_H
#define MS_SCREEN_H

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>

/* ------------------------------------------------------------ colors */

/* Semantic roles: panes ask for "a negative bar", never for "red". */
enum {
    R_NORMAL, R_HEADER, R_HEADER_FOCUS, R_SEP, R_DIM, R_BAR_POS, R_BAR_NEG, R_STATUS, R_ERROR, R_BUSY,
    R_PROMPT, R_CURSOR, R_PLAIN, R_GLP, R_HOT1, R_HOT2, R_HOT3, R_TOKEN, R_METH1, R_METH2, N_ROLES
};
void ui_colors_init(bool mono);
attr_t ui_attr(int role);
extern bool ui_utf8; /* the locale speaks UTF-8: block bars and line glyphs */

/* Bytes and display columns of the character at s (n bytes left): control
 * and undecodable bytes count as one column (drawn as '?'), and so does any
 * character outside a UTF-8 locale. */
int ui_charw(const char *s, size_t n, int *cols);
/* Draws s clipped to w columns at (y, x) in a role; returns columns used. */
int ui_put(int y, int x, int w, const char *s, int role);
int ui_putn(int y, int x, int w, const char *s, size_t n, int role);
/* A horizontal bar of frac (0..1) of w columns: eighth blocks in UTF-8, else
 * '#' ('-' when negative). */
void ui_bar(int y, int x, int w, double frac, bool neg);
void ui_fill(int y, int x, int w, int role);
int ui_putf(int y, int x, int w, int role, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* s wrapped (at characters) into at most h rows of w columns from row y;
 * returns rows drawn. ui_wrapped_rows: the rows it takes. */
int ui_wrapped(int y, int x, int w, int h, const char *s, int role);
int ui_wrapped_rows(const char *s, int w);
/* Display columns of s. */
int ui_width(const char *s);
/* ui_wrapped from its skip-th wrapped row on (the output pane's scrolling). */
int ui_wrapped_skip(int y, int x, int w, int h, const char *s, int role, int skip);

#endif
