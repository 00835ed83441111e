/* rlcurses.h — GNU readline's callback interface drawn into one curses line.
 * Keys come from the explorer's getch loop; readline never touches the
 * terminal (no prep/deprep, no signal handlers, output to /dev/null). */
#ifndef MS_RLCURSES_H
#define MS_RLCURSES_H

#include <stdbool.h>

void rlc_init(const char *prompt);
void rlc_end(void);
/* Feeds one getch() key (a byte or a KEY_* code) to readline. */
void rlc_feed(int key);
/* A finished line (malloc'd; the caller frees it), or NULL. *eof is set when
 * the user asked to leave with Ctrl-D on an empty line. */
char *rlc_take_line(bool *eof);
void rlc_set_prompt(const char *prompt);
/* Ctrl-C at the prompt: drop the line and any half-typed key sequence. */
void rlc_cancel(void);
/* Replaces the text being edited (cursor at its end). */
void rlc_set_text(const char *text);
const char *rlc_text(void);
/* Draws prompt and line at row y in w columns; returns the cursor column. */
int rlc_draw(int y, int w, int prompt_role, int text_role);
/* Readline wants the screen redrawn (set by its redisplay function). */
extern bool rlc_dirty;
/* Completion lists go to the explorer's output pane through this. */
extern void (*rlc_show_matches)(char **matches, int n);

#endif
