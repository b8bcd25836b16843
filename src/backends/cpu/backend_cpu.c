/* backend_cpu.c - the CPU backend: host memory, FFTW (single precision) for
 * the blur operators, OpenMP over pixels. It is also the reference every other
 * backend is tested against.
 *
 * FFTW plans use FFTW_ESTIMATE: the plan (and so the rounding) is the same on
 * every rank and every run, which keeps multi-rank results bit-reproducible. */
#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cpu.h"
#include "pnp/backend.h"
#include "pnp/backend_util.h"
#include "pnp/error.h"
#include "pnp/philox.h"

static void cpu_copy(pnp_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    memcpy(dst, src, bytes);
}

static void cpu_sync(pnp_backend *be) { (void)be; }

/* ---------------------------------------------------------------- blur */

struct pnp_blur {
    pnp_backend *be;
    int c, h, w, n, kc, wc;    /* kc: kernels per operator (1 or c); wc = w/2 + 1 */
    fftwf_complex *spectra;    /* [n, kc, h, wc]: FFT of the centred, wrapped kernels */
    fftwf_complex *work;       /* [c, h, wc] */
    float *real;               /* [c, h, w] scratch for the in-place-free c2r */
    fftwf_plan fwd, inv;       /* batched over the c channels */
    float *gram;               /* [kc, h, wc] S = sum |H_i|^2 of the added operators (NULL: none yet) */
    fftwf_complex *data;       /* [c, h, wc] B = sum conj(H_i) rfft(y_i) */
    fftwf_complex *xspec, *acc; /* [c, h, wc] each: blur_normal_window's rfft(x) and sum (NULL until used) */
};

/* Bytes an operator set holds: spectra, work, real, and once data is added gram and data. */
static size_t blur_bytes(const pnp_blur *op)
{
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    size_t b = sizeof(fftwf_complex) * spec * ((size_t)op->n * op->kc + op->c) + sizeof(float) * plane * op->c;
    if (op->gram) b += sizeof(float) * spec * op->kc + sizeof(fftwf_complex) * spec * op->c;
    if (op->xspec) b += 2 * sizeof(fftwf_complex) * spec * op->c;
    return b;
}

/* Channel ch's spectrum of operator i: [h, wc]. */
static const fftwf_complex *spectrum_of(const pnp_blur *op, int i, int ch)
{
    return op->spectra + (size_t)op->h * op->wc * ((size_t)i * op->kc + (op->kc > 1 ? ch : 0));
}

