/* cmd_run.c - `pnp run`: the PnP reconstruction of one grid row (or of every
 * row, one after another) over the MPI ranks this program was started on.
 *
 * Setup (config, image, weights, tiling) can fail on any rank for reasons of
 * its own (a file one node cannot read): every rank reaches one agreement
 * point (an all-reduce of "did I fail") before any other collective, the
 * lowest failing rank prints its message, and all ranks leave with status 2
 * through MPI_Finalize. Failures after that point go through pnp_fatal, which
 * aborts the whole job. Rank 0 writes the result only when the run is done,
 * under a temporary name renamed at the end, so an aborted run leaves no file.
 *
 * Result file (DIR/<config name>_row<K>.h5):
 *   /reconstruction  float32 [3,H,W]  attrs layout="CHW", psnr
 *   /ground_truth    float32 [3,H,W]
 *   /measurement     float32 [3,H,W]  y_0, attrs operator=0, angle_deg
 *   /kernels         float32 [n,k,k]
 *   /traces/psnr, elapsed                         float64 [iterations]
 *   /traces/gradient_time, denoise_time, comm_time, peak_memory
 *                                                 float64 [iterations, ranks]
 *   /traces/operators_owned, windows_owned, window_first   int64 [ranks]
 *   /config/yaml, /config/row, root provenance (include/pnp/h5io.h) and
 *   status, iterations, final_psnr, total_time, denoiser, tiling attributes.
 *
 * Checkpoint and resume: the state of the iteration is x and the iteration
 * count, so an interrupted run's result file IS its checkpoint (status
 * "interrupted", /reconstruction = x after `iterations` iterations, traces so
 * far). --resume reads it on rank 0, broadcasts it, regenerates the problem
 * (a pure function of the row) and carries on; the final file says "resumed". */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnp/cli.h"
#include "pnp/comm.h"
#include "pnp/denoiser.h"
#include "pnp/error.h"
#include "pnp/h5io.h"
#include "pnp/problem.h"
#include "pnp/solver.h"
#include "pnp/weights.h"

static const char *USAGE =
    "usage: pnp run [CONFIG] [--row K] [--set KEY=VALUE ...] [--out DIR] [--threads N]\n"
    "               [--max-memory SIZE] [--resume FILE]\n"
    "       mpirun -n P pnp run ...   (or srun)\n"
    "\n"
    "Run the PnP reconstruction of a grid row on the ranks this program was\n"
    "started on: build the problem (each rank generates only the measurements of\n"
    "the operators it owns), iterate x <- clamp(D(x - step * grad f(x)), 0, 1),\n"
    "print one line per iteration (rank 0), and write one HDF5 result per row.\n"
    "Without --row every row of the grid runs, one after another.\n"
    "\n"
    "options:\n"
    "  --row K           grid row to run (default: all rows in turn)\n"
    "  --set KEY=VALUE   override a parameter, e.g. --set max_iter=20\n"
    "  --out DIR         folder for results (default results/): DIR/NAME_row<K>.h5\n"
    "  --threads N       CPU threads per rank (default: the node's cores / ranks on it)\n"
    "  --max-memory SIZE cap on what each rank's backend holds (e.g. 1500M, 2G;\n"
    "                    default: the free memory, shared by the ranks on it):\n"
    "                    denoiser batches shrink to fit; a run that cannot fit\n"
    "                    one window stops at setup with the sizes\n"
    "  --resume FILE     continue the interrupted run saved in FILE (same row, same\n"
    "                    rank count; --row defaults to FILE's row): the result equals\n"
    "                    an uninterrupted run\n"
    "  -h, --help        this text\n"
    "\n"
    "On SIGUSR1 (Slurm's --signal) or SIGTERM a run finishes its iteration, writes\n"
    "its result file as a checkpoint (status \"interrupted\") and exits with status 3.\n"
    "Exit status: 0 done, 1 runtime failure, 2 bad input, 3 interrupted (checkpoint written).\n";

/* ------------------------------------------------------------ setup errors */

typedef struct {
    int failed;
    char msg[2048];
} setup_status;

