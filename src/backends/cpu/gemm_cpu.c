/* gemm_cpu.c - the CPU backend's register-tiled micro-kernels, shared by both
 * convolution paths (conv_cpu.c: im2col, winograd_cpu.c: the element-wise
 * stage), and the packing of weights into the layout they read.
 *
 * A micro-kernel computes one MR x NR tile of C = A B over the whole depth K
 * and stores it with bias, ReLU and a residual applied in registers:
 *     c[i, j] = relu?(bias[i] + sum_q a[q, i] B[q, j]) + res?[i, j]
 * a: the packed weights of one block of MR rows, [K, MR]; B: one panel
 * (cpu_panel) of NR columns. It keeps the tile in registers over the whole K
 * (no partial sums written back, so res may alias c), broadcasting MR weights
 * and loading NR columns per step. Kernels: AVX-512 (MR 8, NR 48), AVX2+FMA
 * (MR 6, NR 16), portable C (MR 4, NR 16); the best one the CPU runs is
 * picked at run time (__builtin_cpu_supports), so the default build needs no
 * -march flag. PNP_CONV_ISA=avx512|avx2|generic forces one (tests, benches).
 *
 * Precision bf16 (needs AVX512_BF16): every 4-byte unit of the packed weights
 * and of the B panels holds a channel pair, lo = channel 2c, hi = 2c + 1
 * (zero past the channel count), each rounded to bfloat16 (nearest even,
 * vcvtneps2bf16; cpu_put_pairs): K counts units. The micro-kernel
 * "avx512bf16" (MR 8, NR 48) does vdpbf16ps: both products of a pair into the
 * fp32 accumulator, twice the fp32 FMA rate. Bias, ReLU and residual stay
 * float32. */
#include <stdlib.h>
#include <string.h>

#include "backend_cpu.h"
#include "pnp/error.h"

#ifdef PNP_X86
#include <immintrin.h>
#endif

/* Each micro-kernel's register tile MR x NR: the kernel's loops and the
 * kernels[] table both read these. */
enum { GENERIC_MR = 4, GENERIC_NR = 16, AVX2_MR = 6, AVX2_NR = 16, AVX512_MR = 8, AVX512_NR = 48 };
_Static_assert(GENERIC_MR * GENERIC_NR <= CPU_MAX_TILE && AVX2_MR * AVX2_NR <= CPU_MAX_TILE &&
                   AVX512_MR * AVX512_NR <= CPU_MAX_TILE,
               "a micro-kernel's tile exceeds CPU_MAX_TILE");
_Static_assert((int)GENERIC_MR <= (int)CPU_MAX_MR && (int)AVX2_MR <= (int)CPU_MAX_MR &&
                   (int)AVX512_MR <= (int)CPU_MAX_MR,
               "MR exceeds CPU_MAX_MR");
_Static_assert(AVX2_NR % 8 == 0 && AVX512_NR % 16 == 0, "NR must be whole vectors");

/* ------------------------------------------------------------ micro-kernels */

static void kernel_generic(const cpu_panel *pb, const float *a, const float *bias, bool relu, const float *res,
                           size_t ldres, float *c, size_t ldc)
{
    enum { MR = GENERIC_MR, NR = GENERIC_NR };
    float acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = bias[i];
    const float *b = pb->b;
    for (int r = 0; r < pb->rows; ++r, b += pb->ldb)
        for (int kx = 0; kx < pb->kw; ++kx, a += MR)
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[kx + j];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) {
            float v = acc[i][j];
            if (relu && v < 0.f) v = 0.f;
            if (res) v += res[i * ldres + j];
            c[i * ldc + j] = v;
        }
}

#ifdef PNP_X86
__attribute__((target("avx2,fma"))) static void kernel_avx2(const cpu_panel *pb, const float *a, const float *bias,
                                                            bool relu, const float *res, size_t ldres, float *c,
                                                            size_t ldc)
{
    enum { MR = AVX2_MR, NV = AVX2_NR / 8 }; /* NR = 8 NV */
    __m256 acc[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_set1_ps(bias[i]);
    const float *b = pb->b;
    for (int r = 0; r < pb->rows; ++r, b += pb->ldb)
        for (int kx = 0; kx < pb->kw; ++kx, a += MR) {
            __m256 bv[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + kx + 8 * v);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) {
                const __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
                for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
            }
        }
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            __m256 t = acc[i][v];
            if (relu) t = _mm256_max_ps(t, zero);
            if (res) t = _mm256_add_ps(t, _mm256_loadu_ps(res + i * ldres + 8 * v));
            _mm256_storeu_ps(c + i * ldc + 8 * v, t);
        }
}

