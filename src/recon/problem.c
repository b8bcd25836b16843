/* problem.c - the problem of a grid row (include/pnp/problem.h): the
 * synthetic benchmark here, the observed dataset in observed.c. */
#include "pnp/problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/blur.h"
#include "pnp/error.h"
#include "observed.h"

/* CBSD_0010.png, the benchmark's photo, is 481 high x 321 wide: the synthetic
 * scene takes the same shape so the default run tiles like the benchmark. */
enum { BENCH_H = 481, BENCH_W = 321 };

static int synthetic_build(const pnp_row *row, pnp_problem *p, char *err, size_t errlen)
{
    if (row->image[0]) {
        pnp_image src;
        if (pnp_png_read(row->image, &src, err, errlen)) return -1;
        int h, w;
        pnp_fit_longer_side(src.h, src.w, row->image_size, &h, &w);
        if (h < 8 || w < 8) {
            snprintf(err, errlen, "%s: %dx%d resized to longer side %d gives %dx%d, too small", row->image, src.h,
                     src.w, row->image_size, h, w);
            pnp_image_free(&src);
            return -1;
        }
        if (h == src.h && w == src.w) {
            p->truth = src;
        } else {
            p->truth = pnp_resize_bicubic(&src, h, w);
            pnp_image_free(&src);
        }
        pnp_clamp01(p->truth.data, pnp_image_numel(&p->truth));
        snprintf(p->source, sizeof p->source, "%s", row->image);
    } else {
        int h, w;
        pnp_fit_longer_side(BENCH_H, BENCH_W, row->image_size, &h, &w);
        p->truth = pnp_synthetic_scene(h, w, (uint64_t)row->seed);
        snprintf(p->source, sizeof p->source, "synthetic");
    }

    p->c = p->truth.c, p->h = p->truth.h, p->w = p->truth.w;
    p->boundary = PNP_BOUNDARY_CIRCULAR;
    p->n_ops = row->num_operators;
    p->angles = pnp_malloc(sizeof(double) * p->n_ops);
    double sr, sc, a;
    pnp_benchmark_blur_params(row->image_size, p->n_ops, 0, &sr, &sc, &a);
    p->sigma_row = sr;
    p->sigma_col = sc;
    p->kc = 1;
    p->kh = p->kw = pnp_gaussian_kernel_side(sr, sc);
    const size_t kk = (size_t)p->kh * p->kw;
    p->kernels = pnp_malloc(sizeof(float) * kk * p->n_ops);
    for (int i = 0; i < p->n_ops; ++i) {
        pnp_benchmark_blur_params(row->image_size, p->n_ops, i, &sr, &sc, &p->angles[i]);
        pnp_gaussian_kernel(sr, sc, p->angles[i], p->kh, p->kernels + kk * i);
    }
    return 0;
}

int pnp_problem_build(const pnp_row *row, int rank, int size, pnp_problem *p, char *err, size_t errlen)
{
    *p = (pnp_problem){0};
    const int rc = !strcmp(row->dataset, "observed") ? pnp_observed_build(row, rank, size, p, err, errlen)
                                                     : synthetic_build(row, p, err, errlen);
    if (rc) pnp_problem_free(p);
    return rc;
}

void pnp_problem_free(pnp_problem *p)
{
    pnp_image_free(&p->truth);
    free(p->angles);
    free(p->kernels);
    free(p->measured);
    free(p->notes);
    *p = (pnp_problem){0};
}

pnp_data_geometry pnp_problem_geometry(const pnp_problem *p)
{
    return pnp_data_geometry_of(p->boundary, p->c, p->h, p->w, p->kc, p->kh, p->kw);
}

void pnp_problem_measurement(const pnp_problem *p, const pnp_row *row, pnp_backend *be, pnp_data_term *dt,
                             int local, int i, const float *truth_dev, float *y_dev)
{
    const size_t numel = (size_t)p->c * p->h * p->w;
    if (p->observed) {
        be->ops->upload(be, y_dev, p->measured + numel * local, sizeof(float) * numel);
        return;
    }
    pnp_data_term_apply(dt, local, truth_dev, y_dev, false);
    be->ops->add_noise_clamp(be, y_dev, numel, (uint64_t)row->seed, (uint32_t)i, 0, (float)row->noise_level);
}
