/* backend_cpu.h - the CPU backend's context and the entries of its ops table
 * that live outside backend_cpu.c (private to src/backends/cpu/). Files call
 * downwards only: backend_cpu.c (the table, blur, vector ops, windows) ->
 * conv_cpu.c, layers_cpu.c (the layer engine) -> cpu_memory.c (the context). */
#ifndef PNP_BACKEND_CPU_H
#define PNP_BACKEND_CPU_H

#include <stdbool.h>
#include <stddef.h>

#include "pnp/backend.h"

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

/* ---- layers_cpu.c, conv_cpu.c ---- */
size_t cpu_act_bytes(pnp_backend *be, int n, int c, int h, int w);
pnp_conv *cpu_conv_create(pnp_backend *be, int cin, int cout, int k, int stride, int pad, bool transposed,
                          const float *weight, const float *bias);
void cpu_conv_forward(pnp_conv *cv, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual);
void cpu_conv_destroy(pnp_conv *cv);
/* The micro-kernel a layer runs: "avx512", "avx2" or "generic" (PNP_CONV_ISA forces one),
 * or with precision bf16 "avx512bf16". */
const char *cpu_conv_kernel_name(const pnp_conv *cv);
bool cpu_conv_isa_runs(const char *isa); /* this CPU can run that micro-kernel */
void cpu_act_add(pnp_backend *be, const pnp_act *a, const pnp_act *b, pnp_act *y);
void cpu_act_from_image(pnp_backend *be, const float *img, int n, int c, int h, int w, pnp_act *x);
void cpu_act_concat_const(pnp_backend *be, const pnp_act *x, float value, pnp_act *y);
void cpu_act_to_image(pnp_backend *be, const pnp_act *x, int h, int w, float *img);
void cpu_pixel_unshuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y);
void cpu_pixel_shuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y);

#endif