/* The AVX-512 kernels' register tile: bias in, epilogue out (inlined into each). */
enum { AVX512_NV = AVX512_NR / 16 };
__attribute__((target("avx512f"), always_inline)) static inline void avx512_tile_init(__m512 acc[][AVX512_NV],
                                                                                       const float *bias)
{
#pragma GCC unroll 8
    for (int i = 0; i < AVX512_MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < AVX512_NV; ++v) acc[i][v] = _mm512_set1_ps(bias[i]);
}

__attribute__((target("avx512f"), always_inline)) static inline void
avx512_tile_store(__m512 acc[][AVX512_NV], bool relu, const float *res, size_t ldres, float *c, size_t ldc)
{
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < AVX512_MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < AVX512_NV; ++v) {
            __m512 t = acc[i][v];
            if (relu) t = _mm512_max_ps(t, zero);
            if (res) t = _mm512_add_ps(t, _mm512_loadu_ps(res + i * ldres + 16 * v));
            _mm512_storeu_ps(c + i * ldc + 16 * v, t);
        }
}

__attribute__((target("avx512f"))) static void kernel_avx512(const cpu_panel *pb, const float *a, const float *bias,
                                                             bool relu, const float *res, size_t ldres, float *c,
                                                             size_t ldc)
{
    enum { MR = AVX512_MR, NV = AVX512_NV }; /* NR = 16 NV */
    __m512 acc[MR][NV];
    avx512_tile_init(acc, bias);
    const float *b = pb->b;
    for (int r = 0; r < pb->rows; ++r, b += pb->ldb)
        for (int kx = 0; kx < pb->kw; ++kx, a += MR) {
            __m512 bv[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + kx + 16 * v);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) {
                const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
            }
        }
    avx512_tile_store(acc, relu, res, ldres, c, ldc);
}

/* The same tile from bf16 data: each 4-byte unit of a and of the panel is a
 * channel pair (lo: channel 2u, hi: 2u + 1) of one weight row or pixel, and
 * vdpbf16ps adds both products of a pair to the fp32 accumulator. Units are
 * read through intrinsics only (no float lvalue of the bf16 data). */
__attribute__((target("avx512f,avx512bf16"))) static void kernel_avx512bf16(const cpu_panel *pb, const float *a,
                                                                           const float *bias, bool relu,
                                                                           const float *res, size_t ldres, float *c,
                                                                           size_t ldc)
{
    enum { MR = AVX512_MR, NV = AVX512_NV };
    __m512 acc[MR][NV];
    avx512_tile_init(acc, bias);
    const float *b = pb->b;
    for (int r = 0; r < pb->rows; ++r, b += pb->ldb)
        for (int kx = 0; kx < pb->kw; ++kx, a += MR) {
            __m512bh bv[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b + kx + 16 * v);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) {
                const __m512bh ai = (__m512bh)_mm512_broadcastd_epi32(_mm_loadu_si32(a + i));
#pragma GCC unroll 4
                for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], ai, bv[v]);
            }
        }
    avx512_tile_store(acc, relu, res, ldres, c, ldc);
}

/* d[j] = bf16(lo[j]) | bf16(hi[j]) << 16 for j < len (hi NULL: zero), rounded
 * to nearest even (vcvtneps2bf16): one row of channel pairs. */
__attribute__((target("avx512f,avx512bf16"))) void cpu_put_pairs(void *d, const float *lo, const float *hi,
                                                                   int len)
{
    for (int j = 0; j < len; j += 16) {
        const __mmask16 m = len - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (len - j)) - 1);
        const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, lo + j)));
        __m512i u = l;
        if (hi) {
            const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, hi + j)));
            u = _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
        }
        _mm512_mask_storeu_epi32((char *)d + 4 * (size_t)j, m, u);
    }
}
#else
void cpu_put_pairs(void *d, const float *lo, const float *hi, int len)
{
    (void)d, (void)lo, (void)hi, (void)len;
    pnp_fatal("unreachable: bf16 packing without AVX512_BF16");
}
#endif

