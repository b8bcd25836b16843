/* backend_util.h - what every backend implementation shares (src/backends/
 * common/backend_util.c, and kernels/ for the inline index helper): the layer engine's
 * shape check, the placement of a blur kernel for circular convolution, the
 * reflect index of the denoiser's window padding, and SSIM's window and formula. Backends and the
 * dispatcher include it; it includes nothing of theirs, so no backend file ever
 * calls back into the dispatcher or into another backend. */
#ifndef PNP_BACKEND_UTIL_H
#define PNP_BACKEND_UTIL_H

#include <math.h>

#if defined(__CUDACC__)
#define PNP_HOSTDEV __host__ __device__ __forceinline__
#else
#define PNP_HOSTDEV static inline
#endif

/* Image index of padded coordinate p on an axis of length n padded by pad on
 * each side, reflecting without repeating the edge (PyTorch's "reflect";
 * pad < n): the windows of include/pnp/tiling.h. Shared by the CPU backend and
 * kernels/solver.cu. */
PNP_HOSTDEV int pnp_reflect_index(int p, int pad, int n)
{
    int i = p - pad;
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return i;
}

/* SSIM (Wang et al. 2004) as torchmetrics computes it for deepinv.metric.SSIM:
 * an 11 x 11 Gaussian window of sigma 1.5 (normalised to sum 1), the images
 * reflect-padded by its radius, data range 1 (c1 = 0.01^2, c2 = 0.03^2),
 * variances clamped at 0, the map averaged over every channel and pixel.
 * The window and the per-pixel formula from the windowed moments E x, E y,
 * E x^2, E y^2, E xy; shared by the CPU backend and kernels/solver.cu. */
#define PNP_SSIM_RADIUS 5
PNP_HOSTDEV double pnp_ssim_weight(int t) /* unnormalised tap t in [-5, 5] */
{
    return exp(-(double)(t * t) / (2.0 * 1.5 * 1.5));
}
PNP_HOSTDEV double pnp_ssim_pixel(double mx, double my, double xx, double yy, double xy)
{
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double vx = xx - mx * mx, vy = yy - my * my;
    vx = vx > 0 ? vx : 0;
    vy = vy > 0 ? vy : 0;
    return ((2 * mx * my + c1) * (2 * (xy - mx * my) + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
}

#if !defined(__CUDACC__)
#include <stdbool.h>

#include "pnp/backend.h"

/* Dies (pnp_fatal) unless x [n, cin, h, w] through a k x k convolution (stride,
 * pad; transposed: stride k, output k times larger) gives y [n, cout, oh, ow],
 * and residual (when not NULL) has y's shape: every backend's conv_forward. */
void pnp_conv_check_shapes(int cin, int cout, int k, int stride, int pad, bool transposed, const pnp_act *x,
                           const pnp_act *y, const pnp_act *residual);

/* Place a kh x kw kernel on an h x w grid for circular convolution: its
 * centre (kh/2, kw/2) (integer division: the middle pixel of an odd side, the
 * one after the middle of an even side) goes to pixel (0, 0), taps wrap modulo
 * the grid (and add up when the kernel is larger than the image). out: [h, w],
 * overwritten. Every backend's blur_create transforms this, so
 * y[p] = sum_{a,b} k[a, b] x[p - (a - kh/2, b - kw/2)] (true convolution). */
void pnp_wrap_kernel(const float *kernel, int kh, int kw, int h, int w, float *out);
#endif

#endif
