/* test_data_term.c - the data-term layer (include/pnp/data_term.h) on the CPU
 * backend, against numpy's DIRECT convolution (tests/golden/data_term.h5, made
 * by tests/cli/observed_sets.py golden: float64 sums of shifted images, no FFT):
 *  - A_i x equals the direct convolution, boundary circular and pad (the
 *    "valid" part of the extended x), odd, even, non-square and per-channel
 *    PSFs, a PSF nearly as large as the image: max abs diff <= 1e-6 max |ref|;
 *  - A_i^T r equals numpy's direct adjoint (same tolerance) and passes the
 *    adjoint identity <A x, r> = <x, A^T r> (relative 1e-6);
 *  - the gradient equals sum_i A_i^T (A_i x - y_i) made operator by operator
 *    (abs 1e-5 (1 + max)), and the value f(x) = 1/2 <x, g - b> + c equals
 *    1/2 sum_i ||A_i x - y_i||^2 summed directly (relative 1e-5), also at a
 *    point where it is small (y = A x + small noise: abs 1e-5 of 1/2 sum ||y||^2);
 *  - L, A^T y and the exact / conjugate-gradient data step (lipschitz_and_solve);
 *  - the centre convention: a PSF whose one tap sits at (kh/2 + dy, kw/2 + dx)
 *    shifts the image by (dy, dx), for even and odd sides. */
#include <string.h>

#include "check.h"
#include "golden.h"
#include "pnp/backend.h"
#include "pnp/data_term.h"
#include "pnp/philox.h"

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += (double)a[i] * b[i];
    return s;
}

static float urand(uint32_t stream, uint64_t i)
{
    pnp_philox_ctr c = {{(uint32_t)i, (uint32_t)(i >> 32), stream, 16}};
    return (float)(pnp_philox4x32_10(c, 3, 5).v[0] / 4294967296.0);
}

static void golden_case(pnp_backend *be, hid_t f, const char *name)
{
    hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
    char bname[32];
    golden_attr_str(f, name, "boundary", bname, sizeof bname);
    pnp_boundary bnd;
    CHECK(pnp_boundary_parse(bname, &bnd) == 0, "%s: boundary '%s' parses", name, bname);
    hsize_t xd[3], kd[4], rd[3];
    float *x = golden_read(g, "x", H5T_NATIVE_FLOAT, NULL, xd);
    float *k = golden_read(g, "kernels", H5T_NATIVE_FLOAT, NULL, kd);
    float *r = golden_read(g, "r", H5T_NATIVE_FLOAT, NULL, rd);
    float *ax = golden_read(g, "Ax", H5T_NATIVE_FLOAT, NULL, NULL);
    float *atr = golden_read(g, "ATr", H5T_NATIVE_FLOAT, NULL, NULL);
    const int n = (int)kd[0], C = (int)rd[0], H = (int)rd[1], W = (int)rd[2];
    const pnp_data_geometry geo = pnp_data_geometry_of(bnd, C, H, W, (int)kd[1], (int)kd[2], (int)kd[3]);
    CHECK(geo.xh == (int)xd[1] && geo.xw == (int)xd[2], "%s: x's domain %dx%d (numpy's %dx%d)", name, geo.xh, geo.xw,
          (int)xd[1], (int)xd[2]);
    const size_t nx = (size_t)C * geo.xh * geo.xw, ny = (size_t)C * H * W;
    pnp_data_term *dt = pnp_data_term_create(be, NULL, &geo, n, k);
    float *y = pnp_malloc(sizeof(float) * ny), *z = pnp_malloc(sizeof(float) * nx);
    float *meas = pnp_malloc(sizeof(float) * ny * n), *gref = pnp_calloc(nx, sizeof(float));
    float *res = pnp_malloc(sizeof(float) * ny), *grad = pnp_malloc(sizeof(float) * nx);
    double direct = 0, half_ysq = 0;
    for (int i = 0; i < n; ++i) {
        pnp_data_term_apply(dt, i, x, y, false);
        const double fwd = max_abs_diff(y, ax + ny * i, ny) / max_abs(ax + ny * i, ny);
        CHECK(fwd <= 1e-6, "%s (%s, PSF %dx%dx%d): A_%d x = direct convolution, max abs diff / max %.2g", name, bname,
              (int)kd[1], (int)kd[2], (int)kd[3], i, fwd);
        pnp_data_term_apply(dt, i, r, z, true);
        const double adj = max_abs_diff(z, atr + nx * i, nx) / max_abs(atr + nx * i, nx);
        CHECK(adj <= 1e-6, "%s: A_%d^T r = direct adjoint, max abs diff / max %.2g", name, i, adj);
        const double l = dot(y, r, ny), rr = dot(x, z, nx);
        CHECK(fabs(l - rr) <= 1e-6 * fabs(l), "%s: adjoint identity <A_%d x, r> = <x, A_%d^T r>: %.9g vs %.9g", name,
              i, i, l, rr);
        /* measurement y_i = A_i x + 0.3 r (noise-like), its part of the gradient and value */
        for (size_t e = 0; e < ny; ++e) meas[ny * i + e] = ax[ny * i + e] + 0.3f * r[e] * (float)(i + 1) / n;
        for (size_t e = 0; e < ny; ++e) res[e] = y[e] - meas[ny * i + e];
        direct += 0.5 * dot(res, res, ny);
        half_ysq += 0.5 * dot(meas + ny * i, meas + ny * i, ny);
        pnp_data_term_apply(dt, i, res, z, true);
        for (size_t e = 0; e < nx; ++e) gref[e] += z[e];
    }
    for (int i = 0; i < n; ++i) pnp_data_term_add(dt, i, meas + ny * i);
    pnp_data_term_ready(dt);
    pnp_data_term_gradient(dt, x, grad);
    const double gd = max_abs_diff(grad, gref, nx);
    CHECK(gd <= 1e-5 * (1 + max_abs(gref, nx)), "%s: gradient = sum_i A_i^T (A_i x - y_i), max abs diff %.3g", name,
          gd);
    const double value = pnp_data_term_value(dt, x, grad);
    CHECK(fabs(value - direct) <= 1e-5 * direct, "%s: value %.9g = 1/2 sum ||A_i x - y_i||^2 %.9g (1/2 sum ||y||^2 %.6g)",
          name, value, direct, half_ysq);
    pnp_data_term_destroy(dt);
    free(x), free(k), free(r), free(ax), free(atr), free(y), free(z), free(meas), free(gref), free(res), free(grad);
    H5Gclose(g);
}

