/* backend_util.h - what every backend implementation shares (src/backends/
 * common/backend_util.c, and kernels/ for the inline index helper): the layer engine's
 * shape check, the placement of a blur kernel for circular convolution, and
 * the reflect index of the denoiser's window padding. Backends and the
 * dispatcher include it; it includes nothing of theirs, so no backend file ever
 * calls back into the dispatcher or into another backend. */
#ifndef PNP_BACKEND_UTIL_H
#define PNP_BACKEND_UTIL_H

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