static pnp_blur *cpu_blur_create(pnp_backend *be, int c, int h, int w, int n, int kc, int kh, int kw,
                                 const float *kernels)
{
    if (kc != 1 && kc != c) pnp_fatal("cpu blur: %d kernels per operator for %d channels (1 or %d)", kc, c, c);
    pnp_blur *op = pnp_calloc(1, sizeof *op);
    op->be = be;
    op->c = c;
    op->h = h;
    op->w = w;
    op->n = n;
    op->kc = kc;
    op->wc = w / 2 + 1;
    const size_t spec = (size_t)h * op->wc, plane = (size_t)h * w;
    op->spectra = fftwf_alloc_complex(spec * (n > 0 ? n : 1) * kc); /* n may be 0: S and B only */
    op->work = fftwf_alloc_complex(spec * c);
    op->real = fftwf_alloc_real(plane * c);
    if (!op->spectra || !op->work || !op->real) pnp_fatal("cpu blur: out of memory for %dx%d x %d operators", h, w, n);
    cpu_count_bytes(be, blur_bytes(op), 0);

    const int dims[2] = {h, w};
    /* plan creation is not thread-safe in FFTW; callers create operators serially */
    op->fwd = fftwf_plan_many_dft_r2c(2, dims, c, op->real, NULL, 1, (int)plane, op->work, NULL, 1, (int)spec,
                                      FFTW_ESTIMATE);
    op->inv = fftwf_plan_many_dft_c2r(2, dims, c, op->work, NULL, 1, (int)spec, op->real, NULL, 1, (int)plane,
                                      FFTW_ESTIMATE);
    fftwf_plan one = fftwf_plan_dft_r2c_2d(h, w, op->real, op->work, FFTW_ESTIMATE);
    if (!op->fwd || !op->inv || !one) pnp_fatal("FFTW: could not plan a %dx%d transform", h, w);

    for (int i = 0; i < n * kc; ++i) {
        pnp_wrap_kernel(kernels + (size_t)i * kh * kw, kh, kw, h, w, op->real);
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
    const float scale = 1.0f / (float)plane;
    fftwf_complex *work = op->work;
#pragma omp parallel for collapse(2) schedule(static) num_threads(cpu_threads(op->be))
    for (int ch = 0; ch < op->c; ++ch)
        for (size_t t = 0; t < spec; ++t) {
            fftwf_complex *v = work + spec * ch + t;
            const fftwf_complex *s = spectrum_of(op, i, ch);
            const float sr = s[t][0], si = adjoint ? -s[t][1] : s[t][1];
            const float vr = (*v)[0], vi = (*v)[1];
            (*v)[0] = (vr * sr - vi * si) * scale;
            (*v)[1] = (vr * si + vi * sr) * scale;
        }
    fftwf_execute(op->inv);
    memcpy(y, op->real, sizeof(float) * plane * op->c);
}

/* S and B, zero, on first use. */
static void ensure_data(pnp_blur *op)
{
    if (op->gram) return;
    const size_t spec = (size_t)op->h * op->wc;
    op->gram = pnp_calloc(spec * op->kc, sizeof(float));
    op->data = fftwf_alloc_complex(spec * op->c);
    if (!op->data) pnp_fatal("cpu blur: out of memory for the data term of %dx%d", op->h, op->w);
    memset(op->data, 0, sizeof(fftwf_complex) * spec * op->c);
    cpu_count_bytes(op->be, sizeof(float) * spec * op->kc + sizeof(fftwf_complex) * spec * op->c, 0);
}

static void cpu_blur_data_buffers(pnp_blur *op, float **gram, size_t *gram_n, float **data, size_t *data_n)
{
    ensure_data(op);
    const size_t spec = (size_t)op->h * op->wc;
    *gram = op->gram;
    *gram_n = spec * op->kc;
    *data = (float *)op->data;
    *data_n = 2 * spec * op->c;
}

static void cpu_blur_add_data(pnp_blur *op, int i, const float *y)
{
    if (i < 0 || i >= op->n) pnp_fatal("cpu blur: operator %d out of range [0, %d)", i, op->n);
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    ensure_data(op);
    memcpy(op->real, y, sizeof(float) * plane * op->c);
    fftwf_execute(op->fwd);
#pragma omp parallel for schedule(static) num_threads(cpu_threads(op->be))
    for (size_t t = 0; t < spec; ++t) {
        for (int k = 0; k < op->kc; ++k) {
            const fftwf_complex *s = spectrum_of(op, i, k);
            op->gram[spec * k + t] += s[t][0] * s[t][0] + s[t][1] * s[t][1];
        }
        for (int ch = 0; ch < op->c; ++ch) { /* conj(s) * v */
            const fftwf_complex *s = spectrum_of(op, i, ch);
            const float sr = s[t][0], si = s[t][1];
            const float vr = op->work[spec * ch + t][0], vi = op->work[spec * ch + t][1];
            op->data[spec * ch + t][0] += sr * vr + si * vi;
            op->data[spec * ch + t][1] += sr * vi - si * vr;
        }
    }
}

static void cpu_blur_gradient(pnp_blur *op, const float *x, float *g)
{
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    if (!op->gram) {
        memset(g, 0, sizeof(float) * plane * op->c);
        return;
    }
    memcpy(op->real, x, sizeof(float) * plane * op->c);
    fftwf_execute(op->fwd);
    const float scale = 1.0f / (float)plane;
#pragma omp parallel for schedule(static) num_threads(cpu_threads(op->be))
    for (size_t t = 0; t < spec; ++t)
        for (int ch = 0; ch < op->c; ++ch) {
            fftwf_complex *v = op->work + spec * ch + t;
            const fftwf_complex *b = op->data + spec * ch + t;
            const float g = op->gram[spec * (op->kc > 1 ? ch : 0) + t];
            (*v)[0] = (g * (*v)[0] - (*b)[0]) * scale;
            (*v)[1] = (g * (*v)[1] - (*b)[1]) * scale;
        }
    fftwf_execute(op->inv);
    memcpy(g, op->real, sizeof(float) * plane * op->c);
}

/* x = irfft((B + rho rfft(z)) / (S + rho)), z NULL: 0. */
static void cpu_blur_solve(pnp_blur *op, const float *z, float rho, float *x)
{
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    ensure_data(op);
    if (z) {
        memcpy(op->real, z, sizeof(float) * plane * op->c);
        fftwf_execute(op->fwd);
    }
    const float scale = 1.0f / (float)plane;
#pragma omp parallel for schedule(static) num_threads(cpu_threads(op->be))
    for (size_t t = 0; t < spec; ++t)
        for (int ch = 0; ch < op->c; ++ch) {
            fftwf_complex *v = op->work + spec * ch + t;
            const fftwf_complex *b = op->data + spec * ch + t;
            const float d = op->gram[spec * (op->kc > 1 ? ch : 0) + t] + rho;
            const float vr = z ? (*v)[0] : 0.f, vi = z ? (*v)[1] : 0.f;
            (*v)[0] = (((*b)[0] + rho * vr) / d) * scale;
            (*v)[1] = (((*b)[1] + rho * vi) / d) * scale;
        }
    fftwf_execute(op->inv);
    memcpy(x, op->real, sizeof(float) * plane * op->c);
}

/* g = sum_i A_i^T P A_i x, P the window mask: X = rfft(x) once; per operator
 * v = irfft(H_i X) / N masked, acc += conj(H_i) rfft(v); g = irfft(acc) / N. */
static void cpu_blur_normal_window(pnp_blur *op, const float *x, float *g, int y0, int x0, int rows, int cols)
{
    if (y0 < 0 || x0 < 0 || rows < 0 || cols < 0 || y0 + rows > op->h || x0 + cols > op->w)
        pnp_fatal("cpu blur: window %dx%d at (%d,%d) outside %dx%d", rows, cols, y0, x0, op->h, op->w);
    const size_t spec = (size_t)op->h * op->wc, plane = (size_t)op->h * op->w;
    if (!op->xspec) {
        op->xspec = fftwf_alloc_complex(spec * op->c);
        op->acc = fftwf_alloc_complex(spec * op->c);
        if (!op->xspec || !op->acc) pnp_fatal("cpu blur: out of memory for %dx%d spectra", op->h, op->w);
        cpu_count_bytes(op->be, 2 * sizeof(fftwf_complex) * spec * op->c, 0);
    }
    memcpy(op->real, x, sizeof(float) * plane * op->c);
    fftwf_execute(op->fwd);
    memcpy(op->xspec, op->work, sizeof(fftwf_complex) * spec * op->c);
    memset(op->acc, 0, sizeof(fftwf_complex) * spec * op->c);
    const float scale = 1.0f / (float)plane;
    const int threads = cpu_threads(op->be);
    for (int i = 0; i < op->n; ++i) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
        for (int ch = 0; ch < op->c; ++ch)
            for (size_t t = 0; t < spec; ++t) { /* work = H_i X / N */
                const fftwf_complex *s = spectrum_of(op, i, ch), *v = op->xspec + spec * ch + t;
                op->work[spec * ch + t][0] = ((*v)[0] * s[t][0] - (*v)[1] * s[t][1]) * scale;
                op->work[spec * ch + t][1] = ((*v)[0] * s[t][1] + (*v)[1] * s[t][0]) * scale;
            }
        fftwf_execute(op->inv);
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
        for (int ch = 0; ch < op->c; ++ch) /* zero outside the window */
            for (int r = 0; r < op->h; ++r) {
                float *row = op->real + plane * ch + (size_t)r * op->w;
                if (r < y0 || r >= y0 + rows) {
                    memset(row, 0, sizeof(float) * op->w);
                } else {
                    memset(row, 0, sizeof(float) * x0);
                    memset(row + x0 + cols, 0, sizeof(float) * (op->w - x0 - cols));
                }
            }
        fftwf_execute(op->fwd);
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
        for (int ch = 0; ch < op->c; ++ch)
            for (size_t t = 0; t < spec; ++t) { /* acc += conj(H_i) V */
                const fftwf_complex *s = spectrum_of(op, i, ch), *v = op->work + spec * ch + t;
                op->acc[spec * ch + t][0] += s[t][0] * (*v)[0] + s[t][1] * (*v)[1];
                op->acc[spec * ch + t][1] += s[t][0] * (*v)[1] - s[t][1] * (*v)[0];
            }
    }
    for (size_t t = 0; t < spec * op->c; ++t) op->work[t][0] = op->acc[t][0] * scale, op->work[t][1] = op->acc[t][1] * scale;
    fftwf_execute(op->inv);
    memcpy(g, op->real, sizeof(float) * plane * op->c);
}

