/* conv_cpu.c - the CPU backend's convolutions (ops conv_create/forward/destroy)
 * over NCHW float32 activations: each layer picks its algorithm at
 * conv_create (pick_algo: PNP_CONV_ALGO, default auto), either Winograd's
 * F(m x m, 3 x 3) for stride-1 padding-1 3x3 layers (winograd_cpu.c) or the
 * direct method here, a packed, register-tiled SGEMM over im2col, which runs
 * every other shape. Both use the micro-kernels of gemm_cpu.c.
 *
 * Direct: a convolution of x: [n, cin, h, w] into y: [n, cout, oh, ow] is,
 * per image,
 *     Y[r, p] = bias[r] + sum_q A[r, q] B[q, p]
 * with A: [cout, cin k k] the PyTorch weights (rows r = output channels), and
 * B: [cin k k, oh ow] the im2col matrix (row q = (ci, ky, kx), column p = output
 * pixel oy ow + ox). Y is y's NCHW plane set itself, so the result tile of a
 * block of channels and a run of consecutive pixels is stored straight into y
 * with bias, ReLU and the residual applied in registers (the fused epilogue).
 * The 2x2 stride-2 transposed convolution is the same GEMM with B = x itself
 * (1x1 "im2col" over the input pixels) and rows r = (co, ky, kx) of
 * A[r, ci] = w[ci, co, ky, kx]; its tile goes through a small buffer and is
 * scattered to y[co, 2 iy + ky, 2 ix + kx].
 *
 * Layouts, fixed at conv_create for the micro-kernel chosen there:
 *   packed weights a: [ceil(rows / MR), K, MR]  (rows past `rows` are zero)
 *   row bias:          [ceil(rows / MR) MR]     (zeros when the layer has none)
 *   B panel, plain:    [K, NR]                  (columns past the image are zero)
 *   B panel, shifted:  [cin k, NR + k - 1]      (stride 1, the panel's pixels in
 *                      one output row: tap kx of row (ci, ky) is that row from
 *                      column kx, so a 3x3 layer packs a third of plain im2col)
 * Precision bf16 (cpu_bf16(be), needs AVX512_BF16): the same GEMM on channel
 * pairs (gemm_cpu.c): K counts units (ceil(cin / 2) k k), and the layouts,
 * panels (shifted ones included: a shifted row is a pair of input rows) and
 * work split above hold unit for float. Activations, bias, ReLU and residual
 * stay float32.
 *
 * Work split: tasks = (image, tile of consecutive output pixels, group of
 * row blocks), OpenMP dynamic over tasks; a task packs its B tile (reading
 * each input row once along the tile, with the next channel's run prefetched:
 * NCHW planes of 2^k floats alias in the caches), then runs every row block
 * over every panel of it (the weights panel stays in L1, the B tile in L2).
 * Loads of B are unaligned; nothing assumes a width or channel multiple.
 *
 * Memory bound: per thread one B tile of at most max(PANEL_BYTES, 4 K NR)
 * bytes (512 KiB; 864 KiB for DRUNet's 512-channel 3x3 convolutions, K = 4608,
 * NR = 48), its segment list (at most TILE_PIXELS + 86 entries of 16 bytes,
 * 67 KiB) and panel list, and an MR x NR tile on the stack. Tile, segments and
 * panels share the backend's per-thread scratch (cpu_thread_scratch: grown to
 * the largest layer's need, kept until the backend is destroyed, counted in
 * peak_bytes): at most 0.9 MiB per OpenMP thread for the project's networks
 * (K <= 4608) on the direct path (Winograd's: winograd_cpu.c).
 * Packed weights are the weights rounded up to MR rows (plus MR bias floats
 * per block), as large as the plain weights copy before them (bf16: half);
 * Winograd's transformed ones are (m + 2)^2 / 9 times that. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cpu.h"
#include "pnp/backend_util.h"
#include "pnp/error.h"

/* B tile budget per thread, cap on the pixels of one tile (bounds the segment
 * list when K is tiny) */
