/* pnp_kernels.h - extern "C" launchers of the CUDA kernels in kernels/ (.cu files).
 * Included only by the CUDA backend (src/backends/cuda/); streams are passed as void*
 * (a cudaStream_t) so this header needs no CUDA header itself. Each launcher
 * returns the cudaError_t of its launch as an int (0: success): cudaGetLastError
 * right after it, so callers check for an error left pending by an earlier call
 * before launching (LAUNCH_CHECK in src/backends/cuda/cuda_check.h). */
#ifndef PNP_KERNELS_H
#define PNP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__) || defined(PNP_CUDA_EMU) /* nvcc, or host C++ in the CUDA emulation (tests/cuda_emu/) */
/* Blocks for n elements of `block` threads, at most `cap` (grid-stride loops do the rest). */
enum { PNP_GRID_MAX = 65535 * 32 };
static inline unsigned pnp_grid_size(size_t n, unsigned block, unsigned cap)
{
    const size_t g = (n + block - 1) / block;
    return (unsigned)(g < cap ? (g ? g : 1) : cap);
}
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* v[ch, t] <- v[ch, t] * s[ch', t] (or * conj) * scale, for c channels of
 * n complex values (interleaved re, im). v: [c, n, 2], s: [kc, n, 2] with kc 1
 * (ch' = 0, one spectrum for every channel) or c (ch' = ch). */
int pnp_launch_spectrum_mul(float *v, const float *s, int c, int kc, size_t n, int conjugate, float scale,
                            void *stream);

/* acc[ch, t] += conj(s[ch', t]) * v[ch, t] * scale (s as above): the adjoints'
 * sum of blur_normal_window. */
int pnp_launch_spectrum_conj_mul_add(float *acc, const float *v, const float *s, int c, int kc, size_t n, float scale,
                                     void *stream);
/* x [c, h, w]: zero every pixel outside rows y0 .. y0+rows-1, columns x0 .. x0+cols-1. */
int pnp_launch_mask_window(float *x, int c, int h, int w, int y0, int x0, int rows, int cols, void *stream);

/* y[e] <- clamp(y[e] + sigma * N(seed, stream_id, offset + e), 0, 1), e < n (include/pnp/philox.h). */
int pnp_launch_add_noise_clamp(float *y, size_t n, uint64_t seed, uint32_t stream_id, uint64_t offset, float sigma,
                               void *stream);

/* Data term of the gradient (kernels/solver.cu), s and gram with kc (1 or c)
 * channels as above: gram [kc, n] += |s|^2 and data [c, n, 2] += conj(s) * v;
 * then v <- (gram * v - data) * scale. */
int pnp_launch_add_data(float *gram, float *data, const float *s, const float *v, int c, int kc, size_t n,
                        void *stream);
int pnp_launch_gradient_spectrum(float *v, const float *gram, const float *data, int c, int kc, size_t n,
                                 float scale, void *stream);
/* v <- (data + rho v) / (gram + rho) * scale (has_v 0: v taken as 0): the
 * spectrum of the minimiser of 1/2 sum ||A_i x - y_i||^2 + rho/2 ||x - z||^2, v = rfft(z). */
int pnp_launch_solve_spectrum(float *v, int has_v, const float *gram, const float *data, int c, int kc, size_t n,
                              float rho, float scale, void *stream);
int pnp_launch_add_scaled(float *z, const float *x, float a, const float *y, size_t n, void *stream); /* z = x + a y */
/* x = clamp(x, 0, 1) with a NaN to 0; *nonfinite (device) = 1 when a NaN or an infinity was met. */
int pnp_launch_clamp01(float *x, size_t n, int *nonfinite, void *stream);
/* partial[b] (double, `blocks` of them) = sum of (a - b)^2 over [b*chunk, (b+1)*chunk) ∩ [0, n). */
int pnp_launch_sum_sq_diff(const float *a, const float *b, size_t n, size_t chunk, double *partial, unsigned blocks,
                           void *stream);
/* The same with a * b for (a - b)^2. */
int pnp_launch_dot(const float *a, const float *b, size_t n, size_t chunk, double *partial, unsigned blocks,
                   void *stream);
/* partial[b] = sum over block b's fixed range of element indices (as above)
 * of the SSIM map of a against b, both [c, h, w] (include/pnp/backend_util.h). */
int pnp_launch_ssim(const float *a, const float *b, int c, int h, int w, size_t chunk, double *partial,
                    unsigned blocks, void *stream);
/* Windows (include/pnp/backend.h gather_windows / pack_windows / unpack_windows)
 * with their parameters in device int arrays: starts [y0[n], x0[n]]; rect
 * [y, x, rows, cols, lo, hi] x [n]: (y, x) is (sy, sx) to pack, (dy, dx) to
 * unpack, and rectangle j starts at hi[j] * 2^30 + lo[j] in the packed buffer;
 * largest: the most elements (c * rows * cols) of one rectangle. */
int pnp_launch_gather_windows(const float *img, int c, int h, int w, int pad, int wh, int ww, int n,
                              const int *starts_dev, float *win, void *stream);
int pnp_launch_pack_windows(const float *win, int c, int wh, int ww, int n, const int *rect_dev, size_t largest,
                            float *packed, void *stream);
int pnp_launch_unpack_windows(const float *packed, int c, int n, const int *rect_dev, size_t largest, float *img,
                              int h, int w, void *stream);

/* ---- layer engine (kernels/layers.cu) ----
 * Activations are NHWC with `cs` channels stored per pixel (the channel count
 * padded to a multiple of 8; padded channels hold zeros, and every kernel
 * below writes zeros there), element type float, or bfloat16 when bf16 != 0
 * (stored as its 16 bits; arithmetic in float, results rounded to nearest even).
 * Shapes name the logical channel count c and the stride cs separately. */

/* act [n, ah, aw, cs] = img [n, c, h, w] (float NCHW), replicate-padded at the
 * bottom and right (ah >= h, aw >= w). */
int pnp_launch_image_to_act(const float *img, int n, int c, int h, int w, void *act, int cs, int ah, int aw, int bf16,
                            void *stream);
/* img [n, c, h, w] (float NCHW) = the top-left h x w of act [n, ah, aw, cs]. */
int pnp_launch_act_to_image(const void *act, int cs, int ah, int aw, int n, int c, int h, int w, float *img, int bf16,
                            void *stream);
/* y [pixels, ys] = x [pixels, xs] (its c channels) followed by one channel equal to value. */
int pnp_launch_concat_const(const void *x, int xs, int c, float value, void *y, int ys, size_t pixels, int bf16,
                            void *stream);
/* 2x2 pixel unshuffle in PyTorch's channel order: y [n, h, w, ys] channel
 * 4 ch + 2 dy + dx = x [n, 2h, 2w, xs] channel ch at (2i + dy, 2j + dx); ch < c. */
int pnp_launch_pixel_unshuffle2(const void *x, int n, int c, int xs, int h, int w, void *y, int ys, int bf16,
                                void *stream);
/* The inverse: y [n, 2h, 2w, ys] channel ch (< c) at (2i + dy, 2j + dx) =
 * x [n, h, w, xs] channel 4 ch + 2 dy + dx. */
int pnp_launch_pixel_shuffle2(const void *x, int n, int c, int xs, int h, int w, void *y, int ys, int bf16,
                              void *stream);
/* y = a + b over count elements (any of them may alias). */
int pnp_launch_act_add(const void *a, const void *b, void *y, size_t count, int bf16, void *stream);

/* The convolution epilogues where cuDNN does not do them (src/backends/cuda/layers_cudnn.c),
 * over count elements of activations with cs channels per pixel; bias [cs] has
 * the activations' type:
 *   fill_channels  y[e] = values[e % cs] (a bias broadcast before a convolution blends into y);
 *   bias_relu      y = relu?(y + bias?) in place (bias may be NULL);
 *   epilogue       y = relu?(t + bias?) + res?, t float32 (a convolution's unrounded
 *                  sums), bias and res may be NULL, res may be y: one rounding;
 *   to_float       y (float32) = x, exactly (bfloat16 widens without rounding). */
int pnp_launch_fill_channels(const void *values, int cs, void *y, size_t count, int bf16, void *stream);
int pnp_launch_bias_relu(void *y, const void *bias, int cs, int relu, size_t count, int bf16, void *stream);
int pnp_launch_epilogue(const float *t, const void *bias, int cs, int relu, const void *res, void *y, size_t count,
                        int bf16, void *stream);
int pnp_launch_to_float(const void *x, float *y, size_t count, int bf16, void *stream);

#ifdef __cplusplus
}
#endif

#endif