static void cpu_blur_destroy(pnp_blur *op)
{
    if (!op) return;
    cpu_count_bytes(op->be, 0, blur_bytes(op));
    free(op->gram);
    fftwf_free(op->data);
    fftwf_free(op->xspec);
    fftwf_free(op->acc);
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
#pragma omp parallel for schedule(static) num_threads(cpu_threads(be))
    for (size_t e = 0; e < n; ++e) {
        float v = y[e] + sigma * (float)pnp_normal(seed, stream, offset + e);
        y[e] = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
    }
}

/* ---------------------------------------------------------- vector ops */

static void cpu_zero(pnp_backend *be, void *p, size_t bytes)
{
    (void)be;
    memset(p, 0, bytes);
}

static void cpu_add_scaled(pnp_backend *be, float *z, const float *x, float a, const float *y, size_t n)
{
#pragma omp parallel for schedule(static) num_threads(cpu_threads(be))
    for (size_t e = 0; e < n; ++e) z[e] = x[e] + a * y[e];
}

/* kernels/solver.cu's clamp01_kernel does the same */
static bool cpu_clamp01(pnp_backend *be, float *x, size_t n)
{
    int nonfinite = 0;
#pragma omp parallel for schedule(static) reduction(| : nonfinite) num_threads(cpu_threads(be))
    for (size_t e = 0; e < n; ++e) {
        const float v = x[e];
        nonfinite |= !isfinite(v);
        x[e] = v < 0.f ? 0.f : (v > 1.f ? 1.f : (v == v ? v : 0.f));
    }
    return nonfinite != 0;
}