enum { PANEL_BYTES = 512 * 1024, TILE_PIXELS = 4096,
       PAIR_ROW = 256 /* longest B row pack_tile rounds to bf16 (NR + k - 1) */ };

/* A run of consecutive output pixels in one output row and one plain B panel,
 * or a whole shifted panel. */
typedef struct {
    int at;     /* offset of its first column in the tile */
    int oy, ox; /* its first output pixel */
    int len;    /* pixels; 0 marks a shifted panel */
} segment;

struct pnp_conv {
    pnp_backend *be; /* its per-thread scratch */
    int cin, cout, k, stride, pad;
    bool transposed;
    const cpu_kernel *kern;
    int rows, K;   /* GEMM rows (cout, or cout k k when transposed) and depth in 4-byte units
                      (cin k k, or cin; bf16: ceil(cin / 2) k k, or ceil(cin / 2)) */
    float *a;      /* packed weights [ceil(rows / MR), K, MR] (bf16: pairs in 4-byte units) */
    float *bias;   /* [ceil(rows / MR) MR] */
    int wino_m;    /* 0: the im2col GEMM above; else Winograd F(m x m, 3 x 3) */
    cpu_wino *wino; /* ... which then holds the weights (a, bias unused) */
};

const char *cpu_conv_kernel_name(const pnp_conv *cv) { return cv->kern->name; }

/* GEMM panels in one B tile: PANEL_BYTES of depth K, at most TILE_PIXELS
 * columns, at least one panel (a forward pass takes fewer for small images). */
static int panels_per_tile(int K, int nr)
{
    int per_tile = (int)(PANEL_BYTES / ((size_t)K * nr * sizeof(float)));
    if (per_tile > TILE_PIXELS / nr) per_tile = TILE_PIXELS / nr;
    return per_tile < 1 ? 1 : per_tile;
}

/* Per thread: the B tile, its segments, its panels (pack_tile). */
static size_t scratch_per_thread(int per_tile, int K, int nr)
{
    return cpu_round64(sizeof(float) * (size_t)per_tile * K * nr) +
           cpu_round64(sizeof(segment) * (size_t)per_tile * (nr + 1)) + sizeof(cpu_panel) * (size_t)per_tile;
}

/* The packed weights and bias of a layer: what peak_bytes counts for it. */
static size_t packed_bytes(const pnp_conv *cv)
{
    if (cv->wino) return cpu_wino_packed_bytes(cv->wino);
    const size_t blocks = (size_t)(cv->rows + cv->kern->mr - 1) / cv->kern->mr;
    return sizeof(float) * blocks * cv->kern->mr * (cv->K + 1);
}

int cpu_conv_winograd_m(const pnp_conv *cv) { return cv->wino_m; }

/* The algorithm of a layer: *m = 0 direct, else Winograd's output tile m,
 * computed with the micro-kernel returned (kn, or the fp32 AVX-512 one).
 * PNP_CONV_ALGO: auto (the default, also when unset or empty) as below;
 * direct; winograd (every layer that can, as auto would run it were it
 * eligible); winograd2 / winograd4 (every layer that can, that tile, in the
 * backend's precision). Winograd can: 3x3, stride 1, padding 1, not
 * transposed, an AVX-512 micro-kernel (its transforms are AVX-512).
 * auto, for 3x3 layers of at least 16 input channels (the heads, 3 or 4
 * channels in, stay direct: there the input transform outweighs the GEMM;
 * the tails, 64 -> 3, run Winograd 1.5x faster than direct), measured on
 * DRUNet's and DnCNN's layers (bench/results/2026-12-01-winograd-cpu.md):
 *   fp32: F(4x4,3x3) below 512 input channels (2.3-3x faster than direct);
 *         F(2x2,3x3) from 512 on: its weights are 16/9 of the direct ones
 *         instead of 36/9 (DRUNet's eight 512-channel layers: 134 MB instead
 *         of 302 MB) for about 4% more time on DRUNet's whole forward;
 *   bf16: F(2x2,3x3) in bf16 from 256 input channels on; below that F(4x4,
 *         3x3) in fp32, faster there than bf16 F(2x2) (whose GEMM is too
 *         shallow, K = cin / 2 pairs, to pay for its transforms) and more
 *         accurate than bf16 direct. bf16 F(4x4) never: rounding its
 *         transformed tiles to 8 bits costs 3-18% of a layer's output. */
