/* comm_nccl.c - the NCCL implementation of include/pnp/comm.h on the CUDA
 * backend's device buffers, one GPU per rank. The NCCL id is made by rank 0
 * and broadcast with MPI; the communicator spans the same ranks as `world`.
 *
 * All-reduces run on the backend's stream. All-gathers run on a stream of
 * their own as grouped broadcasts (NCCL has no all-gather of unequal blocks:
 * one ncclBroadcast per rank's block, rooted at its owner, inside one
 * ncclGroupStart/End), after an event recorded on the backend's stream when
 * they start: so a started all-gather moves the blocks already computed while
 * the backend's stream computes the next ones, and allgather_wait makes the
 * host wait for it. Every timer starts after the backend's stream is
 * synchronised, so the comm time traces measure communication, not this
 * rank's own queued work.
 * NOTE: runs in every make test on the CUDA emulation (tests/cuda_emu/, NCCL
 * on MPI); never on real GPUs yet. */
#include <nccl.h>
#include <stdlib.h>

#include "backends/cuda/cuda_check.h"
#include "comm/comm_impl.h"

#define NCCL_CHECK(call)                                                                  \
    do {                                                                                  \
        ncclResult_t nccl_check_rc_ = (call);                                             \
        if (nccl_check_rc_ != ncclSuccess)                                                \
            pnp_fatal("NCCL error %s in %s", ncclGetErrorString(nccl_check_rc_), #call);  \
    } while (0)

typedef struct {
    ncclComm_t nccl;
    cudaStream_t gather_stream; /* the all-gathers */
    cudaEvent_t computed;       /* on the backend's stream: the blocks an all-gather sends are ready */
} nccl_ctx;

static void nccl_allreduce_sum(pnp_comm *c, float *buf, size_t n)
{
    nccl_ctx *x = c->ctx;
    cudaStream_t s = (cudaStream_t)pnp_cuda_stream(c->be);
    CUDA_CHECK(cudaStreamSynchronize(s)); /* this rank's own work first, outside the timer */
    const double t0 = MPI_Wtime();
    if (c->size > 1) {
        NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, x->nccl, s));
        CUDA_CHECK(cudaStreamSynchronize(s));
    }
    pnp_comm_count_allreduce(c, t0, n * sizeof(float));
}

static void nccl_allgather_start(pnp_comm *c, float *all, size_t n, const size_t *counts, const size_t *displs)
{
    nccl_ctx *x = c->ctx;
    for (int q = 0; q < c->size; ++q)
        if (displs[q] + counts[q] > n) pnp_fatal("allgather_start: rank %d's block ends past the buffer", q);
    const double t0 = MPI_Wtime(); /* queues only: the host does not wait here */
    if (c->size > 1) {
        CUDA_CHECK(cudaEventRecord(x->computed, (cudaStream_t)pnp_cuda_stream(c->be)));
        CUDA_CHECK(cudaStreamWaitEvent(x->gather_stream, x->computed, 0));
        NCCL_CHECK(ncclGroupStart());
        for (int q = 0; q < c->size; ++q)
            if (counts[q]) /* in place: the root's block is its send buffer, everyone's receive buffer */
                NCCL_CHECK(ncclBroadcast(all + displs[q], all + displs[q], counts[q], ncclFloat, q, x->nccl,
                                         x->gather_stream));
        NCCL_CHECK(ncclGroupEnd());
    }
    pnp_comm_count_allgather(c, t0, counts);
}

static void nccl_allgather_wait(pnp_comm *c)
{
    nccl_ctx *x = c->ctx;
    CUDA_CHECK(cudaStreamSynchronize((cudaStream_t)pnp_cuda_stream(c->be))); /* own work, outside the timer */
    const double t0 = MPI_Wtime();
    CUDA_CHECK(cudaStreamSynchronize(x->gather_stream));
    pnp_comm_count(c, t0, 0, 0);
}

static void nccl_destroy(pnp_comm *c)
{
    nccl_ctx *x = c->ctx;
    NCCL_CHECK(ncclCommDestroy(x->nccl));
    CUDA_CHECK(cudaEventDestroy(x->computed));
    CUDA_CHECK(cudaStreamDestroy(x->gather_stream));
    free(x);
    pnp_comm_free(c);
}

static const pnp_comm_ops NCCL_COMM_OPS = {.name = "nccl",
                                           .progresses_alone = true,
                                           .allreduce_sum = nccl_allreduce_sum,
                                           .allgather_start = nccl_allgather_start,
                                           .allgather_wait = nccl_allgather_wait,
                                           .destroy = nccl_destroy};

pnp_comm *pnp_comm_nccl_create(MPI_Comm world, pnp_backend *be)
{
    pnp_comm *c = pnp_comm_alloc(&NCCL_COMM_OPS, world, be);
    nccl_ctx *x = pnp_calloc(1, sizeof *x);
    ncclUniqueId id;
    if (c->rank == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    MPI_CHECK(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, world));
    NCCL_CHECK(ncclCommInitRank(&x->nccl, c->size, id, c->rank));
    CUDA_CHECK(cudaStreamCreateWithFlags(&x->gather_stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&x->computed, cudaEventDisableTiming));
    c->ctx = x;
    return c;
}
