/* bundle.h - the dataset bundle `pnp dataset` writes: one HDF5 file holding a
 * problem's measurements, PSFs and (when known) ground truth, which the
 * `observed` dataset reads back (measurements: B.h5, psfs: B.h5, reference:
 * B.h5). Its layout is written down here once; the writer and the reader are
 * src/io/bundle.c.
 *
 * Layout (written under a temporary name renamed when complete):
 *   /measurements  float32 [n, C, H, W]  attrs layout="NCHW", noise_level
 *                                        (synthetic: the std of the added noise;
 *                                        observed: the configuration's, 0 = not
 *                                        given), seed (synthetic)
 *   /kernels       float32 [n, kh, kw], or [n, C, kh, kw] with one PSF per
 *                                        channel; attrs layout, and for the
 *                                        synthetic blurs angles_deg [n],
 *                                        sigma_row, sigma_col. Centred at
 *                                        (kh/2, kw/2), each summing to 1.
 *   /ground_truth  float32 [C, H, W]     attrs layout="CHW", source; absent when
 *                                        the problem has none
 *   /config/yaml, /config/row            the configuration and the resolved row
 *   root attributes                      provenance (pnp_h5_provenance), content
 *                                        "dataset", source (where the images came
 *                                        from), boundary (the row's, for observed)
 * Images are chunked and deflate-compressed. */
#ifndef PNP_BUNDLE_H
#define PNP_BUNDLE_H

#include <stddef.h>

#include "pnp/config.h"
#include "pnp/h5io.h"
#include "pnp/imgfile.h"

typedef struct {
    int n, c, h, w, kc, kh, kw;
    const float *kernels;       /* [n, kc, kh, kw] */
    const float *ground_truth;  /* [c, h, w] or NULL */
    const char *source;
    const char *boundary;       /* or NULL */
    double noise_level;
    long long seed;             /* synthetic (angles != NULL) */
    const double *angles;       /* [n] synthetic blurs' angles (degrees), or NULL */
    double sigma_row, sigma_col;
} pnp_bundle;

/* Create PATH and write everything but the measurements, which follow one at a
 * time (pnp_bundle_add_measurement, i = 0 .. n-1) before pnp_bundle_commit.
 * 0, or -1 with the message in err. */
typedef struct {
    pnp_h5 h5;
    hid_t measurements;
} pnp_bundle_file;
int pnp_bundle_create(pnp_bundle_file *bf, const char *path, const pnp_config *cfg, const pnp_row *row,
                      const char *backend, const pnp_bundle *b, char *err, size_t errlen);
void pnp_bundle_add_measurement(pnp_bundle_file *bf, int i, const float *y); /* y [c, h, w] */
int pnp_bundle_commit(pnp_bundle_file *bf, char *err, size_t errlen);

/* The reader of include/pnp/imgfile.h for a bundle: the dataset of `role`
 * (measurements, kernels, ground_truth) as n images [c, h, w]. */
int pnp_bundle_load(const char *path, pnp_file_role role, int first, int count, pnp_file_info *info, float *out,
                    char *err, size_t errlen);

#endif
