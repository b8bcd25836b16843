/* backend_cpu.c - the CPU backend: host memory, FFTW (single precision) for
 * the blur operators, OpenMP over pixels. It is also the reference every other
 * backend is tested against.
 *
 * FFTW plans use FFTW_ESTIMATE: the plan (and so the rounding) is the same on
 * every rank and every run, which keeps multi-rank results bit-reproducible. */
#include <fftw3.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "layers_cpu.h"
#include "pnp/backend.h"
#include "pnp/blur.h"
#include "pnp/error.h"
#include "pnp/philox.h"

typedef struct {
    int threads;
    size_t live, peak; /* bytes from alloc */
} cpu_ctx;

/* Every buffer carries its size in a header so free() can account for it. */
typedef struct {
    size_t bytes;
    size_t pad; /* keep the payload 16-byte aligned */
} buf_header;

static void *cpu_alloc(pnp_backend *be, size_t bytes)
{
    cpu_ctx *c = be->ctx;
    buf_header *h = calloc(1, sizeof(buf_header) + bytes);
    if (!h) pnp_fatal("cpu backend: out of host memory allocating %zu bytes", bytes);
    h->bytes = bytes;
    c->live += bytes;
    if (c->live > c->peak) c->peak = c->live;
    return h + 1;
}

static void cpu_free(pnp_backend *be, void *ptr)
{
    if (!ptr) return;
    cpu_ctx *c = be->ctx;
    buf_header *h = (buf_header *)ptr - 1;
    c->live -= h->bytes;
    free(h);
}

static void cpu_copy(pnp_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    memcpy(dst, src, bytes);
}

static size_t cpu_peak(pnp_backend *be) { return ((cpu_ctx *)be->ctx)->peak; }

/* ---------------------------------------------------------------- blur */

struct pnp_blur {
    pnp_backend *be;
    int c, h, w, n, wc;        /* wc = w/2 + 1 */
    fftwf_complex *spectra;    /* [n, h, wc]: FFT of the centred, wrapped kernels */
    fftwf_complex *work;       /* [c, h, wc] */
    float *real;               /* [c, h, w] scratch for the in-place-free c2r */
    fftwf_plan fwd, inv;       /* batched over the c channels */
};

static pnp_blur *cpu_blur_create(pnp_backend *be, int c, int h, int w, int n, int k, const float *kernels)
{
    pnp_blur *op = pnp_calloc(1, sizeof *op);
    op->be = be;
    op->c = c;
    op->h = h;
    op->w = w;
    op->n = n;
    op->wc = w / 2 + 1;
    const size_t spec = (size_t)h * op->wc, plane = (size_t)h * w;
    op->spectra = fftwf_alloc_complex(spec * n);
    op->work = fftwf_alloc_complex(spec * c);
    op->real = fftwf_alloc_real(plane * c);
    if (!op->spectra || !op->work || !op->real) pnp_fatal("cpu blur: out of memory for %dx%d x %d operators", h, w, n);

    const int dims[2] = {h, w};
    /* plan creation is not thread-safe in FFTW; callers create operators serially */
    op->fwd = fftwf_plan_many_dft_r2c(2, dims, c, op->real, NULL, 1, (int)plane, op->work, NULL, 1, (int)spec,
                                      FFTW_ESTIMATE);
    op->inv = fftwf_plan_many_dft_c2r(2, dims, c, op->work, NULL, 1, (int)spec, op->real, NULL, 1, (int)plane,
                                      FFTW_ESTIMATE);
    fftwf_plan one = fftwf_plan_dft_r2c_2d(h, w, op->real, op->work, FFTW_ESTIMATE);
    if (!op->fwd || !op->inv || !one) pnp_fatal("FFTW: could not plan a %dx%d transform", h, w);

    for (int i = 0; i < n; ++i) {
        pnp_wrap_kernel(kernels + (size_t)i * k * k, k, h, w, op->real);
        fftwf_execute_dft_r2c(one, op->real, op->spectra + spec * i);
    }
    fftwf_destroy_plan(one);
    return op;
}

/* y = A_i x (or A_i^T x): FFT, multiply by the spectrum (or its conjugate), inverse FFT / (h w). */
static void cpu_blur_apply(pnp_blur *op, int i, const float *x, float *y, bool adjoint)
{
    if (i < 0 || i >= op->n) pnp_fatal("cpu blur: operator %d out of range [0, %d)", i, op->n);
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    memcpy(op->real, x, sizeof(float) * plane * op->c);
    fftwf_execute(op->fwd);
    const fftwf_complex *s = op->spectra + spec * i;
    const float scale = 1.0f / (float)plane;
    for (int ch = 0; ch < op->c; ++ch) {
        fftwf_complex *v = op->work + spec * ch;
#pragma omp parallel for schedule(static)
        for (size_t t = 0; t < spec; ++t) {
            const float sr = s[t][0], si = adjoint ? -s[t][1] : s[t][1];
            const float vr = v[t][0], vi = v[t][1];
            v[t][0] = (vr * sr - vi * si) * scale;
            v[t][1] = (vr * si + vi * sr) * scale;
        }
    }
    fftwf_execute(op->inv);
    memcpy(y, op->real, sizeof(float) * plane * op->c);
}

static void cpu_blur_destroy(pnp_blur *op)
{
    if (!op) return;
    fftwf_destroy_plan(op->fwd);
    fftwf_destroy_plan(op->inv);
    fftwf_free(op->spectra);
    fftwf_free(op->work);
    fftwf_free(op->real);
    free(op);
}

/* ---------------------------------------------------------------- noise */

static void cpu_add_noise_clamp(pnp_backend *be, float *y, size_t n, uint64_t seed, uint32_t stream,
                                uint64_t offset, float sigma)
{
    (void)be;
#pragma omp parallel for schedule(static)
    for (size_t e = 0; e < n; ++e) {
        float v = y[e] + sigma * (float)pnp_normal(seed, stream, offset + e);
        y[e] = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
    }
}

/* ------------------------------------------------------------- backend */

static void cpu_destroy(pnp_backend *be)
{
    free(be->ctx);
    free(be);
}

static const pnp_backend_ops CPU_OPS = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .peak_bytes = cpu_peak,
    .blur_create = cpu_blur_create,
    .blur_apply = cpu_blur_apply,
    .blur_destroy = cpu_blur_destroy,
    .add_noise_clamp = cpu_add_noise_clamp,
    .act_bytes = cpu_act_bytes,
    .conv_create = cpu_conv_create,
    .conv_forward = cpu_conv_forward,
    .conv_destroy = cpu_conv_destroy,
    .act_add = cpu_act_add,
    .act_from_image = cpu_act_from_image,
    .act_concat_const = cpu_act_concat_const,
    .act_to_image = cpu_act_to_image,
    .pixel_unshuffle2 = cpu_pixel_unshuffle2,
    .pixel_shuffle2 = cpu_pixel_shuffle2,
};

pnp_backend *pnp_backend_cpu_create(int threads)
{
    pnp_backend *be = pnp_calloc(1, sizeof *be);
    cpu_ctx *c = pnp_calloc(1, sizeof *c);
    c->threads = threads > 0 ? threads : omp_get_max_threads();
    omp_set_num_threads(c->threads);
    be->ops = &CPU_OPS;
    be->ctx = c;
    return be;
}
