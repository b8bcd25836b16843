/* test_conv_cpu.c - the CPU backend's convolution (src/backends/cpu/conv_cpu.c: packed
 * SGEMM, fused epilogue) against a plain direct convolution in double written
 * here, for every micro-kernel this CPU runs (PNP_CONV_ISA = avx512, avx2,
 * generic) and odd shapes: channel counts off the register blocks (1, 3, 4,
 * 13, 64, 96, 160), images 1, 7, 33, 60, 70, 100 pixels wide (panels across
 * rows and within one row), batch 1 and 2, k 1, 2, 3 with stride 1 and 2,
 * padding 0 and 1, the 2x2 stride-2 transposed convolution, with and without
 * bias, ReLU, a residual, and a residual that aliases y (as DRUNet's blocks do).
 * Pass: max |fast - ref| <= 1e-5 (1 + max |ref|), weights scaled 1/sqrt(fan_in)
 * so outputs are O(1) (float accumulation over up to 1440 terms). Also: the
 * result does not depend on the thread count, bit for bit (the work split
 * never splits a sum).
 * bf16 (precision bf16, the avx512bf16 micro-kernel; skipped without
 * avx512_bf16): the same shapes, each output within the rounding bound of
 * bfloat16 (8-bit significand, 7 bits stored; round to nearest even: relative
 * error <= u = 2^-8 per operand, so |bf16(w) bf16(x) - w x| <= (2u + u^2) |w x|,
 * and the float32 sum of the exact bf16 products adds the fp32 term above):
 *     |fast - ref| <= 1.01 (2^-7 + 2^-16) sum |w x| + 1e-5 (1 + max |ref|)
 * per element, sum |w x| computed with the reference; and 1 vs 3 threads. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "backends/cpu/backend_cpu.h"
#include "pnp/backend.h"
#include "pnp/error.h"

typedef struct {
    int n, cin, cout, h, w, k, stride, pad;
    bool transposed;
} shape;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float uniform(void) /* in [-1, 1) */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) / (double)(1 << 24)) * 2.f - 1.f;
}

/* y: [n, cout, oh, ow] = relu?(conv(x) + bias) + res?, in double, the obvious way. */
static void reference(const shape *s, const float *x, const float *wt, const float *bias, bool relu, const float *res,
                      int oh, int ow, double *y, double *mag /* sum |w x| */)
{
    for (int n = 0; n < s->n; ++n)
        for (int co = 0; co < s->cout; ++co)
            for (int oy = 0; oy < oh; ++oy)
                for (int ox = 0; ox < ow; ++ox) {
                    double acc = bias ? bias[co] : 0.0, m = 0.0;
                    for (int ci = 0; ci < s->cin; ++ci)
                        for (int ky = 0; ky < s->k; ++ky)
                            for (int kx = 0; kx < s->k; ++kx) {
                                int iy, ix;
                                double wv;
                                if (s->transposed) { /* y[2iy+ky, 2ix+kx] += x[iy, ix] w[ci, co, ky, kx] */
                                    if ((oy - ky) % s->k || (ox - kx) % s->k) continue;
                                    iy = (oy - ky) / s->k, ix = (ox - kx) / s->k;
                                    wv = wt[((ci * s->cout + co) * s->k + ky) * s->k + kx];
                                } else {
                                    iy = oy * s->stride + ky - s->pad, ix = ox * s->stride + kx - s->pad;
                                    wv = wt[((co * s->cin + ci) * s->k + ky) * s->k + kx];
                                }
                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                                acc += wv * x[((n * s->cin + ci) * s->h + iy) * s->w + ix];
                                m += fabs(wv * x[((n * s->cin + ci) * s->h + iy) * s->w + ix]);
                            }
                    if (relu && acc < 0) acc = 0;
                    const size_t o = ((size_t)(n * s->cout + co) * oh + oy) * ow + ox;
                    y[o] = acc + (res ? res[o] : 0.0);
                    mag[o] = m;
                }
}

enum { RES_NONE, RES_SEPARATE, RES_ALIAS };

