/* comm_impl.h - what the communicator implementations (comm_mpi.c,
 * comm_nccl.c) share beyond include/pnp/comm.h: the common fields, and the
 * counters every call feeds (time, bytes by the ring model of comm.h, and the
 * record that pnp_comm_account splits into wait and transfer). */
#ifndef PNP_COMM_IMPL_H
#define PNP_COMM_IMPL_H

#include "pnp/comm.h"

/* The fields every implementation fills: ops, world, be, rank and size. */
pnp_comm *pnp_comm_alloc(const pnp_comm_ops *ops, MPI_Comm world, pnp_backend *be);
/* Frees the common fields and c (an implementation's destroy, after its own). */
void pnp_comm_free(pnp_comm *c);

/* A call that began at t0 (MPI_Wtime) ends now: its time, its bytes, its record. */
void pnp_comm_count(pnp_comm *c, double t0, double sent, double received);
/* The same for an all-reduce of `bytes` (ring: 2 (P-1)/P bytes each way). */
void pnp_comm_count_allreduce(pnp_comm *c, double t0, size_t bytes);
/* The same for an all-gather of float blocks counts[size] (ring: every block
 * but this rank's received, every block but its successor's sent). */
void pnp_comm_count_allgather(pnp_comm *c, double t0, const size_t *counts);

/* Whether every count and displacement fits MPI's int counts. */
int pnp_comm_fits_int(const size_t *counts, const size_t *displs, int n);

#endif
