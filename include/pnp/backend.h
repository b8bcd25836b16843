/* backend.h - the one interface between the solver and a device.
 *
 * A backend is a table of functions plus a context (as in ggml-backend): the
 * solver, the tiling and the DRUNet graph call only these, never a device API,
 * so the same code runs on the CPU backend (FFTW, host memory) and on the CUDA
 * backend (cuFFT, cuDNN, kernels/). Pointers named *_dev are buffers from
 * ops->alloc: host memory on the CPU backend, device memory on CUDA. */
#ifndef PNP_BACKEND_H
#define PNP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pnp_backend pnp_backend;
typedef struct pnp_blur pnp_blur; /* a set of blur operators owned by a backend */
typedef struct pnp_conv pnp_conv; /* one convolution layer's weights, in the backend's own layout */

/* A 4-D activation [n, c, h, w] living on a backend. Its memory layout and
 * element type are the backend's choice (CPU: NCHW float32; CUDA: NHWC in
 * float32 or bfloat16, channels padded with zeros to a multiple of 8), so
 * network code never indexes `data` itself: it sizes buffers with
 * ops->act_bytes and moves images in and out with the ops below. */
typedef struct {
    void *data;
    int n, c, h, w;
} pnp_act;

typedef struct {
    const char *name;
    bool host_memory; /* buffers are host memory (MPI may read them directly) */
    void (*destroy)(pnp_backend *be);

    /* memory */
    void *(*alloc)(pnp_backend *be, size_t bytes); /* zero-filled; dies when out of memory */
    void (*free)(pnp_backend *be, void *ptr);
    void (*upload)(pnp_backend *be, void *dst_dev, const void *src_host, size_t bytes);
    void (*download)(pnp_backend *be, void *dst_host, const void *src_dev, size_t bytes);
    size_t (*peak_bytes)(pnp_backend *be); /* high-water mark of alloc */
    void (*sync)(pnp_backend *be);         /* wait for queued work (timers read after it) */

    /* n blur operators on [c, h, w] images: circular convolution by FFT with
     * kernels [n, kc, kh, kw] (host; kc 1: one kernel for every channel, kc c:
     * one per channel), any kh x kw (odd or even; larger than the image wraps),
     * centred at (kh/2, kw/2) as pnp_wrap_kernel places them (backend_util.h).
     * y = A_i x or y = A_i^T x (y may alias x). */
    pnp_blur *(*blur_create)(pnp_backend *be, int c, int h, int w, int n, int kc, int kh, int kw,
                             const float *kernels);
    void (*blur_apply)(pnp_blur *op, int i, const float *x_dev, float *y_dev, bool adjoint);
    void (*blur_destroy)(pnp_blur *op);

    /* y[e] <- clamp(y[e] + sigma * N(seed, stream, offset + e), 0, 1), e < n:
     * the counter-based noise of include/pnp/philox.h. */
    void (*add_noise_clamp)(pnp_backend *be, float *y_dev, size_t n, uint64_t seed, uint32_t stream,
                            uint64_t offset, float sigma);

    /* The data-term gradient of the operators a rank owns, with one forward and
     * one inverse FFT per call whatever their number:
     *   sum_i A_i^T (A_i x - y_i) = irfft(S * rfft(x) - B),
     *   S = sum_i |H_i|^2 ([kc, h, w/2+1]),  B = sum_i conj(H_i) * rfft(y_i) ([c, h, w/2+1]).
     * blur_add_data(op, i, y) adds operator i with measurement y [c,h,w] to S and B
     * (y can be freed afterwards); blur_gradient(op, x, g) writes g [c,h,w]
     * (zero when no operator was added). g may alias x. */
    void (*blur_add_data)(pnp_blur *op, int i, const float *y_dev);
    void (*blur_gradient)(pnp_blur *op, const float *x_dev, float *g_dev);
    /* S [kc, h, w/2+1] and B [c, h, w/2+1, 2] (re, im) as float buffers of
     * gram_n and data_n elements (zero when no operator was added), for a
     * caller that sums them over ranks in place: blur_gradient and blur_solve
     * use them as they are then. An operator set of n = 0 holds only these. */
    void (*blur_data_buffers)(pnp_blur *op, float **gram_dev, size_t *gram_n, float **data_dev, size_t *data_n);
    /* x = irfft((B + rho rfft(z)) / (S + rho)): the minimiser of
     * 1/2 sum_i ||A_i x - y_i||^2 + rho/2 ||x - z||^2 (z NULL: z = 0; x may alias z). */
    void (*blur_solve)(pnp_blur *op, const float *z_dev, float rho, float *x_dev);
    /* g [c,h,w] = sum_i A_i^T P A_i x over all n operators, P keeping rows
     * y0 .. y0+rows-1 and columns x0 .. x0+cols-1 of every channel and zeroing
     * the rest: the normal operator of "crop to a window after a circular
     * convolution" (the data term's boundary pad). One forward FFT of x, per
     * operator one inverse and one forward FFT, one inverse FFT at the end.
     * g may alias x. */
    void (*blur_normal_window)(pnp_blur *op, const float *x_dev, float *g_dev, int y0, int x0, int rows, int cols);

    /* ---- vector ops on float32 buffers of n elements ---- */
    void (*zero)(pnp_backend *be, void *dev, size_t bytes);
    /* z = x + a * y (z may alias x or y) */
    void (*add_scaled)(pnp_backend *be, float *z_dev, const float *x_dev, float a, const float *y_dev, size_t n);
    /* x = clamp(x, 0, 1), a NaN to 0: no NaN is ever passed on; returns whether
     * any value was not finite (NaN or an infinity), for the caller to refuse it */
    bool (*clamp01)(pnp_backend *be, float *x_dev, size_t n);
    double (*sum_sq_diff)(pnp_backend *be, const float *a_dev, const float *b_dev, size_t n); /* sum (a-b)^2 */
    double (*dot)(pnp_backend *be, const float *a_dev, const float *b_dev, size_t n);         /* sum a*b */
    /* (both in double, summed in fixed blocks then in block order: the same
     * result whatever the thread count or launch) */
    /* Mean SSIM of x against ref, both [c, h, w], as deepinv.metric.SSIM
     * (torchmetrics) computes it (include/pnp/backend_util.h): in double, summed
     * in fixed blocks in order as above. NaN when h or w <= 5 (reflect padding
     * needs more). */
    double (*ssim)(pnp_backend *be, const float *x_dev, const float *ref_dev, int c, int h, int w);
    /* Bytes the backend could still allocate (host: MemAvailable, or less when the
     * process's cgroup caps it; GPU: free device memory). */
    size_t (*free_bytes)(pnp_backend *be);
    /* Bytes the layer ops may still take as scratch beyond alloc() when the
     * layers created so far run (CPU: per-thread conv tiles; CUDA: the cuDNN
     * workspace up to its cap): planners reserve it before the first forward. */
    size_t (*workspace_bytes)(pnp_backend *be);
    /* Names the memory alloc() draws from (NUL-terminated, < len bytes): ranks
     * of one node whose names match share it (CPU: "host"; CUDA: the GPU's UUID). */
    void (*memory_id)(pnp_backend *be, char *id, size_t len);

    /* ---- denoiser tiles (include/pnp/tiling.h) ----
     * gather: win [n, c, wh, ww] = windows of img [c, h, w] reflect-padded by pad on
     * every side; window j starts at padded (y0[j], x0[j]) (host arrays of n).
     * pack: the rectangle of each window j, rows[j] x cols[j] from (sy[j], sx[j]),
     * one after another in `packed`, each [c, rows[j], cols[j]]:
     *   packed[o_j + (ch * rows[j] + r) * cols[j] + q] = win[j, ch, sy[j] + r, sx[j] + q],
     *   o_j = sum_{i < j} c * rows[i] * cols[i]   (r < rows[j], q < cols[j]).
     * unpack: the inverse placement into an image, rectangle j at (dy[j], dx[j]):
     *   img[ch, dy[j] + r, dx[j] + q] = packed[o_j + (ch * rows[j] + r) * cols[j] + q]
     * (every other pixel untouched). Host arrays of n; rectangles inside their source
     * and destination, else fatal. */
    void (*gather_windows)(pnp_backend *be, const float *img_dev, int c, int h, int w, int pad, int wh, int ww,
                           int n, const int *y0, const int *x0, float *win_dev);
    void (*pack_windows)(pnp_backend *be, const float *win_dev, int c, int wh, int ww, int n, const int *sy,
                         const int *sx, const int *rows, const int *cols, float *packed_dev);
    void (*unpack_windows)(pnp_backend *be, const float *packed_dev, int c, int n, const int *dy, const int *dx,
                           const int *rows, const int *cols, float *img_dev, int h, int w);

    /* ---- layer engine (NULL where a backend has none yet) ---- */
    size_t (*act_bytes)(pnp_backend *be, int n, int c, int h, int w);
    /* weight: PyTorch layout, [cout, cin, k, k] for a convolution, [cin, cout, k, k]
     * for a transposed one (stride must equal k then, pad 0); bias [cout] or NULL. */
    pnp_conv *(*conv_create)(pnp_backend *be, int cin, int cout, int k, int stride, int pad, bool transposed,
                             const float *weight, const float *bias);
    /* y = relu?(conv(x) + bias) + residual?; residual may alias y (not x). */
    void (*conv_forward)(pnp_conv *cv, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual);
    void (*conv_destroy)(pnp_conv *cv);
    void (*act_add)(pnp_backend *be, const pnp_act *a, const pnp_act *b, pnp_act *y); /* y = a + b */
    /* Image [n, c, h, w] float32 NCHW (device) into activation x [n, c, x->h, x->w],
     * replicate-padded on the bottom and right (x->h >= h, x->w >= w). */
    void (*act_from_image)(pnp_backend *be, const float *img_dev, int n, int c, int h, int w, pnp_act *x);
    /* y [n, x->c + 1, h, w] = x with one more channel equal to value (the noise-level map). */
    void (*act_concat_const)(pnp_backend *be, const pnp_act *x, float value, pnp_act *y);
    /* The top-left [n, x->c, h, w] of x into an NCHW float32 image (crop). */
    void (*act_to_image)(pnp_backend *be, const pnp_act *x, int h, int w, float *img_dev);
    /* 2x2 pixel unshuffle ([n,c,2h,2w] -> [n,4c,h,w]) and shuffle (inverse), as PyTorch orders channels. */
    void (*pixel_unshuffle2)(pnp_backend *be, const pnp_act *x, pnp_act *y);
    void (*pixel_shuffle2)(pnp_backend *be, const pnp_act *x, pnp_act *y);
    /* Convolution plans (layer and input shape) the device library refused to
     * run as one fused call, which therefore run slower, as a convolution and
     * a kernel (CUDA: cudnnConvolutionBiasActivationForward); NULL: none ever. */
    int (*unfused_convs)(pnp_backend *be);
} pnp_backend_ops;

