/* winograd_cpu.c - Winograd's minimal filtering F(m x m, 3 x 3), m = 2 or 4,
 * for the CPU backend's stride-1, padding-1 3x3 convolutions (conv_cpu.c
 * chooses the layers): (m + 2)^2 / (9 m^2) of the direct method's multiplies
 * (F(2,3): 0.44, F(4,3): 0.25), at the price of transforms and accuracy.
 *
 * Lavin & Gray's formulation: with alpha = m + 2 and T = alpha^2, each
 * output tile Y (m x m) of channel co is
 *     Y = A^T [ sum_ci U[co, ci] (.) V[ci] ] A,
 *     U[co, ci] = G g[co, ci] G^T (alpha x alpha),  V[ci] = B^T d[ci] B,
 * d[ci] the alpha x alpha input patch at (m ty - 1, m tx - 1) (zero outside
 * the image: padding 1). Matrices for the points 0, 1, -1 (F(2,3)) and
 * 0, 1, -1, 2, -2 (F(4,3)), plus infinity:
 *   F(2,3): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *           G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], A^T = [1 1 1 0; 0 1 -1 -1]
 *   F(4,3): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 *                  0 2 -1 -2 1 0; 0 4 0 -5 0 1],
 *           G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
 *                1/24 -1/12 1/6; 0 0 1],
 *           A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * The element-wise stage over all channels is T GEMMs, one per position
 * xi = (a, b) of the tile: M_xi [cout, tiles] = U_xi [cout, cin] V_xi [cin,
 * tiles], run by the backend's micro-kernels (gemm_cpu.c) on packed U_xi
 * and on panels of NR tiles of V_xi, so fp32 and bf16 (channel pairs,
 * vdpbf16ps) come for free.
 *
 * Layouts: U (computed in double at create, rounded once to float or to
 * bf16 pairs): [T][ceil(cout / MR)][K][MR], K = cin (bf16: ceil(cin / 2)).
 * Tiles are numbered across the batch, p = (n th + ty) tw + tx (th, tw: tiles
 * per column and row), so small images still fill panels. Per thread:
 *   V: [T][K][NR]  the transformed inputs of one panel of NR tiles,
 *   M: [T][CB][NR] the GEMM results of CB output channels of that panel,
 * in the backend's per-thread scratch (announced at create through
 * cpu_reserve_scratch, so the memory plan counts it; about 4 (K + CB) T NR
 * bytes: with NR 48, the most for DRUNet under auto is 1.9 MiB (256 channels,
 * F(4,3)); 512 channels take 1.7 MiB at F(2,3), 3.7 MiB at F(4,3) forced).
 *
 * Work split: tasks = (panel, group of output-channel blocks; groups only
 * when panels would leave threads idle), OpenMP dynamic. A task transforms
 * its panel's inputs (runs of at most 16 tiles in one tile row, one tile per
 * AVX-512 lane: 16 m + 2 input columns loaded per row, split into the alpha
 * phases by permutes), then per chunk of CB output channels runs the T GEMMs
 * into M and the output transform, fused with bias, ReLU and the residual
 * (y = relu(Y + bias) + res, res may alias y), stored straight into y's rows.
 * No sum is split across tasks, so the result does not depend on the thread
 * count. The transforms need AVX-512 (cpu_wino_runs); without it every layer
 * runs the direct path.
 *
 * Accuracy, per layer (tests/unit/test_conv_cpu.c states and checks the
 * bound: each stage's roundings scaled by the magnitudes the transforms
 * carry, W = sum_ci |A^T| (|U| (.) |B^T| |d| |B|) |A|; fp32: |err| <= 1.01
 * (K + 14) 2^-24 W + 2^-23 (|y| + |bias| + |res|); bf16 adds (2^-7 + 2^-16) W
 * for U and V rounded to 8 bits). Measured on DRUNet's layers, max |y -
 * y_direct| / max |y_direct|: fp32 F(2,3) 1-4e-6, F(4,3) 5e-6 to 3e-5 (the
 * points +-2 and the 1/24 of G cost about a decimal digit; the direct path
 * itself is ~1e-6 from exact); bf16 F(2,3) 0.4-1% from bf16 direct (which is
 * itself ~2^-8 from exact), bf16 F(4,3) 3-18%: never chosen (conv_cpu.c's
 * pick_algo). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cpu.h"
#include "pnp/error.h"

#ifdef PNP_X86
#include <immintrin.h>
#endif

enum { LANES = 16,                /* tiles per AVX-512 vector */
       MAX_RUNS = 64,             /* runs per panel: at most NR */
       MAX_ALPHA = 6,             /* input tile side for m = 4 */
       M_BUDGET = 256 * 1024 };   /* bytes of M per chunk (sets CB) */