static void setup_fail(setup_status *s, const char *fmt, ...)
{
    if (s->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    s->failed = 1;
}

/* The agreement point: returns 1 when any rank failed (its lowest failing rank
 * has printed the message). */
static int setup_agree(const setup_status *s, int rank, int size)
{
    int mine = s->failed ? rank : size, lowest = size;
    MPI_CHECK(MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (lowest == size) return 0;
    if (lowest == rank) {
        if (size > 1) fprintf(stderr, "pnp: [rank %d] %s\n", rank, s->msg);
        else fprintf(stderr, "pnp: %s\n", s->msg);
        fflush(stderr);
    }
    return 1;
}

/* The denoiser of a row: none, generated weights for a spec, or a weights file. */
static pnp_denoiser *make_denoiser(const pnp_row *row, pnp_backend *be, setup_status *st)
{
    if (!strcmp(row->denoiser, "none")) return NULL;
    char arch[32], err[1024];
    pnp_state_dict sd = {0};
    if (row->weights[0]) {
        if (pnp_weights_load(row->weights, &sd, arch, sizeof arch, err, sizeof err)) {
            setup_fail(st, "weights: %s", err);
            return NULL;
        }
        if (strncmp(row->denoiser, arch, strlen(arch)) != 0) {
            setup_fail(st, "weights: %s holds a %s but the row's denoiser is '%s'", row->weights, arch,
                       row->denoiser);
            pnp_weights_free(&sd);
            return NULL;
        }
    } else {
        if (pnp_denoiser_skeleton(row->denoiser, &sd, arch, sizeof arch, err, sizeof err)) {
            setup_fail(st, "denoiser: %s", err);
            return NULL;
        }
        pnp_weights_randomize(&sd, 0); /* as `pnp weights generate SPEC OUT` */
    }
    pnp_denoiser *dn = pnp_denoiser_create(be, arch, &sd, err, sizeof err);
    pnp_weights_free(&sd);
    if (!dn) setup_fail(st, "weights %s: %s", row->weights[0] ? row->weights : "(generated)", err);
    return dn;
}

/* "host1,host2" (distinct names, rank order). */
static void gather_hosts(int rank, int size, char *out, size_t outlen)
{
    char mine[64] = "";
    gethostname(mine, sizeof mine - 1);
    char *all = rank == 0 ? pnp_calloc((size_t)size, sizeof mine) : NULL;
    MPI_CHECK(MPI_Gather(mine, sizeof mine, MPI_CHAR, all, sizeof mine, MPI_CHAR, 0, MPI_COMM_WORLD));
    if (rank != 0) return;
    out[0] = '\0';
    for (int r = 0; r < size; ++r) {
        const char *h = all + (size_t)r * sizeof mine;
        int seen = 0;
        for (int q = 0; q < r; ++q) seen |= !strcmp(h, all + (size_t)q * sizeof mine);
        if (seen) continue;
        if (out[0]) strncat(out, ",", outlen - strlen(out) - 1);
        strncat(out, h, outlen - strlen(out) - 1);
    }
    free(all);
}

/* [iterations] per rank -> [iterations, ranks] on rank 0 (NULL elsewhere). */
static double *gather_trace(const double *mine, int iters, int rank, int size)
{
    double *all = rank == 0 ? pnp_malloc(sizeof(double) * iters * size) : NULL;
    double *t = rank == 0 ? pnp_malloc(sizeof(double) * iters * size) : NULL;
    MPI_CHECK(MPI_Gather(mine, iters, MPI_DOUBLE, all, iters, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    if (rank != 0) return NULL;
    for (int r = 0; r < size; ++r)
        for (int k = 0; k < iters; ++k) t[(size_t)k * size + r] = all[(size_t)r * iters + k];
    free(all);
    return t;
}

static void write_f64(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *v, const char *units)
{
    hid_t s = H5Screate_simple(rank, dims, NULL);
    H5_CHECK(s);
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(d);
    H5_CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
    pnp_h5_attr_str(d, "units", units);
    H5_CHECK(H5Dclose(d));
    H5_CHECK(H5Sclose(s));
}

static void write_i64(hid_t loc, const char *name, int n, const long long *v)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    H5_CHECK(s);
    hid_t d = H5Dcreate2(loc, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(d);
    H5_CHECK(H5Dwrite(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
    H5_CHECK(H5Dclose(d));
    H5_CHECK(H5Sclose(s));
}

/* A [3,H,W] image with layout="CHW"; returns the open dataset (for more attributes). */
static hid_t write_image(hid_t loc, const char *name, const pnp_image *shape, const float *data)
{
    hsize_t dims[3] = {3, (hsize_t)shape->h, (hsize_t)shape->w};
    hid_t d = pnp_h5_create_f32(loc, name, 3, dims);
    H5_CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    pnp_h5_attr_str(d, "layout", "CHW");
    return d;
}

/* Everything rank 0 writes; collective parts (gathers) run on every rank. */
typedef struct {
    const pnp_config *cfg;
    const pnp_row *row;
    const pnp_problem *p;
    const pnp_trace *tr;
    const float *x, *y0;
    const char *backend, *denoiser_desc, *path, *comm_name, *status;
    double total_time;
    int unfused_convs; /* rank 0's backend: pnp_backend_unfused_convs */
} result;

static void write_result(const result *r, int rank, int size)
{
    const pnp_trace *tr = r->tr;
    const int it = tr->iterations;
    char hosts[4096] = "";
    gather_hosts(rank, size, hosts, sizeof hosts);
    double *grad = gather_trace(tr->grad_time, it, rank, size);
    double *den = gather_trace(tr->denoise_time, it, rank, size);
    double *comm = gather_trace(tr->comm_time, it, rank, size);
    double *peak = gather_trace(tr->peak_bytes, it, rank, size);
    double *planned = rank == 0 ? pnp_malloc(sizeof(double) * size) : NULL;
    MPI_CHECK(MPI_Gather(&tr->planned_bytes, 1, MPI_DOUBLE, planned, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    long long mine[3] = {tr->ops_owned, tr->windows_owned, tr->window_first}, *all = NULL;
    if (rank == 0) all = pnp_malloc(sizeof(long long) * 3 * size);
    MPI_CHECK(MPI_Gather(mine, 3, MPI_LONG_LONG, all, 3, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
    if (rank != 0) return;

    char err[1024];
    pnp_h5 h5;
    if (pnp_h5_create(&h5, r->path, err, sizeof err)) pnp_fatal("%s", err);
    hid_t f = h5.file;
    pnp_h5_provenance(f, r->cfg, r->row, r->backend, size, hosts);
    pnp_h5_attr_str(f, "content", "reconstruction");
    pnp_h5_attr_str(f, "status", r->status);
    pnp_h5_attr_int(f, "iterations", it);
    pnp_h5_attr_double(f, "final_psnr", it > 0 ? tr->psnr[it - 1] : tr->psnr_initial);
    pnp_h5_attr_double(f, "initial_psnr", tr->psnr_initial);
    pnp_h5_attr_double(f, "total_time", r->total_time);
    pnp_h5_attr_double(f, "setup_time", tr->setup_time);
    pnp_h5_attr_str(f, "communication", r->comm_name);
    pnp_h5_attr_str(f, "denoiser", r->denoiser_desc);
    pnp_h5_attr_str(f, "source", r->p->source);
    pnp_h5_attr_int(f, "windows", tr->windows_total);
    pnp_h5_attr_int(f, "window_height", tr->win_h);
    pnp_h5_attr_int(f, "window_width", tr->win_w);
    pnp_h5_attr_int(f, "batch_size", tr->batch);
    pnp_h5_attr_int(f, "unfused_convolutions", r->unfused_convs);

    hid_t d = write_image(f, "reconstruction", &r->p->truth, r->x);
    pnp_h5_attr_double(d, "psnr", it > 0 ? tr->psnr[it - 1] : tr->psnr_initial);
    H5_CHECK(H5Dclose(d));
    H5_CHECK(H5Dclose(write_image(f, "ground_truth", &r->p->truth, r->p->truth.data)));
    d = write_image(f, "measurement", &r->p->truth, r->y0);
    pnp_h5_attr_int(d, "operator", 0);
    pnp_h5_attr_double(d, "angle_deg", r->p->angles[0]);
    H5_CHECK(H5Dclose(d));
    hsize_t kd[3] = {(hsize_t)r->p->n_ops, (hsize_t)r->p->ksize, (hsize_t)r->p->ksize};
    pnp_h5_write_f32(f, "kernels", 3, kd, r->p->kernels);

    hid_t g = pnp_h5_group(f, "traces");
    hsize_t d1[1] = {(hsize_t)it}, d2[2] = {(hsize_t)it, (hsize_t)size};
    write_f64(g, "psnr", 1, d1, tr->psnr, "dB");
    write_f64(g, "elapsed", 1, d1, tr->elapsed, "s");
    write_f64(g, "gradient_time", 2, d2, grad, "s");
    write_f64(g, "denoise_time", 2, d2, den, "s");
    write_f64(g, "comm_time", 2, d2, comm, "s");
    write_f64(g, "peak_memory", 2, d2, peak, "bytes");
    hsize_t dr[1] = {(hsize_t)size};
    write_f64(g, "planned_memory", 1, dr, planned, "bytes");
    long long *col = pnp_malloc(sizeof(long long) * size);
    const char *names[3] = {"operators_owned", "windows_owned", "window_first"};
    for (int c = 0; c < 3; ++c) {
        for (int q = 0; q < size; ++q) col[q] = all[3 * q + c];
        write_i64(g, names[c], size, col);
    }
    free(col);
    H5_CHECK(H5Gclose(g));
    if (pnp_h5_commit(&h5, err, sizeof err)) pnp_fatal("%s", err);
    free(grad), free(den), free(comm), free(peak), free(planned), free(all);
}

/* Ranks of this node whose backend draws on the same memory as this one's
 * (backend op memory_id: the host, or one GPU), this one included. */
static int memory_sharers(pnp_backend *be)
{
    char id[64] = "";
    be->ops->memory_id(be, id, sizeof id);
    return pnp_comm_node_count(MPI_COMM_WORLD, id);
}

/* NCCL when every rank has a GPU of its own (decided together: every node must
 * agree), else MPI on host buffers, said once by rank 0. */
static pnp_comm *make_comm(pnp_backend *be, int sharers, int rank)
{
    int own_gpu = !be->ops->host_memory && sharers == 1, all = 0;
    MPI_CHECK(MPI_Allreduce(&own_gpu, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
#ifdef PNP_WITH_CUDA
    if (all) return pnp_comm_nccl_create(MPI_COMM_WORLD, be);
#endif
    if (!be->ops->host_memory && rank == 0)
        printf("  note: ranks share a GPU: reductions go through MPI on host buffers, not NCCL\n");
    return pnp_comm_mpi_create(MPI_COMM_WORLD, be);
}

/* ------------------------------------------------------- stop and resume */

static volatile sig_atomic_t g_signal = 0;

static void on_signal(int sig) { g_signal = sig; }

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

enum { STOP_TEST = 1000 }; /* larger than any signal number */

typedef struct {
    const pnp_trace *tr;
    int stop_after; /* PNP_STOP_AFTER: stop once this many iterations are done (tests) */
    int signal;     /* why the run stopped: a signal number, or STOP_TEST */
} stop_state;

/* Every rank asks; any rank's signal stops all of them after this iteration. */
static int should_stop(void *user)
{
    stop_state *s = user;
    int mine = (int)g_signal;
    if (s->stop_after > 0 && s->tr->iterations >= s->stop_after) mine = STOP_TEST;
    MPI_CHECK(MPI_Allreduce(&mine, &s->signal, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return s->signal != 0;
}

/* A checkpoint as rank 0 reads it; broadcast to every rank. */
typedef struct {
    int row_index, iterations, ranks;
    double psnr_initial, setup_time;
    double *psnr, *elapsed;        /* [iterations] */
    double *per_rank[4];           /* [iterations, ranks]: gradient, denoise, comm, peak */
    float *x;                      /* [3,H,W] */
} checkpoint;

static const char *PER_RANK[4] = {"traces/gradient_time", "traces/denoise_time", "traces/comm_time",
                                  "traces/peak_memory"};

static void checkpoint_free(checkpoint *c)
{
    free(c->psnr), free(c->elapsed), free(c->x);
    for (int i = 0; i < 4; ++i) free(c->per_rank[i]);
    memset(c, 0, sizeof *c);
}

/* Rank 0: read FILE's header (row, iterations, ranks, status) and, when
 * `numel` > 0, the state. 0, or -1 with a message naming the file. */
static int checkpoint_read(const char *path, size_t numel, checkpoint *c, char *rowfmt, size_t rowlen, char *err,
                           size_t errlen)
{
    char e[512], *status = NULL, *fmt = NULL;
    memset(c, 0, sizeof *c);
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = access(path, R_OK) == 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    if (f < 0) {
        snprintf(err, errlen, "--resume %s: cannot open as an HDF5 file", path);
        return -1;
    }
    long long row = 0, it = 0, ranks = 0;
    int rc = pnp_h5_read_attr_str(f, "status", &status, e, sizeof e) ||
             pnp_h5_read_attr_int(f, "grid_row_index", &row, e, sizeof e) ||
             pnp_h5_read_attr_int(f, "iterations", &it, e, sizeof e) ||
             pnp_h5_read_attr_int(f, "ranks", &ranks, e, sizeof e) ||
             pnp_h5_read_attr_str(f, "grid_row", &fmt, e, sizeof e) ||
             pnp_h5_read_attr_double(f, "initial_psnr", &c->psnr_initial, e, sizeof e) ||
             pnp_h5_read_attr_double(f, "setup_time", &c->setup_time, e, sizeof e);
    c->row_index = (int)row, c->iterations = (int)it, c->ranks = (int)ranks;
    snprintf(rowfmt, rowlen, "%s", fmt ? fmt : "");
    free(fmt);
    if (!rc && numel > 0) {
        c->psnr = pnp_malloc(sizeof(double) * (it + 1));
        c->elapsed = pnp_malloc(sizeof(double) * (it + 1));
        c->x = pnp_malloc(sizeof(float) * numel);
        rc = pnp_h5_read_f64(f, "traces/psnr", c->psnr, (size_t)it, e, sizeof e) ||
             pnp_h5_read_f64(f, "traces/elapsed", c->elapsed, (size_t)it, e, sizeof e) ||
             pnp_h5_read_f32(f, "reconstruction", c->x, numel, e, sizeof e);
        for (int i = 0; i < 4 && !rc; ++i) {
            c->per_rank[i] = pnp_malloc(sizeof(double) * (it * ranks + 1));
            rc = pnp_h5_read_f64(f, PER_RANK[i], c->per_rank[i], (size_t)(it * ranks), e, sizeof e);
        }
    }
    H5Fclose(f);
    if (rc) {
        snprintf(err, errlen, "--resume %s", e); /* e: "FILE: OBJECT: what" */
    } else if (strcmp(status, "interrupted") != 0) {
        snprintf(err, errlen, "--resume %s: status is '%s', not 'interrupted': nothing to resume", path, status);
        rc = -1;
    }
    free(status);
    if (rc) {
        checkpoint_free(c);
        return -1;
    }
    return 0;
}

/* Rank 0 checks the checkpoint against the run and broadcasts it. Returns 0,
 * or 1 on every rank when it failed (an agreement point, message printed). */
static int checkpoint_load(const char *path, const pnp_row *row, size_t numel, int rank, int size, checkpoint *c,
                            setup_status *st)
{
    int it = 0;
    if (rank == 0) {
        char rowfmt[8192], mine[8192], err[1024];
        pnp_row_format(row, mine, sizeof mine);
        if (checkpoint_read(path, numel, c, rowfmt, sizeof rowfmt, err, sizeof err)) setup_fail(st, "%s", err);
        else if (strcmp(rowfmt, mine) != 0)
            setup_fail(st, "--resume %s: the file was made by a different grid row:\n  file: %s\n  this: %s", path,
                       rowfmt, mine);
        else if (c->ranks != size)
            setup_fail(st, "--resume %s: the run had %d ranks; resume it on %d ranks, not %d", path, c->ranks,
                       c->ranks, size);
        else if (c->iterations >= row->max_iter)
            setup_fail(st, "--resume %s: %d of %d iterations already done", path, c->iterations, row->max_iter);
        it = c->iterations;
    }
    if (setup_agree(st, rank, size)) return 1;
    MPI_CHECK(MPI_Bcast(&it, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (rank != 0) {
        c->iterations = it, c->ranks = size;
        c->psnr = pnp_malloc(sizeof(double) * (it + 1));
        c->elapsed = pnp_malloc(sizeof(double) * (it + 1));
        c->x = pnp_malloc(sizeof(float) * numel);
        for (int i = 0; i < 4; ++i) c->per_rank[i] = pnp_malloc(sizeof(double) * (it * size + 1));
    }
    MPI_CHECK(MPI_Bcast(&c->psnr_initial, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    MPI_CHECK(MPI_Bcast(&c->setup_time, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    MPI_CHECK(MPI_Bcast(c->psnr, it, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    MPI_CHECK(MPI_Bcast(c->elapsed, it, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    for (int i = 0; i < 4; ++i) MPI_CHECK(MPI_Bcast(c->per_rank[i], it * size, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    for (size_t off = 0; off < numel; off += (size_t)1 << 30) {
        const size_t m = numel - off < ((size_t)1 << 30) ? numel - off : ((size_t)1 << 30);
        MPI_CHECK(MPI_Bcast(c->x + off, (int)m, MPI_FLOAT, 0, MPI_COMM_WORLD));
    }
    return 0;
}

/* The first iterations of this rank's trace from the checkpoint. */
static void checkpoint_to_trace(const checkpoint *c, int rank, int size, pnp_trace *tr)
{
    double *dst[4] = {tr->grad_time, tr->denoise_time, tr->comm_time, tr->peak_bytes};
    for (int k = 0; k < c->iterations; ++k) {
        tr->psnr[k] = c->psnr[k];
        tr->elapsed[k] = c->elapsed[k];
        for (int i = 0; i < 4; ++i) dst[i][k] = c->per_rank[i][(size_t)k * size + rank];
    }
    tr->iterations = c->iterations;
    tr->psnr_initial = c->psnr_initial;
    tr->setup_time = c->setup_time;
}

/* Row index stored in a checkpoint (rank 0 reads, all receive; -1 if unreadable). */
static int checkpoint_row(const char *path, int rank)
{
    int row = -1;
    if (rank == 0) {
        checkpoint c;
        char rowfmt[8192], err[1024];
        if (checkpoint_read(path, 0, &c, rowfmt, sizeof rowfmt, err, sizeof err) == 0) row = c.row_index;
        checkpoint_free(&c);
    }
    MPI_CHECK(MPI_Bcast(&row, 1, MPI_INT, 0, MPI_COMM_WORLD));
    return row;
}

/* One row. Returns 0, 2 when setup failed (message printed), 3 when interrupted. */
static int run_row(const pnp_cli_opts *o, const char *resume, size_t max_memory, const pnp_config *cfg,
                   const pnp_row *row, int rank, int size)
{
    const double t_total = MPI_Wtime();
    setup_status st = {0};
    int local_rank = 0, local_size = 1;
    pnp_comm_local_rank(MPI_COMM_WORLD, &local_rank, &local_size);
    int threads = o->threads;
    if (threads == 0) {
        const long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores / local_size > 0 ? (int)(cores / local_size) : 1;
    }

    pnp_problem p = {0};
    char err[2048];
    if (pnp_problem_build(row, &p, err, sizeof err)) setup_fail(&st, "%s", err);
    else if (pnp_solver_check(row, p.truth.h, p.truth.w, err, sizeof err) ||
             pnp_backend_check(row->backend, row->precision, err, sizeof err))
        setup_fail(&st, "%s: row %d: %s", cfg->path, row->index, err);
    pnp_backend *be = NULL;
    pnp_denoiser *dn = NULL;
    if (!st.failed) {
        be = pnp_backend_create(row->backend, row->precision, threads, local_rank);
        dn = make_denoiser(row, be, &st);
    }
    checkpoint ck = {0};
    int failed = setup_agree(&st, rank, size);
    if (!failed && resume) failed = checkpoint_load(resume, row, pnp_image_numel(&p.truth), rank, size, &ck, &st);
    if (failed) {
        checkpoint_free(&ck);
        pnp_denoiser_destroy(dn);
        pnp_backend_destroy(be);
        pnp_problem_free(&p);
        return 2;
    }

    char path[4096];
    pnp_cli_result_path(o->config, o->out, row->index, path, sizeof path);
    const char *desc = dn ? pnp_denoiser_describe(dn) : "none";
    const int asked = row->ntasks_per_node * row->nodes;
    if (rank == 0) {
        printf("pnp run: row %d of %s: %s %dx%d, %d operators, %s\n", row->index, cfg->path, p.source, p.truth.h,
               p.truth.w, p.n_ops, desc);
        printf("  %d rank%s (%d thread%s each), backend %s%s, physics %s, denoiser %s", size, size == 1 ? "" : "s",
               threads, threads == 1 ? "" : "s", be->ops->name, strcmp(row->precision, "bf16") ? "" : " (bf16)",
               row->distribute_physics ? "distributed" : "whole",
               row->distribute_denoiser ? "tiled" : "whole image");
        if (row->distribute_denoiser) printf(" (patch %d, overlap %d)", row->patch_size, row->overlap);
        printf("\n");
        if (dn && !row->weights[0])
            printf("  note: generated (untrained) %s weights: this run measures speed and memory, not image\n"
                   "        quality; give trained weights with --set weights=FILE (.pth or .h5)\n",
                   row->denoiser);
        if (be->ops->host_memory && !strncmp(row->slurm_gres, "gpu", 3))
            printf("  note: the row asks for %s but runs on the cpu backend (backend %s%s)\n", row->slurm_gres,
                   row->backend, strcmp(row->backend, "auto") ? "" : ": no GPU visible to this pnp, or built without CUDA");
        if (asked != size)
            printf("  note: the row asks for %d rank%s (%s, %d per node x %d nodes); running on %d\n", asked,
                   asked == 1 ? "" : "s", row->slurm_gres[0] ? row->slurm_gres : "no gres", row->ntasks_per_node,
                   row->nodes, size);
        fflush(stdout);
    }

    const int sharers = memory_sharers(be);
    pnp_comm *comm = make_comm(be, sharers, rank);
    const size_t N = pnp_image_numel(&p.truth);
    float *x = pnp_malloc(sizeof(float) * N), *y0 = rank == 0 ? pnp_calloc(N, sizeof(float)) : NULL; /* written by rank 0 */
    pnp_trace tr;
    pnp_trace_alloc(&tr, row->max_iter);
    if (resume) {
        checkpoint_to_trace(&ck, rank, size, &tr);
        if (rank == 0) printf("  resuming %s after iteration %d of %d\n", resume, ck.iterations, row->max_iter);
    }
    const char *stop_env = getenv("PNP_STOP_AFTER");
    stop_state stop = {&tr, stop_env ? atoi(stop_env) : 0, 0};
    pnp_solver_args args = {be,      comm,           row,         &p,   dn, rank == 0 ? stdout : NULL,
                            resume ? ck.x : NULL, sharers, max_memory, should_stop, &stop};
    pnp_solve(&args, x, y0, &tr);
    const int interrupted = tr.iterations < row->max_iter;
    checkpoint_free(&ck);
    if (rank == 0 && tr.windows_total > 0)
        printf("  tiles: %d windows of %dx%d; rank 0 ran %d of them in batches of %d\n", tr.windows_total, tr.win_h,
               tr.win_w, tr.windows_owned, tr.batch);

    result r = {cfg, row, &p, &tr, x, y0, be->ops->name, desc, path, comm->ops->name,
                interrupted ? "interrupted" : resume ? "resumed" : "finished", 0, pnp_backend_unfused_convs(be)};
    r.total_time = MPI_Wtime() - t_total;
    write_result(&r, rank, size);
    if (rank == 0) {
        const double final = tr.iterations ? tr.psnr[tr.iterations - 1] : tr.psnr_initial;
        printf("wrote %s: PSNR %.3f dB after %d iterations, %.2f s\n", path, final, tr.iterations, r.total_time);
        if (tr.iterations > 0)
            printf("  memory: rank 0 held at most %.1f MiB on its backend (planned %.1f MiB)\n",
                   tr.peak_bytes[tr.iterations - 1] / 1048576.0, tr.planned_bytes / 1048576.0);
        if (interrupted) {
            char sig[32];
            if (stop.signal == STOP_TEST) snprintf(sig, sizeof sig, "PNP_STOP_AFTER");
            else snprintf(sig, sizeof sig, "signal %s", stop.signal == SIGUSR1 ? "USR1" : "TERM");
            printf("pnp: interrupted by %s after iteration %d of %d; the checkpoint is %s\n"
                   "     continue with the same ranks and options plus: --resume %s\n",
                   sig, tr.iterations, row->max_iter, path, path);
        }
        fflush(stdout);
    }
    pnp_trace_free(&tr);
    free(x), free(y0);
    pnp_comm_destroy(comm);
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
    pnp_problem_free(&p);
    return interrupted ? 3 : 0;
}

/* "1500M", "2G", "512K", "1T" or plain bytes (binary units) into *bytes; nonzero when malformed or zero. */
static int parse_size(const char *text, size_t *bytes)
{
    char *end = NULL;
    errno = 0;
    const double v = strtod(text, &end);
    if (end == text || errno || !(v > 0)) return -1;
    double unit = 1;
    if (*end) {
        const char *units = "KMGT", *u = strchr(units, toupper((unsigned char)*end));
        if (!u || !*u) return -1;
        unit = pow(1024.0, (double)(u - units + 1));
        ++end;
        if (*end == 'i' || *end == 'I') ++end;
        if (*end == 'B' || *end == 'b') ++end;
        if (*end) return -1;
    }
    if (v * unit < 1 || v * unit > 1e18) return -1;
    *bytes = (size_t)(v * unit);
    return 0;
}

int pnp_cmd_run(int argc, char **argv)
{
    /* --resume FILE and --max-memory SIZE are this command's own options; the rest are shared */
    const char *resume = NULL;
    size_t max_memory = 0;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--resume") || !strcmp(argv[i], "--max-memory")) {
            const bool is_resume = !strcmp(argv[i], "--resume");
            if (i + 1 >= argc) {
                fprintf(stderr, "pnp: %s needs %s\n\n%s", argv[i], is_resume ? "a result file" : "a size", USAGE);
                return 2;
            }
            if (is_resume)
                resume = argv[++i];
            else if (parse_size(argv[++i], &max_memory)) {
                fprintf(stderr, "pnp: --max-memory '%s': expected a size such as 1500M or 2G (binary units)\n",
                        argv[i]);
                return 2;
            }
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    pnp_cli_opts o;
    if (pnp_cli_parse(argc, argv, USAGE, &o)) return 0;
    int provided = 0, rank = 0, size = 1;
    MPI_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
    pnp_error_set_rank(rank);

    /* the config: every rank reads it (a node may not see the file) */
    setup_status st = {0};
    pnp_config cfg = {0};
    char err[2048];
    const int rc = o.config ? pnp_config_load_file(o.config, o.overrides, o.n_overrides, &cfg, err, sizeof err)
                            : pnp_config_load_string("<embedded default>", pnp_default_config_yaml, o.overrides,
                                                     o.n_overrides, &cfg, err, sizeof err);
    if (rc) setup_fail(&st, "%s", err);
    else if (o.row >= cfg.n_rows)
        setup_fail(&st, "--row %d: %s has %d row%s (0..%d)", o.row, cfg.path, cfg.n_rows, cfg.n_rows == 1 ? "" : "s",
                   cfg.n_rows - 1);
    int status = setup_agree(&st, rank, size) ? 2 : 0;
    if (status == 0 && resume && o.row < 0) { /* the checkpoint says which row */
        o.row = checkpoint_row(resume, rank);
        if (o.row < 0 || o.row >= cfg.n_rows) o.row = 0; /* checkpoint_load names the problem */
    }
    install_signal_handlers();
    for (int k = 0; status == 0 && k < cfg.n_rows; ++k)
        if (o.row < 0 || o.row == k) status = run_row(&o, resume, max_memory, &cfg, &cfg.rows[k], rank, size);
    if (!rc) pnp_config_free(&cfg);
    MPI_CHECK(MPI_Finalize());
    return status;
}
