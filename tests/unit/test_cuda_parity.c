/* test_cuda_parity.c - the CUDA backend against the CPU backend: blur A x and
 * A^T y (max abs 1e-5) and the measurement noise (bit-identical). Built
 * wherever nvcc is; reports "skipped: no GPU" where no device is visible. */
#include <string.h>

#include "check.h"
#include "pnp/backend.h"
#include "pnp/blur.h"
#include "pnp/error.h"

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
