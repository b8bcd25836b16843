/* backend_cuda.h - the CUDA backend's context and the entries its layer engine
 * (layers_cudnn.c) adds to the ops table; private to src/backends/cuda/. Files call
 * downwards only: backend_cuda.c -> layers_cudnn.c -> cuda_memory.c.
 *
 * Activations on this backend: NHWC, float32 or (precision bf16) bfloat16, the
 * channel count padded with zeros to a multiple of 8 (cudnn_channel_stride):
 * [n, h, w, stride(c)] elements, the padded channels always zero. Padding keeps
 * every convolution on the tensor-core kernels (they want channel counts that
 * are multiples of 8 for 16-bit data and of 4 for TF32) whatever the network's
 * widths (3, 4, 12, 13 channels in DRUNet, DnCNN and FFDNet). */
#ifndef PNP_BACKEND_CUDA_H
#define PNP_BACKEND_CUDA_H

#include <stdbool.h>
#include <stddef.h>

#include "cuda_check.h"
#include "pnp/backend.h"

/* Sizes of live buffers, kept in a host list keyed by pointer for the peak count. */
typedef struct alloc_rec {
    void *ptr;
    size_t bytes;
    struct alloc_rec *next;
} alloc_rec;

typedef struct {
    int device;
    cudaStream_t stream;
    size_t live, peak; /* bytes from cuda_alloc */
    alloc_rec *allocs;

    /* window parameters of gather/scatter: a device array and a pinned host
     * staging buffer, both grow-only; the staging buffer is rewritten only once
     * params_copied says the last copy out of it has run */
    int *params;
    size_t params_count;
    int *params_host;
    size_t params_host_count;
    cudaEvent_t params_copied;

    double *partial; /* device and host partial sums of sum_sq_diff */
    double *partial_host;
    int *nonfinite;  /* clamp01's flag: a NaN or an infinity was met (device, one) */
    unsigned partial_count;

    /* layer engine (layers_cudnn.c) */
    bool bf16;             /* activations and weights in bfloat16 */
    bool tf32;             /* fp32 convolutions may use TF32 tensor cores (PNP_CUDA_TF32=0: no) */
    cudnnHandle_t cudnn;   /* created with the first convolution layer */
    void *workspace;       /* cuDNN workspace, grow-only, from cuda_alloc (in peak_bytes) */
    size_t workspace_bytes;
    void *epilogue;        /* float32 scratch of the epilogues cuDNN does not fuse, grow-only, from cuda_alloc */
    size_t epilogue_bytes;
    int unfused_convs;     /* convolution plans whose fused call cuDNN refused (run unfused, slower) */
    bool said_two_roundings; /* the note of a layer too large for the epilogue scratch is out */
} cuda_ctx;

/* ---- cuda_memory.c ---- */
/* Add to / take from the count of the backend's device memory (peak_bytes). */
void cuda_count_bytes(cuda_ctx *c, size_t more, size_t less);
/* Device memory with the peak count (zero-filled; dies when out of memory),
 * and its release (dies on a pointer this backend did not allocate). */
void *cuda_alloc(pnp_backend *be, size_t bytes);
void cuda_free(pnp_backend *be, void *ptr);

/* Channels an activation of c channels occupies per pixel: c rounded up to 8. */
static inline int cudnn_channel_stride(int c) { return (c + 7) / 8 * 8; }

/* The layer engine: see include/pnp/backend.h for each op's contract. */
size_t cudnn_act_bytes(pnp_backend *be, int n, int c, int h, int w);
size_t cudnn_workspace_bytes(pnp_backend *be);
pnp_conv *cudnn_conv_create(pnp_backend *be, int cin, int cout, int k, int stride, int pad, bool transposed,
                            const float *weight, const float *bias);
void cudnn_conv_forward(pnp_conv *cv, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual);
void cudnn_conv_destroy(pnp_conv *cv);
void cudnn_act_add(pnp_backend *be, const pnp_act *a, const pnp_act *b, pnp_act *y);
void cudnn_act_from_image(pnp_backend *be, const float *img, int n, int c, int h, int w, pnp_act *x);
void cudnn_act_concat_const(pnp_backend *be, const pnp_act *x, float value, pnp_act *y);
void cudnn_act_to_image(pnp_backend *be, const pnp_act *x, int h, int w, float *img);
void cudnn_pixel_unshuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y);
void cudnn_pixel_shuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y);
/* Release the handle, workspace and epilogue scratch (before the context goes). */
void cudnn_layers_destroy(pnp_backend *be);

#endif