/* Summed in fixed blocks, then the blocks in order: the result does not depend
 * on the thread count. The block sums go to a grow-only buffer of the context.
 * squares: sum (a-b)^2, else sum a*b. */
static double block_sum(pnp_backend *be, const float *a, const float *b, size_t n, bool squares)
{
    enum { BLOCK = 4096 };
    cpu_ctx *c = be->ctx;
    const size_t nb = (n + BLOCK - 1) / BLOCK;
    if (nb > c->npart) {
        free(c->part);
        cpu_count_bytes(be, nb * sizeof(double), c->npart * sizeof(double));
        c->part = pnp_malloc(nb * sizeof(double));
        c->npart = nb;
    }
    double *part = c->part;
#pragma omp parallel for schedule(static) num_threads(c->threads)
    for (size_t k = 0; k < nb; ++k) {
        double s = 0;
        const size_t end = (k + 1) * BLOCK < n ? (k + 1) * BLOCK : n;
        if (squares)
            for (size_t e = k * BLOCK; e < end; ++e) {
                const double d = (double)a[e] - (double)b[e];
                s += d * d;
            }
        else
            for (size_t e = k * BLOCK; e < end; ++e) s += (double)a[e] * (double)b[e];
        part[k] = s;
    }
    double s = 0;
    for (size_t k = 0; k < nb; ++k) s += part[k];
    return s;
}

static double cpu_sum_sq_diff(pnp_backend *be, const float *a, const float *b, size_t n)
{
    return block_sum(be, a, b, n, true);
}

static double cpu_dot(pnp_backend *be, const float *a, const float *b, size_t n) { return block_sum(be, a, b, n, false); }

/* Strips of SSIM_STRIP rows per channel, each summed on its own, then the
 * strips in order: the same result whatever the thread count. Per strip, each
 * padded row (reflect index) of x and ref becomes the five products x, y,
 * x^2, y^2, xy in double, reflect-padded by the radius, which are filtered
 * along the row into the thread's buffer [5, strip rows + 2R, w]; then down
 * the columns (contiguous inner loops). The buffers (and the strip sums in
 * the context's block-sum array) are grow-only, counted in peak_bytes. */
enum { SSIM_STRIP = 32 };

