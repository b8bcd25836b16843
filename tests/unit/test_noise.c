/* test_noise.c - the counter-based measurement noise.
 *  - Philox4x32-10 known-answer vectors (Random123's kat_vectors);
 *  - our log and cos (plain arithmetic, for CPU/GPU bit identity) against libm: 1e-14;
 *  - the noise of an image is bit-identical whatever order and slabs draw it in;
 *  - the backend's sum_sq_diff is bit-identical on 1 and 3 threads;
 *  - it is standard normal (mean, std, tails on 2^21 draws) and differs by seed and operator. */
#include <string.h>

#include "check.h"
#include "pnp/backend.h"
#include "pnp/error.h"
#include "pnp/philox.h"

static void kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, const uint32_t want[4])
{
    pnp_philox_ctr c = {{c0, c1, c2, c3}};
    pnp_philox_ctr r = pnp_philox4x32_10(c, k0, k1);
    CHECK(!memcmp(r.v, want, sizeof r.v), "philox4x32-10 KAT ctr %08x..: %08x %08x %08x %08x", c0, r.v[0], r.v[1],
          r.v[2], r.v[3]);
}

int main(void)
{
    const uint32_t z[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
    const uint32_t f[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
    const uint32_t p[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
    kat(0, 0, 0, 0, 0, 0, z);
    kat(~0u, ~0u, ~0u, ~0u, ~0u, ~0u, f);
    kat(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, p);

    double worst_log = 0, worst_cos = 0;
    for (int i = 1; i <= 100000; ++i) {
        double u = i / 100000.0 * (i % 2 ? 1.0 : 1e-9);
        worst_log = fmax(worst_log, fabs(pnp_det_log(u) - log(u)) / fabs(log(u) == 0 ? 1 : log(u)));
        double t = (i - 1) / 100000.0;
        worst_cos = fmax(worst_cos, fabs(pnp_det_cos2pi(t) - cos(2 * M_PI * t)));
    }
    CHECK(worst_log < 1e-14, "deterministic log: max rel error %.3g", worst_log);
    CHECK(worst_cos < 1e-14, "deterministic cos(2 pi t): max abs error %.3g", worst_cos);

    /* order independence through the backend: whole image vs reversed slabs with offsets */
    pnp_backend *be = pnp_backend_cpu_create(0, false);
    const size_t n = 3 * 97 * 131;
    float *a = pnp_malloc(n * 4), *b = pnp_malloc(n * 4), *c = pnp_malloc(n * 4);
    for (size_t e = 0; e < n; ++e) a[e] = b[e] = c[e] = 0.5f;
    be->ops->add_noise_clamp(be, a, n, 42, 3, 0, 0.1f);
    const size_t slab = 1237;
    for (size_t s0 = (n - 1) / slab * slab;; s0 -= slab) {
        size_t len = s0 + slab > n ? n - s0 : slab;
        be->ops->add_noise_clamp(be, b + s0, len, 42, 3, s0, 0.1f);
        if (s0 == 0) break;
    }
    for (size_t e = 0; e < n; ++e) { /* one element at a time, in a scrambled order */
        size_t j = (e * 7919) % n;
        be->ops->add_noise_clamp(be, c + j, 1, 42, 3, j, 0.1f);
    }
    CHECK(!memcmp(a, b, n * 4), "noise identical drawn whole or in reversed slabs");
    CHECK(!memcmp(a, c, n * 4), "noise identical drawn pixel by pixel in a scrambled order");
    pnp_backend_destroy(be);

    /* sum_sq_diff (the PSNR's sum): the same bits on 1 and 3 threads, for a
     * length off the 4096-element blocks, after a longer call and a shorter one */
    pnp_backend *be1 = pnp_backend_cpu_create(1, false), *be3 = pnp_backend_cpu_create(3, false);
    for (size_t e = 0; e < n; ++e) c[e] = 0.5f;
    double plain = 0;
    for (size_t e = 0; e < n; ++e) plain += ((double)a[e] - 0.5) * ((double)a[e] - 0.5);
    const double s1t = be1->ops->sum_sq_diff(be1, a, c, n), s3t = be3->ops->sum_sq_diff(be3, a, c, n);
    be3->ops->sum_sq_diff(be3, a, c, 100);
    const double again = be3->ops->sum_sq_diff(be3, a, c, n);
    CHECK(s1t == s3t && s3t == again && fabs(s1t - plain) <= 1e-12 * plain,
          "sum_sq_diff of %zu elements: 1 thread %.17g, 3 threads %.17g, again %.17g (plain sum %.17g)", n, s1t, s3t,
          again, plain);
    pnp_backend_destroy(be1), pnp_backend_destroy(be3);

    const size_t m = 1u << 21;
    double s1 = 0, s2 = 0, cross = 0;
    size_t tail = 0, same_seed = 0, same_op = 0;
    for (size_t e = 0; e < m; ++e) {
        double v = pnp_normal(42, 0, e);
        s1 += v, s2 += v * v;
        tail += fabs(v) > 3.0;
        double w = pnp_normal(42, 1, e);
        cross += v * w;
        same_op += v == w;
        same_seed += v == pnp_normal(43, 0, e);
    }
    double mean = s1 / m, sd = sqrt(s2 / m - mean * mean), corr = cross / m;
    CHECK(fabs(mean) < 0.005, "noise mean %.5f (want 0, tolerance 0.005)", mean);
    CHECK(fabs(sd - 1) < 0.005, "noise std %.5f (want 1, tolerance 0.005)", sd);
    /* P(|z| > 3) = 0.0026998 */
    CHECK(fabs((double)tail / m - 0.0026998) < 0.0003, "noise tail P(|z|>3) = %.5f (want 0.00270)", (double)tail / m);
    CHECK(fabs(corr) < 0.005 && same_op == 0, "operators 0 and 1 independent: correlation %.5f", corr);
    CHECK(same_seed == 0, "seeds 42 and 43 give different noise");
    free(a), free(b), free(c);
    CHECK_DONE();
}
