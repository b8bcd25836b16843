/* problem.h - the reference problem of one grid row: ground truth, the blur
 * kernels, and the measurements y_i = clamp(A_i x + noise_level n_i, 0, 1).
 * Everything here is a pure function of the row, so every rank can build the
 * part it owns without talking to the others. */
#ifndef PNP_PROBLEM_H
#define PNP_PROBLEM_H

#include <stddef.h>

#include "pnp/backend.h"
#include "pnp/config.h"
#include "pnp/image.h"

typedef struct {
    pnp_image truth;       /* [3, H, W] in [0, 1] */
    char source[1100];     /* "synthetic" or the PNG path and its original size */
    int n_ops, ksize;
    double sigma_row, sigma_col;
    double *angles;        /* [n_ops] degrees */
    float *kernels;        /* [n_ops, k, k] */
} pnp_problem;

/* Load (or synthesise) the ground truth, resize it, build the kernels.
 * Returns 0, or -1 with a message in err (e.g. unreadable image). */
int pnp_problem_build(const pnp_row *row, pnp_problem *p, char *err, size_t errlen);
void pnp_problem_free(pnp_problem *p);

/* Measurement of operator i on the backend: y_dev [3,H,W] = clamp(A_i x + s n_i, 0, 1),
 * noise keyed by (row seed, i, element index). `ops` holds this rank's operators;
 * operator i is its entry `local`. x_dev: the truth on the device. */
void pnp_problem_measure(pnp_backend *be, pnp_blur *ops, int local, int i, const pnp_row *row,
                         const pnp_problem *p, const float *x_dev, float *y_dev);

#endif
