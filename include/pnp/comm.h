/* comm.h - communication between the ranks of one run, behind one interface
 * (as the backend hides the device): the solver sums partial gradients and
 * denoised slabs with comm->ops->allreduce_sum on BACKEND buffers and never
 * calls MPI or NCCL itself.
 *
 * The MPI implementation works on host memory: with a host-memory backend
 * (CPU) it reduces the buffer in place; with a device backend it stages
 * through a host buffer (Debian's Open MPI is not CUDA-aware). An NCCL
 * implementation (device buffers, one GPU per rank) plugs in beside it.
 * Every call adds its wall time and bytes to the counters the traces read. */
#ifndef PNP_COMM_H
#define PNP_COMM_H

#include <mpi.h>
#include <stddef.h>

#include "pnp/backend.h"

typedef struct pnp_comm pnp_comm;

typedef struct {
    const char *name; /* "mpi" or "nccl" */
    /* buf_dev [n] <- the element-wise sum of buf_dev over all ranks */
    void (*allreduce_sum)(pnp_comm *c, float *buf_dev, size_t n);
    void (*destroy)(pnp_comm *c);
} pnp_comm_ops;

struct pnp_comm {
    const pnp_comm_ops *ops;
    MPI_Comm world;
    int rank, size;
    pnp_backend *be;
    double seconds;             /* wall time spent in communication */
    size_t bytes;               /* bytes reduced (per rank, payload) */
    void *ctx;
};

/* Ranks of `world` reducing over MPI on host memory (staged when be's memory is not). */
pnp_comm *pnp_comm_mpi_create(MPI_Comm world, pnp_backend *be);
#ifdef PNP_WITH_CUDA
/* NCCL on the CUDA backend's device buffers; every rank must have its own GPU. */
pnp_comm *pnp_comm_nccl_create(MPI_Comm world, pnp_backend *be);
#endif
void pnp_comm_destroy(pnp_comm *c);
/* The fields every implementation fills: ops, world, be, rank and size. */
pnp_comm *pnp_comm_alloc(const pnp_comm_ops *ops, MPI_Comm world, pnp_backend *be);

/* Rank and size among the ranks sharing this node. */
void pnp_comm_local_rank(MPI_Comm world, int *local_rank, int *local_size);
/* How many ranks of this node (this one included) pass the same key, a
 * NUL-terminated string shorter than 64 bytes (collective over world). */
int pnp_comm_node_count(MPI_Comm world, const char *key);

#endif