static double cpu_ssim(pnp_backend *be, const float *x, const float *ref, int c, int h, int w)
{
    enum { R = PNP_SSIM_RADIUS, T = 2 * PNP_SSIM_RADIUS + 1 };
    if (h <= R || w <= R) return NAN;
    cpu_ctx *cx = be->ctx;
    double g[T], gs = 0;
    for (int t = 0; t < T; ++t) gs += g[t] = pnp_ssim_weight(t - R);
    for (int t = 0; t < T; ++t) g[t] /= gs;
    const int strips = (h + SSIM_STRIP - 1) / SSIM_STRIP, total = c * strips;
    if ((size_t)total > cx->npart) {
        free(cx->part);
        cpu_count_bytes(be, (size_t)total * sizeof(double), cx->npart * sizeof(double));
        cx->part = pnp_malloc((size_t)total * sizeof(double));
        cx->npart = (size_t)total;
    }
    const size_t wp = (size_t)w + 2 * R;
    /* doubles per thread: the filtered rows [5, strip + 2R, w], one padded row of products [5, w + 2R], a column sum [5, w] */
    const size_t per_thread = 5 * ((size_t)(SSIM_STRIP + 2 * R) * w + wp + w);
    if (per_thread * cx->threads > cx->nssim) {
        free(cx->ssim_buf);
        cpu_count_bytes(be, per_thread * cx->threads * sizeof(double), cx->nssim * sizeof(double));
        cx->ssim_buf = pnp_malloc(per_thread * cx->threads * sizeof(double));
        cx->nssim = per_thread * cx->threads;
    }
    double *part = cx->part;
#pragma omp parallel num_threads(cx->threads)
    {
        double *buf = cx->ssim_buf + per_thread * (size_t)omp_get_thread_num();
        double *prod = buf + (size_t)5 * (SSIM_STRIP + 2 * R) * w, *col = prod + 5 * wp;
#pragma omp for schedule(static)
        for (int s = 0; s < total; ++s) {
            const int ch = s / strips, i0 = (s % strips) * SSIM_STRIP;
            const int i1 = i0 + SSIM_STRIP < h ? i0 + SSIM_STRIP : h, rows = i1 - i0 + 2 * R;
            const float *a = x + (size_t)ch * h * w, *b = ref + (size_t)ch * h * w;
            for (int r = 0; r < rows; ++r) { /* padded row i0 + r: image row i0 + r - R, reflected */
                const size_t src = (size_t)pnp_reflect_index(i0 + r, R, h) * w;
                for (size_t q = 0; q < wp; ++q) {
                    const size_t at = src + (size_t)pnp_reflect_index((int)q, R, w);
                    const double u = a[at], v = b[at];
                    prod[q] = u, prod[wp + q] = v, prod[2 * wp + q] = u * u, prod[3 * wp + q] = v * v,
                    prod[4 * wp + q] = u * v;
                }
                for (int k = 0; k < 5; ++k) {
                    double *out = buf + ((size_t)k * rows + r) * w;
                    const double *in = prod + k * wp;
                    for (int j = 0; j < w; ++j) out[j] = 0;
                    for (int t = 0; t < T; ++t)
                        for (int j = 0; j < w; ++j) out[j] += g[t] * in[j + t];
                }
            }
            double sum = 0;
            for (int i = 0; i < i1 - i0; ++i) {
                for (int k = 0; k < 5; ++k) {
                    double *out = col + (size_t)k * w;
                    for (int j = 0; j < w; ++j) out[j] = 0;
                    for (int t = 0; t < T; ++t) {
                        const double *in = buf + ((size_t)k * rows + i + t) * w;
                        for (int j = 0; j < w; ++j) out[j] += g[t] * in[j];
                    }
                }
                for (int j = 0; j < w; ++j)
                    sum += pnp_ssim_pixel(col[j], col[w + j], col[2 * w + j], col[3 * w + j], col[4 * w + j]);
            }
            part[s] = sum;
        }
    }
    double sum = 0;
    for (int s = 0; s < total; ++s) sum += part[s];
    return sum / ((double)c * h * w);
}

/* ---------------------------------------------------------- tiles */

static void cpu_gather_windows(pnp_backend *be, const float *img, int c, int h, int w, int pad, int wh, int ww,
                               int n, const int *y0, const int *x0, float *win)
{
#pragma omp parallel for collapse(2) schedule(static) num_threads(cpu_threads(be))
    for (int j = 0; j < n; ++j)
        for (int ch = 0; ch < c; ++ch)
            for (int r = 0; r < wh; ++r) {
                const float *src = img + ((size_t)ch * h + pnp_reflect_index(y0[j] + r, pad, h)) * w;
                float *dst = win + (((size_t)j * c + ch) * wh + r) * ww;
                for (int q = 0; q < ww; ++q) dst[q] = src[pnp_reflect_index(x0[j] + q, pad, w)];
            }
}

