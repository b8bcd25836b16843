/* solver.cu - the element-wise and tile kernels the PnP solver needs on the
 * GPU (include/pnp/backend.h): the data-term accumulation and gradient in the
 * Fourier domain, x + a y, clamp, the squared-error reduction (per-block
 * partial sums in double, added on the host in block order: the same result
 * whatever the launch), and the gather / scatter of denoiser windows with
 * reflect padding. Window parameters arrive as device int arrays. */
#include <cuda_runtime.h>

#include "pnp/backend_util.h"
#include "pnp_kernels.h"


/* gram[k, t] += |s[k, t]|^2 (k < kc); data[ch, t] += conj(s[ch', t]) * v[ch, t]
 * (complex interleaved; ch' = ch when kc == c, else 0). */
__global__ void add_data_kernel(float *gram, float2 *data, const float2 *s, const float2 *v, int c, int kc, size_t n)
{
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < n; t += (size_t)gridDim.x * blockDim.x) {
        for (int q = 0; q < kc; ++q) {
            const float2 k = s[(size_t)q * n + t];
            gram[(size_t)q * n + t] += k.x * k.x + k.y * k.y;
        }
        for (int ch = 0; ch < c; ++ch) {
            const float2 k = s[(size_t)(kc > 1 ? ch : 0) * n + t];
            const float2 a = v[(size_t)ch * n + t];
            float2 b = data[(size_t)ch * n + t];
            b.x += k.x * a.x + k.y * a.y;
            b.y += k.x * a.y - k.y * a.x;
            data[(size_t)ch * n + t] = b;
        }
    }
}

extern "C" int pnp_launch_add_data(float *gram, float *data, const float *s, const float *v, int c, int kc, size_t n,
                                   void *stream)
{
    add_data_kernel<<<pnp_grid_size(n, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(gram, (float2 *)data, (const float2 *)s,
                                                                         (const float2 *)v, c, kc, n);
    return (int)cudaGetLastError();
}

/* v[ch, t] <- (gram[ch', t] v[ch, t] - data[ch, t]) * scale */
__global__ void gradient_kernel(float2 *v, const float *gram, const float2 *data, int c, int kc, size_t n, float scale)
{
    const size_t total = (size_t)c * n, gn = (size_t)kc * n;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const float g = gram[i % gn];
        const float2 a = v[i], b = data[i];
        v[i] = make_float2((g * a.x - b.x) * scale, (g * a.y - b.y) * scale);
    }
}

extern "C" int pnp_launch_gradient_spectrum(float *v, const float *gram, const float *data, int c, int kc, size_t n,
                                            float scale, void *stream)
{
    gradient_kernel<<<pnp_grid_size((size_t)c * n, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(
        (float2 *)v, gram, (const float2 *)data, c, kc, n, scale);
    return (int)cudaGetLastError();
}

/* v[ch, t] <- (data[ch, t] + rho v[ch, t]) / (gram[ch', t] + rho) * scale (v = 0 when !has_v) */
__global__ void solve_kernel(float2 *v, int has_v, const float *gram, const float2 *data, int c, int kc, size_t n,
                             float rho, float scale)
{
    const size_t total = (size_t)c * n, gn = (size_t)kc * n;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        const float d = gram[i % gn] + rho;
        const float2 a = has_v ? v[i] : make_float2(0.f, 0.f), b = data[i];
        v[i] = make_float2(((b.x + rho * a.x) / d) * scale, ((b.y + rho * a.y) / d) * scale);
    }
}

extern "C" int pnp_launch_solve_spectrum(float *v, int has_v, const float *gram, const float *data, int c, int kc,
                                         size_t n, float rho, float scale, void *stream)
{
    solve_kernel<<<pnp_grid_size((size_t)c * n, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(
        (float2 *)v, has_v, gram, (const float2 *)data, c, kc, n, rho, scale);
    return (int)cudaGetLastError();
}

__global__ void add_scaled_kernel(float *z, const float *x, float a, const float *y, size_t n)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x)
        z[e] = x[e] + a * y[e];
}

