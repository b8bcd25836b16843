/* cmd_run.c - `pnp run`: the PnP reconstruction of one grid row (or of every
 * row, one after another) over the MPI ranks this program was started on.
 *
 * Rank 0 reads the configuration file and broadcasts its text, so a file
 * edited while the job starts cannot split it. Setup (config, --out, image,
 * weights, tiling, memory plan) can fail on any rank for reasons of its own (a
 * file one node cannot read): every rank reaches an agreement point (an
 * all-reduce of "did I fail") before any other collective, the lowest failing
 * rank prints its message, and all ranks leave with status 2 through
 * MPI_Finalize. The first one also compares a digest of every rank's resolved
 * row and problem shape: ranks started with different options (mpirun's
 * `A : B`) are refused there, naming the difference, before they could hang
 * or crash in a collective. Failures after that point go through pnp_fatal,
 * which aborts the whole job. Rank 0 writes the result only when the run is
 * done, under a temporary name renamed at the end, so an aborted run leaves no
 * file; whether it can be written is checked at setup (--out).
 *
 * Exit status (README "Exit status"): 0 done; 1 a runtime failure, or an
 * iterate that turned non-finite (the result file is written with status
 * "failed" and the reason); 2 bad input, refused at setup; 3 stopped by a
 * signal (TERM, INT, USR1): after an iteration the result file is the
 * checkpoint, during setup nothing is written. With PNP_STATUS_FILE set in the
 * environment, rank 0 also writes its exit status there (`pnp grid --local` and
 * the sbatch scripts read it: a launcher reports its own status instead).
 *
 * The result file (DIR/<config name>_row<K>.h5) is include/pnp/result.h's:
 * this file gathers every rank's records for it and hands them to
 * pnp_result_write on rank 0.
 *
 * Checkpoint and resume: the state of the iteration is x and the iteration
 * count, so an interrupted run's result file IS its checkpoint (status
 * "interrupted", /reconstruction = x after `iterations` iterations, traces so
 * far). --resume reads it on rank 0 (pnp_result_read), broadcasts it, regenerates the problem
 * (a pure function of the row) and carries on; the final file says "resumed". */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pnp/cli.h"
#include "pnp/comm.h"
#include "pnp/denoiser.h"
#include "pnp/error.h"
#include "pnp/files.h"
#include "pnp/host.h"
#include "pnp/problem.h"
#include "pnp/result.h"
#include "pnp/solver.h"
#include "pnp/weights.h"

static const char *USAGE =
    "usage: pnp run [CONFIG] [--row K] [--set KEY=VALUE ...] [--out DIR] [--threads N]\n"
    "               [--max-memory SIZE] [--resume FILE] [--force]\n"
    "       mpirun -n P pnp run ...   (or srun)\n"
    "\n"
    "Run the reconstruction of a grid row on the ranks this program was started\n"
    "on: build the problem (each rank generates or reads only the measurements of\n"
    "the operators it owns), iterate (solver PnP: x <- clamp(D(x - step * grad\n"
    "f(x)), 0, 1); DPIR, the embedded default's: an exact data step, then D at a\n"
    "falling sigma), print one line per iteration (rank 0), and write one HDF5\n"
    "result per row.\n"
    "Without --row every row of the grid runs, one after another.\n"
    "\n"
    "options:\n"
    "  --row K           grid row to run (default: all rows in turn)\n"
    "  --set KEY=VALUE   override a parameter, e.g. --set max_iter=20\n"
    "  --out DIR         folder for results (default results/): DIR/NAME_row<K>.h5\n"
    "  --threads N       CPU threads per rank, at most the CPUs this process may use\n"
    "                    (default: the row's OMP_NUM_THREADS up to those CPUs, else\n"
    "                    those CPUs shared among the ranks of the node on them)\n"
    "  --max-memory SIZE cap on what each rank's backend holds (e.g. 1500M, 2G;\n"
    "                    default: the free memory, shared by the ranks on it):\n"
    "                    denoiser batches shrink to fit; a run that cannot fit\n"
    "                    one window stops at setup with the sizes\n"
    "  --force           replace an existing result file (without it, pnp run\n"
    "                    refuses to start when the file is there)\n"
    "  --resume FILE     continue the interrupted run saved in FILE (same row, same\n"
    "                    rank count; --row defaults to FILE's row): the result equals\n"
    "                    an uninterrupted run\n"
    "  -h, --help        this text\n"
    "\n"
    "On SIGUSR1 (Slurm's --signal), SIGTERM or SIGINT a run finishes its iteration,\n"
    "writes its result file as a checkpoint (status \"interrupted\") and exits with\n"
    "status 3; during setup it stops at once, writing nothing.\n"
    "Exit status: 0 done, 1 runtime failure or a diverged iterate (NaN; the result\n"
    "file says so), 2 bad input (found at setup), 3 interrupted by a signal.\n";

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

/* The second half of the agreement point: every rank must run the same row on
 * the same problem. A digest of `what` (the resolved row and the problem's
 * shape) from every rank; when they differ, each rank that differs from rank 0
 * names the first difference and rank 0 lists those ranks. 1 on every rank
 * when they differ. */
