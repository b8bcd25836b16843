/* backend_cuda.c - the CUDA backend: device memory (cudaMalloc, with a peak
 * counter), cuFFT for the blur operators (R2C/C2R batched over channels, the
 * operators' spectra kept on the device), the kernels of kernels/ for the
 * element-wise work, and the cuDNN layer engine of layers_cudnn.c. Everything
 * runs on one stream per backend.
 * NOTE: runs in every make test on the CUDA emulation (tests/cuda_emu/); never
 * on a real GPU yet. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda.h"
#include "pnp_kernels.h"
#include "pnp/backend.h"
#include "pnp/backend_util.h"

static void cuda_upload(pnp_backend *be, void *dst, const void *src, size_t bytes)
{
    cuda_ctx *c = be->ctx;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
}

static void cuda_download(pnp_backend *be, void *dst, const void *src, size_t bytes)
{
    cuda_ctx *c = be->ctx;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
}

static size_t cuda_peak(pnp_backend *be) { return ((cuda_ctx *)be->ctx)->peak; }

static void cuda_sync(pnp_backend *be) { CUDA_CHECK(cudaStreamSynchronize(((cuda_ctx *)be->ctx)->stream)); }

/* ---------------------------------------------------------------- blur */

struct pnp_blur {
    pnp_backend *be;
    int c, h, w, n, kc, wc; /* kc: kernels per operator (1 or c) */
    float *spectra; /* [n, kc, h, wc, 2] device */
    float *work;    /* [c, h, wc, 2] device */
    float *gram;    /* [kc, h, wc] S = sum |H_i|^2 (NULL until blur_add_data) */
    float *data;    /* [c, h, wc, 2] B = sum conj(H_i) rfft(y_i) */
    float *xspec, *acc, *real; /* blur_normal_window: [c, h, wc, 2] twice, [c, h, w] (NULL until used) */
    cufftHandle fwd, inv;
    size_t plan_bytes; /* cuFFT's own work areas of fwd and inv (counted in the peak) */
};

static pnp_blur *cuda_blur_create(pnp_backend *be, int c, int h, int w, int n, int kc, int kh, int kw,
                                  const float *kernels)
{
    if (kc != 1 && kc != c) pnp_fatal("cuda blur: %d kernels per operator for %d channels (1 or %d)", kc, c, c);
    cuda_ctx *cx = be->ctx;
    pnp_blur *op = pnp_calloc(1, sizeof *op);
    *op = (pnp_blur){.be = be, .c = c, .h = h, .w = w, .n = n, .kc = kc, .wc = w / 2 + 1};
    const size_t spec = (size_t)h * op->wc, plane = (size_t)h * w;
    op->spectra = be->ops->alloc(be, spec * n * kc * 2 * sizeof(float));
    op->work = be->ops->alloc(be, spec * c * 2 * sizeof(float));

    int dims[2] = {h, w};
    CUFFT_CHECK(cufftPlanMany(&op->fwd, 2, dims, NULL, 1, (int)plane, NULL, 1, (int)spec, CUFFT_R2C, c));
    CUFFT_CHECK(cufftPlanMany(&op->inv, 2, dims, NULL, 1, (int)spec, NULL, 1, (int)plane, CUFFT_C2R, c));
    CUFFT_CHECK(cufftSetStream(op->fwd, cx->stream));
    CUFFT_CHECK(cufftSetStream(op->inv, cx->stream));
    size_t ws_fwd = 0, ws_inv = 0, ws_one = 0;
    CUFFT_CHECK(cufftGetSize(op->fwd, &ws_fwd));
    CUFFT_CHECK(cufftGetSize(op->inv, &ws_inv));
    op->plan_bytes = ws_fwd + ws_inv;
    cuda_count_bytes(cx, op->plan_bytes, 0);

    /* centred kernels wrapped onto the image grid on the host, transformed on the device */
    cufftHandle one;
    CUFFT_CHECK(cufftPlan2d(&one, h, w, CUFFT_R2C));
    CUFFT_CHECK(cufftSetStream(one, cx->stream));
    CUFFT_CHECK(cufftGetSize(one, &ws_one));
    cuda_count_bytes(cx, ws_one, 0);
    float *pad = pnp_malloc(sizeof(float) * plane);
    float *pad_dev = be->ops->alloc(be, sizeof(float) * plane);
    for (int i = 0; i < n * kc; ++i) {
        pnp_wrap_kernel(kernels + (size_t)i * kh * kw, kh, kw, h, w, pad);
        be->ops->upload(be, pad_dev, pad, sizeof(float) * plane);
        CUFFT_CHECK(cufftExecR2C(one, pad_dev, (cufftComplex *)(op->spectra + 2 * spec * i)));
    }
    CUDA_CHECK(cudaStreamSynchronize(cx->stream));
    CUFFT_CHECK(cufftDestroy(one));
    cuda_count_bytes(cx, 0, ws_one);
    be->ops->free(be, pad_dev);
    free(pad);
    return op;
}

