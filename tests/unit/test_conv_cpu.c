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
 * per element, sum |w x| computed with the reference; and 1 vs 3 threads.
 * These run the direct path (PNP_CONV_ALGO=direct).
 *
 * Winograd (winograd_cpu.c, PNP_CONV_ALGO=winograd2 / winograd4; skipped
 * without AVX-512), F(2x2,3x3) and F(4x4,3x3), fp32 and bf16, on 3x3 stride-1
 * padding-1 shapes whose sizes are off the tiles (partial tiles at the right
 * and bottom, runs of tiles split at 16 lanes and across rows and images,
 * channel counts off MR and odd for bf16 pairs, cout 3). The bound per output
 * element follows the computation: V = B^T d B in float (two 1-D transforms of
 * depth <= 3: gamma_6 of |B^T| |d| |B|), U = G g G^T in double rounded once (u),
 * K products summed in float with FMA (gamma_K), the output transform A^T M A
 * (gamma_6), then bias, ReLU and residual (2 roundings). With
 *     W = sum_ci |A^T| (|U| (.) |B^T| |d| |B|) |A|    (the transforms' magnitudes)
 * computed here in double from the matrices of Lavin & Gray:
 *     fp32: |fast - ref| <= 1.01 (K + 14) u W + 2u (|ref| + |bias| + |res|),  u = 2^-24
 *     bf16: U and V rounded to bfloat16 as well (2^-8 each, relative):
 *           |fast - ref| <= 1.01 ((2^-7 + 2^-16) + (K + 14) u) W + 2u (...)
 * K: the GEMM depth (cin; bf16 ceil(cin / 2)). The measured share of the
 * bound is printed (typically a few percent: the bound takes every rounding
 * at its worst). Plus: 1 vs 3 threads give the same bits, and which layers
 * PNP_CONV_ALGO=auto (the default) sends to Winograd. */
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

/* Lavin & Gray's matrices: F(2,3) (points 0, 1, -1, inf), F(4,3) (0, 1, -1, 2, -2, inf). */
static const double BT2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double AT2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const double BT4[6][6] = {{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                 {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double G4[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
static const double AT4[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

/* W[n, co, y, x] = sum_ci (|A^T| (|U[co, ci]| (.) |B^T| |d[ci]| |B|) |A|)[y % m, x % m]
 * for the m x m tile holding (y, x), d the zero-padded input patch at
 * (m ty - 1, m tx - 1): the magnitude every rounding of F(m x m, 3 x 3) scales. */
static void wino_magnitude(const shape *s, int m, const float *x, const float *wt, double *W)
{
    const int al = m + 2, th = (s->h + m - 1) / m, tw = (s->w + m - 1) / m, ci_n = s->cin;
    const double *bt = m == 2 ? &BT2[0][0] : &BT4[0][0], *g = m == 2 ? &G2[0][0] : &G4[0][0];
    const double *at = m == 2 ? &AT2[0][0] : &AT4[0][0];
    double *U = pnp_malloc(sizeof(double) * s->cout * ci_n * al * al); /* |U| [co][ci][al][al] */
    for (int co = 0; co < s->cout; ++co)
        for (int ci = 0; ci < ci_n; ++ci)
            for (int a = 0; a < al; ++a)
                for (int b = 0; b < al; ++b) {
                    double u = 0;
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx)
                            u += g[a * 3 + ky] * wt[((co * ci_n + ci) * 3 + ky) * 3 + kx] * g[b * 3 + kx];
                    U[((co * ci_n + ci) * al + a) * al + b] = fabs(u);
                }
    double *V = pnp_malloc(sizeof(double) * ci_n * al * al), S[36], t[36];
    for (int n = 0; n < s->n; ++n)
        for (int ty = 0; ty < th; ++ty)
            for (int tx = 0; tx < tw; ++tx) {
                for (int ci = 0; ci < ci_n; ++ci) /* |B^T| |d| |B| */
                    for (int a = 0; a < al; ++a)
                        for (int b = 0; b < al; ++b) {
                            double v = 0;
                            for (int i = 0; i < al; ++i)
                                for (int j = 0; j < al; ++j) {
                                    const int iy = m * ty - 1 + i, ix = m * tx - 1 + j;
                                    if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                                    v += fabs(bt[a * al + i]) * fabs(x[((n * ci_n + ci) * s->h + iy) * s->w + ix]) *
                                         fabs(bt[b * al + j]);
                                }
                            V[(ci * al + a) * al + b] = v;
                        }
                for (int co = 0; co < s->cout; ++co) {
                    for (int q = 0; q < al * al; ++q) {
                        S[q] = 0;
                        for (int ci = 0; ci < ci_n; ++ci) S[q] += U[(co * ci_n + ci) * al * al + q] * V[ci * al * al + q];
                    }
                    for (int a = 0; a < m; ++a) /* t = |A^T| S */
                        for (int b = 0; b < al; ++b) {
                            t[a * al + b] = 0;
                            for (int i = 0; i < al; ++i) t[a * al + b] += fabs(at[a * al + i]) * S[i * al + b];
                        }
                    for (int a = 0; a < m; ++a)
                        for (int b = 0; b < m; ++b) {
                            const int oy = m * ty + a, ox = m * tx + b;
                            if (oy >= s->h || ox >= s->w) continue;
                            double w = 0;
                            for (int j = 0; j < al; ++j) w += t[a * al + j] * fabs(at[b * al + j]);
                            W[((n * s->cout + co) * s->h + oy) * s->w + ox] = w;
                        }
                }
            }
    free(U), free(V);
}

/* One layer on backend be against the reference. m: the algorithm expected
 * (0 direct, else Winograd F(m x m, 3 x 3)), which sets the bound. */
static void one(pnp_backend *be, const char *isa, int m, const shape *s, bool with_bias, bool relu, int res_mode)
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
    if (cpu_conv_winograd_m(cv) != m)
        CHECK(0, "PNP_CONV_ALGO=%s gave algorithm %d, expected %d", getenv("PNP_CONV_ALGO"), cpu_conv_winograd_m(cv), m);
    if (m) wino_magnitude(s, m, x, wt, mag);
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

    double diff = 0, big = 0, worst = 0; /* worst: max diff / allowed over the bound */
    const double u = 0x1p-24, K = bf16 ? (s->cin + 1) / 2 : s->cin;
    for (size_t i = 0; i < ny; ++i) big = fabs(ref[i]) > big ? fabs(ref[i]) : big;
    for (size_t i = 0; i < ny; ++i) {
        const double d = fabs(out[i] - ref[i]);
        diff = d > diff || d != d ? d : diff;
        double allowed;
        if (m) /* Winograd: the bound of the header */
            allowed = 1.01 * ((bf16 ? 0x1p-7 + 0x1p-16 : 0.0) + (K + 14) * u) * mag[i] +
                      2 * u * (fabs(ref[i]) + 0.5 + (res_mode != RES_NONE ? 1.0 : 0.0));
        else
            allowed = (bf16 ? 1.01 * (0x1p-7 + 0x1p-16) * mag[i] : 0.0) + 1e-5 * (1 + big);
        worst = d / allowed > worst || d != d ? d / allowed : worst;
    }
    static const char *rn[] = {"", ", residual", ", residual aliasing y"};
    char algo[32] = "";
    if (m) snprintf(algo, sizeof algo, " winograd F(%d,3)", m);
    CHECK(worst <= 1.0,
          "%s%s: %s%dx%d s%d p%d, [%d,%d,%d,%d] -> [%d,%d,%d,%d]%s%s%s: max abs diff %.2g (max |ref| %.2g), %.3f of "
          "the bound",
          isa, algo, s->transposed ? "transposed " : "", s->k, s->k, s->stride, s->pad, s->n, s->cin, s->h, s->w,
          s->n, s->cout, oh, ow, with_bias ? ", bias" : "", relu ? ", relu" : "", rn[res_mode], diff, big, worst);
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
    CHECK(!memcmp(y1, y3, nx * sizeof(float)), "3x3 [1,64,23,70]%s, PNP_CONV_ALGO=%s: 1 and 3 threads give the same bits",
          bf16 ? ", bf16" : "", getenv("PNP_CONV_ALGO"));
    be1->ops->conv_destroy(cv1), be3->ops->conv_destroy(cv3);
    pnp_backend_destroy(be1), pnp_backend_destroy(be3);
    free(x), free(wt), free(y1), free(y3);
}

/* Winograd F(2,3) and F(4,3), fp32 (avx512) and bf16 (avx512bf16), forced by
 * PNP_CONV_ALGO, on shapes off the tiles, against the bound of the header. */
static void winograd(pnp_backend *be, pnp_backend *be16)
{
    if (!cpu_conv_isa_runs("avx512")) {
        SKIP("winograd: this CPU lacks AVX-512 (every layer runs the direct path)");
        return;
    }
    const shape shapes[] = {
        /* n cin cout  h   w  k s p  transposed */
        {1, 1, 1, 1, 1, 3, 1, 1, false},    {2, 16, 16, 8, 8, 3, 1, 1, false},   /* whole tiles */
        {2, 13, 24, 7, 9, 3, 1, 1, false},  {1, 64, 64, 28, 28, 3, 1, 1, false}, /* partial tiles; several panels */
        {1, 32, 40, 5, 100, 3, 1, 1, false}, /* rows of 25-50 tiles: runs split at 16 lanes */
        {3, 17, 8, 3, 3, 3, 1, 1, false},   /* tiny images: a panel spans images */
        {1, 160, 24, 9, 9, 3, 1, 1, false}, {2, 96, 3, 33, 33, 3, 1, 1, false}, /* deep K; cout 3 */
        {1, 5, 9, 66, 31, 3, 1, 1, false},  /* odd cin (bf16: a half-empty pair) */
    };
    const char *algos[] = {"winograd2", "winograd4"};
    for (int bf = 0; bf < 2; ++bf) {
        pnp_backend *b = bf ? be16 : be;
        const char *isa = bf ? "avx512bf16" : "avx512";
        if (!b) {
            SKIP("winograd bf16: skipped: no avx512_bf16");
            continue;
        }
        setenv("PNP_CONV_ISA", isa, 1);
        for (int a = 0; a < 2; ++a) {
            setenv("PNP_CONV_ALGO", algos[a], 1);
            for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; ++j) {
                const shape *s = &shapes[j];
                one(b, isa, 2 + 2 * a, s, j % 2 == 0, false, RES_NONE);
                one(b, isa, 2 + 2 * a, s, j % 2 == 1, true, (int)(1 + j % 2)); /* relu, residual (aliasing y or not) */
            }
        }
    }
}

/* Which layers PNP_CONV_ALGO sends to Winograd, and with which micro-kernel
 * (precision bf16 runs its shallower Winograd layers in fp32: conv_cpu.c). */
static void algo_choice(pnp_backend *be, pnp_backend *be16)
{
    typedef struct {
        const char *algo;
        int cin, cout, k, stride, pad;
        bool transposed, bf16;
        int expect;         /* 0 direct, else m; -1: skip without AVX-512 (forcing Winograd there dies) */
        const char *kernel; /* with AVX-512 */
    } choice;
    const bool w = cpu_conv_isa_runs("avx512");
    const choice cases[] = {
        {"auto", 64, 64, 3, 1, 1, false, false, w ? 4 : 0, "avx512"},
        {"", 512, 512, 3, 1, 1, false, false, w ? 2 : 0, "avx512"}, /* wide: F(2,3), a third of the weights */
        {"auto", 256, 256, 3, 1, 1, false, false, w ? 4 : 0, "avx512"},
        {"auto", 128, 128, 3, 1, 1, false, true, w ? 4 : 0, "avx512"}, /* bf16, shallow: fp32 F(4,3) */
        {"auto", 256, 256, 3, 1, 1, false, true, w ? 2 : 0, "avx512bf16"},
        {"auto", 4, 64, 3, 1, 1, false, false, 0, "avx512"}, /* heads stay direct */
        {"auto", 64, 3, 3, 1, 1, false, false, w ? 4 : 0, "avx512"}, /* tails do not */
        {"auto", 64, 3, 3, 1, 1, false, true, w ? 4 : 0, "avx512"},
        {"auto", 64, 128, 2, 2, 0, false, false, 0, "avx512"},
        {"auto", 128, 64, 2, 2, 0, true, false, 0, "avx512"},
        {"auto", 64, 64, 3, 2, 1, false, false, 0, "avx512"},
        {"auto", 64, 64, 3, 1, 0, false, false, 0, "avx512"},
        {"direct", 64, 64, 3, 1, 1, false, false, 0, "avx512"},
        {"direct", 512, 512, 3, 1, 1, false, true, 0, "avx512bf16"},
        {"winograd", 4, 64, 3, 1, 1, false, false, w ? 4 : -1, "avx512"},
        {"winograd", 4, 64, 3, 1, 1, false, true, w ? 4 : -1, "avx512"},
        {"winograd", 512, 64, 3, 1, 1, false, true, w ? 2 : -1, "avx512bf16"},
        {"winograd2", 64, 3, 3, 1, 1, false, false, w ? 2 : -1, "avx512"},
        {"winograd4", 3, 4, 3, 1, 1, false, true, w ? 4 : -1, "avx512bf16"},
        {"winograd4", 64, 128, 2, 2, 0, false, false, w ? 0 : -1, "avx512"},
    };
    float *wt = pnp_calloc(512 * 512 * 9, sizeof(float));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        const choice *c = &cases[i];
        pnp_backend *b = c->bf16 ? be16 : be;
        if (!b || c->expect < 0) continue;
        setenv("PNP_CONV_ALGO", c->algo, 1);
        pnp_conv *cv = b->ops->conv_create(b, c->cin, c->cout, c->k, c->stride, c->pad, c->transposed, wt, NULL);
        const int m = cpu_conv_winograd_m(cv);
        const char *kn = cpu_conv_kernel_name(cv);
        CHECK(m == c->expect && (!w || !strcmp(kn, c->kernel)),
              "PNP_CONV_ALGO='%s', %s %dx%d s%d p%d %d -> %d%s: %s%.0d on %s (expected %d on %s)", c->algo,
              c->bf16 ? "bf16" : "fp32", c->k, c->k, c->stride, c->pad, c->cin, c->cout,
              c->transposed ? " transposed" : "", m ? "winograd m " : "direct", m, kn, c->expect, c->kernel);
        b->ops->conv_destroy(cv);
    }
    free(wt);
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
        setenv("PNP_CONV_ALGO", "direct", 1);
        pnp_backend *b = i == 3 ? be16 : be;
        for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; ++j) {
            const shape *s = &shapes[j];
            one(b, isas[i], 0, s, j % 2 == 0, false, RES_NONE);
            one(b, isas[i], 0, s, j % 2 == 1, true, (int)(j % 3)); /* relu with each residual mode */
            if (s->cin == s->cout || j % 4 == 0) one(b, isas[i], 0, s, false, false, RES_ALIAS);
        }
    }
    winograd(be, be16);
    unsetenv("PNP_CONV_ISA");
    unsetenv("PNP_CONV_ALGO");
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
    algo_choice(be, be16);
    const char *algos[] = {"direct", "winograd2", "winograd4"};
    for (int a = 0; a < (cpu_conv_isa_runs("avx512") ? 3 : 1); ++a) {
        setenv("PNP_CONV_ALGO", algos[a], 1);
        thread_invariance(false);
        if (be16) thread_invariance(true);
    }
    unsetenv("PNP_CONV_ALGO");
    pnp_backend_destroy(be);
    pnp_backend_destroy(be16);
    CHECK_DONE();
}
