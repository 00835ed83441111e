/* probe_out.c — the probing table as aligned text and as CSV, and writing
 * both into a folder. */
#include "probe.h"
#include "sbuf.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool on(const probe_result *r, int f) { return (r->families >> f) & 1u; }

static void header(const probe_result *r, sbuf *b) {
    sb_printf(b, "1-D probing, per family the test AUC and the winning unit (the best %d-fold CV AUC on train among "
                 "the %d of largest |mean difference|): layer %d",
              PROBE_FOLDS, PROBE_KEEP, r->layer);
    if (on(r, PF_META)) sb_printf(b, "; meta: GLP of layer %d at sigma 0.1/0.3/0.5", r->glp_layer);
    if (on(r, PF_SAE)) sb_printf(b, "; SAE of layer %d", r->sae_layer);
    sb_printf(b, "\n%-24s %-5s %9s %9s", "task", "kind", "train", "test");
    for (int f = 0; f < PF_N; f++)
        if (on(r, f)) sb_printf(b, "  %-5s %-17s", PROBE_FAMILY[f], "unit");
    sb_printf(b, "\n");
}

char *probe_table_text(const probe_result *r) {
    sbuf b = {0};
    header(r, &b);
    for (int i = 0; i < r->n; i++) {
        const probe_row *w = &r->rows[i];
        char tr[16], te[16];
        snprintf(tr, sizeof tr, "%d+%d", w->n[1], w->n[0]);
        snprintf(te, sizeof te, "%d+%d", w->n[3], w->n[2]);
        sb_printf(&b, "%-24s %-5s %9s %9s", w->name, w->kind, tr, te);
        for (int f = 0; f < PF_N; f++)
            if (on(r, f)) sb_printf(&b, "  %5.3f %-17s", w->win[f].test_auc, w->win[f].name);
        sb_printf(&b, "\n");
    }
    sb_printf(&b, "%-24s %-5s %9s %9s", "mean test AUC [95% CI]", "", "", "");
    for (int f = 0; f < PF_N; f++)
        if (on(r, f)) {
            char ci[32];
            snprintf(ci, sizeof ci, "[%.3f,%.3f]", r->lo[f], r->hi[f]);
            sb_printf(&b, "  %5.3f %-17s", r->mean[f], ci);
        }
    sb_printf(&b, "\n(%d tasks; CI: %d bootstrap resamples of the tasks; `top UNIT` opens a winner, meta-neurons "
                  "there at sigma 0.1; %.1f s)\n", r->n, PROBE_BOOT, r->seconds);
    return b.s;
}

static void csv_num(sbuf *b, double x) {
    if (isfinite(x)) sb_printf(b, ",%.6f", x);
    else sb_printf(b, ",");
}

char *probe_table_csv(const probe_result *r) {
    sbuf b = {0};
    sb_printf(&b, "task,kind,n_train_pos,n_train_neg,n_test_pos,n_test_neg,family,unit,block,sigma,cv_auc,test_auc,"
                  "ci_lo,ci_hi\n");
    for (int i = 0; i < r->n; i++) {
        const probe_row *w = &r->rows[i];
        for (int f = 0; f < PF_N; f++) {
            if (!on(r, f)) continue;
            const probe_win *u = &w->win[f];
            sb_printf(&b, "%s,%s,%d,%d,%d,%d,%s,%s,", w->name, w->kind, w->n[1], w->n[0], w->n[3], w->n[2],
                      PROBE_FAMILY[f], u->jump);
            if (u->block >= 0) sb_printf(&b, "%d,%.1f", u->block, glp_grid(PROBE_SIGMA_INDEX[u->sigma_i], 1000));
            else sb_printf(&b, ",");
            csv_num(&b, u->cv_auc), csv_num(&b, u->test_auc);
            sb_printf(&b, ",,\n");
        }
    }
    for (int f = 0; f < PF_N; f++) {
        if (!on(r, f)) continue;
        sb_printf(&b, "mean,,,,,,%s,,,,", PROBE_FAMILY[f]);
        csv_num(&b, r->mean[f]), csv_num(&b, r->lo[f]), csv_num(&b, r->hi[f]);
        sb_printf(&b, "\n");
    }
    return b.s;
}

int probe_write(const probe_result *r, const char *dir) {
    if (mkdir(dir, 0755) && errno != EEXIST) return ms_seterr("cannot create folder: %s (%s)", strerror(errno), dir);
    char *txt = probe_table_text(r), *csv = probe_table_csv(r);
    char *pt = ms_path_join(dir, "probe.txt"), *pc = ms_path_join(dir, "probe.csv");
    int rc = ms_write_file_atomic(pt, txt, strlen(txt)) || ms_write_file_atomic(pc, csv, strlen(csv)) ? -1 : 0;
    free(txt), free(csv), free(pt), free(pc);
    return rc;
}
