/* comm_nccl.c - the NCCL implementation of include/pnp/comm.h: all-reduces
 * of device buffers on the CUDA backend's stream, one GPU per rank. The NCCL
 * id is made by rank 0 and broadcast with MPI; the communicator spans the
 * same ranks as `world`. Timing synchronises the stream so the comm time
 * traces measure the transfer, not its launch.
 * NOTE: runs in every make test on the CUDA emulation (tests/cuda_emu/, NCCL
 * on MPI); never on real GPUs yet. */
#include <nccl.h>
#include <stdlib.h>

#include "backends/cuda/cuda_check.h"
#include "pnp/comm.h"

#define NCCL_CHECK(call)                                                                  \
    do {                                                                                  \
        ncclResult_t nccl_check_rc_ = (call);                                             \
        if (nccl_check_rc_ != ncclSuccess)                                                \
            pnp_fatal("NCCL error %s in %s", ncclGetErrorString(nccl_check_rc_), #call);  \
    } while (0)

static void nccl_allreduce_sum(pnp_comm *c, float *buf, size_t n)
{
    const double t0 = MPI_Wtime();
    if (c->size > 1) {
        cudaStream_t s = (cudaStream_t)pnp_cuda_stream(c->be);
        NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, (ncclComm_t)c->ctx, s));
        CUDA_CHECK(cudaStreamSynchronize(s));
        c->bytes += n * sizeof(float);
    }
    c->seconds += MPI_Wtime() - t0;
}

static void nccl_destroy(pnp_comm *c)
{
    NCCL_CHECK(ncclCommDestroy((ncclComm_t)c->ctx));
    free(c);
}

static const pnp_comm_ops NCCL_COMM_OPS = {.name = "nccl", .allreduce_sum = nccl_allreduce_sum,
                                           .destroy = nccl_destroy};

pnp_comm *pnp_comm_nccl_create(MPI_Comm world, pnp_backend *be)
{
    pnp_comm *c = pnp_comm_alloc(&NCCL_COMM_OPS, world, be);
    ncclUniqueId id;
    if (c->rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    MPI_CHECK(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, world));
    ncclComm_t comm;
    NCCL_CHECK(ncclCommInitRank(&comm, c->size, id, c->rank));
    c->ctx = comm;
    return c;
}