static void cpu_pack_windows(pnp_backend *be, const float *win, int c, int wh, int ww, int n, const int *sy,
                             const int *sx, const int *rows, const int *cols, float *packed)
{
    (void)be;
    size_t o = 0; /* o_j */
    for (int j = 0; j < n; ++j) {
        if (sy[j] < 0 || sx[j] < 0 || rows[j] < 0 || cols[j] < 0 || sy[j] + rows[j] > wh || sx[j] + cols[j] > ww)
            pnp_fatal("pack_windows: window %d rectangle %dx%d from (%d,%d) is outside the %dx%d window", j, rows[j],
                      cols[j], sy[j], sx[j], wh, ww);
        float *dst = packed + o;
        o += (size_t)c * rows[j] * cols[j];
        for (int ch = 0; ch < c; ++ch)
            for (int r = 0; r < rows[j]; ++r)
                memcpy(dst + ((size_t)ch * rows[j] + r) * cols[j],
                       win + (((size_t)j * c + ch) * wh + sy[j] + r) * ww + sx[j], sizeof(float) * cols[j]);
    }
}

static void cpu_unpack_windows(pnp_backend *be, const float *packed, int c, int n, const int *dy, const int *dx,
                               const int *rows, const int *cols, float *img, int h, int w)
{
    (void)be;
    size_t o = 0; /* o_j */
    for (int j = 0; j < n; ++j) {
        if (dy[j] < 0 || dx[j] < 0 || rows[j] < 0 || cols[j] < 0 || dy[j] + rows[j] > h || dx[j] + cols[j] > w)
            pnp_fatal("unpack_windows: rectangle %d of %dx%d at (%d,%d) is outside the %dx%d image", j, rows[j],
                      cols[j], dy[j], dx[j], h, w);
        const float *src = packed + o;
        o += (size_t)c * rows[j] * cols[j];
        for (int ch = 0; ch < c; ++ch)
            for (int r = 0; r < rows[j]; ++r)
                memcpy(img + ((size_t)ch * h + dy[j] + r) * w + dx[j], src + ((size_t)ch * rows[j] + r) * cols[j],
                       sizeof(float) * cols[j]);
    }
}

/* ------------------------------------------------------------- backend */

static void cpu_destroy(pnp_backend *be)
{
    cpu_ctx *c = be->ctx;
    for (int t = 0; t < c->nscratch; ++t) free(c->scratch[t]);
    free(c->scratch);
    free(c->part);
    free(c->ssim_buf);
    free(c);
    free(be);
}

static const pnp_backend_ops CPU_OPS = {
    .name = "cpu",
    .host_memory = true,
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .peak_bytes = cpu_peak,
    .sync = cpu_sync,
    .blur_create = cpu_blur_create,
    .blur_apply = cpu_blur_apply,
    .blur_destroy = cpu_blur_destroy,
    .add_noise_clamp = cpu_add_noise_clamp,
    .blur_add_data = cpu_blur_add_data,
    .blur_gradient = cpu_blur_gradient,
    .blur_data_buffers = cpu_blur_data_buffers,
    .blur_solve = cpu_blur_solve,
    .blur_normal_window = cpu_blur_normal_window,
    .zero = cpu_zero,
    .add_scaled = cpu_add_scaled,
    .clamp01 = cpu_clamp01,
    .sum_sq_diff = cpu_sum_sq_diff,
    .dot = cpu_dot,
    .ssim = cpu_ssim,
    .free_bytes = cpu_free_bytes,
    .workspace_bytes = cpu_workspace_bytes,
    .memory_id = cpu_memory_id,
    .gather_windows = cpu_gather_windows,
    .pack_windows = cpu_pack_windows,
    .unpack_windows = cpu_unpack_windows,
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

pnp_backend *pnp_backend_cpu_create(int threads, bool bf16)
{
    if (bf16 && !pnp_backend_cpu_bf16())
        pnp_fatal("precision bf16 on the cpu backend needs AVX512_BF16 (avx512_bf16), which this CPU lacks");
    pnp_backend *be = pnp_calloc(1, sizeof *be);
    cpu_ctx *c = pnp_calloc(1, sizeof *c);
    c->threads = threads > 0 ? threads : omp_get_max_threads();
    c->bf16 = bf16;
    be->ops = &CPU_OPS;
    be->ctx = c;
    return be;
}