static void one(pnp_backend *be, const char *isa, const shape *s, bool with_bias, bool relu, int res_mode)
{
    const bool bf16 = cpu_bf16(be);
    const int oh = s->transposed ? s->h * s->k : (s->h + 2 * s->pad - s->k) / s->stride + 1;
    const int ow = s->transposed ? s->w * s->k : (s->w + 2 * s->pad - s->k) / s->stride + 1;
    const size_t nx = (size_t)s->n * s->cin * s->h * s->w, ny = (size_t)s->n * s->cout * oh * ow;
    const size_t nw = (size_t)s->cin * s->cout * s->k * s->k;
    float *x = pnp_malloc(nx * sizeof(float)), *wt = pnp_malloc(nw * sizeof(float));
    float *bias = pnp_malloc(s->cout * sizeof(float)), *res = pnp_malloc(ny * sizeof(float));
    const float scale = 1.f / sqrtf((float)(s->transposed ? s->cin : s->cin * s->k * s->k));
    for (size_t i = 0; i < nx; ++i) x[i] = uniform();
    for (size_t i = 0; i < nw; ++i) wt[i] = uniform() * scale;
    for (int i = 0; i < s->cout; ++i) bias[i] = 0.5f * uniform();
    for (size_t i = 0; i < ny; ++i) res[i] = uniform();
    double *ref = pnp_malloc(ny * sizeof(double)), *mag = pnp_malloc(ny * sizeof(double));
    reference(s, x, wt, with_bias ? bias : NULL, relu, res_mode != RES_NONE ? res : NULL, oh, ow, ref, mag);

    pnp_conv *cv = be->ops->conv_create(be, s->cin, s->cout, s->k, s->stride, s->pad, s->transposed, wt,
                                        with_bias ? bias : NULL);
    if (strcmp(cpu_conv_kernel_name(cv), isa))
        CHECK(0, "PNP_CONV_ISA=%s gave the %s micro-kernel", isa, cpu_conv_kernel_name(cv));
    pnp_act ax = {be->ops->alloc(be, nx * sizeof(float)), s->n, s->cin, s->h, s->w};
    pnp_act ay = {be->ops->alloc(be, ny * sizeof(float)), s->n, s->cout, oh, ow};
    pnp_act ar = {be->ops->alloc(be, ny * sizeof(float)), s->n, s->cout, oh, ow};
    be->ops->upload(be, ax.data, x, nx * sizeof(float));
    be->ops->upload(be, ay.data, res, ny * sizeof(float)); /* y holds the residual when aliased */
    be->ops->upload(be, ar.data, res, ny * sizeof(float));
    const pnp_act *r = res_mode == RES_SEPARATE ? &ar : res_mode == RES_ALIAS ? &ay : NULL;
    be->ops->conv_forward(cv, &ax, &ay, relu, r);
    float *out = pnp_malloc(ny * sizeof(float));
    be->ops->download(be, out, ay.data, ny * sizeof(float));

    double diff = 0, big = 0, worst = 0; /* worst: max diff / allowed over the bf16 bound */
    for (size_t i = 0; i < ny; ++i) big = fabs(ref[i]) > big ? fabs(ref[i]) : big;
    for (size_t i = 0; i < ny; ++i) {
        const double d = fabs(out[i] - ref[i]);
        diff = d > diff || d != d ? d : diff;
        const double allowed = (bf16 ? 1.01 * (0x1p-7 + 0x1p-16) * mag[i] : 0.0) + 1e-5 * (1 + big);
        worst = d / allowed > worst || d != d ? d / allowed : worst;
    }
    static const char *rn[] = {"", ", residual", ", residual aliasing y"};
    CHECK(worst <= 1.0,
          "%s: %s%dx%d s%d p%d, [%d,%d,%d,%d] -> [%d,%d,%d,%d]%s%s%s: max abs diff %.2g (max |ref| %.2g)", isa,
          s->transposed ? "transposed " : "", s->k, s->k, s->stride, s->pad, s->n, s->cin, s->h, s->w, s->n, s->cout,
          oh, ow, with_bias ? ", bias" : "", relu ? ", relu" : "", rn[res_mode], diff, big);
    if (bf16) printf("# %s: %.2f of the bf16 bound\n", isa, worst);
    be->ops->free(be, ax.data), be->ops->free(be, ay.data), be->ops->free(be, ar.data);
    be->ops->conv_destroy(cv);
    free(x), free(wt), free(bias), free(res), free(ref), free(mag), free(out);
}


/* The same layer on backends of 1 and of 3 threads gives the same bits, and a
 * backend leaves the process's OpenMP thread count alone. */
static void thread_invariance(bool bf16)
{
    const int n = 1, c = 64, h = 23, w = 70;
    const size_t nx = (size_t)n * c * h * w, nw = (size_t)c * c * 9;
    float *x = pnp_malloc(nx * sizeof(float)), *wt = pnp_malloc(nw * sizeof(float));
    float *y1 = pnp_malloc(nx * sizeof(float)), *y3 = pnp_malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; ++i) x[i] = uniform();
    for (size_t i = 0; i < nw; ++i) wt[i] = uniform() / 24.f;
    const int before = omp_get_max_threads();
    pnp_backend *be1 = pnp_backend_cpu_create(1, bf16), *be3 = pnp_backend_cpu_create(3, bf16);
    CHECK(omp_get_max_threads() == before, "creating CPU backends of 1 and 3 threads leaves omp_get_max_threads() at %d",
          before);
    pnp_conv *cv1 = be1->ops->conv_create(be1, c, c, 3, 1, 1, false, wt, NULL);
    pnp_conv *cv3 = be3->ops->conv_create(be3, c, c, 3, 1, 1, false, wt, NULL);
    pnp_act ax = {x, n, c, h, w}, ay1 = {y1, n, c, h, w}, ay3 = {y3, n, c, h, w};
    be1->ops->conv_forward(cv1, &ax, &ay1, true, NULL);
    be3->ops->conv_forward(cv3, &ax, &ay3, true, NULL);
    CHECK(!memcmp(y1, y3, nx * sizeof(float)), "3x3 [1,64,23,70]%s: 1 and 3 threads give the same bits",
          bf16 ? ", bf16" : "");
    be1->ops->conv_destroy(cv1), be3->ops->conv_destroy(cv3);
    pnp_backend_destroy(be1), pnp_backend_destroy(be3);
    free(x), free(wt), free(y1), free(y3);
}

