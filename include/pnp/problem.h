/* problem.h - the problem of one grid row: the measurements, the PSFs, the
 * boundary model, and the ground truth when there is one.
 *
 * Two datasets:
 *   highres_color_image  the benchmark's synthetic problem: a ground truth (a PNG
 *                        resized, or a generated scene), rotated Gaussian blurs,
 *                        y_i = clamp(A_i x + noise_level n_i, 0, 1) generated on the
 *                        backend with counter-based noise; circular boundary. A
 *                        pure function of the row, so every rank builds the part
 *                        it owns without talking to the others.
 *   observed             measurements and PSFs read from files (recon/observed.c),
 *                        an optional reference, boundary pad or circular.
 * Either way a rank holds the measurements of its own operators only
 * (pnp_data_term_owned, with the row's distribute_physics). */
#ifndef PNP_PROBLEM_H
#define PNP_PROBLEM_H

#include <stdbool.h>
#include <stddef.h>

#include "pnp/backend.h"
#include "pnp/config.h"
#include "pnp/data_term.h"
#include "pnp/image.h"

typedef struct {
    bool observed;           /* dataset "observed" (else the synthetic benchmark) */
    int c, h, w;             /* the measurements [c, h, w] */
    pnp_image truth;         /* [c, h, w] in [0, 1]: the ground truth or the reference; data NULL when none */
    char source[1100];       /* "synthetic", the PNG path and its size, or the measurement files */
    pnp_boundary boundary;
    int n_ops, kc, kh, kw;
    float *kernels;          /* [n_ops, kc, kh, kw], each summing to 1 */
    /* synthetic only */
    double sigma_row, sigma_col;
    double *angles;          /* [n_ops] degrees (NULL for observed) */
    /* observed only: this rank's measurements, read at build (host) */
    int n_own;
    float *measured;         /* [n_own, c, h, w], in the order of pnp_data_term_owned */
    char *notes;             /* lines for the log (PSFs normalised, values out of [0,1]), or NULL */
} pnp_problem;

/* Build the problem of a row for rank `rank` of `size` (which measurements it
 * reads). Returns 0, or -1 with a message in err naming the file and what is
 * wrong (unreadable image, bad PSF, shapes that differ, ...). */
int pnp_problem_build(const pnp_row *row, int rank, int size, pnp_problem *p, char *err, size_t errlen);
void pnp_problem_free(pnp_problem *p);
/* What a row's files say before any work (`pnp config`, `pnp grid`, `pnp
 * run` at setup): for an `observed` row, its files matched, every header
 * read, their shapes agreeing (pnp_observed_files_open) and every PSF read
 * and checked as pnp_problem_build checks it (finite, non-negative, not all
 * zero); the measurements' pixels are left to the run. Other datasets: 0.
 * 0, or -1 with err naming the file and what is wrong. */
int pnp_problem_check_files(const pnp_row *row, char *err, size_t errlen);

/* The geometry of the data term (include/pnp/data_term.h): x's domain. */
pnp_data_geometry pnp_problem_geometry(const pnp_problem *p);

/* Measurement of operator i (this rank's entry `local`: of the data term dt, and
 * of pnp_data_term_owned's list) into
 * y_dev [c, h, w] on the backend: read from its file (observed), or generated,
 * y = clamp(A_i x + s n_i, 0, 1) with noise keyed by (row seed, i, element
 * index) from truth_dev (synthetic). */
void pnp_problem_measurement(const pnp_problem *p, const pnp_row *row, pnp_backend *be, pnp_data_term *dt,
                             int local, int i, const float *truth_dev, float *y_dev);

#endif
