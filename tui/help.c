/* help.c — the full-screen key help (F1, '?' in a pane, 'keys' / 'help
 * keys') and the key-hint line under the panes, which follows the focus the
 * way htop's function-key bar does: it always says who gets the next key. */
#include "panes.h"
#include "rlcurses.h"

#include <stdio.h>
#include <string.h>

static const char *const HELP[] = {
    "metascope explorer — keys",
    "",
    "Who gets a key",
    "  The prompt has the keyboard until Tab on an empty line (or Shift-Tab) moves",
    "  into the panes. The focused pane's title is highlighted and the line above",
    "  the status line lists the keys it takes; any other key goes back to the",
    "  prompt and is typed there. Esc, q or : return to the prompt.",
    "",
    "Anywhere",
    "  F1             this page (also ? in a pane, 'keys' or 'help keys')",
    "  F2             edit the prompt text live: each key re-runs the model",
    "  Ctrl-C         cancel the running command (gen, a sweep), or drop the line",
    "  Ctrl-L         redraw          Ctrl-D or 'quit'   leave",
    "  mouse          a click on a pane's title or tab focuses that pane, on a row",
    "                 selects the row; the wheel scrolls the list under the pointer",
    "",
    "At the prompt",
    "  Tab            complete a command, unit or path; on an empty line: the panes",
    "  Up/Down        history (readline; your ~/.inputrc is read)",
    "  PgUp/PgDn      scroll the output pane by a screen; scrolled back it stays put",
    "                 as output arrives, its title counting the new rows",
    "  End            (on an empty line) the output pane follows new output again",
    "  while a command runs, PgUp/PgDn/End scroll the output pane and the wheel the",
    "  list under the pointer; other keys and clicks wait until the command ends",
    "  paste          a pasted text is one prompt line, whatever its line breaks",
    "",
    "In a pane",
    "  Tab, Left/Right   next / previous pane     z      zoom the pane and back",
    "  Up/Down, k/j      move                     g/G    first / last row",
    "  PgUp/PgDn         a page                   Home/End  first / last row",
    "  /                 search the rows          n/N    next / previous match",
    "  Enter             select the row's unit everywhere",
    "  Esc, q, :         back to the prompt       ?      this page",
    "",
    "Pane keys",
    "  activations    Enter selects the token's top SAE latent (shown in its row);",
    "                 with an active concept a column named after it shows each",
    "                 token's label (+ fires, . not) and its classifier's score",
    "  SAE latents    s cycles the sort: id, density, max (its column has the arrow)",
    "  top examples   b goes back to the pane you came from; c switches between",
    "                 the unit's examples and the active concept's held-out tokens",
    "                 (score, label, context), where Enter makes the token's",
    "                 context the prompt",
    "  output         Enter on a result row (meta top, cross, acts, latents, top)",
    "                 selects the unit it names; End follows new output again",
    "  probe          Enter the row's best winner; m/s/r/l the meta/sae/resid/mlp",
    "                 family's winner",
    "  frontier       Left/Right or PgUp/PgDn cycle concept x source; Enter or s",
    "                 the SAE-latent source's top examples",
    "",
    "Explorer commands",
    "  select UNIT    (also show UNIT) select a unit everywhere: resid:I, mlp:L:I,",
    "                 meta:B:I, sae:I",
    "  keys           this page",
    "",
    "Concepts (token labels, 'help concept')",
    "  concept NAME UNITS         e.g. concept flower mlp:3:661>2: define, activate",
    "  concept NAME --auto CAT    the units that best separate a corpus category",
    "  concept NAME | off | top   activate one | none | its best held-out tokens",
    "  concept export DIR         classifier weights (safetensors) and labels",
    "  Activating a concept trains its classifier on samples of the corpus (a few",
    "  seconds, on the status line; Ctrl-C cancels).",
    "",
    "Steering alphas are in units of the mean residual norm: 0.25 to 1 steer;",
    "much more turns the text to gibberish.",
    "",
    "Up/Down/PgUp/PgDn/g/G scroll this page; q or Esc closes it.",
};
#define N_HELP ((int)(sizeof HELP / sizeof *HELP))

void draw_help(explorer *X) {
    int h = LINES - 1, w = COLS;
    if (X->help_top > N_HELP - h) X->help_top = N_HELP - h;
    if (X->help_top < 0) X->help_top = 0;
    erase();
    for (int i = 0; i < h && X->help_top + i < N_HELP; i++) {
        const char *s = HELP[X->help_top + i];
        bool head = X->help_top + i == 0 || (s[0] && s[0] != ' ' && i + X->help_top + 1 < N_HELP && !HELP[X->help_top + i - 1][0]);
        ui_put(i, 0, w, s, head ? R_HEADER_FOCUS : R_NORMAL);
    }
    char bar[96];
    int last = X->help_top + h < N_HELP ? X->help_top + h : N_HELP;
    snprintf(bar, sizeof bar, " help %d-%d/%d · Up/Down/PgUp/PgDn scroll · q or Esc closes", X->help_top + 1, last, N_HELP);
    ui_fill(LINES - 1, 0, w, R_STATUS);
    ui_put(LINES - 1, 0, w, bar, R_STATUS);
}