static void cuda_blur_apply(pnp_blur *op, int i, const float *x, float *y, bool adjoint)
{
    if (i < 0 || i >= op->n) pnp_fatal("cuda blur: operator %d out of range [0, %d)", i, op->n);
    cuda_ctx *cx = op->be->ctx;
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    /* cuFFT's C2R may overwrite its input; R2C input is const-safe here */
    CUFFT_CHECK(cufftExecR2C(op->fwd, (cufftReal *)x, (cufftComplex *)op->work));
    LAUNCH_CHECK(pnp_launch_spectrum_mul(op->work, op->spectra + 2 * spec * op->kc * i, op->c, op->kc, spec, adjoint,
                                         1.0f / (float)plane, cx->stream));
    CUFFT_CHECK(cufftExecC2R(op->inv, (cufftComplex *)op->work, y));
}

/* S and B, zero, on first use. */
static void ensure_data(pnp_blur *op)
{
    if (op->gram) return;
    const size_t spec = (size_t)op->h * op->wc;
    op->gram = op->be->ops->alloc(op->be, spec * op->kc * sizeof(float));
    op->data = op->be->ops->alloc(op->be, spec * op->c * 2 * sizeof(float));
}

static void cuda_blur_data_buffers(pnp_blur *op, float **gram, size_t *gram_n, float **data, size_t *data_n)
{
    ensure_data(op);
    const size_t spec = (size_t)op->h * op->wc;
    *gram = op->gram;
    *gram_n = spec * op->kc;
    *data = op->data;
    *data_n = 2 * spec * op->c;
}

static void cuda_blur_add_data(pnp_blur *op, int i, const float *y)
{
    if (i < 0 || i >= op->n) pnp_fatal("cuda blur: operator %d out of range [0, %d)", i, op->n);
    cuda_ctx *cx = op->be->ctx;
    const size_t spec = (size_t)op->h * op->wc;
    ensure_data(op);
    CUFFT_CHECK(cufftExecR2C(op->fwd, (cufftReal *)y, (cufftComplex *)op->work));
    LAUNCH_CHECK(pnp_launch_add_data(op->gram, op->data, op->spectra + 2 * spec * op->kc * i, op->work, op->c, op->kc,
                                     spec, cx->stream));
}

static void cuda_blur_gradient(pnp_blur *op, const float *x, float *g)
{
    cuda_ctx *cx = op->be->ctx;
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    if (!op->gram) {
        CUDA_CHECK(cudaMemsetAsync(g, 0, sizeof(float) * plane * op->c, cx->stream));
        return;
    }
    CUFFT_CHECK(cufftExecR2C(op->fwd, (cufftReal *)x, (cufftComplex *)op->work));
    LAUNCH_CHECK(pnp_launch_gradient_spectrum(op->work, op->gram, op->data, op->c, op->kc, spec, 1.0f / (float)plane,
                                              cx->stream));
    CUFFT_CHECK(cufftExecC2R(op->inv, (cufftComplex *)op->work, g));
}

/* x = irfft((B + rho rfft(z)) / (S + rho)), z NULL: 0. */
static void cuda_blur_solve(pnp_blur *op, const float *z, float rho, float *x)
{
    cuda_ctx *cx = op->be->ctx;
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    ensure_data(op);
    if (z) CUFFT_CHECK(cufftExecR2C(op->fwd, (cufftReal *)z, (cufftComplex *)op->work));
    LAUNCH_CHECK(pnp_launch_solve_spectrum(op->work, z != NULL, op->gram, op->data, op->c, op->kc, spec, rho,
                                           1.0f / (float)plane, cx->stream));
    CUFFT_CHECK(cufftExecC2R(op->inv, (cufftComplex *)op->work, x));
}

/* g = sum_i A_i^T P A_i x (include/pnp/backend.h), as the CPU backend: X = rfft(x)
 * once; per operator v = irfft(H_i X) / N masked, acc += conj(H_i) rfft(v) / N;
 * g = irfft(acc) (C2R overwrites acc, which the next call zeroes). */
