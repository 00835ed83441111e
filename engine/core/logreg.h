/* logreg.h — binary logistic regression, the distilled token classifier.
 *
 * Features are standardized with the training rows' mean and standard
 * deviation (a column with sd < 1e-6 is only centred), then
 *   p = sigmoid(w . z + b)
 *   loss = sum_i c_i * BCE(p_i, y_i) / sum_i c_i + l2/2 * |w|^2
 * with class weights c_i = pos_weight for y = 1 and 1 for y = 0, so a rare
 * class is not ignored. Fitting is full-batch gradient descent from zero with
 * a fixed step: deterministic, and simple to reproduce in numpy
 * (tools/gen_label_fixture.py). */
#ifndef MS_LOGREG_H
#define MS_LOGREG_H

#include <stdint.h>

typedef struct {
    int d;
    float *w, *mu, *sd; /* [d] each */
    float b;
} logreg;

typedef struct {
    int iters;        /* gradient steps (200) */
    float lr;         /* step size (0.5) */
    float l2;         /* weight decay on w (1e-3) */
    float pos_weight; /* weight of positives; <= 0: n_neg / n_pos (balanced) */
} logreg_opts;

logreg_opts logreg_defaults(void);

/* The loss above on already standardized rows Z[n, d]; the gradient into
 * gw[d] and *gb when they are not NULL. */
double logreg_loss_grad(const float *Z, int n, int d, const uint8_t *y, const float *w, float b, float l2,
                        float pos_weight, float *gw, float *gb);

/* Fits m (allocated here) on X[n, d] and y[n]; *final_loss when not NULL. */
int logreg_fit(logreg *m, const float *X, int n, int d, const uint8_t *y, const logreg_opts *o, double *final_loss);
/* p[n] = sigmoid(w . standardize(x) + b) for rows X[n, m->d]. */
void logreg_score(const logreg *m, const float *X, int n, float *p);
void logreg_free(logreg *m);

#endif