/* Near the solution (y = A x + 1e-3 noise) f is ~1e-7 of 1/2 sum ||y||^2: the
 * value's cancellation must stay small against that. */
static void value_near_solution(pnp_backend *be, pnp_boundary bnd)
{
    const int C = 3, H = 40, W = 52, kh = 7, kw = 6, n = 3;
    const pnp_data_geometry geo = pnp_data_geometry_of(bnd, C, H, W, 1, kh, kw);
    const size_t nx = (size_t)C * geo.xh * geo.xw, ny = (size_t)C * H * W;
    float *k = pnp_malloc(sizeof(float) * n * kh * kw), *x = pnp_malloc(sizeof(float) * nx);
    for (int i = 0; i < n; ++i) {
        double s = 0;
        for (int t = 0; t < kh * kw; ++t) s += k[i * kh * kw + t] = urand(1, (uint64_t)i * 1000 + t);
        for (int t = 0; t < kh * kw; ++t) k[i * kh * kw + t] /= (float)s;
    }
    for (size_t e = 0; e < nx; ++e) x[e] = urand(2, e);
    pnp_data_term *dt = pnp_data_term_create(be, NULL, &geo, n, k);
    float *y = pnp_malloc(sizeof(float) * ny * n), *g = pnp_malloc(sizeof(float) * nx), *t = pnp_malloc(sizeof(float) * ny);
    double direct = 0, half_ysq = 0;
    for (int i = 0; i < n; ++i) {
        pnp_data_term_apply(dt, i, x, t, false);
        for (size_t e = 0; e < ny; ++e) {
            const float noise = 1e-3f * (urand(3 + i, e) - 0.5f);
            y[ny * i + e] = t[e] + noise;
            direct += 0.5 * ((double)t[e] - y[ny * i + e]) * ((double)t[e] - y[ny * i + e]);
            half_ysq += 0.5 * (double)y[ny * i + e] * y[ny * i + e];
        }
        pnp_data_term_add(dt, i, y + ny * i);
    }
    pnp_data_term_ready(dt);
    pnp_data_term_gradient(dt, x, g);
    const double value = pnp_data_term_value(dt, x, g);
    CHECK(fabs(value - direct) <= 1e-5 * half_ysq,
          "%s: near the solution f = %.6g, direct %.6g (diff %.2g = %.2g of 1/2 sum ||y||^2)",
          pnp_boundary_name(bnd), value, direct, fabs(value - direct), fabs(value - direct) / half_ysq);
    pnp_data_term_destroy(dt);
    free(k), free(x), free(y), free(g), free(t);
}

