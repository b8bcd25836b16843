/* pnp_kernels.h - extern "C" launchers of the CUDA kernels in kernels/ (.cu files).
 * Included only by the CUDA backend (src/cuda/); streams are passed as void*
 * (a cudaStream_t) so this header needs no CUDA header itself. Each launcher
 * returns the cudaError_t of its launch as an int (0: success). */
#ifndef PNP_KERNELS_H
#define PNP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* v[ch, t] <- v[ch, t] * s[t] (or * conj(s[t])) * scale, for c channels of
 * n complex values (interleaved re, im). v: [c, n, 2], s: [n, 2]. */
int pnp_launch_spectrum_mul(float *v, const float *s, int c, size_t n, int conjugate, float scale, void *stream);

/* y[e] <- clamp(y[e] + sigma * N(seed, stream_id, offset + e), 0, 1), e < n (include/pnp/philox.h). */
int pnp_launch_add_noise_clamp(float *y, size_t n, uint64_t seed, uint32_t stream_id, uint64_t offset, float sigma,
                               void *stream);

#ifdef __cplusplus
}
#endif

#endif
