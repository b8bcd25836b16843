/* comm_mpi.c - the MPI implementation of include/pnp/comm.h: MPI_Allreduce
 * on host memory, staged through a host buffer for device backends.
 *
 * Exactness: the solver only reduces (a) partial gradients, where the sum
 * order is MPI's, and (b) zero-filled images where each pixel has exactly one
 * non-zero contributor, whose sum is exact in any order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/comm.h"
#include "pnp/error.h"

typedef struct {
    float *staging; /* host copy of device buffers, grown on demand */
    size_t capacity;
} mpi_ctx;

/* MPI counts are ints: reduce in pieces of at most 2^30 elements. */
static void allreduce_host(MPI_Comm world, float *buf, size_t n)
{
    const size_t piece = (size_t)1 << 30;
    for (size_t off = 0; off < n; off += piece) {
        const size_t m = n - off < piece ? n - off : piece;
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)m, MPI_FLOAT, MPI_SUM, world));
    }
}

static void mpi_allreduce_sum(pnp_comm *c, float *buf, size_t n)
{
    const double t0 = MPI_Wtime();
    if (c->size > 1) {
        if (c->be->ops->host_memory) {
            allreduce_host(c->world, buf, n);
        } else {
            mpi_ctx *m = c->ctx;
            if (m->capacity < n) {
                free(m->staging);
                m->staging = pnp_malloc(n * sizeof(float));
                m->capacity = n;
            }
            c->be->ops->download(c->be, m->staging, buf, n * sizeof(float));
            allreduce_host(c->world, m->staging, n);
            c->be->ops->upload(c->be, buf, m->staging, n * sizeof(float));
        }
        c->bytes += n * sizeof(float);
    }
    c->seconds += MPI_Wtime() - t0;
}

static void mpi_destroy(pnp_comm *c)
{
    mpi_ctx *m = c->ctx;
    free(m->staging);
    free(m);
    free(c);
}

static const pnp_comm_ops MPI_COMM_OPS = {.name = "mpi", .allreduce_sum = mpi_allreduce_sum, .destroy = mpi_destroy};

void pnp_comm_local_rank(MPI_Comm world, int *local_rank, int *local_size)
{
    MPI_Comm node;
    MPI_CHECK(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_rank(node, local_rank));
    MPI_CHECK(MPI_Comm_size(node, local_size));
    MPI_CHECK(MPI_Comm_free(&node));
}

int pnp_comm_node_count(MPI_Comm world, const char *key)
{
    enum { KEY = 64 };
    char mine[KEY] = "";
    snprintf(mine, sizeof mine, "%s", key);
    MPI_Comm node;
    int n = 1, count = 0;
    MPI_CHECK(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_size(node, &n));
    char *all = pnp_malloc((size_t)n * KEY);
    MPI_CHECK(MPI_Allgather(mine, KEY, MPI_CHAR, all, KEY, MPI_CHAR, node));
    for (int q = 0; q < n; ++q) count += !strncmp(all + (size_t)q * KEY, mine, KEY);
    free(all);
    MPI_CHECK(MPI_Comm_free(&node));
    return count;
}

pnp_comm *pnp_comm_alloc(const pnp_comm_ops *ops, MPI_Comm world, pnp_backend *be)
{
    pnp_comm *c = pnp_calloc(1, sizeof *c);
    c->ops = ops;
    c->world = world;
    c->be = be;
    MPI_CHECK(MPI_Comm_rank(world, &c->rank));
    MPI_CHECK(MPI_Comm_size(world, &c->size));
    return c;
}

pnp_comm *pnp_comm_mpi_create(MPI_Comm world, pnp_backend *be)
{
    pnp_comm *c = pnp_comm_alloc(&MPI_COMM_OPS, world, be);
    c->ctx = pnp_calloc(1, sizeof(mpi_ctx));
    return c;
}

void pnp_comm_destroy(pnp_comm *c)
{
    if (c) c->ops->destroy(c);
}
