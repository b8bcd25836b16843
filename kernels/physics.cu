/* physics.cu - element-wise kernels of the blur operators and the measurement
 * noise. Compiled with -fmad=false so the noise (include/pnp/philox.h) is
 * bit-identical to the CPU backend's. */
#include <cuda_runtime.h>

#include "pnp/philox.h"
#include "pnp_kernels.h"


__global__ void spectrum_mul_kernel(float2 *v, const float2 *s, int c, int kc, size_t n, int conjugate, float scale)
{
    const size_t total = (size_t)c * n, sn = (size_t)kc * n; /* s: [kc, n]; kc 1 or c */
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const float2 a = v[i], k = s[i % sn];
        const float ki = conjugate ? -k.y : k.y;
        v[i] = make_float2((a.x * k.x - a.y * ki) * scale, (a.x * ki + a.y * k.x) * scale);
    }
}

extern "C" int pnp_launch_spectrum_mul(float *v, const float *s, int c, int kc, size_t n, int conjugate, float scale,
                                       void *stream)
{
    spectrum_mul_kernel<<<pnp_grid_size((size_t)c * n, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(
        (float2 *)v, (const float2 *)s, c, kc, n, conjugate, scale);
    return (int)cudaGetLastError();
}

__global__ void spectrum_conj_mul_add_kernel(float2 *acc, const float2 *v, const float2 *s, int c, int kc, size_t n,
                                             float scale)
{
    const size_t total = (size_t)c * n, sn = (size_t)kc * n;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const float2 a = v[i], k = s[i % sn];
        float2 b = acc[i];
        b.x += (k.x * a.x + k.y * a.y) * scale;
        b.y += (k.x * a.y - k.y * a.x) * scale;
        acc[i] = b;
    }
}

extern "C" int pnp_launch_spectrum_conj_mul_add(float *acc, const float *v, const float *s, int c, int kc, size_t n,
                                                float scale, void *stream)
{
    spectrum_conj_mul_add_kernel<<<pnp_grid_size((size_t)c * n, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(
        (float2 *)acc, (const float2 *)v, (const float2 *)s, c, kc, n, scale);
    return (int)cudaGetLastError();
}

__global__ void mask_window_kernel(float *x, int c, int h, int w, int y0, int x0, int rows, int cols)
{
    const size_t total = (size_t)c * h * w;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        const int q = (int)(e % w), r = (int)(e / w % h);
        if (r < y0 || r >= y0 + rows || q < x0 || q >= x0 + cols) x[e] = 0.f;
    }
}

extern "C" int pnp_launch_mask_window(float *x, int c, int h, int w, int y0, int x0, int rows, int cols, void *stream)
{
    mask_window_kernel<<<pnp_grid_size((size_t)c * h * w, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(
        x, c, h, w, y0, x0, rows, cols);
    return (int)cudaGetLastError();
}

__global__ void add_noise_clamp_kernel(float *y, size_t n, uint64_t seed, uint32_t stream_id, uint64_t offset,
                                       float sigma)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x) {
        const float v = y[e] + sigma * (float)pnp_normal(seed, stream_id, offset + e);
        y[e] = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
    }
}

extern "C" int pnp_launch_add_noise_clamp(float *y, size_t n, uint64_t seed, uint32_t stream_id, uint64_t offset,
                                          float sigma, void *stream)
{
    add_noise_clamp_kernel<<<pnp_grid_size(n, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(y, n, seed, stream_id, offset, sigma);
    return (int)cudaGetLastError();
}