static void cuda_blur_normal_window(pnp_blur *op, const float *x, float *g, int y0, int x0, int rows, int cols)
{
    if (y0 < 0 || x0 < 0 || rows < 0 || cols < 0 || y0 + rows > op->h || x0 + cols > op->w)
        pnp_fatal("cuda blur: window %dx%d at (%d,%d) outside %dx%d", rows, cols, y0, x0, op->h, op->w);
    cuda_ctx *cx = op->be->ctx;
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    const size_t spec_bytes = spec * op->c * 2 * sizeof(float);
    if (!op->xspec) {
        op->xspec = op->be->ops->alloc(op->be, spec_bytes);
        op->acc = op->be->ops->alloc(op->be, spec_bytes);
        op->real = op->be->ops->alloc(op->be, plane * op->c * sizeof(float));
    }
    const float scale = 1.0f / (float)plane;
    CUFFT_CHECK(cufftExecR2C(op->fwd, (cufftReal *)x, (cufftComplex *)op->xspec));
    CUDA_CHECK(cudaMemsetAsync(op->acc, 0, spec_bytes, cx->stream));
    for (int i = 0; i < op->n; ++i) {
        const float *s = op->spectra + 2 * spec * op->kc * i;
        CUDA_CHECK(cudaMemcpyAsync(op->work, op->xspec, spec_bytes, cudaMemcpyDeviceToDevice, cx->stream));
        LAUNCH_CHECK(pnp_launch_spectrum_mul(op->work, s, op->c, op->kc, spec, 0, scale, cx->stream));
        CUFFT_CHECK(cufftExecC2R(op->inv, (cufftComplex *)op->work, op->real));
        LAUNCH_CHECK(pnp_launch_mask_window(op->real, op->c, op->h, op->w, y0, x0, rows, cols, cx->stream));
        CUFFT_CHECK(cufftExecR2C(op->fwd, op->real, (cufftComplex *)op->work));
        LAUNCH_CHECK(pnp_launch_spectrum_conj_mul_add(op->acc, op->work, s, op->c, op->kc, spec, scale, cx->stream));
    }
    CUFFT_CHECK(cufftExecC2R(op->inv, (cufftComplex *)op->acc, g));
}

static void cuda_blur_destroy(pnp_blur *op)
{
    if (!op) return;
    /* cufftDestroy frees the plans' work areas: no queued transform may still use them */
    CUDA_CHECK(cudaStreamSynchronize(((cuda_ctx *)op->be->ctx)->stream));
    op->be->ops->free(op->be, op->gram);
    op->be->ops->free(op->be, op->data);
    op->be->ops->free(op->be, op->xspec);
    op->be->ops->free(op->be, op->acc);
    op->be->ops->free(op->be, op->real);
    CUFFT_CHECK(cufftDestroy(op->fwd));
    CUFFT_CHECK(cufftDestroy(op->inv));
    cuda_count_bytes(op->be->ctx, 0, op->plan_bytes);
    op->be->ops->free(op->be, op->spectra);
    op->be->ops->free(op->be, op->work);
    free(op);
}

static void cuda_add_noise_clamp(pnp_backend *be, float *y, size_t n, uint64_t seed, uint32_t stream,
                                 uint64_t offset, float sigma)
{
    cuda_ctx *c = be->ctx;
    LAUNCH_CHECK(pnp_launch_add_noise_clamp(y, n, seed, stream, offset, sigma, c->stream));
}

/* ---------------------------------------------------------- vector ops */

static void cuda_zero(pnp_backend *be, void *p, size_t bytes)
{
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ((cuda_ctx *)be->ctx)->stream));
}

static void cuda_add_scaled(pnp_backend *be, float *z, const float *x, float a, const float *y, size_t n)
{
    LAUNCH_CHECK(pnp_launch_add_scaled(z, x, a, y, n, ((cuda_ctx *)be->ctx)->stream));
}