struct pnp_backend {
    const pnp_backend_ops *ops;
    void *ctx;
};

/* "cpu", "cuda" or "auto" (pnp_backend_resolve); dies with a clear message when
 * that backend is not built in or has no device. precision (the configuration's `precision` key; NULL is
 * "fp32") is the layer engine's arithmetic:
 *   fp32  float32 activations and weights. The CPU backend computes in plain
 *         float32; the CUDA backend lets cuDNN use TF32 tensor cores (10-bit
 *         mantissa products, float32 sums), as PyTorch does by default;
 *         PNP_CUDA_TF32=0 in the environment forbids them.
 *   bf16  CUDA: bfloat16 activations and weights, float32 accumulation. CPU
 *         (needs AVX512_BF16): activations stay float32; each convolution
 *         rounds its weights and inputs to bfloat16 (nearest even) and
 *         accumulates products in float32 (vdpbf16ps); bias, ReLU, residual
 *         in float32.
 * threads: CPU worker threads (0: all cores); device: the GPU index for
 * "cuda" (a rank passes its node-local rank modulo the count). */
pnp_backend *pnp_backend_create(const char *name, const char *precision, int threads, int device);
/* 0 when pnp_backend_create(name, precision, ...) would succeed here, else -1
 * and why in err (unknown backend, no GPU, bf16 on a CPU without AVX512_BF16). */
int pnp_backend_check(const char *name, const char *precision, char *err, size_t errlen);
/* "auto" -> "cuda" when this pnp has the CUDA backend and a GPU is visible,
 * else "cpu"; any other name as it is. */
const char *pnp_backend_resolve(const char *name);
void pnp_backend_destroy(pnp_backend *be);
/* ops->unfused_convs, or 0 where the backend has none. */
int pnp_backend_unfused_convs(pnp_backend *be);
/* bf16: precision bf16 (dies when !pnp_backend_cpu_bf16()). */
pnp_backend *pnp_backend_cpu_create(int threads, bool bf16);
/* This CPU runs the bf16 convolutions (AVX-512 with AVX512_BF16). PNP_CPU_NO_BF16=1
 * in the environment makes it say no (tests of the refusal). */
bool pnp_backend_cpu_bf16(void);
#ifdef PNP_WITH_CUDA
pnp_backend *pnp_backend_cuda_create(int device, bool bf16);
int pnp_cuda_device_count(void); /* 0 when no GPU (or no driver) */
void *pnp_cuda_stream(pnp_backend *be); /* the backend's cudaStream_t (for NCCL) */
#endif

#endif