bool help_key(explorer *X, int k) {
    int page = LINES > 4 ? LINES - 3 : 1;
    switch (k) {
    case 'q': case 27: case KEY_F(1): X->help = false; return false;
    case KEY_UP: case 'k': X->help_top--; break;
    case KEY_DOWN: case 'j': case '\r': case '\n': X->help_top++; break;
    case KEY_PPAGE: case 'b': X->help_top -= page; break;
    case KEY_NPAGE: case ' ': X->help_top += page; break;
    case KEY_HOME: case 'g': X->help_top = 0; break;
    case KEY_END: case 'G': X->help_top = N_HELP; break;
    default: break;
    }
    return true;
}

/* ------------------------------------------------------------ hint line */

/* "key label" pairs, the key highlighted, from x while they fit. */
static int hint_pairs(int y, int x, int w, const char *const *kv) {
    for (int i = 0; kv[i] && x < w; i += 2) {
        int need = ui_width(kv[i]) + ui_width(kv[i + 1]) + 2;
        if (x + need > w) break;
        x += ui_put(y, x, w - x, kv[i], R_HEADER);
        x += ui_put(y, x, w - x, " ", R_NORMAL);
        x += ui_put(y, x, w - x, kv[i + 1], R_DIM);
        x += ui_put(y, x, w - x, " ", R_NORMAL);
    }
    return x;
}

static const char *PANE_NAME[N_PANES] = {"acts", "neuron", "steering", "latents", "examples", "probe", "frontier", "output"};

/* The focused list's position, e.g. "12/4096 · sort density ▼". */
static void position(const explorer *X, int p, char *out, size_t cap) {
    int n = p == P_OUTPUT ? X->log_n : pane_rows(X, p), c = X->cursor[p];
    if (p == P_FRONTIER) {
        snprintf(out, cap, "frontier");
        return;
    }
    int o = snprintf(out, cap, "%s %d/%d", PANE_NAME[p], n ? c + 1 : 0, n);
    if (p == P_LATENTS && o > 0 && (size_t)o < cap)
        snprintf(out + o, cap - (size_t)o, " · sort %s %s", X->lat_sort[0] ? X->lat_sort : "id", ui_utf8 ? "▼" : "v");
}

void draw_hints(explorer *X) {
    rect r = X->hints;
    int y = r.y, w = r.w, x = 0;
    ui_fill(y, 0, w, R_NORMAL);
    if (X->searching) {
        char s[128];
        snprintf(s, sizeof s, "search %s: %s", PANE_NAME[X->focus], X->search);
        x = ui_put(y, 0, w, s, R_BUSY);
        static const char *const kv[] = {"Enter", "find", "Esc", "cancel", NULL};
        hint_pairs(y, x + 1, w, kv);
        return;
    }
    if (X->focus < 0) {
        static const char *const kv[] = {"Tab", "panes", "F1", "help", "F2", "live prompt", "PgUp/PgDn", "output",
                                         "^C", "cancel", "^D", "quit", NULL};
        static const char *const kv_back[] = {"End", "follow output", "PgUp/PgDn", "output", "Tab", "panes", "F1", "help",
                                              "^C", "cancel", "^D", "quit", NULL};
        static const char *const kv_text[] = {"Tab", "complete", "Enter", "run", "F1", "help", "^C", "drop line", NULL};
        hint_pairs(y, 0, w, *rlc_text() ? kv_text : X->log_scroll ? kv_back : kv);
        return;
    }
    int p = X->focus;
    char pos[96];
    position(X, p, pos, sizeof pos);
    x = ui_put(y, 0, w, pos, R_HEADER_FOCUS);
    x += ui_put(y, x, w - x, " ", R_NORMAL);
    static const char *const list[] = {"jk", "move", "/", "search", "Enter", "select", "z", "zoom", "?", "help",
                                       "Esc", "prompt", "Tab", "pane", NULL};
    static const char *const lat[] = {"s", "sort", "jk", "move", "/", "search", "Enter", "select", "z", "zoom",
                                      "?", "help", "Esc", "prompt", NULL};
    static const char *const ex[] = {"b", "back", "jk", "move", "/", "search", "c", "concept", "z", "zoom", "?", "help",
                                     "Esc", "prompt", NULL};
    static const char *const ex_c[] = {"Enter", "prompt", "c", "unit", "jk", "move", "/", "search", "z", "zoom", "?",
                                       "help", "Esc", "prompt", NULL};
    static const char *const pr[] = {"Enter", "best", "m/s/r/l", "family", "jk", "move", "/", "search", "z", "zoom",
                                     "Esc", "prompt", NULL};
    static const char *const fr[] = {"←→", "block", "↑↓", "scroll", "s", "source", "z", "zoom", "Esc", "prompt", NULL};
    static const char *const fr_a[] = {"Left/Right", "block", "s", "source", "z", "zoom", "Esc", "prompt", NULL};
    static const char *const out[] = {"jk", "move", "Enter", "select unit", "/", "search", "G", "follow", "z", "zoom",
                                      "Esc", "prompt", NULL};
    const char *const *kv = p == P_LATENTS ? lat : p == P_EXAMPLES ? (X->ex_concept ? ex_c : ex) : p == P_PROBE ? pr
                          : p == P_FRONTIER ? (ui_utf8 ? fr : fr_a) : p == P_OUTPUT ? out : list;
    hint_pairs(y, x, w, kv);
}