static bool cuda_clamp01(pnp_backend *be, float *x, size_t n)
{
    cuda_ctx *c = be->ctx;
    if (!c->nonfinite) {
        CUDA_CHECK(cudaMalloc((void **)&c->nonfinite, sizeof *c->nonfinite));
        cuda_count_bytes(c, sizeof *c->nonfinite, 0);
    }
    int any = 0;
    CUDA_CHECK(cudaMemsetAsync(c->nonfinite, 0, sizeof *c->nonfinite, c->stream));
    LAUNCH_CHECK(pnp_launch_clamp01(x, n, c->nonfinite, c->stream));
    CUDA_CHECK(cudaMemcpyAsync(&any, c->nonfinite, sizeof any, cudaMemcpyDeviceToHost, c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    return any != 0;
}

enum sum_kind { SUM_SQ_DIFF, SUM_DOT, SUM_SSIM };

/* Fixed chunks of 64K elements per block, summed on the host in block order:
 * sum (a-b)^2, sum a*b, or the SSIM map of a against b as [c, h, w]. */
static double block_sum(pnp_backend *be, const float *a, const float *b, size_t n, enum sum_kind kind, int c_,
                        int h, int w)
{
    cuda_ctx *c = be->ctx;
    const size_t chunk = 65536;
    const unsigned blocks = (unsigned)((n + chunk - 1) / chunk);
    if (blocks == 0) return 0;
    if (blocks > c->partial_count) {
        if (c->partial) CUDA_CHECK(cudaFree(c->partial));
        free(c->partial_host);
        CUDA_CHECK(cudaMalloc((void **)&c->partial, blocks * sizeof(double)));
        cuda_count_bytes(c, blocks * sizeof(double), c->partial_count * sizeof(double));
        c->partial_host = pnp_malloc(blocks * sizeof(double));
        c->partial_count = blocks;
    }
    if (kind == SUM_SQ_DIFF) LAUNCH_CHECK(pnp_launch_sum_sq_diff(a, b, n, chunk, c->partial, blocks, c->stream));
    else if (kind == SUM_DOT) LAUNCH_CHECK(pnp_launch_dot(a, b, n, chunk, c->partial, blocks, c->stream));
    else LAUNCH_CHECK(pnp_launch_ssim(a, b, c_, h, w, chunk, c->partial, blocks, c->stream));
    CUDA_CHECK(cudaMemcpyAsync(c->partial_host, c->partial, blocks * sizeof(double), cudaMemcpyDeviceToHost,
                               c->stream));
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    double s = 0;
    for (unsigned k = 0; k < blocks; ++k) s += c->partial_host[k];
    return s;
}

static double cuda_sum_sq_diff(pnp_backend *be, const float *a, const float *b, size_t n)
{
    return block_sum(be, a, b, n, SUM_SQ_DIFF, 0, 0, 0);
}

static double cuda_ssim(pnp_backend *be, const float *x, const float *ref, int c, int h, int w)
{
    if (h <= PNP_SSIM_RADIUS || w <= PNP_SSIM_RADIUS) return NAN;
    const size_t n = (size_t)c * h * w;
    return block_sum(be, x, ref, n, SUM_SSIM, c, h, w) / (double)n;
}

static double cuda_dot(pnp_backend *be, const float *a, const float *b, size_t n)
{
    return block_sum(be, a, b, n, SUM_DOT, 0, 0, 0);
}

static size_t cuda_free_bytes(pnp_backend *be)
{
    (void)be;
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return free_b;
}

/* The GPU's UUID: ranks that see the same one share its memory, whatever
 * device numbers CUDA_VISIBLE_DEVICES gave them. */
static void cuda_memory_id(pnp_backend *be, char *id, size_t len)
{
    struct cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, ((cuda_ctx *)be->ctx)->device));
    size_t at = (size_t)snprintf(id, len, "GPU-");
    for (int i = 0; i < 16 && at + 2 < len; ++i) at += (size_t)snprintf(id + at, len - at, "%02x", (unsigned char)prop.uuid.bytes[i]);
}

/* Scratch the backend may still take beyond alloc(): the cuDNN workspace up to
 * its cap, and the window parameters' device array up to 8 ints for each of
 * PARAMS_WINDOWS windows (a larger batch takes more, past the plan). */
enum { PARAMS_WINDOWS = 4096 };
static size_t cuda_workspace_bytes(pnp_backend *be)
{
    const cuda_ctx *c = be->ctx;
    const size_t params = (size_t)8 * PARAMS_WINDOWS;
    return cudnn_workspace_bytes(be) + (c->params_count < params ? (params - c->params_count) * sizeof(int) : 0);
}

/* The window parameters (k host arrays of n ints) into the device array
 * [k, n]: staged in the pinned host buffer and copied on the stream, so the
 * host waits only when the previous copy out of the staging buffer has not run
 * yet (the event), never for the kernels queued before it. */
