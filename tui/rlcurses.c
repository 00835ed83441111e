/* rlcurses.c — GNU readline in its callback interface, drawn by curses.
 * readline keeps what it is good at (editing, history, completion, the
 * user's ~/.inputrc); curses owns the terminal. So readline gets its keys
 * from a queue the explorer fills from getch(), writes to /dev/null, never
 * prepares the terminal nor catches signals, and its redisplay only marks
 * the screen dirty: the explorer redraws the prompt line with rlc_draw. */
#include "rlcurses.h"
#include "screen.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/history.h>
#include <readline/readline.h>

bool rlc_dirty;
void (*rlc_show_matches)(char **matches, int n);

static unsigned char g_q[64]; /* bytes waiting for readline */
static int g_qh, g_qn;
static char *g_line;
static bool g_have_line, g_eof;
static FILE *g_null;
static char g_prompt[64];

static void q_push(const char *s, size_t n) {
    for (size_t i = 0; i < n && g_qn < (int)sizeof g_q; i++) g_q[(g_qh + g_qn++) % sizeof g_q] = (unsigned char)s[i];
}

/* Escape sequences readline binds by default (emacs and vi keymaps) for the
 * keys curses has already decoded. */
static const char *key_seq(int key) {
    switch (key) {
    case KEY_LEFT: return "\033[D";
    case KEY_RIGHT: return "\033[C";
    case KEY_UP: return "\033[A";
    case KEY_DOWN: return "\033[B";
    case KEY_HOME: return "\033[H";
    case KEY_END: return "\033[F";
    case KEY_DC: return "\033[3~";
    case KEY_IC: return "\033[2~";
    case KEY_BACKSPACE: return "\177";
    case KEY_ENTER: return "\r";
    default: return NULL;
    }
}

static int getc_fn(FILE *f) {
    (void)f;
    while (!g_qn) { /* readline wants more of a sequence: wait for a key */
        int k = getch();
        if (k == ERR) continue;
        if (k < 256) {
            char c = (char)k;
            q_push(&c, 1);
        } else if (key_seq(k)) q_push(key_seq(k), strlen(key_seq(k)));
    }
    int c = g_q[g_qh];
    g_qh = (g_qh + 1) % (int)sizeof g_q, g_qn--;
    return c;
}

static int avail_fn(void) { return g_qn > 0; }
static void redisplay_fn(void) { rlc_dirty = true; }
static void prep_fn(int meta) { (void)meta; }
static void deprep_fn(void) {}

static void on_line(char *line) {
    if (!line) g_eof = true;
    free(g_line);
    g_line = line;
    g_have_line = true;
}

static void matches_fn(char **matches, int n, int max) {
    (void)max;
    if (rlc_show_matches) rlc_show_matches(matches, n);
    rlc_dirty = true;
}

void rlc_init(const char *prompt) {
    g_null = fopen("/dev/null", "w");
    rl_outstream = g_null; /* whatever readline still prints goes nowhere */
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0; /* LINES/COLUMNS in the environment would pin curses' size */
    rl_getc_function = getc_fn;
    rl_input_available_hook = avail_fn;
    rl_redisplay_function = redisplay_fn;
    rl_prep_term_function = prep_fn;
    rl_deprep_term_function = deprep_fn;
    rl_completion_display_matches_hook = matches_fn;
    rlc_set_prompt(prompt);
}

void rlc_set_prompt(const char *prompt) {
    snprintf(g_prompt, sizeof g_prompt, "%s", prompt);
    rl_callback_handler_install(g_prompt, on_line);
    rlc_dirty = true;
}

void rlc_end(void) {
    rl_callback_handler_remove();
    free(g_line);
    g_line = NULL;
    if (g_null) fclose(g_null);
    g_null = NULL;
}

void rlc_feed(int key) {
    if (key < 256) {
        char c = (char)key;
        q_push(&c, 1);
    } else if (key_seq(key)) q_push(key_seq(key), strlen(key_seq(key)));
    while (g_qn && !g_have_line) rl_callback_read_char();
}

char *rlc_take_line(bool *eof) {
    *eof = false;
    if (!g_have_line) return NULL;
    char *l = g_line;
    *eof = g_eof;
    g_line = NULL, g_have_line = false, g_eof = false;
    return l;
}

void rlc_cancel(void) {
    rl_callback_sigcleanup(); /* leaves a search or a pending key sequence */
    g_qn = 0;
    rl_callback_handler_install(g_prompt, on_line);
    rlc_set_text("");
}

void rlc_set_text(const char *text) {
    rl_replace_line(text, 0);
    rl_point = rl_end;
    rlc_dirty = true;
}

const char *rlc_text(void) { return rl_line_buffer ? rl_line_buffer : ""; }

/* Columns of s[0..n). */
static int cols_of(const char *s, size_t n) {
    int c = 0, w;
    for (size_t i = 0; i < n; c += w) i += (size_t)ui_charw(s + i, n - i, &w); /* w is set before it is added */
    return c;
}

/* The prompt readline shows (its own during a search, e.g. reverse-i-search)
 * without the \001..\002 invisible spans a mode string may carry. */
static void visible_prompt(char *out, size_t cap) {
    const char *p = rl_display_prompt ? rl_display_prompt : g_prompt;
    size_t o = 0;
    bool hidden = false;
    for (; *p && o + 1 < cap; p++) {
        if (*p == RL_PROMPT_START_IGNORE) hidden = true;
        else if (*p == RL_PROMPT_END_IGNORE) hidden = false;
        else if (!hidden) out[o++] = *p;
    }
    out[o] = 0;
}

int rlc_draw(int y, int w, int prompt_role, int text_role) {
    static int hscroll; /* first column of the line shown, kept across frames */
    char prompt[128];
    visible_prompt(prompt, sizeof prompt);
    ui_fill(y, 0, w, text_role);
    int pw = ui_put(y, 0, w / 2, prompt, prompt_role), avail = w - pw - 1;
    const char *line = rl_line_buffer ? rl_line_buffer : "";
    int cur = cols_of(line, (size_t)rl_point);
    if (avail < 1) return pw;
    if (cur < hscroll) hscroll = cur > avail / 2 ? cur - avail / 2 : 0;
    if (cur - hscroll >= avail) hscroll = cur - avail / 2;
    size_t i = 0, n = strlen(line);
    int col = 0, cw;
    while (i < n && col < hscroll) { /* skip to the first shown column */
        i += (size_t)ui_charw(line + i, n - i, &cw);
        col += cw;
    }
    ui_putn(y, pw, avail + 1, line + i, n - i, text_role);
    return pw + cur - col;
}
