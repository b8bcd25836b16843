/* test_blur.c - the CPU backend's FFT blur operators.
 *  - equal deepinv's Blur(padding="circular") on A x and A^T y (golden, abs 1e-5);
 *  - equal a direct circular convolution with a random, non-symmetric kernel,
 *    also one larger than the image (abs 1e-5);
 *  - adjoint identity <A x, y> = <x, A^T y> (relative 1e-5);
 *  - the data-term gradient irfft(S X - B) equals sum_i A_i^T (A_i x - y_i)
 *    computed operator by operator (abs 1e-5 (1 + max)); zero with no operator. */
#include <string.h>

#include "check.h"
#include "golden.h"
#include "pnp/backend.h"
#include "pnp/philox.h"

static float urand(uint32_t stream, uint64_t i)
{
    pnp_philox_ctr c = {{(uint32_t)i, (uint32_t)(i >> 32), stream, 7}};
    return (float)(pnp_philox4x32_10(c, 11, 13).v[0] / 4294967296.0);
}

/* y[ch, p] = sum_{a,b} h[a, b] x[ch, p - (a - k/2, b - k/2)] (indices modulo the image) */
static void direct_conv(const float *x, const float *h, int k, int c, int H, int W, float *y)
{
    const int half = k / 2;
    for (int ch = 0; ch < c; ++ch)
        for (int i = 0; i < H; ++i)
            for (int j = 0; j < W; ++j) {
                double s = 0;
                for (int a = 0; a < k; ++a)
                    for (int b = 0; b < k; ++b) {
                        int ii = (((i - (a - half)) % H) + H) % H, jj = (((j - (b - half)) % W) + W) % W;
                        s += (double)h[a * k + b] * x[((size_t)ch * H + ii) * W + jj];
                    }
                y[((size_t)ch * H + i) * W + j] = (float)s;
            }
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += (double)a[i] * b[i];
    return s;
}

static void golden_cases(pnp_backend *be)
{
    hid_t f = golden_open("blur.h5");
    for (int cs = 0; cs < 3; ++cs) {
        char g[32];
        snprintf(g, sizeof g, "case%d", cs);
        hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
        hsize_t kd[2], xd[3];
        float *k = golden_read(grp, "kernel", H5T_NATIVE_FLOAT, NULL, kd);
        float *x = golden_read(grp, "x", H5T_NATIVE_FLOAT, NULL, xd);
        float *y = golden_read(grp, "y", H5T_NATIVE_FLOAT, NULL, NULL);
        float *ax = golden_read(grp, "Ax", H5T_NATIVE_FLOAT, NULL, NULL);
        float *aty = golden_read(grp, "ATy", H5T_NATIVE_FLOAT, NULL, NULL);
        const int C = (int)xd[0], H = (int)xd[1], W = (int)xd[2];
        const size_t n = (size_t)C * H * W;
        pnp_blur *op = be->ops->blur_create(be, C, H, W, 1, 1, (int)kd[0], (int)kd[1], k);
        float *out = pnp_malloc(n * sizeof(float));
        be->ops->blur_apply(op, 0, x, out, false);
        CHECK(max_abs_diff(out, ax, n) <= 1e-5, "deepinv %s %dx%d kernel %d: A x, max abs diff %.3g", g, H, W,
              (int)kd[0], max_abs_diff(out, ax, n));
        be->ops->blur_apply(op, 0, y, out, true);
        CHECK(max_abs_diff(out, aty, n) <= 1e-5, "deepinv %s: A^T y, max abs diff %.3g", g, max_abs_diff(out, aty, n));
        be->ops->blur_destroy(op);
        free(out), free(k), free(x), free(y), free(ax), free(aty);
        H5Gclose(grp);
    }
    H5Fclose(f);
}