struct cpu_wino {
    pnp_backend *be; /* its per-thread scratch */
    const cpu_kernel *kern;
    int m, alpha, T;   /* output tile m x m, input tile alpha x alpha, T = alpha^2 GEMMs */
    int cin, cout, K;  /* K: GEMM depth in 4-byte units (cin, or bf16 pairs) */
    int blocks, cb;    /* row blocks of MR output channels; output channels per chunk of M */
    float *u;          /* [T][blocks][K][MR] transformed, packed weights */
    float *bias;       /* [blocks MR], zero past cout or without bias */
    float zero[CPU_MAX_MR]; /* the GEMMs' bias (the layer's is added after the output transform) */
};

static size_t u_floats(const cpu_wino *wg) { return (size_t)wg->T * wg->blocks * wg->K * wg->kern->mr; }

size_t cpu_wino_packed_bytes(const cpu_wino *wg)
{
    return sizeof(float) * (u_floats(wg) + (size_t)wg->blocks * wg->kern->mr);
}

/* Per thread: V [T][K][NR] and M [T][CB][NR], the T blocks SKEW floats
 * (one cache line) further apart than their size: K NR and CB NR floats are
 * multiples of 4 KiB for most layers, which would put the T vectors a
 * transform stores or loads at once in one L1 set. */
enum { SKEW = 16 };
static size_t v_ld(const cpu_wino *wg) { return (size_t)wg->K * wg->kern->nr + SKEW; }
static size_t m_ld(const cpu_wino *wg) { return (size_t)wg->cb * wg->kern->nr + SKEW; }
static size_t v_bytes(const cpu_wino *wg) { return cpu_round64(sizeof(float) * wg->T * v_ld(wg)); }
static size_t m_bytes(const cpu_wino *wg) { return cpu_round64(sizeof(float) * wg->T * m_ld(wg)); }

bool cpu_wino_runs(const cpu_kernel *kn)
{
#ifdef PNP_X86
    return !strcmp(kn->name, "avx512") || !strcmp(kn->name, "avx512bf16");
#else
    (void)kn;
    return false;
#endif
}

/* ------------------------------------------------------------------ create */

static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double G4[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};