static const cpu_kernel *pick_algo(const cpu_kernel *kn, int cin, int cout, int k, int stride, int pad,
                                   bool transposed, int *m)
{
    const char *want = getenv("PNP_CONV_ALGO");
    const char *algo = want && *want ? want : "auto";
    const bool can = k == 3 && stride == 1 && pad == 1 && !transposed && cpu_wino_runs(kn);
    const bool deep_bf16 = kn->bf16 && cin >= 256;
    const int auto_m = deep_bf16 || cin >= 512 ? 2 : 4;
    const cpu_kernel *auto_kn = kn->bf16 && !deep_bf16 ? cpu_kernel_named("avx512") : kn;
    *m = 0;
    if (!strcmp(algo, "direct")) return kn;
    if (!strcmp(algo, "auto")) {
        if (!can || cin < 16) return kn;
        *m = auto_m;
        return auto_kn;
    }
    const int forced = !strcmp(algo, "winograd") ? auto_m : !strcmp(algo, "winograd2") ? 2 : !strcmp(algo, "winograd4") ? 4 : 0;
    if (!forced) pnp_fatal("PNP_CONV_ALGO=%s: unknown (known: auto, direct, winograd, winograd2, winograd4)", algo);
    if (k == 3 && stride == 1 && pad == 1 && !transposed && !cpu_wino_runs(kn))
        pnp_fatal("PNP_CONV_ALGO=%s: Winograd needs the AVX-512 micro-kernels, this layer runs %s", algo, kn->name);
    if (!can) return kn;
    *m = forced;
    return strcmp(algo, "winograd") ? kn : auto_kn;
}

/* ------------------------------------------------------------------ create */

pnp_conv *cpu_conv_create(pnp_backend *be, int cin, int cout, int k, int stride, int pad, bool transposed,
                          const float *weight, const float *bias)
{
    if (transposed && (stride != k || pad != 0))
        pnp_fatal("cpu conv: transposed convolutions need stride == kernel and no padding (k %d, stride %d, pad %d)",
                  k, stride, pad);
    if (cin < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0)
        pnp_fatal("cpu conv: bad shape (cin %d, cout %d, k %d, stride %d, pad %d)", cin, cout, k, stride, pad);
    pnp_conv *cv = pnp_calloc(1, sizeof *cv);
    *cv = (pnp_conv){.be = be, .cin = cin, .cout = cout, .k = k, .stride = stride, .pad = pad, .transposed = transposed};
    cv->kern = pick_algo(cpu_pick_kernel(cpu_bf16(be)), cin, cout, k, stride, pad, transposed, &cv->wino_m);
    if (cv->wino_m) {
        cv->wino = cpu_wino_create(be, cv->kern, cv->wino_m, cin, cout, weight, bias);
        return cv;
    }
    const bool pairs = cv->kern->bf16;
    const int mr = cv->kern->mr, kk = transposed ? 1 : k * k;
    cv->rows = transposed ? cout * k * k : cout;
    cv->K = (pairs ? (cin + 1) / 2 : cin) * kk;
    if (pairs && cv->kern->nr + k - 1 > PAIR_ROW)
        pnp_fatal("cpu conv: bf16 supports kernels up to %d wide, not %d", PAIR_ROW + 1 - cv->kern->nr, k);
    const int blocks = (cv->rows + mr - 1) / mr, R = cv->rows, K = cv->K;
    cv->a = cpu_alloc64(sizeof(float) * blocks * K * mr);
    cv->bias = cpu_alloc64(sizeof(float) * blocks * mr);
    cpu_count_bytes(be, packed_bytes(cv), 0);
    cpu_reserve_scratch(be, scratch_per_thread(panels_per_tile(K, cv->kern->nr), K, cv->kern->nr));
    /* conv: A[r, q] = w[r, q] ([cout, cin k k]); transposed: A[(co k + ky) k +
     * kx, ci] = w[ci, co, ky, kx] = w[ci, r]. The units come in the order
     * pack_tile gives the B rows. */
    if (transposed)
        cpu_pack_weights(cv->kern, cv->a, R, cin, kk, weight, 1, (size_t)R);
    else
        cpu_pack_weights(cv->kern, cv->a, R, cin, kk, weight, (size_t)cin * kk, 1);
    for (int r = 0; r < blocks * mr; ++r) cv->bias[r] = bias && r < R ? bias[transposed ? r / (k * k) : r] : 0.f;
    return cv;
}