static int same_row_everywhere(const char *what, int rank, int size)
{
    uint64_t mine = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = what; *p; ++p) mine = (mine ^ (unsigned char)*p) * 1099511628211ull;
    uint64_t *all = pnp_malloc(sizeof(uint64_t) * (size_t)size);
    MPI_CHECK(MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD));
    int differ = 0;
    for (int r = 1; r < size; ++r) differ += all[r] != all[0];
    if (differ) {
        int len = (int)strlen(what) + 1;
        MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD));
        char *ref = pnp_malloc((size_t)len);
        if (rank == 0) memcpy(ref, what, (size_t)len);
        MPI_CHECK(MPI_Bcast(ref, len, MPI_CHAR, 0, MPI_COMM_WORLD));
        if (rank == 0) { /* one line, written at once */
            char ranks[512] = "";
            for (int r = 1; r < size; ++r)
                if (all[r] != all[0] && strlen(ranks) + 16 < sizeof ranks)
                    snprintf(ranks + strlen(ranks), sizeof ranks - strlen(ranks), " %d", r);
            fprintf(stderr, "pnp: [rank 0] rank%s%s run%s another grid row or problem than rank 0 (every rank must be "
                    "started with the same configuration and options)\n", differ == 1 ? "" : "s", ranks,
                    differ == 1 ? "s" : "");
        } else if (mine != all[0]) { /* the first word that differs: "key=value" */
            const char *a = what, *b = ref;
            while (*a && *a == *b) ++a, ++b;
            while (a > what && a[-1] != ' ') --a, --b;
            fprintf(stderr, "pnp: [rank %d] this rank runs %.*s where rank 0 runs %.*s\n", rank,
                    (int)strcspn(a, " "), a, (int)strcspn(b, " "), b);
        }
        fflush(stderr);
        free(ref);
    }
    free(all);
    return differ > 0;
}

/* The weights of a row's denoiser: the row's file; for plain `drunet` without
 * one, the official checkpoint where data/fetch.sh put it (or installed beside
 * pnp), else pnp's own small trained DRUNet (weights/drunet_small.h5); a spec
 * with widths (drunet:W0,W1,W2,W3[:NB]) or any other name without a file:
 * generated weights (out ""). */
static void denoiser_weights(const pnp_row *row, char *out, size_t len)
{
    snprintf(out, len, "%s", row->weights);
    if (out[0] || strcmp(row->denoiser, "drunet") != 0) return;
    const char *const candidates[] = {"data/drunet_color.pth", "weights/drunet_color.pth", "weights/drunet_small.h5"};
    for (size_t k = 0; k < sizeof candidates / sizeof *candidates; ++k)
        if (pnp_cli_find_data(candidates[k], out, len) == 0) return;
    out[0] = '\0';
}

/* The denoiser of a row for images of `channels`: none, a weights file
 * (denoiser_weights), or generated weights for a spec. note: how a network of
 * other channels is bridged. */