cpu_wino *cpu_wino_create(pnp_backend *be, const cpu_kernel *kn, int m, int cin, int cout, const float *weight,
                          const float *bias)
{
    if (m != 2 && m != 4) pnp_fatal("cpu winograd: output tile %d (known: 2, 4)", m);
    if (!cpu_wino_runs(kn) || kn->nr > MAX_RUNS)
        pnp_fatal("cpu winograd: needs an AVX-512 micro-kernel, not %s", kn->name);
    cpu_wino *wg = pnp_calloc(1, sizeof *wg);
    const int mr = kn->mr, alpha = m + 2;
    *wg = (cpu_wino){.be = be, .kern = kn, .m = m, .alpha = alpha, .T = alpha * alpha, .cin = cin, .cout = cout,
                     .K = kn->bf16 ? (cin + 1) / 2 : cin, .blocks = (cout + mr - 1) / mr};
    int cb = (int)(M_BUDGET / (sizeof(float) * wg->T * kn->nr)) / mr * mr;
    wg->cb = cb < mr ? mr : cb > wg->blocks * mr ? wg->blocks * mr : cb;
    wg->u = cpu_alloc64(sizeof(float) * u_floats(wg));
    wg->bias = cpu_alloc64(sizeof(float) * wg->blocks * mr);
    for (int r = 0; r < wg->blocks * mr; ++r) wg->bias[r] = bias && r < cout ? bias[r] : 0.f;
    cpu_count_bytes(be, cpu_wino_packed_bytes(wg), 0);
    cpu_reserve_scratch(be, v_bytes(wg) + m_bytes(wg));

    /* U[(a, b)][co, ci] = sum_ky,kx G[a][ky] g[co, ci, ky, kx] G[b][kx], in
     * double, a row a of positions at a time: plane[b] = U[(a, b)] [cout, cin]. */
    const double(*G)[3] = m == 2 ? G2 : G4;
    const size_t per_xi = (size_t)wg->blocks * wg->K * mr, plane_n = (size_t)cout * cin;
    float *plane = pnp_malloc(sizeof(float) * alpha * plane_n);
    for (int a = 0; a < alpha; ++a) {
#pragma omp parallel for schedule(static) num_threads(cpu_threads(be))
        for (size_t oc = 0; oc < plane_n; ++oc) {
            const float *g = weight + oc * 9; /* [3][3] of (co, ci) */
            double r[3];                      /* (G g)[a][kx] */
            for (int kx = 0; kx < 3; ++kx) r[kx] = G[a][0] * g[kx] + G[a][1] * g[3 + kx] + G[a][2] * g[6 + kx];
            for (int b = 0; b < alpha; ++b)
                plane[b * plane_n + oc] = (float)(r[0] * G[b][0] + r[1] * G[b][1] + r[2] * G[b][2]);
        }
        for (int b = 0; b < alpha; ++b)
            cpu_pack_weights(kn, wg->u + (size_t)(a * alpha + b) * per_xi, cout, cin, 1, plane + b * plane_n,
                             (size_t)cin, 1);
    }
    free(plane);
    return wg;
}

void cpu_wino_destroy(cpu_wino *wg)
{
    if (!wg) return;
    cpu_count_bytes(wg->be, 0, cpu_wino_packed_bytes(wg));
    free(wg->u);
    free(wg->bias);
    free(wg);
}

/* ----------------------------------------------------------------- forward */

#ifdef PNP_X86

/* A run of at most LANES consecutive tiles in one tile row of one image, and
 * the lanes [at, at + len) of the panel it fills. Input rows are read from
 * column xs = m tx0 - 1 on, ld[k] masking vector k of that run (zero outside
 * the image); output rows are written from column m tx0, st[k] masking vector
 * k (inside the image and the run). */
typedef struct {
    int at, len, n, ty, tx0, xs;
    __mmask16 ld[5], st[4];
} run;

/* Bits l of a 16-lane mask with lo <= base + l < hi. */
static __mmask16 span_mask(int base, int lo, int hi)
{
    int a = lo - base, b = hi - base;
    if (a < 0) a = 0;
    if (b > LANES) b = LANES;
    if (b <= a) return 0;
    return (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1));
}

