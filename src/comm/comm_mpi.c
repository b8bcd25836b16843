/* comm_mpi.c - the MPI implementation of include/pnp/comm.h on host memory:
 * MPI_Allreduce, and the all-gather as MPI_Iallgatherv (in place) completed by
 * MPI_Waitall; device backends stage through host buffers (one for
 * reductions, one for all-gathers, grown on demand): an all-gather downloads
 * the own block when it starts and uploads the other ranks' blocks at the wait.
 *
 * Exactness: the data term's sums (S and B, pad's normal operator) are in
 * MPI's order; the all-gather only copies. Counts past MPI's int range: reductions
 * go in pieces, an all-gather as one broadcast per rank in pieces (blocking). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_impl.h"
#include "pnp/error.h"

enum { PIECE = 1 << 30 }; /* elements per MPI call where counts may pass INT_MAX */

typedef struct {
    float *staging; /* host copy of device buffers for reductions */
    size_t capacity;
    float *gathered;       /* host copy of the all-gathers' buffer (device backends) */
    size_t gathered_capacity;
    float *gathered_dev;   /* the device buffer of the pending all-gathers, and its size (floats) */
    size_t extent;
    size_t *arriving;      /* [2 * n_arriving]: (displacement, count) of the blocks other ranks send,
                            * uploaded at the wait */
    size_t n_arriving, cap_arriving;
    MPI_Request *requests; /* pending all-gathers, and their int counts and displacements ([2 * size] each,
                            * which must not move until the request completes) */
    int **sizes;
    int pending, cap_pending;
} mpi_ctx;

/* *buf [*cap] grown to at least n floats (contents dropped). */
static void grow(float **buf, size_t *cap, size_t n)
{
    if (*cap >= n) return;
    free(*buf);
    *buf = pnp_malloc(n * sizeof(float));
    *cap = n;
}

/* MPI counts are ints: reduce in pieces. */
static void allreduce_host(MPI_Comm world, float *buf, size_t n)
{
    for (size_t off = 0; off < n; off += PIECE) {
        const size_t m = n - off < PIECE ? n - off : PIECE;
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)m, MPI_FLOAT, MPI_SUM, world));
    }
}

static void mpi_allreduce_sum(pnp_comm *c, float *buf, size_t n)
{
    c->be->ops->sync(c->be); /* this rank's own queued work is not communication */
    const double t0 = MPI_Wtime();
    if (c->size > 1) {
        if (c->be->ops->host_memory) {
            allreduce_host(c->world, buf, n);
        } else {
            mpi_ctx *m = c->ctx;
            grow(&m->staging, &m->capacity, n);
            c->be->ops->download(c->be, m->staging, buf, n * sizeof(float));
            allreduce_host(c->world, m->staging, n);
            c->be->ops->upload(c->be, buf, m->staging, n * sizeof(float));
        }
    }
    pnp_comm_count_allreduce(c, t0, n * sizeof(float));
}