static pnp_denoiser *make_denoiser(const pnp_row *row, const char *weights, pnp_backend *be, int channels, char *note,
                                   size_t notelen, setup_status *st)
{
    if (!strcmp(row->denoiser, "none")) return NULL;
    char arch[32], err[1024];
    pnp_state_dict sd = {0};
    if (weights[0]) {
        if (pnp_weights_load(weights, &sd, arch, sizeof arch, err, sizeof err)) {
            setup_fail(st, "weights: %s", err);
            return NULL;
        }
        if (strncmp(row->denoiser, arch, strlen(arch)) != 0) {
            setup_fail(st, "weights: %s holds a %s but the row's denoiser is '%s'", weights, arch,
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
    pnp_denoiser *dn = pnp_denoiser_create_for(be, arch, &sd, channels, note, notelen, err, sizeof err);
    pnp_weights_free(&sd);
    if (!dn) setup_fail(st, "weights %s: %s", weights[0] ? weights : "(generated)", err);
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

/* [n] per rank -> [n, ranks] on rank 0 (NULL elsewhere). */
static double *gather_per_rank(const double *mine, int n, int rank, int size)
{
    double *all = rank == 0 ? pnp_malloc(sizeof(double) * ((size_t)n * size + 1)) : NULL;
    double *t = rank == 0 ? pnp_malloc(sizeof(double) * ((size_t)n * size + 1)) : NULL;
    MPI_CHECK(MPI_Gather(mine, n, MPI_DOUBLE, all, n, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    if (rank != 0) return NULL;
    for (int r = 0; r < size; ++r)
        for (int k = 0; k < n; ++k) t[(size_t)k * size + r] = all[(size_t)r * n + k];
    free(all);
    return t;
}

static double *copy_doubles(const double *v, int n)
{
    double *c = pnp_malloc(sizeof(double) * ((size_t)n + 1));
    memcpy(c, v, sizeof(double) * (size_t)n);
    return c;
}

/* Every rank's records into *r on rank 0 (collective; r untouched elsewhere). */
static void gather_result(const pnp_row *row, const pnp_trace *tr, int rank, int size, pnp_result *r)
{
    const int it = tr->iterations;
    char hosts[4096] = "";
    gather_hosts(rank, size, hosts, sizeof hosts);
    const double *mine[PNP_RESULT_PER_RANK] = {tr->grad_time,   tr->denoise_time, tr->comm_time,     tr->peak_bytes,
                                               tr->wait_time,   tr->bytes_sent,   tr->bytes_received};
    double *per_rank[PNP_RESULT_PER_RANK];
    for (int k = 0; k < PNP_RESULT_PER_RANK; ++k) per_rank[k] = gather_per_rank(mine[k], it, rank, size);
    const double owned[6] = {tr->planned_bytes, tr->ops_owned,        tr->windows_owned,
                             tr->window_first,  tr->measurement_psnr, tr->pixels_owned};
    double *owned_all[6];
    for (int k = 0; k < 6; ++k) owned_all[k] = gather_per_rank(&owned[k], 1, rank, size);
    if (rank != 0) return;
    r->measurement_psnr = NAN; /* the best over the ranks' measurements */
    for (int q = 0; q < size; ++q)
        if (isnan(r->measurement_psnr) || owned_all[4][q] > r->measurement_psnr) r->measurement_psnr = owned_all[4][q];
    free(owned_all[4]);
    r->hosts = pnp_strdup(hosts);
    r->ranks = size;
    r->traced = r->iterations = it;
    r->psnr = isnan(tr->psnr_initial) ? NULL : copy_doubles(tr->psnr, it);
    r->ssim = isnan(tr->ssim_initial) ? NULL : copy_doubles(tr->ssim, it);
    r->sigma = copy_doubles(tr->sigma, it);
    r->inner_iters = !strcmp(row->solver, "DPIR") ? copy_doubles(tr->inner_iters, it) : NULL;
    r->solver = pnp_strdup(row->solver);
    r->residual = copy_doubles(tr->residual, it);
    r->change = copy_doubles(tr->change, it);
    r->elapsed = copy_doubles(tr->elapsed, it);
    memcpy(r->per_rank, per_rank, sizeof per_rank);
    r->planned_memory = owned_all[0], r->operators_owned = owned_all[1];
    r->windows_owned = owned_all[2], r->window_first = owned_all[3];
    r->pixels_owned = tr->slab_combine ? owned_all[5] : (free(owned_all[5]), NULL);
    r->slab_combine = tr->slab_combine ? pnp_strdup(tr->slab_combine) : NULL;
    r->patch_size = tr->patch_size, r->comm_overlap = tr->comm_overlap;
    r->initial_psnr = tr->psnr_initial;
    r->initial_ssim = tr->ssim_initial;
    r->step_size = tr->step_size;
    r->lipschitz = tr->lipschitz;
    r->lipschitz_iterations = tr->lipschitz_iters;
    r->init_iterations = tr->init_iters;
    r->initial_residual = tr->residual_initial;
    r->setup_time = tr->setup_time;
    r->windows = tr->windows_total, r->window_height = tr->win_h, r->window_width = tr->win_w;
    r->batch_size = tr->batch;
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

/* TERM, INT and USR1 ask for a stop (at the next iteration boundary, or at once
 * during setup) instead of killing the process; set once MPI runs. */
static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static const char *signal_name(int sig)
{
    return sig == SIGUSR1 ? "USR1" : sig == SIGINT ? "INT" : sig == SIGTERM ? "TERM" : "?";
}

enum { STOP_TEST = 1000 }; /* larger than any signal number */

typedef struct {
    const pnp_trace *tr;
    int rank, size;
    int stop_after; /* PNP_STOP_AFTER: stop once this many iterations are done (tests) */
    int signal;     /* why the run stopped: a signal number, or STOP_TEST */
    int diverged;   /* some rank's iterate turned non-finite */
    int refused;    /* setup was refused (the message is printed) */
} stop_state;

/* During setup, on this rank alone: was a stop asked for? */
static int stop_requested(void *user)
{
    (void)user;
    return g_signal != 0;
}

/* The solver's setup agreement point: a failure anywhere ends the run (exit
 * 2), and so does a signal that came during setup (exit 3). */
static int solver_setup_agree(void *user, const char *failure)
{
    stop_state *s = user;
    setup_status st = {0};
    if (failure) setup_fail(&st, "%s", failure);
    if (setup_agree(&st, s->rank, s->size)) return s->refused = 1;
    int mine = (int)g_signal;
    MPI_CHECK(MPI_Allreduce(&mine, &s->signal, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return s->signal != 0;
}

/* Every rank asks after every iteration; any rank's signal (or a diverged
 * iterate) stops all of them there. */
static int should_stop(void *user)
{
    stop_state *s = user;
    int mine[2] = {(int)g_signal, s->tr->nonfinite}, all[2];
    if (s->stop_after > 0 && s->tr->iterations >= s->stop_after) mine[0] = STOP_TEST;
    MPI_CHECK(MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    s->signal = all[0], s->diverged = all[1];
    return all[0] || all[1];
}

/* Rank 0 reads the checkpoint (a result file, include/pnp/result.h), checks it
 * against the run (x of the data term's geometry g: /reconstruction, or
 * /reconstruction_extended for pad; a PSNR trace when the row has a truth) and broadcasts the state to every rank (x
 * in c->reconstruction, the iteration count and the traces so far; the rest of
 * *c is rank 0's only). Returns 0, or 1 on every rank when it failed (an
 * agreement point, message printed). */
static int checkpoint_load(const char *path, const pnp_row *row, const pnp_data_geometry *g, bool has_truth,
                           int rank, int size, pnp_result *c, setup_status *st)
{
    int it = 0, has[4] = {0, 0, 0, 0}; /* psnr, ssim, sigma, inner_iters */
    const bool pad = g->boundary == PNP_BOUNDARY_PAD;
    if (rank == 0) {
        char mine[8192], err[1024];
        pnp_row_format(row, mine, sizeof mine);
        if (pnp_result_read(path, PNP_RESULT_READ_IMAGE | PNP_RESULT_READ_ITERATES, c, err, sizeof err))
            setup_fail(st, "--resume %s", err);
        else if (strcmp(c->status, "interrupted") != 0)
            setup_fail(st, "--resume %s: status is '%s', not 'interrupted': nothing to resume", path, c->status);
        else if (!c->grid_row || strcmp(c->grid_row, mine) != 0)
            setup_fail(st, "--resume %s: the file was made by a different grid row:\n  file: %s\n  this: %s", path,
                       c->grid_row ? c->grid_row : "(none)", mine);
        else if (c->ranks != size)
            setup_fail(st, "--resume %s: the run had %lld ranks; resume it on %lld ranks, not %d", path, c->ranks,
                       c->ranks, size);
        else if (c->iterations >= row->max_iter)
            setup_fail(st, "--resume %s: %lld of %d iterations already done", path, c->iterations, row->max_iter);
        else if (c->traced != c->iterations || !c->residual || !c->change || isnan(c->initial_residual) ||
                 isnan(c->setup_time))
            setup_fail(st, "--resume %s: the traces hold %lld iterations of %lld, or the data residual, relative "
                       "change, initial_data_residual or setup_time is missing: not a complete checkpoint",
                       path, c->traced, c->iterations);
        else if (has_truth && !c->psnr)
            setup_fail(st, "--resume %s: /traces/psnr: not found (this row has a ground truth)", path);
        else if (pad && !c->extended)
            setup_fail(st, "--resume %s: no /reconstruction_extended, which boundary pad resumes from", path);
        else if (c->channels != g->c || (pad ? c->ext_height : c->height) != g->xh ||
                 (pad ? c->ext_width : c->width) != g->xw)
            setup_fail(st, "--resume %s: /%s is [%lld,%d,%d], this row's estimate is [%d,%d,%d]", path,
                       pad ? "reconstruction_extended" : "reconstruction", c->channels,
                       pad ? c->ext_height : c->height, pad ? c->ext_width : c->width, g->c, g->xh, g->xw);
        if (!st->failed && pad) { /* the state is the extended x */
            free(c->reconstruction);
            c->reconstruction = c->extended;
            c->extended = NULL;
        }
        it = (int)c->iterations;
        has[0] = c->psnr != NULL, has[1] = c->ssim != NULL, has[2] = c->sigma != NULL, has[3] = c->inner_iters != NULL;
    }
    if (setup_agree(st, rank, size)) return 1;
    const size_t numel = (size_t)g->c * g->xh * g->xw;
    int head[5] = {it, has[0], has[1], has[2], has[3]};
    MPI_CHECK(MPI_Bcast(head, 5, MPI_INT, 0, MPI_COMM_WORLD));
    it = head[0];
    double **optional[4] = {&c->psnr, &c->ssim, &c->sigma, &c->inner_iters};
    if (rank != 0) {
        c->traced = c->iterations = it, c->ranks = size;
        for (int i = 0; i < 4; ++i)
            if (head[1 + i]) *optional[i] = pnp_malloc(sizeof(double) * (it + 1));
        c->residual = pnp_malloc(sizeof(double) * (it + 1));
        c->change = pnp_malloc(sizeof(double) * (it + 1));
        c->elapsed = pnp_malloc(sizeof(double) * (it + 1));
        c->reconstruction = pnp_malloc(sizeof(float) * numel);
        for (int i = 0; i < PNP_RESULT_PER_RANK; ++i) c->per_rank[i] = pnp_malloc(sizeof(double) * (it * size + 1));
    }
    double scalars[4] = {c->initial_psnr, c->initial_residual, c->setup_time, c->initial_ssim};
    MPI_CHECK(MPI_Bcast(scalars, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    c->initial_psnr = scalars[0], c->initial_residual = scalars[1], c->setup_time = scalars[2];
    c->initial_ssim = scalars[3];
    double *traces[7] = {c->psnr, c->residual, c->change, c->elapsed, c->ssim, c->sigma, c->inner_iters};
    for (int i = 0; i < 7; ++i)
        if (traces[i]) MPI_CHECK(MPI_Bcast(traces[i], it, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    for (int i = 0; i < PNP_RESULT_PER_RANK; ++i) {
        if (!c->per_rank[i]) c->per_rank[i] = pnp_calloc((size_t)it * size + 1, sizeof(double)); /* an earlier version's file */
        MPI_CHECK(MPI_Bcast(c->per_rank[i], it * size, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    }
    for (size_t off = 0; off < numel; off += (size_t)1 << 30) {
        const size_t m = numel - off < ((size_t)1 << 30) ? numel - off : ((size_t)1 << 30);
        MPI_CHECK(MPI_Bcast(c->reconstruction + off, (int)m, MPI_FLOAT, 0, MPI_COMM_WORLD));
    }
    return 0;
}

/* The first iterations of this rank's trace from the checkpoint. */
static void checkpoint_to_trace(const pnp_result *c, int rank, int size, pnp_trace *tr)
{
    double *dst[PNP_RESULT_PER_RANK] = {tr->grad_time, tr->denoise_time, tr->comm_time,     tr->peak_bytes,
                                        tr->wait_time, tr->bytes_sent,   tr->bytes_received};
    for (int k = 0; k < c->iterations; ++k) {
        tr->psnr[k] = c->psnr ? c->psnr[k] : NAN;
        tr->ssim[k] = c->ssim ? c->ssim[k] : NAN;
        tr->sigma[k] = c->sigma ? c->sigma[k] : NAN;
        tr->inner_iters[k] = c->inner_iters ? c->inner_iters[k] : NAN;
        tr->residual[k] = c->residual[k];
        tr->change[k] = c->change[k];
        tr->elapsed[k] = c->elapsed[k];
        for (int i = 0; i < PNP_RESULT_PER_RANK; ++i) dst[i][k] = c->per_rank[i][(size_t)k * size + rank];
    }
    tr->iterations = (int)c->iterations;
    tr->psnr_initial = c->initial_psnr;
    tr->ssim_initial = c->initial_ssim;
    tr->residual_initial = c->initial_residual;
    tr->setup_time = c->setup_time;
}

/* x's measured region [c, h, w] (a copy; x itself is [c, xh, xw], the extended domain for pad). */
static float *measured_region(const pnp_data_geometry *g, const float *x)
{
    float *region = pnp_malloc(sizeof(float) * g->c * g->h * g->w);
    for (int c = 0; c < g->c; ++c)
        for (int i = 0; i < g->h; ++i)
            memcpy(region + ((size_t)c * g->h + i) * g->w, x + ((size_t)c * g->xh + g->oy + i) * g->xw + g->ox,
                   sizeof(float) * g->w);
    return region;
}

/* Rank 0's saved iterates (save_every): the measured region after each saved
 * iteration, those of a resumed checkpoint first; handed to the result. */
typedef struct {
    const pnp_data_geometry *geo;
    int n, cap;
    int *index;
    float **images;
} iterate_store;

static void keep_iterate(void *user, int iteration, const float *x)
{
    iterate_store *s = user;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->index = realloc(s->index, sizeof(int) * s->cap);
        s->images = realloc(s->images, sizeof(float *) * s->cap);
        if (!s->index || !s->images) pnp_fatal("out of memory keeping iterate %d", iteration);
    }
    s->index[s->n] = iteration;
    s->images[s->n++] = measured_region(s->geo, x);
}

/* Row index stored in a checkpoint (rank 0 reads, all receive; -1 if unreadable). */
static int checkpoint_row(const char *path, int rank)
{
    int row = -1;
    if (rank == 0) {
        pnp_result c;
        char err[1024];
        if (pnp_result_read(path, PNP_RESULT_READ_SUMMARY, &c, err, sizeof err) == 0) row = (int)c.grid_row_index;
        pnp_result_free(&c);
    }
    MPI_CHECK(MPI_Bcast(&row, 1, MPI_INT, 0, MPI_COMM_WORLD));
    return row;
}

/* $PNP_STATUS_FILE, when set, receives the exit status (rank 0). Written as
 * soon as the outcome is on disk, before anything is printed: after a TERM,
 * mpirun stops reading the ranks' output and a print may never return. */
static void write_status_file(int status, int rank)
{
    const char *path = getenv("PNP_STATUS_FILE");
    if (rank != 0 || !path || !path[0]) return;
    FILE *f = fopen(path, "w");
    if (f) fprintf(f, "%d\n", status), fclose(f);
}

/* One row. Returns 0; 1 when the iterate diverged (the file says so); 2 when
 * setup failed (message printed); 3 when interrupted. */
static int run_row(const pnp_cli_opts *o, const char *resume, size_t max_memory, int cpu_sharers,
                   const pnp_config *cfg, const pnp_row *row, int rank, int size)
{
    const double t_total = MPI_Wtime();
    setup_status st = {0};
    int local_rank = 0, local_size = 1;
    pnp_comm_local_rank(MPI_COMM_WORLD, &local_rank, &local_size);
    char path[4096], err[2048];
    /* CPU threads: --threads (refused past the CPUs this process may use), else
     * the row's OMP_NUM_THREADS (at most those CPUs), else those CPUs shared
     * among the ranks of this node on them */
    int threads = pnp_cli_threads(o->threads, cpu_sharers, err, sizeof err);
    if (threads < 0) setup_fail(&st, "%s", err);
    else if (!o->threads && row->omp_num_threads > 0) {
        const int cpus = pnp_host_cpus(NULL, 0);
        threads = row->omp_num_threads < cpus ? row->omp_num_threads : cpus;
    }

    pnp_cli_result_path(o->config, o->out, row->index, path, sizeof path);
    pnp_problem p = {0};
    pnp_data_geometry geo = {0};
    char dn_note[512] = "";
    if (st.failed) {
        /* nothing more to find */
    } else if (rank == 0 && pnp_output_check(path, err, sizeof err)) /* before any work: the result must be writable */
        setup_fail(&st, "--out %s: %s", o->out ? o->out : "results", err);
    else if (pnp_problem_build(row, rank, size, &p, err, sizeof err)) setup_fail(&st, "%s", err);
    else if ((geo = pnp_problem_geometry(&p), pnp_solver_check(row, geo.xh, geo.xw, err, sizeof err)) ||
             pnp_backend_check(row->backend, row->precision, err, sizeof err))
        setup_fail(&st, "%s: row %d: %s", cfg->path, row->index, err);
    pnp_backend *be = NULL;
    pnp_denoiser *dn = NULL;
    char weights[4096];
    denoiser_weights(row, weights, sizeof weights);
    if (!st.failed) {
        be = pnp_backend_create(row->backend, row->precision, threads, local_rank);
        dn = make_denoiser(row, weights, be, p.c, dn_note, sizeof dn_note, &st);
    }
    pnp_result ck = {0};
    int failed = setup_agree(&st, rank, size);
    if (!failed) { /* the same row and problem on every rank, before anything depends on it */
        char what[9000], text[8192];
        pnp_row_format(row, text, sizeof text);
        snprintf(what, sizeof what, "row=%d %s image=%dx%dx%d operators=%d psf=%dx%dx%d boundary=%s resume=%s",
                 row->index, text, p.c, p.h, p.w, p.n_ops, p.kc, p.kh, p.kw, pnp_boundary_name(p.boundary),
                 resume ? "yes" : "no");
        failed = same_row_everywhere(what, rank, size);
    }
    if (!failed && resume) failed = checkpoint_load(resume, row, &geo, p.truth.data != NULL, rank, size, &ck, &st);
    if (failed) {
        pnp_result_free(&ck);
        pnp_denoiser_destroy(dn);
        pnp_backend_destroy(be);
        pnp_problem_free(&p);
        return 2;
    }

    const char *desc = dn ? pnp_denoiser_describe(dn) : "none";
    const int asked = row->ntasks_per_node * row->nodes;
    if (rank == 0) {
        printf("pnp run: row %d of %s: %s, %d channel%s %dx%d, %d operator%s (PSF %dx%d%s), boundary %s, %s\n",
               row->index, cfg->path, p.source, p.c, p.c == 1 ? "" : "s", p.h, p.w, p.n_ops,
               p.n_ops == 1 ? "" : "s", p.kh, p.kw, p.kc > 1 ? " per channel" : "", pnp_boundary_name(p.boundary),
               desc);
        if (p.boundary == PNP_BOUNDARY_PAD)
            printf("  boundary pad: x is %dx%d (the measured region at row %d, column %d), so no blur wraps "
                   "around\n", geo.xh, geo.xw, geo.oy, geo.ox);
        if (!p.truth.data) printf("  no reference: traces record the data residual and the relative change\n");
        if (p.notes) printf("%s", p.notes);
        if (dn_note[0]) printf("  note: %s\n", dn_note);
        printf("  %d rank%s (%d thread%s each), backend %s%s, physics %s, denoiser %s", size, size == 1 ? "" : "s",
               threads, threads == 1 ? "" : "s", be->ops->name, strcmp(row->precision, "bf16") ? "" : " (bf16)",
               row->distribute_physics ? "distributed" : "whole",
               row->distribute_denoiser ? "tiled" : "whole image");
        if (row->distribute_denoiser && row->patch_size == PNP_AUTO) printf(" (patch auto, overlap %d)", row->overlap);
        else if (row->distribute_denoiser) printf(" (patch %d, overlap %d)", row->patch_size, row->overlap);
        printf("\n");
        if (dn && !weights[0])
            printf("  note: generated (untrained) %s weights: this run measures speed and memory, not image\n"
                   "        quality; give trained weights with --set weights=FILE (.pth or .h5)\n",
                   row->denoiser);
        else if (dn && !row->weights[0])
            printf("  note: denoiser drunet without weights: %s%s\n", weights,
                   strstr(weights, "drunet_small") ? " (pnp's own small trained DRUNet; the official weights: "
                                                     "bash data/fetch.sh)" : "");
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
    const size_t N = (size_t)geo.c * geo.xh * geo.xw, NY = (size_t)p.c * p.h * p.w;
    float *x = pnp_malloc(sizeof(float) * N), *y0 = rank == 0 ? pnp_calloc(NY, sizeof(float)) : NULL; /* written by rank 0 */
    pnp_trace tr;
    pnp_trace_alloc(&tr, row->max_iter);
    if (resume) {
        checkpoint_to_trace(&ck, rank, size, &tr);
        if (rank == 0) printf("  resuming %s after iteration %lld of %d\n", resume, ck.iterations, row->max_iter);
    }
    const char *stop_env = getenv("PNP_STOP_AFTER");
    stop_state stop = {&tr, rank, size, stop_env ? atoi(stop_env) : 0, 0, 0, 0};
    iterate_store store = {&geo, 0, 0, NULL, NULL};
    if (rank == 0 && resume) { /* the checkpoint's saved iterates come first */
        store.n = store.cap = ck.n_iterates, store.index = ck.iterate_index, store.images = ck.iterates;
        ck.n_iterates = 0, ck.iterate_index = NULL, ck.iterates = NULL;
    }
    pnp_solver_args args = {be,         comm,           row,    &p,         dn,   rank == 0 ? stdout : NULL,
                            resume ? ck.reconstruction : NULL, sharers, max_memory, stop_requested,
                            solver_setup_agree, should_stop, &stop, rank == 0 ? keep_iterate : NULL, &store};
    const int started = pnp_solve(&args, x, y0, &tr) == 0;
    const int interrupted = started && !stop.diverged && !tr.converged && tr.iterations < row->max_iter;
    pnp_result_free(&ck);

    pnp_result r = {0};
    if (started) gather_result(row, &tr, rank, size, &r);
    const double total_time = MPI_Wtime() - t_total;
    const int outcome = !started ? (stop.refused ? 2 : 3) : stop.diverged ? 1 : interrupted ? 3 : 0;
    if (!started) write_status_file(outcome, rank);
    if (!started && !stop.refused && rank == 0) {
        fprintf(stderr, "pnp: interrupted by signal %s during setup: nothing written\n", signal_name(stop.signal));
        fflush(stderr);
    }
    char failure[512] = "";
    if (stop.diverged)
        snprintf(failure, sizeof failure,
                 "iteration %d turned the iterate non-finite (NaN or infinite values): the step (step_size) or the "
                 "denoiser (weights, denoiser_sigma) diverged", tr.iterations);
    if (started && rank == 0) {
        r.status = pnp_strdup(stop.diverged ? "failed" : interrupted ? "interrupted" : resume ? "resumed" : "finished");
        r.failure = failure[0] ? pnp_strdup(failure) : NULL;
        r.stop_reason = pnp_strdup(tr.converged ? "tolerance"
                                   : stop.diverged ? "failed"
                                   : !interrupted ? "max_iter"
                                   : stop.signal == STOP_TEST ? "test" : "signal");
        r.backend = pnp_strdup(be->ops->name);
        r.communication = pnp_strdup(comm->ops->name);
        char described[8192]; /* the network, and where its weights came from */
        snprintf(described, sizeof described, "%s; weights %s", desc,
                 !dn ? "none" : weights[0] ? weights : "generated (pnp weights generate, seed 0)");
        r.denoiser = pnp_strdup(described);
        r.source = pnp_strdup(p.source);
        r.boundary = pnp_strdup(pnp_boundary_name(p.boundary));
        r.total_time = total_time;
        r.unfused_convolutions = pnp_backend_unfused_convs(be);
        /* the measured region of x (x itself for circular) */
        float *region = geo.boundary == PNP_BOUNDARY_PAD ? measured_region(&geo, x) : x;
        r.n_iterates = store.n, r.iterate_index = store.index, r.iterates = store.images; /* r owns them now */
        const pnp_result_images img = {
            .channels = p.c, .height = p.h, .width = p.w, .reconstruction = region, .ground_truth = p.truth.data,
            .measurement = y0, .measurement_angle = p.angles ? p.angles[0] : NAN, .n_kernels = p.n_ops,
            .kernel_channels = p.kc, .kernel_height = p.kh, .kernel_width = p.kw, .kernels = p.kernels,
            .extended = region != x ? x : NULL, .ext_height = geo.xh, .ext_width = geo.xw, .region_row = geo.oy,
            .region_col = geo.ox};
        if (pnp_result_write(path, cfg, row, &r, &img, err, sizeof err)) pnp_fatal("%s", err);
        write_status_file(outcome, rank);
        const double best_y = r.measurement_psnr;
        pnp_result_free(&r);
        if (region != x) free(region);
        const int last = tr.iterations - 1;
        const double final_psnr = last >= 0 ? tr.psnr[last] : tr.psnr_initial;
        printf("wrote %s: ", path);
        if (!isnan(tr.psnr_initial)) printf("PSNR %.3f dB, ", final_psnr);
        printf("data residual %.6g after %d iterations%s, %.2f s\n", last >= 0 ? tr.residual[last] : tr.residual_initial,
               tr.iterations, tr.converged ? " (relative change below the tolerance)" : "", total_time);
        if (!isnan(best_y) && !isnan(final_psnr))
            printf("  the best measurement has PSNR %.3f dB: the reconstruction is %.3f dB %s it\n", best_y,
                   fabs(final_psnr - best_y), final_psnr >= best_y ? "above" : "below");
        if (tr.iterations > 0)
            printf("  memory: rank 0 held at most %.1f MiB on its backend (planned %.1f MiB)\n",
                   tr.peak_bytes[tr.iterations - 1] / 1048576.0, tr.planned_bytes / 1048576.0);
        fflush(stdout);
        if (stop.diverged) {
            fprintf(stderr, "pnp: %s; the result file %s has status \"failed\" and says so\n", failure, path);
        } else if (interrupted) {
            char sig[32];
            if (stop.signal == STOP_TEST) snprintf(sig, sizeof sig, "PNP_STOP_AFTER");
            else snprintf(sig, sizeof sig, "signal %s", signal_name(stop.signal));
            printf("pnp: interrupted by %s after iteration %d of %d; the checkpoint is %s\n"
                   "     continue with the same ranks and options plus: --resume %s\n",
                   sig, tr.iterations, row->max_iter, path, path);
        }
        fflush(stdout), fflush(stderr);
    } else { /* no result written: the checkpoint's saved iterates were never handed over */
        for (int q = 0; q < store.n; ++q) free(store.images[q]);
        free(store.images), free(store.index);
    }
    pnp_trace_free(&tr);
    free(x), free(y0);
    pnp_comm_destroy(comm);
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
    pnp_problem_free(&p);
    return outcome;
}

/* path names the file described by info (the same inode on the same device). */
static bool same_file(const char *path, const struct stat *info)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == info->st_dev && st.st_ino == info->st_ino;
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
    /* --resume FILE, --max-memory SIZE and --force are this command's own options; the rest are shared */
    const char *resume = NULL;
    size_t max_memory = 0;
    bool force = false;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--force")) {
            force = true;
        } else if (!strcmp(argv[i], "--resume") || !strcmp(argv[i], "--max-memory")) {
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

    install_signal_handlers();

    /* the config: rank 0 reads the file, every rank parses that text with its own options */
    setup_status st = {0};
    pnp_config cfg = {0};
    char err[2048];
    char *text = NULL;
    int len = 0;
    if (rank == 0 && o.config && pnp_config_read_text(o.config, &text, err, sizeof err)) len = -1;
    else if (rank == 0 && o.config) len = (int)strlen(text) + 1;
    MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (len > 0) {
        if (rank != 0) text = pnp_malloc((size_t)len);
        MPI_CHECK(MPI_Bcast(text, len, MPI_CHAR, 0, MPI_COMM_WORLD));
    }
    int rc = -1;
    if (len < 0) setup_fail(&st, "%s", err); /* rank 0 could not read it */
    else if ((rc = pnp_config_load_string(o.config ? o.config : "<embedded default>",
                                          o.config ? text : pnp_default_config_yaml, o.overrides, o.n_overrides,
                                          &cfg, err, sizeof err)))
        setup_fail(&st, "%s", err);
    else if (o.row >= cfg.n_rows)
        setup_fail(&st, "--row %d: %s has %d row%s (0..%d)", o.row, cfg.path, cfg.n_rows, cfg.n_rows == 1 ? "" : "s",
                   cfg.n_rows - 1);
    free(text);
    for (int k = 0; !st.failed && k < cfg.n_rows; ++k) /* the files of every row to run, before the first runs */
        if ((o.row < 0 || o.row == k) && pnp_cli_check_row(&cfg, &cfg.rows[k], err, sizeof err))
            setup_fail(&st, "%s", err);
    char cpuset[64]; /* the ranks of this node on the same CPUs share them (run_row's threads) */
    pnp_host_cpuset_id(cpuset, sizeof cpuset);
    const int cpu_sharers = pnp_comm_node_count(MPI_COMM_WORLD, cpuset);
    int status = setup_agree(&st, rank, size) ? 2 : 0;
    if (status == 0 && resume && o.row < 0) { /* the checkpoint says which row */
        o.row = checkpoint_row(resume, rank);
        if (o.row < 0 || o.row >= cfg.n_rows) o.row = 0; /* checkpoint_load names the problem */
    }
    if (status == 0 && rank == 0 && !force) /* an existing result is never replaced unasked */
        for (int k = 0; k < cfg.n_rows && !st.failed; ++k) {
            char path[4096];
            pnp_cli_result_path(o.config, o.out, k, path, sizeof path);
            struct stat info;
            const bool own_checkpoint = resume && stat(resume, &info) == 0 && same_file(path, &info);
            if ((o.row < 0 || o.row == k) && access(path, F_OK) == 0 && !own_checkpoint)
                setup_fail(&st, "%s exists: pnp run does not replace a result; add --force to replace it, or "
                           "give another --out DIR", path);
        }
    if (status == 0 && setup_agree(&st, rank, size)) status = 2;
    for (int k = 0; status == 0 && k < cfg.n_rows; ++k)
        if (o.row < 0 || o.row == k)
            status = run_row(&o, resume, max_memory, cpu_sharers, &cfg, &cfg.rows[k], rank, size);
    if (!rc) pnp_config_free(&cfg);
    write_status_file(status, rank); /* for launchers that report their own status */
    MPI_CHECK(MPI_Finalize());
    return status;
}