/* The runs of tiles p0 .. p0 + np - 1 (tw tiles per row, th rows per image). */
static int make_runs(run *rs, int m, long p0, int np, int th, int tw, int W)
{
    int nrun = 0;
    for (int at = 0; at < np;) {
        const long p = p0 + at;
        const int tx = (int)(p % tw), ty = (int)(p / tw % th), n = (int)(p / tw / th);
        int len = tw - tx < np - at ? tw - tx : np - at;
        if (len > LANES) len = LANES;
        run *r = &rs[nrun++];
        *r = (run){.at = at, .len = len, .n = n, .ty = ty, .tx0 = tx, .xs = m * tx - 1};
        for (int k = 0; k < 5; ++k) /* input columns xs .. xs + m len + 1 */
            r->ld[k] = span_mask(r->xs + LANES * k, r->xs > 0 ? r->xs : 0, r->xs + m * len + 2 < W ? r->xs + m * len + 2 : W);
        for (int k = 0; k < 4; ++k) /* output columns m tx .. m (tx + len) - 1 */
            r->st[k] = span_mask(m * tx + LANES * k, m * tx, m * (tx + len) < W ? m * (tx + len) : W);
        at += len;
    }
    return nrun;
}

/* phases (0, 1) and (2, 3) of 8 tiles: lanes 0..7 phase 2q, 8..15 phase 2q + 1 of flat 0..31 */
static const int32_t IDX_PHASE4[2][16] = {{0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29},
                                          {2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31}};
static const int32_t IDX_PHASE2[2][16] = {{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30},
                                          {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}};
/* lanes 1..15 of the first operand, then lane 0 (NEXT[0]) or 1 (NEXT[1]) of the second */
static const int32_t IDX_NEXT[2][16] = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                                        {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17}};
/* interleave two vectors: lanes 0..7 (LO) or 8..15 (HI) of each, alternating */
static const int32_t IDX_ZIP_LO[16] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const int32_t IDX_ZIP_HI[16] = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
static const int64_t IDX_ZIP64_LO[8] = {0, 8, 1, 9, 2, 10, 3, 11}, IDX_ZIP64_HI[8] = {4, 12, 5, 13, 6, 14, 7, 15};

#define TARGET_512 __attribute__((target("avx512f")))

TARGET_512 static inline __m512i idx(const int32_t *v) { return _mm512_loadu_si512(v); }

/* B^T d for one column of d (alpha values, one tile per lane). */
TARGET_512 static inline void bt4(const __m512 *d, __m512 *t)
{
    const __m512 c4 = _mm512_set1_ps(4.f), c5 = _mm512_set1_ps(5.f), c2 = _mm512_set1_ps(2.f);
    t[0] = _mm512_fnmadd_ps(c5, d[2], _mm512_fmadd_ps(c4, d[0], d[4]));
    t[1] = _mm512_fnmadd_ps(c4, _mm512_add_ps(d[1], d[2]), _mm512_add_ps(d[3], d[4]));
    t[2] = _mm512_fmadd_ps(c4, _mm512_sub_ps(d[1], d[2]), _mm512_sub_ps(d[4], d[3]));
    t[3] = _mm512_fmadd_ps(c2, _mm512_sub_ps(d[3], d[1]), _mm512_sub_ps(d[4], d[2]));
    t[4] = _mm512_fnmadd_ps(c2, _mm512_sub_ps(d[3], d[1]), _mm512_sub_ps(d[4], d[2]));
    t[5] = _mm512_fnmadd_ps(c5, d[3], _mm512_fmadd_ps(c4, d[1], d[5]));
}

TARGET_512 static inline void bt2(const __m512 *d, __m512 *t)
{
    t[0] = _mm512_sub_ps(d[0], d[2]);
    t[1] = _mm512_add_ps(d[1], d[2]);
    t[2] = _mm512_sub_ps(d[2], d[1]);
    t[3] = _mm512_sub_ps(d[1], d[3]);
}

/* A^T s for one column of s (alpha values -> m). */
TARGET_512 static inline void at4(const __m512 *s, __m512 *o)
{
    const __m512 p12 = _mm512_add_ps(s[1], s[2]), m12 = _mm512_sub_ps(s[1], s[2]);
    const __m512 p34 = _mm512_add_ps(s[3], s[4]), m34 = _mm512_sub_ps(s[3], s[4]);
    o[0] = _mm512_add_ps(_mm512_add_ps(s[0], p12), p34);
    o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), m34, m12);
    o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), p34, p12);
    o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.f), m34, m12), s[5]);
}

