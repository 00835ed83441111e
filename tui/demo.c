/* demo.c — teaching demos: scripts in $METASCOPE_ASSETS/demos/NAME.ms, one
 * command per line, "#:" lines are captions (other '#' lines comments). The
 * explorer plays them (explorer.c); this file finds, lists and reads them. */
#include "frontend.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void demos_dir(char *out, size_t cap) { snprintf(out, cap, "%s/demos", ms_assets_dir()); }

int demo_path(const char *name, char *out, size_t cap) {
    char dir[4096];
    demos_dir(dir, sizeof dir);
    if (!*name || strchr(name, '/')) return -1;
    snprintf(out, cap, "%s/%s.ms", dir, name);
    FILE *f = fopen(out, "r");
    if (!f) return -1;
    fclose(f);
    return 0;
}

/* The demo's first caption, as its one-line description. */
static void first_caption(const char *path, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    char line[512];
    out[0] = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "#:", 2)) {
            line[strcspn(line, "\r\n")] = 0;
            snprintf(out, cap, "%s", line + 2 + (line[2] == ' '));
            break;
        }
    if (f) fclose(f);
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

void demo_list(FILE *f) {
    char dir[4096], path[8192], what[256];
    demos_dir(dir, sizeof dir);
    struct dirent **e;
    int n = scandir(dir, &e, NULL, by_name), shown = 0;
    fprintf(f, "available demos (metascope --demo NAME):\n");
    for (int i = 0; i < n; i++) {
        size_t len = strlen(e[i]->d_name);
        if (len > 3 && !strcmp(e[i]->d_name + len - 3, ".ms")) {
            snprintf(path, sizeof path, "%s/%s", dir, e[i]->d_name);
            first_caption(path, what, sizeof what);
            fprintf(f, "  %-12.*s %s\n", (int)len - 3, e[i]->d_name, what);
            shown++;
        }
        free(e[i]);
    }
    if (n > 0) free(e);
    if (!shown) fprintf(f, "  (none in %s)\n", dir);
}

int demo_read(const char *path, char ***lines, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) return ms_seterr("cannot open demo (%s)", path);
    char *line = NULL;
    size_t cap = 0;
    int m = 0, mcap = 0;
    char **l = NULL;
    while (getline(&line, &cap, f) >= 0) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line || (line[0] == '#' && line[1] != ':')) continue; /* blank lines and comments */
        if (m == mcap) mcap = mcap ? 2 * mcap : 32, l = xrealloc(l, sizeof(char *) * (size_t)mcap);
        l[m++] = xstrdup(line);
    }
    free(line);
    fclose(f);
    *lines = l, *n = m;
    return 0;
}
