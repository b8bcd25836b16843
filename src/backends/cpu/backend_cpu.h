/* backend_cpu.h - the CPU backend's context and the entries of its ops table
 * that live outside backend_cpu.c (private to src/backends/cpu/). Files call
 * downwards only: backend_cpu.c (the table, blur, vector ops, windows) ->
 * conv_cpu.c (convolutions: im2col, or Winograd through winograd_cpu.c),
 * layers_cpu.c (the rest of the layer engine) -> winograd_cpu.c ->
 * gemm_cpu.c (the micro-kernels) -> cpu_memory.c (the context). */
#ifndef PNP_BACKEND_CPU_H
#define PNP_BACKEND_CPU_H

#include <stdbool.h>
#include <stddef.h>

#include "pnp/backend.h"

#if defined(__x86_64__) || defined(__i386__)
#define PNP_X86 1 /* the AVX2 / AVX-512 code paths are compiled (each runs only where the CPU has it) */
#endif

typedef struct {
    int threads;          /* every OpenMP region's team (num_threads): the process-wide setting is left alone */
    bool bf16;            /* convolutions in bf16 (precision bf16; conv_cpu.c) */
    size_t live, peak;    /* bytes from alloc, of the scratch below, of FFT buffers and packed weights */
    void **scratch;       /* [nscratch] per-thread buffers of scratch_bytes each (64-byte aligned) */
    int nscratch;
    size_t scratch_bytes;
    size_t scratch_need;  /* per thread: the most any convolution made so far may ask (cpu_reserve_scratch) */
    double *part;         /* [npart] sum_sq_diff's block sums, SSIM's strip sums (grow-only) */
    size_t npart;
    double *ssim_buf;     /* [nssim] SSIM's per-thread row-filtered strips (grow-only) */
    size_t nssim;
} cpu_ctx;

/* ---- cpu_memory.c ---- */
void *cpu_alloc(pnp_backend *be, size_t bytes);  /* ops->alloc: zero-filled, counted */
void cpu_free(pnp_backend *be, void *ptr);
size_t cpu_peak(pnp_backend *be);                /* ops->peak_bytes */
size_t cpu_workspace_bytes(pnp_backend *be);     /* ops->workspace_bytes */
size_t cpu_free_bytes(pnp_backend *be);          /* ops->free_bytes */
void cpu_memory_id(pnp_backend *be, char *id, size_t len);

int cpu_threads(pnp_backend *be);  /* the team of each of the backend's OpenMP regions (num_threads) */
bool cpu_bf16(pnp_backend *be);    /* precision bf16: convolutions round weights and inputs to bfloat16 */
void *cpu_alloc64(size_t bytes); /* 64-byte aligned host memory, dies when out of memory (free()) */
static inline size_t cpu_round64(size_t bytes) { return (bytes + 63) / 64 * 64; } /* scratch pieces stay aligned */
/* threads buffers (index: omp_get_thread_num()) of at least bytes each, 64-byte
 * aligned, contents undefined: the backend's per-thread scratch, grow-only
 * (kept until the backend is destroyed), counted in peak_bytes. Not reentrant:
 * one layer op at a time per backend. */
void *const *cpu_thread_scratch(pnp_backend *be, int threads, size_t bytes);
size_t cpu_scratch_bytes(pnp_backend *be); /* what that scratch holds now, all threads */
/* A layer announces (at creation) the most per-thread scratch it will ask for,
 * so the backend's workspace_bytes can say it before the first forward pass. */
void cpu_reserve_scratch(pnp_backend *be, size_t per_thread);
/* Memory held outside alloc() (packed weights): added to / taken from peak_bytes' count. */
void cpu_count_bytes(pnp_backend *be, size_t more, size_t less);

/* ---- gemm_cpu.c: the micro-kernels of both convolution paths ---- */
enum { CPU_MAX_MR = 8, CPU_MAX_TILE = 8 * 48 }; /* the largest MR and MR x NR of a micro-kernel */

/* One B panel [K, NR] as a micro-kernel reads it: GEMM row q = r kw + kx is
 * b + r ldb + kx (r < rows, kx < kw, K = rows kw). Plain: kw 1, ldb NR.
 * Shifted (conv_cpu.c's stride-1 im2col panels within one output row): rows
 * (ci, ky), kw = k, ldb = NR + k - 1, the k taps of a row being the same
 * input run shifted by kx, so the panel holds a k-th of the plain one. */