TARGET_512 static inline void at2(const __m512 *s, __m512 *o)
{
    o[0] = _mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]);
    o[1] = _mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]);
}

/* The alpha phases of one input row of a run: d[q] lane j = row[xs + m j + q]. */
TARGET_512 static inline void load_phases(int m, const float *row, const run *r, __m512 *d)
{
    const float *p = row + r->xs;
    if (m == 4) {
        __m512 z[5];
        for (int k = 0; k < 5; ++k) z[k] = _mm512_maskz_loadu_ps(r->ld[k], p + LANES * k);
        for (int q = 0; q < 2; ++q) { /* tiles 0..7 from z0, z1, tiles 8..15 from z2, z3 */
            const __m512i ix = idx(IDX_PHASE4[q]);
            const __m512 lo = _mm512_permutex2var_ps(z[0], ix, z[1]), hi = _mm512_permutex2var_ps(z[2], ix, z[3]);
            d[2 * q] = _mm512_shuffle_f32x4(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
            d[2 * q + 1] = _mm512_shuffle_f32x4(lo, hi, _MM_SHUFFLE(3, 2, 3, 2));
        }
        d[4] = _mm512_permutex2var_ps(d[0], idx(IDX_NEXT[0]), z[4]);
        d[5] = _mm512_permutex2var_ps(d[1], idx(IDX_NEXT[1]), z[4]);
    } else {
        __m512 z[3];
        for (int k = 0; k < 3; ++k) z[k] = _mm512_maskz_loadu_ps(r->ld[k], p + LANES * k);
        d[0] = _mm512_permutex2var_ps(z[0], idx(IDX_PHASE2[0]), z[1]);
        d[1] = _mm512_permutex2var_ps(z[0], idx(IDX_PHASE2[1]), z[1]);
        d[2] = _mm512_permutex2var_ps(d[0], idx(IDX_NEXT[0]), z[2]);
        d[3] = _mm512_permutex2var_ps(d[1], idx(IDX_NEXT[1]), z[2]);
    }
}

/* V = B^T d B for the run's tiles of one channel plane [H, W]: V[xi] lanes
 * stored at dst + xi ld (mask lanes). The same rows of the plane `next`
 * (the next channel's, or NULL) are prefetched: NCHW planes of 2^k floats
 * alias in the caches, so without it most of these loads miss. Written for a
 * constant m (the wrappers below), so the loops unroll into registers. */
TARGET_512 static inline __attribute__((always_inline)) void
input_transform_m(const int m, const float *plane, const float *next, int H, int W, const run *r, float *dst, size_t ld,
                  __mmask16 lanes)
{
    const int alpha = m + 2, nz = m == 4 ? 5 : 3;
    __m512 h[MAX_ALPHA][MAX_ALPHA]; /* h[i] = (d B)[i]: row i transformed */
#pragma GCC unroll 6
    for (int i = 0; i < alpha; ++i) {
        const int y = m * r->ty - 1 + i;
        if (y < 0 || y >= H) {
#pragma GCC unroll 6
            for (int q = 0; q < alpha; ++q) h[i][q] = _mm512_setzero_ps();
            continue;
        }
        if (next)
#pragma GCC unroll 5
            for (int k = 0; k < nz; ++k)
                if (r->ld[k]) _mm_prefetch((const char *)(next + (size_t)y * W + r->xs + LANES * k), _MM_HINT_T0);
        __m512 d[MAX_ALPHA];
        load_phases(m, plane + (size_t)y * W, r, d);
        if (m == 4)
            bt4(d, h[i]);
        else
            bt2(d, h[i]);
    }
#pragma GCC unroll 6
    for (int b = 0; b < alpha; ++b) {
        __m512 col[MAX_ALPHA], v[MAX_ALPHA];
#pragma GCC unroll 6
        for (int i = 0; i < alpha; ++i) col[i] = h[i][b];
        if (m == 4)
            bt4(col, v);
        else
            bt2(col, v);
#pragma GCC unroll 6
        for (int a = 0; a < alpha; ++a) _mm512_mask_storeu_ps(dst + (size_t)(a * alpha + b) * ld, lanes, v[a]);
    }
}

typedef void (*input_fn)(const float *plane, const float *next, int H, int W, const run *r, float *dst, size_t ld,
                         __mmask16 lanes);
TARGET_512 static void input_transform2(const float *plane, const float *next, int H, int W, const run *r, float *dst,
                                        size_t ld, __mmask16 lanes)
{
    input_transform_m(2, plane, next, H, W, r, dst, ld, lanes);
}
TARGET_512 static void input_transform4(const float *plane, const float *next, int H, int W, const run *r, float *dst,
                                        size_t ld, __mmask16 lanes)
{
    input_transform_m(4, plane, next, H, W, r, dst, ld, lanes);
}

/* Y = A^T M A for the run's tiles of one output channel (M[xi] lanes at
 * src + xi ld), then y = relu?(Y + bias) + res? into the plane y [H, W].
 * For a constant m, as input_transform_m. */
TARGET_512 static inline __attribute__((always_inline)) void
output_transform_m(const int m, const float *src, size_t ld, const run *r, __mmask16 lanes, float bias, bool relu,
                   const float *res, float *y, int H, int W)
{
    const int alpha = m + 2;
    __m512 s[MAX_ALPHA][4]; /* s[a] = (M A)[a] */
#pragma GCC unroll 6
    for (int a = 0; a < alpha; ++a) {
        __m512 row[MAX_ALPHA];
#pragma GCC unroll 6
        for (int b = 0; b < alpha; ++b) row[b] = _mm512_maskz_loadu_ps(lanes, src + (size_t)(a * alpha + b) * ld);
        if (m == 4)
            at4(row, s[a]);
        else
            at2(row, s[a]);
    }
    __m512 out[4][4]; /* out[a'][b'] = Y[a'][b'] */
#pragma GCC unroll 4
    for (int b = 0; b < m; ++b) {
        __m512 col[MAX_ALPHA], o[4];
#pragma GCC unroll 6
        for (int a = 0; a < alpha; ++a) col[a] = s[a][b];
        if (m == 4)
            at4(col, o);
        else
            at2(col, o);
#pragma GCC unroll 4
        for (int a = 0; a < m; ++a) out[a][b] = o[a];
    }
    const __m512 vb = _mm512_set1_ps(bias), zero = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int a = 0; a < m; ++a) {
        const int oy = m * r->ty + a;
        if (oy >= H) break;
        __m512 v[4]; /* the row's m LANES columns in order: v[k] lane l = column m tx0 + LANES k + l */
        if (m == 4) {
            const __m512 e01lo = _mm512_permutex2var_ps(out[a][0], idx(IDX_ZIP_LO), out[a][1]);
            const __m512 e01hi = _mm512_permutex2var_ps(out[a][0], idx(IDX_ZIP_HI), out[a][1]);
            const __m512 e23lo = _mm512_permutex2var_ps(out[a][2], idx(IDX_ZIP_LO), out[a][3]);
            const __m512 e23hi = _mm512_permutex2var_ps(out[a][2], idx(IDX_ZIP_HI), out[a][3]);
            const __m512i qlo = _mm512_loadu_si512(IDX_ZIP64_LO), qhi = _mm512_loadu_si512(IDX_ZIP64_HI);
#define ZIP64(x, i, z) _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(x), i, _mm512_castps_pd(z)))
            v[0] = ZIP64(e01lo, qlo, e23lo);
            v[1] = ZIP64(e01lo, qhi, e23lo);
            v[2] = ZIP64(e01hi, qlo, e23hi);
            v[3] = ZIP64(e01hi, qhi, e23hi);
#undef ZIP64
        } else {
            v[0] = _mm512_permutex2var_ps(out[a][0], idx(IDX_ZIP_LO), out[a][1]);
            v[1] = _mm512_permutex2var_ps(out[a][0], idx(IDX_ZIP_HI), out[a][1]);
        }
        const size_t row = (size_t)oy * W + (size_t)m * r->tx0;
#pragma GCC unroll 4
        for (int k = 0; k < m; ++k) {
            const __mmask16 st = r->st[k];
            if (!st) break;
            __m512 t = _mm512_add_ps(v[k], vb);
            if (relu) t = _mm512_max_ps(t, zero);
            if (res) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(st, res + row + LANES * k));
            _mm512_mask_storeu_ps(y + row + LANES * k, st, t);
        }
    }
}