extern "C" int pnp_launch_add_scaled(float *z, const float *x, float a, const float *y, size_t n, void *stream)
{
    add_scaled_kernel<<<pnp_grid_size(n, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(z, x, a, y, n);
    return (int)cudaGetLastError();
}

/* The CPU backend's expression (backend_cpu.c cpu_clamp01): a NaN becomes 0,
 * infinities clamp, and *nonfinite becomes 1 when any value was not finite
 * (every writer stores the same 1: no atomic needed). */
__global__ void clamp01_kernel(float *x, size_t n, int *nonfinite)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n; e += (size_t)gridDim.x * blockDim.x) {
        const float v = x[e];
        if (!(v - v == 0.f)) *nonfinite = 1; /* isfinite(v): NaN and infinities give v - v = NaN */
        x[e] = v < 0.f ? 0.f : (v > 1.f ? 1.f : (v == v ? v : 0.f));
    }
}

extern "C" int pnp_launch_clamp01(float *x, size_t n, int *nonfinite, void *stream)
{
    clamp01_kernel<<<pnp_grid_size(n, 256, PNP_GRID_MAX), 256, 0, (cudaStream_t)stream>>>(x, n, nonfinite);
    return (int)cudaGetLastError();
}

/* partial[b] = sum over block b's fixed range [b*chunk, (b+1)*chunk) of (a-b)^2
 * (squares) or a*b, in double. */
