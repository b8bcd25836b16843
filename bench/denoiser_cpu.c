/* denoiser_cpu.c - end-to-end time of one denoiser forward pass on the CPU
 * backend (the layer engine as the solver uses it), for the before/after
 * numbers of the convolution work (bench/results/2026-11-21-conv-cpu.md).
 *
 *   denoiser_cpu WEIGHTS|SPEC N H W REPEATS
 *
 * WEIGHTS is a weights file (pnp_weights_load: HDF5 or .pth); SPEC is a
 * skeleton spec ("drunet", "drunet:W0,W1,W2,W3[:NB]", "dncnn", "ffdnet") with
 * deterministic random weights (timing does not depend on the values). The
 * input x: [N,3,H,W] is a fixed smooth pattern; one untimed warm-up pass
 * allocates the activations, then REPEATS timed passes print one line each and
 * a final line with the median. Built by bench/conv_cpu.sh against
 * build/libpnp.a (any commit's: the API is the public one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pnp/backend.h"
#include "pnp/denoiser.h"
#include "pnp/error.h"
#include "pnp/weights.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s WEIGHTS|SPEC N H W REPEATS\n", argv[0]);
        return 2;
    }
    const char *src = argv[1];
    const int n = atoi(argv[2]), h = atoi(argv[3]), w = atoi(argv[4]), reps = atoi(argv[5]);
    if (n < 1 || h < 1 || w < 1 || reps < 1 || reps > 1000) pnp_fatal("bad N H W REPEATS");

    pnp_state_dict sd;
    char arch[32], err[512];
    if (strchr(src, '/') || strstr(src, ".h5") || strstr(src, ".pth")) {
        if (pnp_weights_load(src, &sd, arch, sizeof arch, err, sizeof err)) pnp_fatal("%s", err);
    } else {
        if (pnp_denoiser_skeleton(src, &sd, arch, sizeof arch, err, sizeof err)) pnp_fatal("%s", err);
        pnp_weights_randomize(&sd, 1);
    }
    pnp_backend *be = pnp_backend_cpu_create(0, false);
    pnp_denoiser *dn = pnp_denoiser_create(be, arch, &sd, err, sizeof err);
    if (!dn) pnp_fatal("%s", err);
    pnp_weights_free(&sd);

    const size_t numel = (size_t)n * 3 * h * w; /* x, y: [n,3,h,w] */
    float *x = pnp_malloc(numel * sizeof(float)), *y = pnp_malloc(numel * sizeof(float));
    for (size_t i = 0; i < numel; ++i) x[i] = 0.5f + 0.4f * (float)((i * 7919 % 1000) / 1000.0 - 0.5);
    printf("# %s on [%d,3,%d,%d]: %s\n", src, n, h, w, pnp_denoiser_describe(dn));
    pnp_denoiser_forward(dn, x, n, h, w, 0.05f, y); /* warm-up */
    double *t = pnp_malloc(sizeof(double) * reps), sum = 0;
    for (int r = 0; r < reps; ++r) {
        const double t0 = now();
        pnp_denoiser_forward(dn, x, n, h, w, 0.05f, y);
        t[r] = now() - t0;
        printf("run %d: %.3f s\n", r, t[r]);
    }
    for (size_t i = 0; i < numel; ++i) sum += y[i];
    qsort(t, reps, sizeof *t, cmp_double);
    printf("median %.3f s (min %.3f, max %.3f) over %d runs; checksum %.6g\n", t[reps / 2], t[0], t[reps - 1], reps,
           sum);
    free(x), free(y), free(t);
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
    return 0;
}
