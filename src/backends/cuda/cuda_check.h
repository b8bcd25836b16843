/* cuda_check.h - the CUDA libraries' error paths (CUDA runtime, cuFFT, cuDNN;
 * NCCL's NCCL_CHECK sits in comm_nccl.c, its only user), each a thin wrapper
 * over pnp_fatal: rank, file, line and the failing call, then the whole MPI
 * job ends. Included only inside the CUDA backend. */
#ifndef PNP_CUDA_CHECK_H
#define PNP_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <cudnn.h>
#include <cufft.h>

#include "pnp/error.h"

#define CUDA_CHECK(call)                                                                  \
    do {                                                                                  \
        cudaError_t cuda_check_rc_ = (cudaError_t)(call);                                 \
        if (cuda_check_rc_ != cudaSuccess)                                                \
            pnp_fatal("CUDA error %s (%s) in %s", cudaGetErrorName(cuda_check_rc_),       \
                      cudaGetErrorString(cuda_check_rc_), #call);                         \
    } while (0)

#define CUFFT_CHECK(call)                                                                 \
    do {                                                                                  \
        cufftResult cufft_check_rc_ = (call);                                             \
        if (cufft_check_rc_ != CUFFT_SUCCESS)                                             \
            pnp_fatal("cuFFT error %d in %s", (int)cufft_check_rc_, #call);               \
    } while (0)

/* cuDNN's status name plus its last detailed message (cudnnGetLastErrorString,
 * which says which check inside the library failed). */
#define CUDNN_CHECK(call)                                                                 \
    do {                                                                                  \
        cudnnStatus_t cudnn_check_rc_ = (call);                                           \
        if (cudnn_check_rc_ != CUDNN_STATUS_SUCCESS) {                                    \
            char cudnn_check_msg_[512] = "";                                              \
            cudnnGetLastErrorString(cudnn_check_msg_, sizeof cudnn_check_msg_);           \
            pnp_fatal("cuDNN error %s (%d) in %s%s%s", cudnnGetErrorString(cudnn_check_rc_), \
                      (int)cudnn_check_rc_, #call, cudnn_check_msg_[0] ? ": " : "",       \
                      cudnn_check_msg_);                                                  \
        }                                                                                 \
    } while (0)

#endif
