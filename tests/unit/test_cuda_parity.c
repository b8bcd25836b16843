/* test_cuda_parity.c - the CUDA backend against the CPU backend: blur A x and
 * A^T y (max abs 1e-5), the measurement noise (bit-identical), the data-term
 * gradient (1e-5 relative to its max), x + a y (1e-6: the inputs differ by the
 * gradient's rounding), clamp (exact), the squared
 * error (relative 1e-12), and window gather / scatter (exact). Built wherever
 * nvcc is; reports "skipped: no GPU" where no device is visible. */
#include <string.h>

#include "check.h"
#include "pnp/backend.h"
#include "pnp/blur.h"
#include "pnp/error.h"
#include "pnp/tiling.h"

int main(void)
{
#ifndef PNP_WITH_CUDA
    SKIP("CUDA parity: skipped: the CUDA backend is not built (CUDA=0 or no nvcc)");
    return 0;
#else
    if (pnp_cuda_device_count() == 0) {
        SKIP("CUDA parity: skipped: no GPU");
        return 0;
    }
    pnp_backend *cpu = pnp_backend_cpu_create(0), *gpu = pnp_backend_cuda_create(0);
    const int C = 3, H = 181, W = 256, n = 3;
    double sr, sc, a;
    pnp_benchmark_blur_params(512, n, 0, &sr, &sc, &a);
    const int k = pnp_gaussian_kernel_side(sr, sc);
    float *kern = pnp_malloc(sizeof(float) * n * k * k);
    for (int i = 0; i < n; ++i) {
        pnp_benchmark_blur_params(512, n, i, &sr, &sc, &a);
        pnp_gaussian_kernel(sr, sc, a, k, kern + (size_t)i * k * k);
    }
    const size_t numel = (size_t)C * H * W, bytes = numel * sizeof(float);
    float *x = pnp_malloc(bytes), *ref = pnp_malloc(bytes), *got = pnp_malloc(bytes);
    for (size_t e = 0; e < numel; ++e) x[e] = (float)((e * 2654435761u) % 1000) / 1000.0f;
    pnp_blur *bc = cpu->ops->blur_create(cpu, C, H, W, n, k, kern), *bg = gpu->ops->blur_create(gpu, C, H, W, n, k, kern);
    float *xd = gpu->ops->alloc(gpu, bytes), *yd = gpu->ops->alloc(gpu, bytes);
    gpu->ops->upload(gpu, xd, x, bytes);
    for (int i = 0; i < n; ++i)
        for (int adj = 0; adj < 2; ++adj) {
            cpu->ops->blur_apply(bc, i, x, ref, adj);
            gpu->ops->blur_apply(bg, i, xd, yd, adj);
            gpu->ops->download(gpu, got, yd, bytes);
            CHECK(max_abs_diff(got, ref, numel) <= 1e-5, "cuda blur %s op %d = cpu: max abs diff %.3g",
                  adj ? "A^T" : "A", i, max_abs_diff(got, ref, numel));
        }
    for (size_t e = 0; e < numel; ++e) ref[e] = 0.5f;
    gpu->ops->upload(gpu, yd, ref, bytes);
    cpu->ops->add_noise_clamp(cpu, ref, numel, 42, 5, 1000, 0.1f);
    gpu->ops->add_noise_clamp(gpu, yd, numel, 42, 5, 1000, 0.1f);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(!memcmp(got, ref, bytes), "cuda noise bit-identical to cpu noise");
    /* data term and gradient (the noisy y of above as every operator's measurement) */
    for (int i = 0; i < n; ++i) {
        cpu->ops->blur_add_data(bc, i, ref);
        gpu->ops->blur_add_data(bg, i, yd);
    }
    float *g = pnp_malloc(bytes);
    cpu->ops->blur_gradient(bc, x, g);
    gpu->ops->blur_gradient(bg, xd, yd);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(max_abs_diff(got, g, numel) <= 1e-5 * (1 + max_abs(g, numel)), "cuda data-term gradient = cpu: %.3g",
          max_abs_diff(got, g, numel));
    /* z = x + a g, clamp, squared error */
    cpu->ops->add_scaled(cpu, g, x, -0.1f, g, numel);
    gpu->ops->add_scaled(gpu, yd, xd, -0.1f, yd, numel);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(max_abs_diff(got, g, numel) <= 1e-6 * (1 + max_abs(g, numel)), "cuda x + a y = cpu: %.3g",
          max_abs_diff(got, g, numel));
    cpu->ops->upload(cpu, g, got, bytes); /* the same input to both clamps */
    cpu->ops->clamp01(cpu, g, numel);
    gpu->ops->clamp01(gpu, yd, numel);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(!memcmp(got, g, bytes), "cuda clamp01 bit-identical to cpu");
    const double sc_ = cpu->ops->sum_sq_diff(cpu, g, x, numel), sg = gpu->ops->sum_sq_diff(gpu, yd, xd, numel);
    CHECK(fabs(sc_ - sg) <= 1e-12 * sc_, "cuda sum of squared differences = cpu: %.17g vs %.17g", sg, sc_);
    /* windows */
    pnp_tiling t;
    char err[128];
    pnp_tiling_plan(H, W, 64, 16, &t, err, sizeof err);
    int *v = pnp_malloc(sizeof(int) * 8 * t.count);
    int *y0 = v, *x0 = v + t.count, *sy = v + 2 * t.count, *sx = v + 3 * t.count, *dy = v + 4 * t.count,
        *dx = v + 5 * t.count, *nr = v + 6 * t.count, *nc = v + 7 * t.count;
    for (int j = 0; j < t.count; ++j)
        pnp_tiling_window(&t, j, &y0[j], &x0[j], &sy[j], &sx[j], &dy[j], &dx[j], &nr[j], &nc[j]);
    const size_t wbytes = sizeof(float) * t.count * C * t.win_h * t.win_w;
    float *wc = pnp_malloc(wbytes), *wg = pnp_malloc(wbytes), *wd = gpu->ops->alloc(gpu, wbytes);
    cpu->ops->gather_windows(cpu, x, C, H, W, 16, t.win_h, t.win_w, t.count, y0, x0, wc);
    gpu->ops->gather_windows(gpu, xd, C, H, W, 16, t.win_h, t.win_w, t.count, y0, x0, wd);
    gpu->ops->download(gpu, wg, wd, wbytes);
    CHECK(!memcmp(wc, wg, wbytes), "cuda gather of %d windows bit-identical to cpu", t.count);
    gpu->ops->zero(gpu, yd, bytes);
    gpu->ops->scatter_windows(gpu, wd, C, t.win_h, t.win_w, t.count, sy, sx, dy, dx, nr, nc, yd, H, W);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(!memcmp(got, x, bytes), "cuda scatter of the gathered windows rebuilds the image");
    gpu->ops->free(gpu, wd);
    free(wc), free(wg), free(v), free(g);
    pnp_tiling_free(&t);
    cpu->ops->blur_destroy(bc);
    gpu->ops->blur_destroy(bg);
    gpu->ops->free(gpu, xd);
    gpu->ops->free(gpu, yd);
    pnp_backend_destroy(cpu);
    pnp_backend_destroy(gpu);
    free(kern), free(x), free(ref), free(got);
    CHECK_DONE();
#endif
}