/* out = sum_i A_i^T A_i x, operator by operator through pnp_data_term_apply (scratch t [ny], u [nx]). */
static void normal_direct(pnp_data_term *dt, int n, const float *x, float *out, float *t, float *u, size_t nx)
{
    memset(out, 0, sizeof(float) * nx);
    for (int i = 0; i < n; ++i) {
        pnp_data_term_apply(dt, i, x, t, false);
        pnp_data_term_apply(dt, i, t, u, true);
        for (size_t e = 0; e < nx; ++e) out[e] += u[e];
    }
}

/* L, A^T y and the data step on a small problem with PSFs of both signs, not
 * normalised (so that L is not simply the operator count at the zero frequency):
 *  - L (circular: max S, exact; pad: pnp's power method) equals a plain power
 *    method of 4000 iterations in double on sum_i A_i^T A_i made operator by
 *    operator (relative 1e-4);
 *  - A^T y equals sum_i A_i^T y_i (max abs 1e-5 of its max);
 *  - x = solve(z, rho) satisfies (sum_i A_i^T A_i + rho I) x = b + rho z
 *    (residual <= 1e-5 of |b + rho z|, circular exact, pad conjugate
 *    gradients), also with z = 0 (the Wiener / Tikhonov solution). */
static void lipschitz_and_solve(pnp_backend *be, pnp_boundary bnd)
{
    const int C = 3, H = 14, W = 12, kh = 5, kw = 4, n = 3;
    const pnp_data_geometry geo = pnp_data_geometry_of(bnd, C, H, W, 1, kh, kw);
    const size_t nx = (size_t)C * geo.xh * geo.xw, ny = (size_t)C * H * W;
    float *k = pnp_malloc(sizeof(float) * n * kh * kw);
    for (int t = 0; t < n * kh * kw; ++t) k[t] = urand(21, (uint64_t)t) - 0.45f; /* sums near 0.05 * kh * kw */
    pnp_data_term *dt = pnp_data_term_create(be, NULL, &geo, n, k);
    float *y = pnp_malloc(sizeof(float) * ny), *t = pnp_malloc(sizeof(float) * ny);
    float *u = pnp_malloc(sizeof(float) * nx), *v = pnp_malloc(sizeof(float) * nx);
    float *w = pnp_malloc(sizeof(float) * nx), *aty = pnp_calloc(nx, sizeof(float));
    float *z = pnp_malloc(sizeof(float) * nx), *x = pnp_malloc(sizeof(float) * nx);
    for (int i = 0; i < n; ++i) {
        for (size_t e = 0; e < ny; ++e) y[e] = urand(22 + i, e);
        pnp_data_term_add(dt, i, y);
        pnp_data_term_apply(dt, i, y, u, true);
        for (size_t e = 0; e < nx; ++e) aty[e] += u[e];
    }
    pnp_data_term_ready(dt);
    const char *name = pnp_boundary_name(bnd);
    const double ad = max_abs_diff(pnp_data_term_adjoint_y(dt), aty, nx);
    CHECK(ad <= 1e-5 * max_abs(aty, nx), "%s: A^T y = sum_i A_i^T y_i, max abs diff %.2g", name, ad);

    /* the reference power method, double vectors */
    double *vd = pnp_malloc(sizeof(double) * nx), lam = 0;
    for (size_t e = 0; e < nx; ++e) vd[e] = urand(30, e) - 0.5;
    for (int it = 0; it < 4000; ++it) {
        double norm = 0;
        for (size_t e = 0; e < nx; ++e) norm += vd[e] * vd[e];
        for (size_t e = 0; e < nx; ++e) v[e] = (float)(vd[e] / sqrt(norm));
        normal_direct(dt, n, v, w, t, u, nx);
        lam = dot(v, w, nx);
        for (size_t e = 0; e < nx; ++e) vd[e] = w[e];
    }
    int iters = -1;
    const double L = pnp_data_term_lipschitz(dt, &iters);
    CHECK(fabs(L - lam) <= 1e-4 * lam, "%s: L = %.7g (%d power iterations), a 4000-iteration power method %.7g", name,
          L, iters, lam);
    CHECK(bnd == PNP_BOUNDARY_PAD ? iters > 0 : iters == 0, "%s: L %s", name,
          bnd == PNP_BOUNDARY_PAD ? "by the power method" : "exact (no iterations)");

    for (int with_z = 0; with_z < 2; ++with_z) {
        const float rho = 0.05f;
        for (size_t e = 0; e < nx; ++e) z[e] = with_z ? urand(40, e) : 0.f;
        const int cg = pnp_data_term_solve(dt, with_z ? z : NULL, rho, x);
        normal_direct(dt, n, x, w, t, u, nx);
        const float *b = pnp_data_term_adjoint_y(dt);
        double rr = 0, bb = 0;
        for (size_t e = 0; e < nx; ++e) {
            const double rhs = (double)b[e] + rho * (double)z[e], r = (double)w[e] + rho * (double)x[e] - rhs;
            rr += r * r;
            bb += rhs * rhs;
        }
        CHECK(sqrt(rr) <= 1e-5 * sqrt(bb), "%s: (sum A^T A + %.2g I) x = b + rho z%s: relative residual %.2g (%d CG iterations)",
              name, (double)rho, with_z ? "" : " (z = 0)", sqrt(rr / bb), cg);
    }
    pnp_data_term_destroy(dt);
    free(k), free(y), free(t), free(u), free(v), free(w), free(aty), free(z), free(x), free(vd);
}

