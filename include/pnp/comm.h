/* comm.h - communication between the ranks of one run, behind one interface
 * (as the backend hides the device): the data term sums its spectra S and B
 * once at setup (circular) or its normal operator at every call (pad) with
 * comm->ops->allreduce_sum, the solver combines the denoised slabs with the
 * all-gather, on BACKEND buffers; neither calls MPI or NCCL itself.
 *
 * The MPI implementation works on host memory: with a host-memory backend
 * (CPU) it works in place; with a device backend it stages through a host
 * buffer (Debian's Open MPI is not CUDA-aware). The NCCL implementation works
 * on device buffers, one GPU per rank, its all-gathers on a stream of its own.
 *
 * Accounting (every implementation, through the helpers below):
 *  - seconds: the wall time this rank spent inside communication calls (the
 *    solver subtracts it from the phase the call was made in);
 *  - bytes_sent, bytes_received: what each call moves to and from this rank
 *    as a bandwidth-optimal (ring) algorithm moves it: an all-reduce of n
 *    bytes over P ranks sends and receives 2 (P-1)/P n; an all-gather
 *    receives every block but this rank's own and sends every block but its
 *    successor's (rank + 1 mod P), so each pixel arrives once on each rank.
 *    Counted per call from its sizes; the library's own traffic is not
 *    observable (Open MPI picks its algorithm by message size);
 *  - wait and transfer: every collective's time on this rank is recorded
 *    (pnp_comm_record); pnp_comm_account then splits the ones since its last
 *    call with ONE small all-reduce (the minimum over ranks of each recorded
 *    time), no barrier and no clock shared between nodes: in a collective
 *    the rank that arrives last waits for nobody, so the shortest time any
 *    rank spent in it is its transfer, and the rest of each rank's time in it
 *    is waiting for later ranks (imbalance). */
#ifndef PNP_COMM_H
#define PNP_COMM_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>

#include "pnp/backend.h"

typedef struct pnp_comm pnp_comm;

typedef struct {
    const char *name; /* "mpi" or "nccl" */
    /* Whether a started all-gather moves data while the caller computes (NCCL on
     * its own stream); MPI progresses non-blocking collectives only inside MPI
     * calls, which the denoiser does not make. */
    bool progresses_alone;
    /* buf_dev [n] <- the element-wise sum of buf_dev over all ranks */
    void (*allreduce_sum)(pnp_comm *c, float *buf_dev, size_t n);
    /* All-gather in place: all_dev [n] holds rank q's block at [displs[q], displs[q]
     * + counts[q]) (floats, host arrays of size ranks; blocks disjoint), this
     * rank's own block filled before the call. start begins it and may return
     * before it is done (counts and displs are copied); until allgather_wait
     * the caller must not touch those blocks (other parts of all_dev are
     * free). allgather_wait completes every all-gather started; then every
     * block holds its owner's data on every rank. Every rank starts the same
     * all-gathers (sizes) in the same order. */
    void (*allgather_start)(pnp_comm *c, float *all_dev, size_t n, const size_t *counts, const size_t *displs);
    void (*allgather_wait)(pnp_comm *c);
    void (*destroy)(pnp_comm *c);
} pnp_comm_ops;

struct pnp_comm {
    const pnp_comm_ops *ops;
    MPI_Comm world;
    int rank, size;
    pnp_backend *be;
    double seconds;                      /* wall time spent in communication calls */
    double bytes_sent, bytes_received;   /* see the header: per rank, since creation */
    double *recorded;                    /* [n_recorded] this rank's time in each collective since the
                                          * last pnp_comm_account */
    int n_recorded, cap_recorded;
    void *ctx;
};

/* Ranks of `world` reducing over MPI on host memory (staged when be's memory is not). */
pnp_comm *pnp_comm_mpi_create(MPI_Comm world, pnp_backend *be);
#ifdef PNP_WITH_CUDA
/* NCCL on the CUDA backend's device buffers; every rank must have its own GPU. */
pnp_comm *pnp_comm_nccl_create(MPI_Comm world, pnp_backend *be);
#endif
void pnp_comm_destroy(pnp_comm *c);

/* Accounting. record: this rank spent `seconds` in one collective (the
 * implementations record each of theirs; callers record the collectives they
 * make outside this interface, e.g. a stop agreement). Every rank must record
 * the same number between two pnp_comm_account calls. */
void pnp_comm_record(pnp_comm *c, double seconds);
/* Collective: splits the time recorded since the last call into *wait and
 * *transfer (see the header), forgets it, and records its own all-reduce for
 * the next call. */
void pnp_comm_account(pnp_comm *c, double *wait, double *transfer);
/* The start of what is accounted (collective): the ranks leave it together
 * (a barrier, so no rank's first wait is its peers' late start) and what was
 * recorded before is forgotten. */
void pnp_comm_account_start(pnp_comm *c);

/* all[q] = rank q's `mine` for every rank q (collective; host ints). */
void pnp_comm_gather_ints(pnp_comm *c, int mine, int *all);

/* Rank and size among the ranks sharing this node. */
void pnp_comm_local_rank(MPI_Comm world, int *local_rank, int *local_size);
/* How many ranks of this node (this one included) pass the same key, a
 * NUL-terminated string shorter than 64 bytes (collective over world). */
int pnp_comm_node_count(MPI_Comm world, const char *key);

#endif
