/* solver.h - the iterations of a run over its ranks, on f(x) = 1/2 sum_i
 * ||A_i x - y_i||^2 (the data term, include/pnp/data_term.h: x lives on its
 * domain, the measured region for boundary circular, the extended one for
 * pad). The solver sees only the data term, the backend ops (never a device
 * API) and the communication interface (never MPI itself).
 *
 * Solver PnP (DESIGN section 1, the benchmark's solvers/pnp.py):
 *   z = x - gamma grad f(x),  x <- clamp( (1 - a) z + a D(z, denoiser_sigma), 0, 1 )
 *   gamma = step_size, or with step_size null step_size_scale / L, L = ||sum_i
 *   A_i^T A_i|| (pnp_data_term_lipschitz: exact for circular, a power method for
 *   pad); a = 1, or with denoiser_lambda_relaxation l: a = gamma l / (1 + gamma l).
 *   x_0 by init_method: zeros; pseudo_inverse clamp(A^T y, 0, 1) (deepinv's
 *   A_adjoint of the stacked operators, as the benchmark's newest solver); wiener
 *   clamp((sum_i A_i^T A_i + eps I)^-1 A^T y, 0, 1), eps = wiener_eps or
 *   10 noise_level^2 (the MAP estimate for pixels of variance 0.1).
 * Solver DPIR (Zhang et al. 2021, as deepinv.optim.DPIR): half-quadratic
 *   splitting from x_0 = A^T y with, at iteration k of K = max_iter,
 *   sigma_k = sigma_start (noise / sigma_start)^(k / (K - 1)) (log-spaced) and
 *   rho_k = lambda max(noise, 0.01)^2 / sigma_k^2 (deepinv's stepsize 1/rho_k):
 *   z = argmin_u f(u) + rho_k/2 ||u - x||^2 (pnp_data_term_solve: exact per
 *   frequency for circular, conjugate gradients for pad), x <- D(z, sigma_k);
 *   no clamp (deepinv's DPIR has none).
 *
 * Per iteration it records f(x_k) (the data residual, from the gradient at x_k
 * the next PnP step needs anyway: no extra work but one gradient at the end;
 * one gradient per DPIR iteration), the relative change ||x_k - x_{k-1}|| /
 * ||x_k|| over the whole x, the denoiser's sigma, and the PSNR and SSIM of the
 * measured region against the ground truth or reference when there is one
 * (every rank computes them on its whole x: the same values everywhere).
 * tolerance > 0 stops the run once the relative change falls below it, on
 * every rank at the same iteration.
 *
 * distribute_physics: rank r owns operators {i : i mod P == r}, generates (or
 *   reads) only their measurements; the data term sums what it needs over
 *   the ranks (circular: S and B once at setup; pad: every normal operator,
 *   i.e. every gradient and conjugate-gradient step; the log says which).
 * distribute_denoiser: the image is cut into windows (include/pnp/tiling.h;
 *   patch_size auto: pnp_tiling_auto_patch under every rank's memory plan);
 *   rank r denoises its slab of windows in batches of max_batch_size (0: all of
 *   them), halved while they would not fit in this rank's share of the memory
 *   (see memory_sharers, memory_cap below). Each batch's owned pixels are
 *   packed one window after another (backend pack_windows) into a buffer of
 *   the image's size, and an all-gather of those blocks (include/pnp/comm.h)
 *   gives every rank every pixel once: each rank receives the pixels it does
 *   not own, at most the image. comm_overlap (true, or auto where the
 *   communicator moves data alone: NCCL) starts one all-gather per batch, so a
 *   batch's pixels travel while the next one computes (batches of one window
 *   when max_batch_size is 0). PNP_SLAB_COMBINE=allreduce in the environment
 *   combines them as before this existed, an all-reduce of zero-filled images
 *   (kept to measure the difference; bench/SCALING.md).
 * Without a flag every rank does that part whole (the baseline).
 *
 * Time per iteration and rank: gradient (the data step and the gradient, but
 * for their collectives: pad's all-reduced normal operator), denoiser (windows,
 * network, packing and unpacking, clamp, metrics), and the collectives' time
 * split into wait (arriving before the last rank: imbalance) and transfer by
 * pnp_comm_account once per iteration, after the iteration's last phase: its
 * split covers the collectives since the previous split, the stop agreement
 * and the split's own all-reduce of the iteration before included, so the
 * four add up to the time between two splits (what /traces/elapsed advances
 * by) but for what is not communication between iterations (the progress
 * line). Bytes sent and received per iteration likewise. */
#ifndef PNP_SOLVER_H
#define PNP_SOLVER_H

#include <stdio.h>

#include "pnp/backend.h"
#include "pnp/comm.h"
#include "pnp/config.h"
#include "pnp/denoiser.h"
#include "pnp/problem.h"