static void mpi_allgather_start(pnp_comm *c, float *all, size_t n, const size_t *counts, const size_t *displs)
{
    mpi_ctx *m = c->ctx;
    pnp_backend *be = c->be;
    const int P = c->size, me = c->rank;
    for (int q = 0; q < P; ++q)
        if (displs[q] + counts[q] > n) pnp_fatal("allgather_start: rank %d's block ends past the buffer", q);
    be->ops->sync(be); /* the own block is this rank's work, not communication */
    const double t0 = MPI_Wtime();
    if (P > 1) {
        float *buf = all;
        if (!be->ops->host_memory) { /* stage: the own block down now, the others' blocks up at the wait */
            if (m->pending && (m->gathered_dev != all || m->extent != n))
                pnp_fatal("allgather_start: another buffer while all-gathers are pending");
            grow(&m->gathered, &m->gathered_capacity, n); /* never while pending: same n */
            m->gathered_dev = all;
            m->extent = n;
            buf = m->gathered;
            be->ops->download(be, buf + displs[me], all + displs[me], counts[me] * sizeof(float));
            for (int q = 0; q < P; ++q) {
                if (q == me || !counts[q]) continue;
                if (m->n_arriving == m->cap_arriving) {
                    m->cap_arriving = m->cap_arriving ? 2 * m->cap_arriving : 16;
                    m->arriving = realloc(m->arriving, sizeof(size_t) * 2 * m->cap_arriving);
                    if (!m->arriving) pnp_fatal("out of memory for %zu all-gather blocks", m->cap_arriving);
                }
                m->arriving[2 * m->n_arriving] = displs[q];
                m->arriving[2 * m->n_arriving++ + 1] = counts[q];
            }
        }
        if (pnp_comm_fits_int(counts, displs, P)) {
            if (m->pending == m->cap_pending) {
                m->cap_pending = m->cap_pending ? 2 * m->cap_pending : 8;
                m->requests = realloc(m->requests, sizeof(MPI_Request) * (size_t)m->cap_pending);
                m->sizes = realloc(m->sizes, sizeof(int *) * (size_t)m->cap_pending);
                if (!m->requests || !m->sizes) pnp_fatal("out of memory for %d pending all-gathers", m->cap_pending);
            }
            int *ic = m->sizes[m->pending] = pnp_malloc(sizeof(int) * 2 * (size_t)P), *id = ic + P;
            for (int q = 0; q < P; ++q) ic[q] = (int)counts[q], id[q] = (int)displs[q];
            MPI_CHECK(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, ic, id, MPI_FLOAT, c->world,
                                      &m->requests[m->pending]));
            ++m->pending;
        } else { /* past int counts: each block broadcast by its owner, in pieces, now */
            for (int q = 0; q < P; ++q)
                for (size_t off = 0; off < counts[q]; off += PIECE) {
                    const size_t len = counts[q] - off < PIECE ? counts[q] - off : PIECE;
                    MPI_CHECK(MPI_Bcast(buf + displs[q] + off, (int)len, MPI_FLOAT, q, c->world));
                }
        }
    }
    pnp_comm_count_allgather(c, t0, counts);
}

static void mpi_allgather_wait(pnp_comm *c)
{
    mpi_ctx *m = c->ctx;
    const double t0 = MPI_Wtime();
    if (m->pending) MPI_CHECK(MPI_Waitall(m->pending, m->requests, MPI_STATUSES_IGNORE));
    for (int r = 0; r < m->pending; ++r) free(m->sizes[r]);
    m->pending = 0;
    for (size_t b = 0; b < m->n_arriving; ++b) { /* staged: the blocks that came */
        const size_t off = m->arriving[2 * b];
        c->be->ops->upload(c->be, m->gathered_dev + off, m->gathered + off, m->arriving[2 * b + 1] * sizeof(float));
    }
    m->n_arriving = 0;
    m->extent = 0;
    pnp_comm_count(c, t0, 0, 0);
}

static void mpi_destroy(pnp_comm *c)
{
    mpi_ctx *m = c->ctx;
    if (m->pending) MPI_Waitall(m->pending, m->requests, MPI_STATUSES_IGNORE);
    for (int r = 0; r < m->pending; ++r) free(m->sizes[r]);
    free(m->staging), free(m->gathered), free(m->requests), free(m->sizes), free(m->arriving);
    free(m);
    pnp_comm_free(c);
}

static const pnp_comm_ops MPI_COMM_OPS = {.name = "mpi",
                                          .progresses_alone = false,
                                          .allreduce_sum = mpi_allreduce_sum,
                                          .allgather_start = mpi_allgather_start,
                                          .allgather_wait = mpi_allgather_wait,
                                          .destroy = mpi_destroy};

pnp_comm *pnp_comm_mpi_create(MPI_Comm world, pnp_backend *be)
{
    pnp_comm *c = pnp_comm_alloc(&MPI_COMM_OPS, world, be);
    c->ctx = pnp_calloc(1, sizeof(mpi_ctx));
    return c;
}
