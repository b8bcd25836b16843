/* problem.c - build the reference problem of a grid row (include/pnp/problem.h). */
#include "pnp/problem.h"

#include <stdio.h>
#include <stdlib.h>

#include "pnp/blur.h"
#include "pnp/error.h"

/* CBSD_0010.png, the benchmark's photo, is 481 high x 321 wide: the synthetic
 * scene takes the same shape so the default run tiles like the benchmark. */
enum { BENCH_H = 481, BENCH_W = 321 };

int pnp_problem_build(const pnp_row *row, pnp_problem *p, char *err, size_t errlen)
{
    *p = (pnp_problem){0};
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

    p->n_ops = row->num_operators;
    p->angles = pnp_malloc(sizeof(double) * p->n_ops);
    double sr, sc, a;
    pnp_benchmark_blur_params(row->image_size, p->n_ops, 0, &sr, &sc, &a);
    p->sigma_row = sr;
    p->sigma_col = sc;
    p->ksize = pnp_gaussian_kernel_side(sr, sc);
    const size_t kk = (size_t)p->ksize * p->ksize;
    p->kernels = pnp_malloc(sizeof(float) * kk * p->n_ops);
    for (int i = 0; i < p->n_ops; ++i) {
        pnp_benchmark_blur_params(row->image_size, p->n_ops, i, &sr, &sc, &p->angles[i]);
        pnp_gaussian_kernel(sr, sc, p->angles[i], p->ksize, p->kernels + kk * i);
    }
    return 0;
}

void pnp_problem_free(pnp_problem *p)
{
    pnp_image_free(&p->truth);
    free(p->angles);
    free(p->kernels);
    *p = (pnp_problem){0};
}

void pnp_problem_measure(pnp_backend *be, pnp_blur *ops, int local, int i, const pnp_row *row,
                         const pnp_problem *p, const float *x_dev, float *y_dev)
{
    be->ops->blur_apply(ops, local, x_dev, y_dev, false);
    be->ops->add_noise_clamp(be, y_dev, pnp_image_numel(&p->truth), (uint64_t)row->seed, (uint32_t)i, 0,
                             (float)row->noise_level);
}