void cpu_conv_destroy(pnp_conv *cv)
{
    if (!cv) return;
    if (cv->wino)
        cpu_wino_destroy(cv->wino);
    else {
        cpu_count_bytes(cv->be, 0, packed_bytes(cv));
        free(cv->a);
        free(cv->bias);
    }
    free(cv);
}

/* ------------------------------------------------------------------ im2col */

/* d[j] = row[ix0 + j s] where 0 <= ix0 + j s < w, else 0; j < len. */
static void gather_row(float *restrict d, const float *restrict row, int ix0, int s, int len, int w)
{
    int ja = ix0 < 0 ? (-ix0 + s - 1) / s : 0;                     /* first j inside */
    int jb = w - 1 - ix0 < 0 ? 0 : (w - 1 - ix0) / s + 1;          /* one past the last */
    if (ja > len) ja = len;
    if (jb > len) jb = len;
    if (jb < ja) jb = ja;
    for (int j = 0; j < ja; ++j) d[j] = 0.f;
    if (s == 1) { /* 16-float blocks: a constant-size memcpy becomes vector moves, no call */
        int j = ja;
        for (; j + 16 <= jb; j += 16) memcpy(d + j, row + ix0 + j, 16 * sizeof(float));
        for (; j < jb; ++j) d[j] = row[ix0 + j];
    } else
        for (int j = ja; j < jb; ++j) d[j] = row[ix0 + j * s];
    for (int j = jb; j < len; ++j) d[j] = 0.f;
}

/* The B panels of one tile of the im2col matrix of in: [cin, h, w] for a k x k
 * window (stride s, padding pad) over an output grid ow wide: columns the
 * output pixels p0 .. p0 + npan nr - 1 (those at or past p_end are zero or,
 * in a shifted panel, ignored). Panels go one after the other into d
 * (at most npan K nr floats) and are described in pd[npan]. Stride-1 panels
 * within one output row are packed shifted (see panel), the others plain, cut
 * into segments (runs in one output row). Each input row (ci, iy) is then read
 * once along the whole tile, so the reads stream along rows; the same run of
 * the next channel is prefetched (NCHW planes of 2^k floats alias in caches).
 * seg: room for npan (nr + 1) segments. */