static const int *upload_params(cuda_ctx *c, int n, int k, const int *const *arrays)
{
    const size_t count = (size_t)n * k;
    CUDA_CHECK(cudaEventSynchronize(c->params_copied)); /* returns at once before the first record */
    if (count > c->params_host_count) {
        if (c->params_host) CUDA_CHECK(cudaFreeHost(c->params_host));
        CUDA_CHECK(cudaMallocHost((void **)&c->params_host, count * sizeof(int)));
        c->params_host_count = count;
    }
    if (count > c->params_count) {
        if (c->params) { /* the kernels still reading it finish first (see cuda_free) */
            CUDA_CHECK(cudaStreamSynchronize(c->stream));
            CUDA_CHECK(cudaFree(c->params));
        }
        CUDA_CHECK(cudaMalloc((void **)&c->params, count * sizeof(int)));
        cuda_count_bytes(c, count * sizeof(int), c->params_count * sizeof(int));
        c->params_count = count;
    }
    for (int a = 0; a < k; ++a) memcpy(c->params_host + (size_t)a * n, arrays[a], sizeof(int) * n);
    CUDA_CHECK(cudaMemcpyAsync(c->params, c->params_host, count * sizeof(int), cudaMemcpyHostToDevice, c->stream));
    CUDA_CHECK(cudaEventRecord(c->params_copied, c->stream));
    return c->params;
}

static void cuda_gather_windows(pnp_backend *be, const float *img, int ch, int h, int w, int pad, int wh, int ww,
                                int n, const int *y0, const int *x0, float *win)
{
    cuda_ctx *c = be->ctx;
    if (n == 0) return;
    const int *arrays[2] = {y0, x0};
    const int *starts = upload_params(c, n, 2, arrays);
    LAUNCH_CHECK(pnp_launch_gather_windows(img, ch, h, w, pad, wh, ww, n, starts, win, c->stream));
}

/* The rectangles of pack_windows / unpack_windows as the kernels' parameters
 * [y, x, rows, cols, lo, hi] x [n] (pnp_kernels.h), checked against the
 * bounds of the side they are cut from or put into; *largest: the most
 * elements of one. */
static const int *upload_rects(cuda_ctx *c, const char *what, int ch, int n, const int *y, const int *x,
                               const int *rows, const int *cols, int h, int w, size_t *largest)
{
    int *lo = pnp_malloc(sizeof(int) * 2 * (size_t)n), *hi = lo + n;
    size_t o = 0;
    *largest = 0;
    for (int j = 0; j < n; ++j) {
        if (y[j] < 0 || x[j] < 0 || rows[j] < 0 || cols[j] < 0 || y[j] + rows[j] > h || x[j] + cols[j] > w)
            pnp_fatal("%s: rectangle %d of %dx%d at (%d,%d) is outside %dx%d", what, j, rows[j], cols[j], y[j], x[j],
                      h, w);
        lo[j] = (int)(o & ((1u << 30) - 1)), hi[j] = (int)(o >> 30);
        const size_t e = (size_t)ch * rows[j] * cols[j];
        o += e;
        *largest = e > *largest ? e : *largest;
    }
    const int *arrays[6] = {y, x, rows, cols, lo, hi};
    const int *rect = upload_params(c, n, 6, arrays);
    free(lo);
    return rect;
}

static void cuda_pack_windows(pnp_backend *be, const float *win, int ch, int wh, int ww, int n, const int *sy,
                              const int *sx, const int *rows, const int *cols, float *packed)
{
    cuda_ctx *c = be->ctx;
    if (n == 0) return;
    size_t largest;
    const int *rect = upload_rects(c, "pack_windows", ch, n, sy, sx, rows, cols, wh, ww, &largest);
    LAUNCH_CHECK(pnp_launch_pack_windows(win, ch, wh, ww, n, rect, largest, packed, c->stream));
}

static void cuda_unpack_windows(pnp_backend *be, const float *packed, int ch, int n, const int *dy, const int *dx,
                                const int *rows, const int *cols, float *img, int h, int w)
{
    cuda_ctx *c = be->ctx;
    if (n == 0) return;
    size_t largest;
    const int *rect = upload_rects(c, "unpack_windows", ch, n, dy, dx, rows, cols, h, w, &largest);
    LAUNCH_CHECK(pnp_launch_unpack_windows(packed, ch, n, rect, largest, img, h, w, c->stream));
}

/* Everything the backend still holds goes: the layer engine's handle and
 * buffers, then any buffer its users did not free (their records too). Every
 * release is checked: a failure here (or an asynchronous error surfacing at
 * it) is reported by the call that met it, not by whatever runs next. */
