/* comm.c - what every communicator shares (include/pnp/comm.h): its common
 * fields, the accounting of time and bytes, the split of the recorded
 * collective times into wait and transfer, and the small host exchanges made
 * over MPI whatever moves the data (node-local ranks, setup values). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/comm_impl.h"
#include "pnp/error.h"

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

void pnp_comm_free(pnp_comm *c)
{
    free(c->recorded);
    free(c);
}

void pnp_comm_destroy(pnp_comm *c)
{
    if (c) c->ops->destroy(c);
}

/* ------------------------------------------------------------ accounting */

void pnp_comm_record(pnp_comm *c, double seconds)
{
    if (c->n_recorded == c->cap_recorded) {
        c->cap_recorded = c->cap_recorded ? 2 * c->cap_recorded : 16;
        double *grown = pnp_malloc(sizeof(double) * (size_t)c->cap_recorded);
        if (c->n_recorded) memcpy(grown, c->recorded, sizeof(double) * (size_t)c->n_recorded);
        free(c->recorded);
        c->recorded = grown;
    }
    c->recorded[c->n_recorded++] = seconds;
}

void pnp_comm_count(pnp_comm *c, double t0, double sent, double received)
{
    const double dt = MPI_Wtime() - t0;
    c->seconds += dt;
    c->bytes_sent += sent;
    c->bytes_received += received;
    pnp_comm_record(c, dt);
}

void pnp_comm_count_allreduce(pnp_comm *c, double t0, size_t bytes)
{
    const double moved = 2.0 * (c->size - 1) * (double)bytes / c->size;
    pnp_comm_count(c, t0, moved, moved);
}

void pnp_comm_count_allgather(pnp_comm *c, double t0, const size_t *counts)
{
    double total = 0;
    for (int q = 0; q < c->size; ++q) total += (double)counts[q];
    const double f = sizeof(float);
    pnp_comm_count(c, t0, f * (total - (double)counts[(c->rank + 1) % c->size]), f * (total - (double)counts[c->rank]));
}

int pnp_comm_fits_int(const size_t *counts, const size_t *displs, int n)
{
    for (int q = 0; q < n; ++q)
        if (counts[q] > (size_t)INT_MAX || displs[q] > (size_t)INT_MAX) return 0;
    return 1;
}

void pnp_comm_account(pnp_comm *c, double *wait, double *transfer)
{
    *wait = *transfer = 0;
    const int n = c->n_recorded;
    if (c->size == 1 || n == 0) {
        c->n_recorded = 0;
        return;
    }
    /* the shortest time any rank spent in each collective: its transfer */
    double *shortest = pnp_malloc(sizeof(double) * (size_t)n);
    const double t0 = MPI_Wtime();
    MPI_CHECK(MPI_Allreduce(c->recorded, shortest, n, MPI_DOUBLE, MPI_MIN, c->world));
    for (int i = 0; i < n; ++i) {
        *transfer += shortest[i];
        *wait += c->recorded[i] - shortest[i];
    }
    free(shortest);
    c->n_recorded = 0;
    pnp_comm_count(c, t0, 0, 0); /* this all-reduce is split at the next call */
}

void pnp_comm_account_start(pnp_comm *c)
{
    if (c->size > 1) MPI_CHECK(MPI_Barrier(c->world));
    c->n_recorded = 0;
}

/* ------------------------------------------------------------ host exchanges */

void pnp_comm_gather_ints(pnp_comm *c, int mine, int *all)
{
    MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, all, 1, MPI_INT, c->world));
}

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