static void pack_tile(float *d, int nr, int npan, const float *in, int cin, bool pairs, int h, int w, int k, int s,
                      int pad, int ow, int p0, int p_end, segment *seg, cpu_panel *pd)
{
    const int units = pairs ? (cin + 1) / 2 : cin; /* B rows per tap: channels, or bf16 channel pairs */
    const int K = units * k * k, sw = nr + k - 1;  /* sw: row length of a shifted panel */
    const int end = p0 + npan * nr < p_end ? p0 + npan * nr : p_end;
    int ns = 0, off = 0;
    for (int j = 0; j < npan; ++j) {
        const int a = p0 + j * nr, b = a + nr < end ? a + nr : end; /* its pixels [a, b) */
        if (s == 1 && k > 1 && a / ow == (b - 1) / ow) {
            pd[j] = (cpu_panel){d + off, units * k, k, sw};
            seg[ns++] = (segment){off, a / ow, a % ow, 0};
            off += units * k * sw;
            continue;
        }
        pd[j] = (cpu_panel){d + off, K, 1, nr};
        for (int p = a; p < b;) {
            const int oy = p / ow, ox = p % ow, len = ow - ox < b - p ? ow - ox : b - p;
            seg[ns++] = (segment){off + p - a, oy, ox, len};
            p += len;
        }
        if (b - a < nr) /* zero the columns past the image */
            for (int q = 0; q < K; ++q) memset(d + off + (size_t)q * nr + (b - a), 0, sizeof(float) * (nr - (b - a)));
        off += K * nr;
    }
    const int step = pairs ? 2 : 1; /* channels per unit */
    float lo[PAIR_ROW], hi[PAIR_ROW];
    for (int u = 0; u < units; ++u)
        for (int ky = 0; ky < k; ++ky)
            for (int t = 0; t < ns; ++t) {
                const segment *g = &seg[t];
                const int iy = g->oy * s + ky - pad, len = g->len ? g->len : sw;
                const int nrow = g->len ? k : 1; /* destination rows: one per kx, or one shifted row */
                float *dq = d + g->at + (size_t)(u * k + ky) * (g->len ? k * nr : sw);
                const size_t ld = g->len ? nr : 0;
                if (iy < 0 || iy >= h) {
                    for (int kx = 0; kx < nrow; ++kx) memset(dq + kx * ld, 0, sizeof(float) * len);
                    continue;
                }
                const int c0 = u * step, both = pairs && c0 + 1 < cin;
                const float *row = in + ((size_t)c0 * h + iy) * w;
                if (u + 1 < units)
                    for (int x0 = 0; x0 < len * s; x0 += 16)
                        for (int c = 0; c < step; ++c) __builtin_prefetch(row + (size_t)(step + c) * h * w + g->ox * s + x0);
                for (int kx = 0; kx < nrow; ++kx) {
                    const int ix0 = g->ox * s + kx - pad;
                    if (!pairs) {
                        gather_row(dq + kx * ld, row, ix0, s, len, w);
                        continue;
                    }
                    gather_row(lo, row, ix0, s, len, w); /* bf16: the pair's two rows, rounded and interleaved */
                    if (both) gather_row(hi, row + (size_t)h * w, ix0, s, len, w);
                    cpu_put_pairs(dq + kx * ld, lo, both ? hi : NULL, len);
                }
            }
}

/* ----------------------------------------------------------------- forward */

/* The transposed convolution's tile [mr, nr] (rows r0 + i = (co, ky, kx), i < mv;
 * input pixels p0 + j, j < nv, of a grid w_in wide) into y: [cout, oh, ow] of
 * one image: y[co, k iy + ky, k ix + kx] = tile + res?, res may alias y. */
static void scatter_up(const float *tile, int nr, int r0, int mv, int p0, int nv, int k, int w_in, float *y,
                       const float *res, int ow, size_t out_plane)
{
    for (int j = 0; j < nv;) { /* runs of pixels in one input row */
        const int p = p0 + j, iy = p / w_in, ix = p % w_in, len = w_in - ix < nv - j ? w_in - ix : nv - j;
        for (int i = 0; i < mv; ++i) {
            const int r = r0 + i, co = r / (k * k), ky = r / k % k, kx = r % k;
            const size_t o = co * out_plane + (size_t)(iy * k + ky) * ow + (size_t)ix * k + kx;
            const float *t = tile + i * nr + j;
            float *d = y + o;
            if (res)
                for (int q = 0; q < len; ++q) d[q * k] = t[q] + res[o + (size_t)q * k];
            else
                for (int q = 0; q < len; ++q) d[q * k] = t[q];
        }
        j += len;
    }
}

