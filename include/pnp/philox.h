/* philox.h - counter-based random numbers shared by the CPU and CUDA backends.
 *
 * Philox4x32-10 (Salmon et al., SC'11): a bijection of a 128-bit counter under a
 * 64-bit key. The measurement noise of element e of operator i is a pure
 * function of (seed, i, e), so every rank, every tiling, and CPU and GPU draw
 * the same numbers in any order.
 *
 * The normal deviate uses Box-Muller with our own log and cosine written with
 * +, -, *, / and sqrt only (all correctly rounded in IEEE double on x86 and on
 * CUDA): CPU and GPU therefore give bit-identical noise provided the compiler
 * does not contract a*b+c into an FMA (gcc: -ffp-contract=off, nvcc: -fmad=false
 * for the translation units that include this header). */
#ifndef PNP_PHILOX_H
#define PNP_PHILOX_H

#include <stdint.h>

#if defined(__CUDACC__)
#define PNP_HOSTDEV __host__ __device__ __forceinline__
#else
#define PNP_HOSTDEV static inline
#endif

typedef struct { uint32_t v[4]; } pnp_philox_ctr;

PNP_HOSTDEV pnp_philox_ctr pnp_philox4x32_10(pnp_philox_ctr c, uint32_t k0, uint32_t k1)
{
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += W0;
            k1 += W1;
        }
        uint64_t p0 = (uint64_t)M0 * c.v[0];
        uint64_t p1 = (uint64_t)M1 * c.v[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        pnp_philox_ctr n;
        n.v[0] = hi1 ^ c.v[1] ^ k0;
        n.v[1] = lo1;
        n.v[2] = hi0 ^ c.v[3] ^ k1;
        n.v[3] = lo0;
        c = n;
    }
    return c;
}

/* Natural log of u in (0, 1]: u = m * 2^e with m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716, odd series to s^25. */
PNP_HOSTDEV double pnp_det_log(double u)
{
    int e = 0;
    while (u < 0.70710678118654752440) { u *= 2.0; --e; }  /* exact scaling */
    const double s = (u - 1.0) / (u + 1.0), s2 = s * s;
    double poly = 1.0 / 25.0;
    for (int k = 23; k >= 1; k -= 2) poly = poly * s2 + 1.0 / (double)k;
    return 2.0 * s * poly + (double)e * 0.69314718055994530942;
}

/* cos(2 pi t) for t in [0, 1): quadrant reduction, then Taylor series on
 * [0, pi/2) to the x^22 / x^23 terms (error < 1e-17). */
PNP_HOSTDEV double pnp_det_cos2pi(double t)
{
    const double q = t * 4.0;
    const int k = (int)q;                        /* quadrant 0..3 */
    const double x = (q - (double)k) * 1.57079632679489661923, x2 = x * x;
    double c = 1.0, s = 1.0;                     /* Horner from the top term */
    for (int n = 22; n >= 2; n -= 2) c = 1.0 - c * x2 / (double)(n * (n - 1));
    for (int n = 23; n >= 3; n -= 2) s = 1.0 - s * x2 / (double)(n * (n - 1));
    s *= x;
    switch (k & 3) {
    case 0: return c;
    case 1: return -s;
    case 2: return -c;
    default: return s;
    }
}

/* One standard normal deviate for element `index` of stream `stream` under `seed`.
 * Counter = (index lo, index hi, stream, 0x706e7000 "pnp"), key = seed. */
PNP_HOSTDEV double pnp_normal(uint64_t seed, uint32_t stream, uint64_t index)
{
    pnp_philox_ctr c;
    c.v[0] = (uint32_t)index;
    c.v[1] = (uint32_t)(index >> 32);
    c.v[2] = stream;
    c.v[3] = 0x706e7000u;
    c = pnp_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    /* 53-bit uniforms: u1 in (0, 1], u2 in [0, 1). */
    const double inv53 = 1.0 / 9007199254740992.0;
    const uint64_t a = ((uint64_t)c.v[0] << 21) ^ (uint64_t)(c.v[1] >> 11);
    const uint64_t b = ((uint64_t)c.v[2] << 21) ^ (uint64_t)(c.v[3] >> 11);
    const double u1 = ((double)(a & 0x1FFFFFFFFFFFFFull) + 1.0) * inv53;
    const double u2 = (double)(b & 0x1FFFFFFFFFFFFFull) * inv53;
#if defined(__CUDA_ARCH__)
    const double r = __dsqrt_rn(-2.0 * pnp_det_log(u1)); /* IEEE round-to-nearest */
#else
    const double r = __builtin_sqrt(-2.0 * pnp_det_log(u1)); /* sqrtsd: IEEE too */
#endif
    return r * pnp_det_cos2pi(u2);
}

#endif
