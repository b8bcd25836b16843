/* problem.c - the problem of a grid row (include/pnp/problem.h): the
 * synthetic benchmark here, the observed dataset in observed.c. */
#include "pnp/problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/blur.h"
#include "pnp/error.h"
#include "pnp/host.h"
#include "observed.h"

/* CBSD_0010.png, the benchmark's photo, is 481 high x 321 wide: the synthetic
 * scene takes the same shape so the default run tiles like the benchmark. */
enum { BENCH_H = 481, BENCH_W = 321 };

/* What the host must hold before anything else (the backend holds three more
 * [3,H,W] images, the operators and the denoiser; the solver plans those):
 * the ground truth [3,H,W] and the kernels [n,k,k], float32. 0, or -1 naming
 * the key that asks for more than the free memory. */
static int check_size(const pnp_row *row, int h, int w, int ksize, char *err, size_t errlen)
{
    const double image = 12.0 * h * w, kernels = 4.0 * row->num_operators * ksize * ksize;
    const double room = (double)pnp_host_free_bytes();
    if (image + kernels <= room) return 0;
    char a[32], b[32];
    if (image >= kernels)
        snprintf(err, errlen, "image_size %d: the ground truth alone, [3,%d,%d] float32, takes %s, more than the %s "
                 "of free memory", row->image_size, h, w, pnp_format_bytes(image, a, sizeof a),
                 pnp_format_bytes(room, b, sizeof b));
    else
        snprintf(err, errlen, "num_operators %d: the blur kernels alone, [%d,%d,%d] float32, take %s, more than the "
                 "%s of free memory", row->num_operators, row->num_operators, ksize, ksize,
                 pnp_format_bytes(kernels, a, sizeof a), pnp_format_bytes(room, b, sizeof b));
    return -1;
}

static int synthetic_build(const pnp_row *row, pnp_problem *p, char *err, size_t errlen)
{
    double sr, sc, a;
    pnp_benchmark_blur_params(row->image_size, row->num_operators, 0, &sr, &sc, &a);
    const int ksize = pnp_gaussian_kernel_side(sr, sc);
    if (row->image[0]) { /* read row by row into the resize, its size checked by the reader */
        int src_h, src_w;
        if (pnp_png_read_fit(row->image, row->image_size, &p->truth, &src_h, &src_w, err, errlen)) return -1;
        const int h = p->truth.h, w = p->truth.w;
        if (h < 8 || w < 8) {
            snprintf(err, errlen, "%s: %dx%d resized to longer side %d gives %dx%d, too small", row->image, src_h,
                     src_w, row->image_size, h, w);
            pnp_image_free(&p->truth);
            return -1;
        }
        if (check_size(row, h, w, ksize, err, errlen)) {
            pnp_image_free(&p->truth);
            return -1;
        }
        pnp_clamp01(p->truth.data, pnp_image_numel(&p->truth));
        snprintf(p->source, sizeof p->source, "%s", row->image);
    } else {
        int h, w;
        pnp_fit_longer_side(BENCH_H, BENCH_W, row->image_size, &h, &w);
        if (check_size(row, h, w, ksize, err, errlen)) return -1;
        p->truth = pnp_synthetic_scene(h, w, (uint64_t)row->seed);
        snprintf(p->source, sizeof p->source, "synthetic");
    }

    p->c = p->truth.c, p->h = p->truth.h, p->w = p->truth.w;
    p->boundary = PNP_BOUNDARY_CIRCULAR;
    p->n_ops = row->num_operators;
    p->angles = pnp_malloc(sizeof(double) * p->n_ops);
    p->sigma_row = sr;
    p->sigma_col = sc;
    p->kc = 1;
    p->kh = p->kw = ksize;
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

int pnp_problem_check_files(const pnp_row *row, char *err, size_t errlen)
{
    return strcmp(row->dataset, "observed") ? 0 : pnp_observed_check(row, err, errlen);
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