typedef void (*output_fn)(const float *src, size_t ld, const run *r, __mmask16 lanes, float bias, bool relu,
                          const float *res, float *y, int H, int W);
TARGET_512 static void output_transform2(const float *src, size_t ld, const run *r, __mmask16 lanes, float bias,
                                         bool relu, const float *res, float *y, int H, int W)
{
    output_transform_m(2, src, ld, r, lanes, bias, relu, res, y, H, W);
}
TARGET_512 static void output_transform4(const float *src, size_t ld, const run *r, __mmask16 lanes, float bias,
                                         bool relu, const float *res, float *y, int H, int W)
{
    output_transform_m(4, src, ld, r, lanes, bias, relu, res, y, H, W);
}

/* bf16: V[xi] of a channel pair (lo, hi: [T][LANES] floats each, hi NULL past
 * cin) rounded to bf16 (nearest even) and interleaved into 4-byte units
 * lo | hi << 16, lanes stored at dst + xi ld units. */
static const int16_t IDX_PAIR[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                     8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void store_pairs(int T, const float *lo, const float *hi,
                                                                              float *dst, size_t ld, __mmask16 lanes)
{
    const __m512i ix = _mm512_loadu_si512(IDX_PAIR);
    for (int xi = 0; xi < T; ++xi) {
        const __m512 h = hi ? _mm512_loadu_ps(hi + xi * LANES) : _mm512_setzero_ps();
        const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(h, _mm512_loadu_ps(lo + xi * LANES)); /* lo 0..15, hi 0..15 */
        _mm512_mask_storeu_epi32(dst + (size_t)xi * ld, lanes, _mm512_permutexvar_epi16(ix, both));
    }
}

static __mmask16 lane_mask(int len) { return (__mmask16)((1u << len) - 1); }

void cpu_wino_forward(cpu_wino *wg, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual)
{
    const cpu_kernel *kn = wg->kern;
    const int m = wg->m, T = wg->T, K = wg->K, mr = kn->mr, nr = kn->nr, cin = wg->cin, cout = wg->cout;
    const int H = x->h, W = x->w, th = (H + m - 1) / m, tw = (W + m - 1) / m;
    const long P = (long)x->n * th * tw, panels = (P + nr - 1) / nr;
    const int threads = cpu_threads(wg->be), blocks = wg->blocks, cbk = wg->cb / mr; /* blocks per chunk */
    int groups = 1; /* split the output channels when panels would leave threads idle */
    while (panels * groups < 2L * threads && groups < blocks) ++groups;
    const long tasks = panels * groups;
    const size_t plane = (size_t)H * W, vb = v_bytes(wg), vld = v_ld(wg), mld = m_ld(wg);
    void *const *scratch = cpu_thread_scratch(wg->be, threads, vb + m_bytes(wg));
    const size_t per_xi = (size_t)blocks * K * mr;
    const float *xs = x->data, *rs = residual ? residual->data : NULL;
    float *ys = y->data;
    const input_fn input_transform = m == 4 ? input_transform4 : input_transform2;
    const int PF = 4; /* channels ahead the input rows are prefetched */
    const output_fn output_transform = m == 4 ? output_transform4 : output_transform2;
#pragma omp parallel num_threads(threads)
    {
        float *V = scratch[omp_get_thread_num()], *M = (float *)((char *)V + vb);
        run runs[MAX_RUNS];
        float lo[MAX_ALPHA * MAX_ALPHA * LANES] __attribute__((aligned(64)));
        float hi[MAX_ALPHA * MAX_ALPHA * LANES] __attribute__((aligned(64)));
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < tasks; ++t) {
            const int g = (int)(t % groups);
            const long pan = t / groups, p0 = pan * nr;
            const int np = P - p0 < nr ? (int)(P - p0) : nr;
            const int nrun = make_runs(runs, m, p0, np, th, tw, W);
            /* V: the panel's transformed inputs */
            for (int u = 0; u < K; ++u)
                for (int i = 0; i < nrun; ++i) {
                    const run *r = &runs[i];
                    const float *img = xs + (size_t)r->n * cin * plane;
                    if (!kn->bf16) {
                        input_transform(img + (size_t)u * plane, u + PF < cin ? img + (size_t)(u + PF) * plane : NULL, H, W,
                                        r, V + (size_t)u * nr + r->at, vld, lane_mask(r->len));
                        continue;
                    }
                    const int c = 2 * u;
                    const bool two = c + 1 < cin;
                    input_transform(img + (size_t)c * plane, two ? img + (size_t)(c + 1) * plane : NULL, H, W, r, lo,
                                    LANES, 0xffff);
                    if (two)
                        input_transform(img + (size_t)(c + 1) * plane, c + 2 < cin ? img + (size_t)(c + 2) * plane : NULL,
                                        H, W, r, hi, LANES, 0xffff);
                    store_pairs(T, lo, two ? hi : NULL, V + (size_t)u * nr + r->at, vld, lane_mask(r->len));
                }
            if (np < nr) /* columns past the last tile: zero, so the GEMM reads defined values */
                for (int xi = 0; xi < T; ++xi)
                    for (int u = 0; u < K; ++u) memset(V + xi * vld + (size_t)u * nr + np, 0, sizeof(float) * (nr - np));
            const int b0 = (int)((long)g * blocks / groups), b1 = (int)((long)(g + 1) * blocks / groups);
            for (int c0 = b0; c0 < b1; c0 += cbk) {
                const int c1 = c0 + cbk < b1 ? c0 + cbk : b1;
                for (int xi = 0; xi < T; ++xi) { /* M[xi][co - c0 mr] = U_xi V_xi */
                    const cpu_panel pb = {V + xi * vld, K, 1, nr};
                    for (int blk = c0; blk < c1; ++blk)
                        kn->run(&pb, wg->u + xi * per_xi + (size_t)blk * K * mr, wg->zero, false, NULL, 0, M + xi * mld + (size_t)(blk - c0) * mr * nr, nr);
                }
                const int co_end = c1 * mr < cout ? c1 * mr : cout;
                for (int co = c0 * mr; co < co_end; ++co)
                    for (int i = 0; i < nrun; ++i) {
                        const run *r = &runs[i];
                        const size_t off = ((size_t)r->n * cout + co) * plane;
                        output_transform(M + (size_t)(co - c0 * mr) * nr + r->at, mld, r,
                                         lane_mask(r->len), wg->bias[co], relu, rs ? rs + off : NULL, ys + off, H, W);
                    }
            }
        }
    }
}

#else

void cpu_wino_forward(cpu_wino *wg, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual)
{
    (void)wg, (void)x, (void)y, (void)relu, (void)residual;
    pnp_fatal("unreachable: Winograd convolutions without AVX-512");
}

#endif