__global__ void block_sum_kernel(const float *a, const float *b, size_t n, size_t chunk, int squares, double *partial)
{
    __shared__ double acc[256];
    double s = 0;
    const size_t lo = blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    for (size_t e = lo + threadIdx.x; e < hi; e += blockDim.x) {
        const double d = squares ? (double)a[e] - (double)b[e] : 0;
        s += squares ? d * d : (double)a[e] * (double)b[e];
    }
    acc[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w) acc[threadIdx.x] += acc[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = acc[0];
}

extern "C" int pnp_launch_sum_sq_diff(const float *a, const float *b, size_t n, size_t chunk, double *partial,
                                      unsigned blocks, void *stream)
{
    block_sum_kernel<<<blocks, 256, 0, (cudaStream_t)stream>>>(a, b, n, chunk, 1, partial);
    return (int)cudaGetLastError();
}

/* partial[b] = sum of the SSIM map over block b's range of [c, h, w]: each
 * element's window moments summed directly over the 11 x 11 taps (weights the
 * normalised outer product, as the CPU backend's two passes), in double. */
__global__ void ssim_kernel(const float *a, const float *b, int c, int h, int w, size_t chunk, double *partial)
{
    enum { R = PNP_SSIM_RADIUS, T = 2 * PNP_SSIM_RADIUS + 1 };
    __shared__ double acc[256];
    double g[T], gs = 0;
    for (int t = 0; t < T; ++t) gs += g[t] = pnp_ssim_weight(t - R);
    for (int t = 0; t < T; ++t) g[t] /= gs;
    const size_t n = (size_t)c * h * w, plane = (size_t)h * w;
    const size_t lo = blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    double s = 0;
    for (size_t e = lo + threadIdx.x; e < hi; e += blockDim.x) {
        const size_t base = (e / plane) * plane;
        const int i = (int)((e % plane) / w), j = (int)(e % w);
        double m[5] = {0, 0, 0, 0, 0};
        for (int p = 0; p < T; ++p) {
            const size_t row = base + (size_t)pnp_reflect_index(i + p, R, h) * w;
            for (int q = 0; q < T; ++q) {
                const size_t at = row + pnp_reflect_index(j + q, R, w);
                const double u = a[at], v = b[at], wt = g[p] * g[q];
                m[0] += wt * u, m[1] += wt * v, m[2] += wt * u * u, m[3] += wt * v * v, m[4] += wt * u * v;
            }
        }
        s += pnp_ssim_pixel(m[0], m[1], m[2], m[3], m[4]);
    }
    acc[threadIdx.x] = s;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k /= 2) {
        if (threadIdx.x < k) acc[threadIdx.x] += acc[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = acc[0];
}

extern "C" int pnp_launch_ssim(const float *a, const float *b, int c, int h, int w, size_t chunk, double *partial,
                               unsigned blocks, void *stream)
{
    ssim_kernel<<<blocks, 256, 0, (cudaStream_t)stream>>>(a, b, c, h, w, chunk, partial);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_dot(const float *a, const float *b, size_t n, size_t chunk, double *partial, unsigned blocks,
                              void *stream)
{
    block_sum_kernel<<<blocks, 256, 0, (cudaStream_t)stream>>>(a, b, n, chunk, 0, partial);
    return (int)cudaGetLastError();
}

/* win [n, c, wh, ww]; grid.y = window; starts = [y0[n], x0[n]] */
__global__ void gather_kernel(const float *img, int c, int h, int w, int pad, int wh, int ww, int n,
                              const int *starts, float *win)
{
    const int j = blockIdx.y;
    const int y0 = starts[j], x0 = starts[n + j];
    const size_t per = (size_t)c * wh * ww;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < per; e += (size_t)gridDim.x * blockDim.x) {
        const int q = (int)(e % ww), r = (int)(e / ww % wh), ch = (int)(e / ((size_t)ww * wh));
        win[(size_t)j * per + e] =
            img[((size_t)ch * h + pnp_reflect_index(y0 + r, pad, h)) * w + pnp_reflect_index(x0 + q, pad, w)];
    }
}

extern "C" int pnp_launch_gather_windows(const float *img, int c, int h, int w, int pad, int wh, int ww, int n,
                                         const int *starts_dev, float *win, void *stream)
{
    if (n == 0) return 0;
    dim3 grid(pnp_grid_size((size_t)c * wh * ww, 256, 4096), n);
    gather_kernel<<<grid, 256, 0, (cudaStream_t)stream>>>(img, c, h, w, pad, wh, ww, n, starts_dev, win);
    return (int)cudaGetLastError();
}

/* rect = [y[n], x[n], rows[n], cols[n], lo[n], hi[n]] with o_j = hi[j] * 2^30 + lo[j]
 * (include/pnp/backend.h pack_windows / unpack_windows); grid.y = rectangle */
__device__ size_t packed_offset(const int *rect, int n, int j)
{
    return ((size_t)rect[5 * n + j] << 30) + (size_t)rect[4 * n + j];
}

__global__ void pack_kernel(const float *win, int c, int wh, int ww, int n, const int *rect, float *packed)
{
    const int j = blockIdx.y;
    const int sy = rect[j], sx = rect[n + j], rows = rect[2 * n + j], cols = rect[3 * n + j];
    const size_t per = (size_t)c * rows * cols, o = packed_offset(rect, n, j);
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < per; e += (size_t)gridDim.x * blockDim.x) {
        const int q = (int)(e % cols), r = (int)(e / cols % rows), ch = (int)(e / ((size_t)cols * rows));
        packed[o + e] = win[(((size_t)j * c + ch) * wh + sy + r) * ww + sx + q];
    }
}

__global__ void unpack_kernel(const float *packed, int c, int n, const int *rect, float *img, int h, int w)
{
    const int j = blockIdx.y;
    const int dy = rect[j], dx = rect[n + j], rows = rect[2 * n + j], cols = rect[3 * n + j];
    const size_t per = (size_t)c * rows * cols, o = packed_offset(rect, n, j);
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < per; e += (size_t)gridDim.x * blockDim.x) {
        const int q = (int)(e % cols), r = (int)(e / cols % rows), ch = (int)(e / ((size_t)cols * rows));
        img[((size_t)ch * h + dy + r) * w + dx + q] = packed[o + e];
    }
}

extern "C" int pnp_launch_pack_windows(const float *win, int c, int wh, int ww, int n, const int *rect_dev,
                                       size_t largest, float *packed, void *stream)
{
    if (n == 0) return 0;
    dim3 grid(pnp_grid_size(largest, 256, 4096), n);
    pack_kernel<<<grid, 256, 0, (cudaStream_t)stream>>>(win, c, wh, ww, n, rect_dev, packed);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_unpack_windows(const float *packed, int c, int n, const int *rect_dev, size_t largest,
                                         float *img, int h, int w, void *stream)
{
    if (n == 0) return 0;
    dim3 grid(pnp_grid_size(largest, 256, 4096), n);
    unpack_kernel<<<grid, 256, 0, (cudaStream_t)stream>>>(packed, c, n, rect_dev, img, h, w);
    return (int)cudaGetLastError();
}