/* Per-iteration records. Times are wall seconds, synchronised with the backend. */
typedef struct {
    int iterations;       /* iterations done */
    int converged;        /* the run stopped because the relative change fell below tolerance */
    double psnr_initial, ssim_initial; /* of x_0 (NaN without a reference) */
    double residual_initial; /* f(x_0) */
    double setup_time;    /* operators, measurements, data term, L, x_0, denoiser buffers */
    double step_size;     /* PnP: the step gamma used (NaN for DPIR) */
    double lipschitz;     /* L when step_size is null (NaN otherwise) */
    int lipschitz_iters;  /* power iterations L took (0: exact) */
    int init_iters;       /* conjugate-gradient iterations of init wiener (0: exact or none) */
    double *psnr, *ssim;  /* [max_iter] after each iteration (NaN without a reference) */
    double *residual;     /* [max_iter] f(x) after each iteration */
    double *change;       /* [max_iter] ||x_k - x_{k-1}|| / ||x_k|| */
    double *elapsed;      /* [max_iter] seconds since the first iteration began */
    double *sigma;        /* [max_iter] the denoiser's sigma (DPIR: sigma_k) */
    double *inner_iters;  /* [max_iter] DPIR: conjugate-gradient iterations of the data step (0: exact) */
    double *grad_time;    /* [max_iter] this rank: the data-term step (PnP gradient and step, DPIR data step)
                           * and the gradient for the residual, without communication */
    double *denoise_time; /* [max_iter] this rank: windows, denoiser, scatter, clamp */
    double *wait_time;    /* [max_iter] this rank: in collectives before the last rank arrived */
    double *comm_time;    /* [max_iter] this rank: the rest of its time in collectives (transfer) */
    double *bytes_sent, *bytes_received; /* [max_iter] this rank (include/pnp/comm.h counts them) */
    double *peak_bytes;   /* [max_iter] this rank: backend memory high-water mark */
    /* what the run decided */
    int ops_owned;        /* operators this rank holds */
    double measurement_psnr; /* the best PSNR of this rank's measurements against the reference
                              * (NaN: none owned, or no reference) */
    int windows_total;    /* denoiser windows of the image (0: whole-image denoising) */
    int window_first, windows_owned, batch; /* this rank's slab and batch size */
    int win_h, win_w;
    int patch_size;       /* the tiling's patch (patch_size auto resolved) */
    double pixels_owned;  /* pixels of the image this rank's windows give (per channel) */
    bool comm_overlap;    /* the slabs' all-gathers overlap the denoiser's batches */
    const char *slab_combine; /* "allgather" | "allreduce" (PNP_SLAB_COMBINE) | NULL: not tiled */
    double planned_bytes; /* this rank: what setup planned to hold at most (peak_bytes must stay under it) */
    bool nonfinite;       /* the last iteration's clamp met a NaN or an infinity: x diverged (that
                           * iteration's psnr is NaN and should_stop ends the run) */
} pnp_trace;

typedef struct {
    pnp_backend *be;
    pnp_comm *comm;
    const pnp_row *row;
    const pnp_problem *p;
    pnp_denoiser *dn;     /* NULL: no prior (projected gradient descent) */
    FILE *progress;       /* one line per iteration (rank 0), or NULL */
    /* Resume: x after tr->iterations iterations (host [c, xh, xw]), or NULL to start from x_0 = 0. */
    const float *x_resume;
    /* Memory: ranks of this node drawing on the same memory as this one (>= 1;
     * backend op memory_id), and a cap on what this rank's backend may hold
     * (bytes, 0: none; `pnp run --max-memory`). The tiled denoiser's batch is
     * halved until it fits in min(0.9 free / sharers, cap - held); whatever the
     * mode, a plan over the cap is refused at setup (setup_agree's failure). */
    int memory_sharers;
    size_t memory_cap;
    /* Polled on this rank alone (no communication) between the operators of the
     * setup: nonzero (a signal) cuts the setup short; setup_agree then ends the
     * run. NULL: never. */
    int (*stop_requested)(void *user);
    /* The setup's agreement point, on every rank once setup is done (before any
     * communication of the run but the data term's own, which every rank makes
     * whatever happened: the reductions of pnp_data_term_ready and of the gradient
     * at x_0): failure is this rank's reason it cannot run
     * (the memory plan over --max-memory) or NULL. Nonzero when any rank failed
     * or wants to stop: pnp_solve then returns -1 at once on every rank. NULL:
     * a failure is fatal. */
    int (*setup_agree)(void *user, const char *failure);
    /* Asked after every iteration, on every rank (it must return the same answer
     * everywhere; tr->nonfinite is this rank's news of a diverged iterate):
     * nonzero stops the run there. NULL: stop only when the iterate diverged. */
    int (*should_stop)(void *user);
    void *user;
    /* With row->save_every K > 0: called after iterations K, 2K, ... with x
     * (host [c, xh, xw], valid during the call). NULL: not saved (ranks but 0). */
    void (*on_iterate)(void *iterate_user, int iteration, const float *x);
    void *iterate_user;
} pnp_solver_args;

/* Check what the solver will need of the row for an estimate x of h x w (tiling
 * parameters against it). 0, or -1 with a message in err. */
int pnp_solver_check(const pnp_row *row, int h, int w, char *err, size_t errlen);

/* DPIR's schedule at iteration k (0-based) of row->max_iter: the denoiser's
 * sigma_k and the data weight rho_k (see above). */
void pnp_dpir_schedule(const pnp_row *row, int k, double *sigma, double *rho);

/* Zeroed records for max_iter iterations (a resume fills the first ones). */
void pnp_trace_alloc(pnp_trace *tr, int max_iter);
void pnp_trace_free(pnp_trace *tr);

/* Run iterations tr->iterations .. row->max_iter - 1 (all of them from a fresh
 * pnp_trace_alloc; with a_resume, the rest), or fewer when should_stop says so
 * or the tolerance is reached. x_out: host [c, xh, xw], the estimate on the data
 * term's domain (equal on every rank). measurement0: host [c, h, w] filled with
 * y_0 on the rank that owns operator 0, or NULL. Returns 0, or -1 when
 * setup_agree stopped it before the first iteration (x_out untouched). */
int pnp_solve(const pnp_solver_args *a, float *x_out, float *measurement0, pnp_trace *tr);

#endif
