/* cuda_check.h - the CUDA libraries' error paths (CUDA runtime and kernel launches, cuFFT, cuDNN;
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

/* A kernel launcher of kernels/pnp_kernels.h: first any error an earlier runtime
 * call left pending (every call is checked where it is made, so that would be
 * a bug here, and must not be blamed on this launch), then the launch's own
 * error (cudaGetLastError right after it). An error of the kernel's execution
 * shows at the next synchronisation; CUDA_LAUNCH_BLOCKING=1 in the environment
 * makes it show at the launch. */
#define LAUNCH_CHECK(launch)                                                              \
    do {                                                                                  \
        cudaError_t launch_pending_ = cudaGetLastError();                                 \
        if (launch_pending_ != cudaSuccess)                                               \
            pnp_fatal("CUDA error %s (%s) left pending by an earlier runtime call, found before %s", \
                      cudaGetErrorName(launch_pending_), cudaGetErrorString(launch_pending_), #launch); \
        CUDA_CHECK(launch);                                                               \
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
