/* observed.h - the observed dataset's problem builder (observed.c), called by
 * pnp_problem_build (problem.c) for rows of dataset `observed`. */
#ifndef PNP_RECON_OBSERVED_H
#define PNP_RECON_OBSERVED_H

#include <stddef.h>

#include "pnp/problem.h"

/* Fill p (zeroed by the caller) for rank `rank` of `size`; 0, or -1 with err
 * (p then holds what was built so far: pnp_problem_free it). */
int pnp_observed_build(const pnp_row *row, int rank, int size, pnp_problem *p, char *err, size_t errlen);
/* The files' headers and every PSF, checked as pnp_observed_build does (pnp_problem_check_files). */
int pnp_observed_check(const pnp_row *row, char *err, size_t errlen);

#endif