/* One tap at (kh/2 + dy, kw/2 + dx): y[i, j] = x[i - dy, j - dx] (circular). */
static void centre_convention(pnp_backend *be, int kh, int kw, int dy, int dx)
{
    const int C = 1, H = 16, W = 20;
    const pnp_data_geometry geo = pnp_data_geometry_of(PNP_BOUNDARY_CIRCULAR, C, H, W, 1, kh, kw);
    float *k = pnp_calloc((size_t)kh * kw, sizeof(float)), *x = pnp_malloc(sizeof(float) * H * W);
    float *y = pnp_malloc(sizeof(float) * H * W);
    k[(kh / 2 + dy) * kw + kw / 2 + dx] = 1;
    for (int e = 0; e < H * W; ++e) x[e] = urand(9, (uint64_t)e);
    pnp_data_term *dt = pnp_data_term_create(be, NULL, &geo, 1, k);
    pnp_data_term_apply(dt, 0, x, y, false);
    double worst = 0;
    for (int i = 0; i < H; ++i)
        for (int j = 0; j < W; ++j) {
            const float want = x[((i - dy + H) % H) * W + (j - dx + W) % W];
            worst = fabs(y[i * W + j] - want) > worst ? fabs(y[i * W + j] - want) : worst;
        }
    CHECK(worst <= 1e-6, "PSF %dx%d centred at (%d,%d): a tap at (%d,%d) shifts the image by (%d,%d), max diff %.2g",
          kh, kw, kh / 2, kw / 2, kh / 2 + dy, kw / 2 + dx, dy, dx, worst);
    pnp_data_term_destroy(dt);
    free(k), free(x), free(y);
}

int main(void)
{
    pnp_backend *be = pnp_backend_cpu_create(2, false);
    hid_t f = golden_open("data_term.h5");
    const char *cases[] = {"circ_rgb_even", "pad_rgb_even", "pad_rgb_per_channel", "pad_gray_odd",
                           "circ_gray_thin", "pad_large_psf"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) golden_case(be, f, cases[i]);
    H5Fclose(f);
    value_near_solution(be, PNP_BOUNDARY_CIRCULAR);
    value_near_solution(be, PNP_BOUNDARY_PAD);
    lipschitz_and_solve(be, PNP_BOUNDARY_CIRCULAR);
    lipschitz_and_solve(be, PNP_BOUNDARY_PAD);
    centre_convention(be, 5, 5, 1, -2);
    centre_convention(be, 4, 6, -1, 2);
    centre_convention(be, 1, 2, 0, -1);
    pnp_data_geometry g = pnp_data_geometry_of(PNP_BOUNDARY_PAD, 3, 10, 12, 1, 4, 5);
    CHECK(g.xh == 13 && g.xw == 16 && g.oy == 1 && g.ox == 2,
          "pad geometry: 10x12 with a 4x5 PSF -> x 13x16, region at (1,2) (got %dx%d at (%d,%d))", g.xh, g.xw, g.oy,
          g.ox);
    pnp_backend_destroy(be);
    return check_failures ? 1 : 0;
}