static const cpu_kernel kernels[] = {
#ifdef PNP_X86
    {"avx512bf16", AVX512_MR, AVX512_NR, kernel_avx512bf16, true},
    {"avx512", AVX512_MR, AVX512_NR, kernel_avx512, false},
    {"avx2", AVX2_MR, AVX2_NR, kernel_avx2, false},
#endif
    {"generic", GENERIC_MR, GENERIC_NR, kernel_generic, false},
};
enum { NKERNELS = sizeof kernels / sizeof kernels[0] };

bool pnp_backend_cpu_bf16(void)
{
#ifdef PNP_X86
    const char *no = getenv("PNP_CPU_NO_BF16");
    if (no && *no && strcmp(no, "0")) return false;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16"); /* (every CPU with AVX512_BF16 has BW: winograd_cpu.c uses it) */
#else
    return false;
#endif
}

const cpu_kernel *cpu_kernel_named(const char *name)
{
    for (int i = 0; i < NKERNELS; ++i)
        if (!strcmp(kernels[i].name, name)) return &kernels[i];
    pnp_fatal("cpu conv: no micro-kernel named %s", name);
}

bool cpu_conv_isa_runs(const char *isa)
{
#ifdef PNP_X86
    if (!strcmp(isa, "avx512bf16")) return pnp_backend_cpu_bf16();
    if (!strcmp(isa, "avx512")) return __builtin_cpu_supports("avx512f");
    if (!strcmp(isa, "avx2")) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return !strcmp(isa, "generic");
}

/* Of the kernels for this precision (bf16: avx512bf16 only), the one named by
 * PNP_CONV_ISA, else the first (fastest) this CPU runs. */
const cpu_kernel *cpu_pick_kernel(bool bf16)
{
    const char *want = getenv("PNP_CONV_ISA");
    const bool forced = want && *want;
    for (int i = 0; i < NKERNELS; ++i) {
        if (forced && strcmp(want, kernels[i].name)) continue;
        if (kernels[i].bf16 != bf16) {
            if (forced)
                pnp_fatal("PNP_CONV_ISA=%s: that micro-kernel is for precision %s, this backend computes in %s", want,
                          kernels[i].bf16 ? "bf16" : "fp32", bf16 ? "bf16" : "fp32");
            continue;
        }
        if (cpu_conv_isa_runs(kernels[i].name)) return &kernels[i];
        if (forced) pnp_fatal("PNP_CONV_ISA=%s: this CPU does not support it", want);
    }
    if (!forced) pnp_fatal("precision bf16 on the cpu backend: this CPU lacks AVX512_BF16 (avx512_bf16)");
    pnp_fatal("PNP_CONV_ISA=%s: unknown (known: avx512bf16, avx512, avx2, generic)", want);
}

void cpu_pack_weights(const cpu_kernel *kn, float *dst, int rows, int cin, int kk, const float *w, size_t row_stride,
                      size_t col_stride)
{
    const int mr = kn->mr, units = kn->bf16 ? (cin + 1) / 2 : cin, K = units * kk;
    const int blocks = (rows + mr - 1) / mr;
    for (int blk = 0; blk < blocks; ++blk)
        for (int u = 0; u < K; ++u) {
            float v[2][CPU_MAX_MR] = {{0.f}};
            for (int h = 0; h < (kn->bf16 ? 2 : 1); ++h) {
                const int c = kn->bf16 ? 2 * (u / kk) + h : u / kk, q = c * kk + u % kk;
                for (int i = 0; i < mr; ++i) {
                    const int r = blk * mr + i;
                    if (r < rows && c < cin) v[h][i] = w[(size_t)r * row_stride + (size_t)q * col_stride];
                }
            }
            float *d = dst + ((size_t)blk * K + u) * mr;
            if (kn->bf16)
                cpu_put_pairs(d, v[0], v[1], mr);
            else
                memcpy(d, v[0], sizeof(float) * mr);
        }
}
