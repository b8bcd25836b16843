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
 *   status, iterations, final_psnr, total_time, denoiser, tiling attributes. */
#include <math.h>
#include <mpi.h>
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
    "  -h, --help        this text\n";

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

static void write_image(hid_t loc, const char *name, const pnp_image *shape, const float *data)
{
    hsize_t dims[3] = {3, (hsize_t)shape->h, (hsize_t)shape->w};
    pnp_h5_write_f32(loc, name, 3, dims, data);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    H5_CHECK(d);
    pnp_h5_attr_str(d, "layout", "CHW");
    H5_CHECK(H5Dclose(d));
}

/* Everything rank 0 writes; collective parts (gathers) run on every rank. */
typedef struct {
    const pnp_config *cfg;
    const pnp_row *row;
    const pnp_problem *p;
    const pnp_trace *tr;
    const float *x, *y0;
    const char *backend, *denoiser_desc, *path, *comm_name;
    double total_time;
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
    pnp_h5_attr_str(f, "status", "finished");
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

    write_image(f, "reconstruction", &r->p->truth, r->x);
    hid_t d = H5Dopen2(f, "reconstruction", H5P_DEFAULT);
    H5_CHECK(d);
    pnp_h5_attr_double(d, "psnr", it > 0 ? tr->psnr[it - 1] : tr->psnr_initial);
    H5_CHECK(H5Dclose(d));
    write_image(f, "ground_truth", &r->p->truth, r->p->truth.data);
    write_image(f, "measurement", &r->p->truth, r->y0);
    d = H5Dopen2(f, "measurement", H5P_DEFAULT);
    H5_CHECK(d);
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
    long long *col = pnp_malloc(sizeof(long long) * size);
    const char *names[3] = {"operators_owned", "windows_owned", "window_first"};
    for (int c = 0; c < 3; ++c) {
        for (int q = 0; q < size; ++q) col[q] = all[3 * q + c];
        write_i64(g, names[c], size, col);
    }
    free(col);
    H5_CHECK(H5Gclose(g));
    if (pnp_h5_commit(&h5, err, sizeof err)) pnp_fatal("%s", err);
    free(grad), free(den), free(comm), free(peak), free(all);
}

/* "configs/highres_imaging.yml" -> "highres_imaging"; the default -> "default". */
static void config_stem(const char *config, char *out, size_t len)
{
    if (!config) {
        snprintf(out, len, "default");
        return;
    }
    const char *base = strrchr(config, '/');
    base = base ? base + 1 : config;
    snprintf(out, len, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

/* NCCL when every rank has a GPU of its own (decided together: every node must
 * agree), else MPI on host buffers, said once by rank 0. */
static pnp_comm *make_comm(pnp_backend *be, int local_size, int rank)
{
    int own_gpu = 0;
#ifdef PNP_WITH_CUDA
    own_gpu = !be->ops->host_memory && local_size <= pnp_cuda_device_count();
#endif
    int all = 0;
    MPI_CHECK(MPI_Allreduce(&own_gpu, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
#ifdef PNP_WITH_CUDA
    if (all) return pnp_comm_nccl_create(MPI_COMM_WORLD, be);
#endif
    if (!be->ops->host_memory && rank == 0)
        printf("  note: ranks share a GPU: reductions go through MPI on host buffers, not NCCL\n");
    return pnp_comm_mpi_create(MPI_COMM_WORLD, be);
}

/* One row. Returns 0, or 2 when setup failed (message printed). */
static int run_row(const pnp_cli_opts *o, const pnp_config *cfg, const pnp_row *row, int rank, int size)
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
    else if (pnp_solver_check(row, p.truth.h, p.truth.w, err, sizeof err))
        setup_fail(&st, "%s: row %d: %s", cfg->path, row->index, err);
    pnp_backend *be = NULL;
    pnp_denoiser *dn = NULL;
    if (!st.failed) {
        be = pnp_backend_create(row->backend, threads, local_rank);
        dn = make_denoiser(row, be, &st);
    }
    if (setup_agree(&st, rank, size)) {
        pnp_denoiser_destroy(dn);
        pnp_backend_destroy(be);
        pnp_problem_free(&p);
        return 2;
    }

    char stem[256], path[4096];
    config_stem(o->config, stem, sizeof stem);
    snprintf(path, sizeof path, "%s/%s_row%d.h5", o->out ? o->out : "results", stem, row->index);
    const char *desc = dn ? pnp_denoiser_describe(dn) : "none";
    const int asked = row->ntasks_per_node * row->nodes;
    if (rank == 0) {
        printf("pnp run: row %d of %s: %s %dx%d, %d operators, %s\n", row->index, cfg->path, p.source, p.truth.h,
               p.truth.w, p.n_ops, desc);
        printf("  %d rank%s (%d thread%s each), backend %s, physics %s, denoiser %s", size, size == 1 ? "" : "s",
               threads, threads == 1 ? "" : "s", row->backend, row->distribute_physics ? "distributed" : "whole",
               row->distribute_denoiser ? "tiled" : "whole image");
        if (row->distribute_denoiser) printf(" (patch %d, overlap %d)", row->patch_size, row->overlap);
        printf("\n");
        if (dn && !row->weights[0])
            printf("  note: generated (untrained) %s weights: this run measures speed and memory, not image\n"
                   "        quality; give trained weights with --set weights=FILE (.pth or .h5)\n",
                   row->denoiser);
        if (asked != size)
            printf("  note: the row asks for %d rank%s (%s, %d per node x %d nodes); running on %d\n", asked,
                   asked == 1 ? "" : "s", row->slurm_gres[0] ? row->slurm_gres : "no gres", row->ntasks_per_node,
                   row->nodes, size);
        fflush(stdout);
    }

    pnp_comm *comm = make_comm(be, local_size, rank);
    const size_t N = pnp_image_numel(&p.truth);
    float *x = pnp_malloc(sizeof(float) * N), *y0 = pnp_calloc(N, sizeof(float));
    pnp_trace tr;
    pnp_solver_args args = {be, comm, row, &p, dn, rank == 0 ? stdout : NULL};
    pnp_solve(&args, x, y0, &tr);
    if (rank == 0 && tr.windows_total > 0)
        printf("  tiles: %d windows of %dx%d; rank 0 ran %d of them in batches of %d\n", tr.windows_total, tr.win_h,
               tr.win_w, tr.windows_owned, tr.batch);

    result r = {cfg, row, &p, &tr, x, y0, be->ops->name, desc, path, comm->ops->name, 0};
    r.total_time = MPI_Wtime() - t_total;
    write_result(&r, rank, size);
    if (rank == 0) {
        const double final = tr.iterations ? tr.psnr[tr.iterations - 1] : tr.psnr_initial;
        printf("wrote %s: PSNR %.3f dB after %d iterations, %.2f s\n", path, final, tr.iterations, r.total_time);
        fflush(stdout);
    }
    pnp_trace_free(&tr);
    free(x), free(y0);
    pnp_comm_destroy(comm);
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
    pnp_problem_free(&p);
    return 0;
}

int pnp_cmd_run(int argc, char **argv)
{
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
    for (int k = 0; status == 0 && k < cfg.n_rows; ++k)
        if (o.row < 0 || o.row == k) status = run_row(&o, &cfg, &cfg.rows[k], rank, size);
    if (!rc) pnp_config_free(&cfg);
    MPI_CHECK(MPI_Finalize());
    return status;
}