static void cuda_destroy(pnp_backend *be)
{
    cuda_ctx *c = be->ctx;
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    if (c->unfused_convs)
        fprintf(stderr, "pnp: cuda: %d convolution plan%s ran unfused: cuDNN refused the fused call with every "
                        "algorithm, so each ran as a convolution then a kernel (slower; PNP_CUDNN_LOG=1 names them)\n",
                c->unfused_convs, c->unfused_convs == 1 ? "" : "s");
    cudnn_layers_destroy(be);
    while (c->allocs) {
        alloc_rec *r = c->allocs;
        c->allocs = r->next;
        CUDA_CHECK(cudaFree(r->ptr));
        free(r);
    }
    if (c->params) CUDA_CHECK(cudaFree(c->params));
    if (c->params_host) CUDA_CHECK(cudaFreeHost(c->params_host));
    CUDA_CHECK(cudaEventDestroy(c->params_copied));
    if (c->partial) CUDA_CHECK(cudaFree(c->partial));
    free(c->partial_host);
    if (c->nonfinite) CUDA_CHECK(cudaFree(c->nonfinite));
    CUDA_CHECK(cudaStreamDestroy(c->stream));
    free(c);
    free(be);
}

static int cuda_unfused_convs(pnp_backend *be) { return ((cuda_ctx *)be->ctx)->unfused_convs; }

static const pnp_backend_ops CUDA_OPS = {
    .name = "cuda",
    .host_memory = false,
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .peak_bytes = cuda_peak,
    .sync = cuda_sync,
    .blur_create = cuda_blur_create,
    .blur_apply = cuda_blur_apply,
    .blur_destroy = cuda_blur_destroy,
    .add_noise_clamp = cuda_add_noise_clamp,
    .blur_add_data = cuda_blur_add_data,
    .blur_gradient = cuda_blur_gradient,
    .blur_data_buffers = cuda_blur_data_buffers,
    .blur_solve = cuda_blur_solve,
    .blur_normal_window = cuda_blur_normal_window,
    .zero = cuda_zero,
    .add_scaled = cuda_add_scaled,
    .clamp01 = cuda_clamp01,
    .sum_sq_diff = cuda_sum_sq_diff,
    .dot = cuda_dot,
    .ssim = cuda_ssim,
    .free_bytes = cuda_free_bytes,
    .workspace_bytes = cuda_workspace_bytes,
    .memory_id = cuda_memory_id,
    .gather_windows = cuda_gather_windows,
    .pack_windows = cuda_pack_windows,
    .unpack_windows = cuda_unpack_windows,
    .act_bytes = cudnn_act_bytes,
    .conv_create = cudnn_conv_create,
    .conv_forward = cudnn_conv_forward,
    .conv_destroy = cudnn_conv_destroy,
    .act_add = cudnn_act_add,
    .act_from_image = cudnn_act_from_image,
    .act_concat_const = cudnn_act_concat_const,
    .act_to_image = cudnn_act_to_image,
    .pixel_unshuffle2 = cudnn_pixel_unshuffle2,
    .pixel_shuffle2 = cudnn_pixel_shuffle2,
    .unfused_convs = cuda_unfused_convs,
};

void *pnp_cuda_stream(pnp_backend *be)
{
    if (be->ops != &CUDA_OPS) pnp_fatal("pnp_cuda_stream: backend '%s' is not the CUDA backend", be->ops->name);
    return ((cuda_ctx *)be->ctx)->stream;
}

int pnp_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* no driver or no device is an answer here, not an error left for the next launch */
        return 0;
    }
    return n;
}

pnp_backend *pnp_backend_cuda_create(int device, bool bf16)
{
    int count = pnp_cuda_device_count();
    if (count == 0) pnp_fatal("backend 'cuda': no CUDA device is visible on this machine");
    if (device < 0 || device >= count) pnp_fatal("backend 'cuda': device %d requested, %d visible", device, count);
    CUDA_CHECK(cudaSetDevice(device));
    cuda_ctx *c = pnp_calloc(1, sizeof *c);
    c->device = device;
    c->bf16 = bf16;
    const char *tf32 = getenv("PNP_CUDA_TF32");
    c->tf32 = !(tf32 && !strcmp(tf32, "0"));
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&c->params_copied, cudaEventDisableTiming));
    pnp_backend *be = pnp_calloc(1, sizeof *be);
    be->ops = &CUDA_OPS;
    be->ctx = c;
    return be;
}