static void direct_and_adjoint(pnp_backend *be, int H, int W, int k)
{
    const int C = 3, nops = 2;
    const size_t n = (size_t)C * H * W;
    float *h = pnp_malloc(sizeof(float) * nops * k * k);
    for (int t = 0; t < nops * k * k; ++t) h[t] = urand(1, t) - 0.3f; /* non-symmetric */
    float *x = pnp_malloc(n * 4), *y = pnp_malloc(n * 4), *ax = pnp_malloc(n * 4), *aty = pnp_malloc(n * 4);
    float *ref = pnp_malloc(n * 4);
    for (size_t i = 0; i < n; ++i) x[i] = urand(2, i), y[i] = urand(3, i);
    pnp_blur *op = be->ops->blur_create(be, C, H, W, nops, 1, k, k, h);
    for (int i = 0; i < nops; ++i) {
        be->ops->blur_apply(op, i, x, ax, false);
        direct_conv(x, h + (size_t)i * k * k, k, C, H, W, ref);
        double d = max_abs_diff(ax, ref, n);
        CHECK(d <= 1e-5 * (1 + max_abs(ref, n)), "FFT blur = direct circular convolution (%dx%d, kernel %d, op %d): %.3g",
              H, W, k, i, d);
        be->ops->blur_apply(op, i, y, aty, true);
        double l = dot(ax, y, n), r = dot(x, aty, n);
        CHECK(fabs(l - r) <= 1e-5 * fabs(l), "adjoint <Ax,y> = <x,A^T y> (%dx%d, k %d, op %d): %.9g vs %.9g", H, W, k,
              i, l, r);
    }
    be->ops->blur_destroy(op);
    free(h), free(x), free(y), free(ax), free(aty), free(ref);
}

static void gradient_equals_sum(pnp_backend *be, int H, int W, int k, int nops)
{
    const int C = 3;
    const size_t n = (size_t)C * H * W;
    float *h = pnp_malloc(sizeof(float) * nops * k * k);
    for (int t = 0; t < nops * k * k; ++t) h[t] = urand(4, t) - 0.2f;
    float *x = pnp_malloc(n * 4), *y = pnp_malloc(n * 4 * nops), *r = pnp_malloc(n * 4), *t = pnp_malloc(n * 4);
    float *ref = pnp_calloc(n, 4), *g = pnp_malloc(n * 4);
    for (size_t i = 0; i < n; ++i) x[i] = urand(5, i);
    for (size_t i = 0; i < n * nops; ++i) y[i] = urand(6, i);
    pnp_blur *op = be->ops->blur_create(be, C, H, W, nops, 1, k, k, h);
    be->ops->blur_gradient(op, x, g);
    CHECK(max_abs(g, n) == 0, "gradient with no operator added is zero");
    for (int i = 0; i < nops; ++i) {
        be->ops->blur_apply(op, i, x, r, false);
        for (size_t e = 0; e < n; ++e) r[e] -= y[n * i + e];
        be->ops->blur_apply(op, i, r, t, true);
        for (size_t e = 0; e < n; ++e) ref[e] += t[e];
        be->ops->blur_add_data(op, i, y + n * i);
    }
    be->ops->blur_gradient(op, x, g);
    double d = max_abs_diff(g, ref, n);
    CHECK(d <= 1e-5 * (1 + max_abs(ref, n)), "gradient irfft(S X - B) = sum A_i^T(A_i x - y_i) (%dx%d, k %d, %d ops): %.3g",
          H, W, k, nops, d);
    be->ops->blur_gradient(op, x, x); /* in place */
    CHECK(max_abs_diff(x, g, n) == 0, "gradient in place (g aliasing x) gives the same values");
    be->ops->blur_destroy(op);
    free(h), free(x), free(y), free(r), free(t), free(ref), free(g);
}

int main(void)
{
    pnp_backend *be = pnp_backend_cpu_create(0, false);
    golden_cases(be);
    direct_and_adjoint(be, 24, 31, 5);
    direct_and_adjoint(be, 17, 16, 9);
    direct_and_adjoint(be, 6, 7, 11); /* kernel larger than the image: taps wrap */
    gradient_equals_sum(be, 20, 27, 7, 3);
    gradient_equals_sum(be, 16, 16, 5, 8);
    pnp_backend_destroy(be);
    CHECK_DONE();
}