int main(void)
{
    pnp_backend *be = pnp_backend_cpu_create(0, false);
    const shape shapes[] = {
        /* n cin cout  h   w  k s p  transposed */
        {1, 3, 4, 1, 1, 3, 1, 1, false},     {2, 4, 13, 7, 7, 3, 1, 1, false},
        {1, 13, 64, 33, 7, 3, 1, 1, false},  {1, 64, 96, 7, 33, 3, 1, 1, false},
        {2, 96, 3, 33, 33, 3, 1, 1, false},  {1, 64, 64, 28, 28, 3, 1, 1, false}, /* several tiles */
        {1, 160, 8, 9, 9, 3, 1, 1, false},   /* K 1440: one panel per tile */
        {1, 13, 4, 7, 33, 1, 1, 0, false},   {2, 13, 64, 7, 33, 2, 2, 0, false}, /* odd sizes: last row/col dropped */
        {1, 64, 96, 8, 8, 2, 2, 0, false},   {1, 4, 13, 33, 7, 3, 2, 1, false},
        {1, 96, 64, 7, 33, 2, 2, 0, true},   {2, 13, 3, 1, 7, 2, 2, 0, true},
        {1, 64, 13, 8, 1, 2, 2, 0, true},    {2, 1, 5, 70, 70, 1, 1, 0, false}, /* K 1: several capped tiles */
        {1, 4, 13, 9, 33, 3, 1, 0, false},   /* no padding */
        {1, 13, 64, 5, 100, 3, 1, 1, false}, {2, 4, 13, 9, 60, 2, 1, 0, false}, /* rows wider than panels */
    };
    const char *isas[] = {"avx512", "avx2", "generic", "avx512bf16"};
    pnp_backend *be16 = pnp_backend_cpu_bf16() ? pnp_backend_cpu_create(0, true) : NULL;
    for (int i = 0; i < 4; ++i) {
        if (!cpu_conv_isa_runs(isas[i])) {
            SKIP("%s micro-kernel: this CPU does not run it%s", isas[i], i == 3 ? " (skipped: no avx512_bf16)" : "");
            continue;
        }
        setenv("PNP_CONV_ISA", isas[i], 1);
        pnp_backend *b = i == 3 ? be16 : be;
        for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; ++j) {
            const shape *s = &shapes[j];
            one(b, isas[i], s, j % 2 == 0, false, RES_NONE);
            one(b, isas[i], s, j % 2 == 1, true, (int)(j % 3)); /* relu with each residual mode */
            if (s->cin == s->cout || j % 4 == 0) one(b, isas[i], s, false, false, RES_ALIAS);
        }
    }
    unsetenv("PNP_CONV_ISA");
    /* unforced: the first micro-kernel (fastest first) this CPU runs, never a refusal */
    const float w1 = 1.f;
    pnp_conv *cv = be->ops->conv_create(be, 1, 1, 1, 1, 0, false, &w1, NULL);
    const char *expect = cpu_conv_isa_runs("avx512") ? "avx512" : cpu_conv_isa_runs("avx2") ? "avx2" : "generic";
    CHECK(!strcmp(cpu_conv_kernel_name(cv), expect), "default micro-kernel is the fastest this CPU runs: %s",
          cpu_conv_kernel_name(cv));
    be->ops->conv_destroy(cv);
    if (be16) { /* unforced bf16: the bf16 micro-kernel */
        cv = be16->ops->conv_create(be16, 1, 1, 1, 1, 0, false, &w1, NULL);
        CHECK(!strcmp(cpu_conv_kernel_name(cv), "avx512bf16"), "precision bf16 runs the avx512bf16 micro-kernel: %s",
              cpu_conv_kernel_name(cv));
        be16->ops->conv_destroy(cv);
    }
    thread_invariance(false);
    if (be16) thread_invariance(true);
    pnp_backend_destroy(be);
    pnp_backend_destroy(be16);
    CHECK_DONE();
}