void cpu_conv_forward(pnp_conv *cv, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual)
{
    pnp_conv_check_shapes(cv->cin, cv->cout, cv->k, cv->stride, cv->pad, cv->transposed, x, y, residual);
    if (cv->wino) {
        cpu_wino_forward(cv->wino, x, y, relu, residual);
        return;
    }
    const cpu_kernel *kn = cv->kern;
    const int mr = kn->mr, nr = kn->nr, K = cv->K, R = cv->rows, N = x->n;
    const bool tr = cv->transposed;
    /* GEMM columns: output pixels (conv) or input pixels (transposed) */
    const int gw = tr ? x->w : y->w, P = tr ? x->h * x->w : y->h * y->w;
    const size_t in_img = (size_t)x->c * x->h * x->w, out_plane = (size_t)y->h * y->w;
    const size_t out_img = (size_t)y->c * out_plane;
    const int pk = tr ? 1 : cv->k, ps = tr ? 1 : cv->stride, pp = tr ? 0 : cv->pad;

    const int panels = (P + nr - 1) / nr, blocks = (R + mr - 1) / mr;
    int per_tile = panels_per_tile(K, nr);
    if (per_tile > panels) per_tile = panels;
    const int tiles = (panels + per_tile - 1) / per_tile, threads = cpu_threads(cv->be);
    /* split the row blocks when images x tiles would leave threads idle */
    int groups = 1;
    while ((long)N * tiles * groups < 4L * threads && groups < blocks) ++groups;
    const long tasks = (long)N * tiles * groups;

    const size_t b_bytes = cpu_round64(sizeof(float) * (size_t)per_tile * K * nr);
    const size_t s_bytes = cpu_round64(sizeof(segment) * (size_t)per_tile * (nr + 1));
    void *const *scratch = cpu_thread_scratch(cv->be, threads, scratch_per_thread(per_tile, K, nr));

    const float *xs = x->data, *rs = residual ? residual->data : NULL;
    float *ys = y->data;
#pragma omp parallel num_threads(threads)
    {
        char *mine = scratch[omp_get_thread_num()];
        float *bp = (float *)mine;
        segment *seg = (segment *)(mine + b_bytes);
        cpu_panel *pd = (cpu_panel *)(mine + b_bytes + s_bytes);
        float tile[CPU_MAX_TILE] __attribute__((aligned(64)));
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < tasks; ++t) {
            const int g = (int)(t % groups), ti = (int)(t / groups % tiles), n = (int)(t / groups / tiles);
            const int pan0 = ti * per_tile, npan = pan0 + per_tile > panels ? panels - pan0 : per_tile;
            const float *in = xs + n * in_img;
            pack_tile(bp, nr, npan, in, x->c, kn->bf16, x->h, x->w, pk, ps, pp, gw, pan0 * nr, P, seg, pd);
            const int b0 = (int)((long)g * blocks / groups), b1 = (int)((long)(g + 1) * blocks / groups);
            for (int blk = b0; blk < b1; ++blk) {
                const float *a = cv->a + (size_t)blk * K * mr, *bias = cv->bias + (size_t)blk * mr;
                const int r0 = blk * mr, mv = R - r0 < mr ? R - r0 : mr;
                for (int j = 0; j < npan; ++j) {
                    const cpu_panel *b = &pd[j];
                    const int p0 = (pan0 + j) * nr, nv = P - p0 < nr ? P - p0 : nr;
                    if (tr) { /* through the tile buffer, scattered */
                        kn->run(b, a, bias, relu, NULL, 0, tile, nr);
                        scatter_up(tile, nr, r0, mv, p0, nv, cv->k, gw, ys + n * out_img, rs ? rs + n * out_img : NULL,
                                   y->w, out_plane);
                        continue;
                    }
                    float *yc = ys + n * out_img + r0 * out_plane + p0; /* y[n, r0, p0] */
                    const float *rc = rs ? rs + n * out_img + r0 * out_plane + p0 : NULL;
                    if (mv == mr && nv == nr) { /* whole tile: straight into y */
                        kn->run(b, a, bias, relu, rc, out_plane, yc, out_plane);
                        continue;
                    }
                    kn->run(b, a, bias, relu, NULL, 0, tile, nr); /* edge tile: the valid part */
                    for (int i = 0; i < mv; ++i)
                        for (int jj = 0; jj < nv; ++jj)
                            yc[i * out_plane + jj] = tile[i * nr + jj] + (rc ? rc[i * out_plane + jj] : 0.f);
                }
            }
        }
    }
}