typedef struct {
    const float *b;
    int rows, kw, ldb;
} cpu_panel;

/* c[i, j] = relu?(bias[i] + sum_q a[q, i] B[q, j]) + res?[i, j] for one MR x NR
 * tile; a: [K, MR], B the panel; c and res rows ldc / ldres apart (res may be c). */
typedef void (*cpu_tile_fn)(const cpu_panel *pb, const float *a, const float *bias, bool relu, const float *res,
                            size_t ldres, float *c, size_t ldc);

typedef struct {
    const char *name;
    int mr, nr;
    cpu_tile_fn run;
    bool bf16; /* reads bf16 channel pairs (precision bf16), else floats */
} cpu_kernel;

/* Of the kernels for this precision (bf16: avx512bf16 only), the one named by
 * PNP_CONV_ISA, else the first (fastest) this CPU runs; dies naming the cause. */
const cpu_kernel *cpu_pick_kernel(bool bf16);
bool cpu_conv_isa_runs(const char *isa); /* this CPU can run that micro-kernel */
const cpu_kernel *cpu_kernel_named(const char *name); /* by name (dies when unknown), runnable or not */
/* d[j] = bf16(lo[j]) | bf16(hi[j]) << 16 for j < len (hi NULL: zero), rounded
 * to nearest even: one row of channel pairs (bf16 kernels only). */
void cpu_put_pairs(void *d, const float *lo, const float *hi, int len);
/* dst: [ceil(rows / MR), K, MR], the GEMM weights A[r, q] = w[r row_stride +
 * q col_stride] (r < rows, q < cin kk) packed for kn: unit u = c kk + t
 * (t < kk) is column q = c kk + t, or with bf16 the channel pair
 * (2c kk + t, (2c + 1) kk + t), zero past cin and past rows; K = units kk. */
void cpu_pack_weights(const cpu_kernel *kn, float *dst, int rows, int cin, int kk, const float *w, size_t row_stride,
                      size_t col_stride);

/* ---- winograd_cpu.c: F(2x2, 3x3) and F(4x4, 3x3) for stride-1, pad-1 3x3 layers ---- */
typedef struct cpu_wino cpu_wino;
bool cpu_wino_runs(const cpu_kernel *kn); /* its transforms are AVX-512: the avx512 / avx512bf16 kernels */
/* The layer y = conv3x3(x, weight) + bias (weight [cout, cin, 3, 3], bias
 * [cout] or NULL) as output tiles m x m, m = 2 or 4: weights transformed and
 * packed here, once. */
cpu_wino *cpu_wino_create(pnp_backend *be, const cpu_kernel *kn, int m, int cin, int cout, const float *weight,
                          const float *bias);
void cpu_wino_forward(cpu_wino *wg, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual);
void cpu_wino_destroy(cpu_wino *wg);
size_t cpu_wino_packed_bytes(const cpu_wino *wg); /* its transformed weights and bias */

/* ---- layers_cpu.c, conv_cpu.c ---- */
size_t cpu_act_bytes(pnp_backend *be, int n, int c, int h, int w);
pnp_conv *cpu_conv_create(pnp_backend *be, int cin, int cout, int k, int stride, int pad, bool transposed,
                          const float *weight, const float *bias);
void cpu_conv_forward(pnp_conv *cv, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual);
void cpu_conv_destroy(pnp_conv *cv);
/* The micro-kernel a layer runs: "avx512", "avx2" or "generic" (PNP_CONV_ISA forces one),
 * or with precision bf16 "avx512bf16". */
const char *cpu_conv_kernel_name(const pnp_conv *cv);
/* Its algorithm: 0 direct (im2col), else Winograd's output tile m (2 or 4). */
int cpu_conv_winograd_m(const pnp_conv *cv);
void cpu_act_add(pnp_backend *be, const pnp_act *a, const pnp_act *b, pnp_act *y);
void cpu_act_from_image(pnp_backend *be, const float *img, int n, int c, int h, int w, pnp_act *x);
void cpu_act_concat_const(pnp_backend *be, const pnp_act *x, float value, pnp_act *y);
void cpu_act_to_image(pnp_backend *be, const pnp_act *x, int h, int w, float *img);
void cpu_pixel_unshuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y);
void cpu_pixel_shuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y);

#endif
