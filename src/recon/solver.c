/* solver.c - the distributed PnP iteration (include/pnp/solver.h).
 *
 * Buffers on the backend (N = 3*H*W floats each): the truth, x, z (the
 * gradient step, also the gradient itself before the step), and for tiled
 * denoising two window batches [batch, 3, win_h, win_w]. The measurements live
 * only while the data term B = sum conj(H_i) rfft(y_i) is accumulated. */
#include "pnp/solver.h"

#include <math.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/error.h"
#include "pnp/host.h"
#include "pnp/tiling.h"

int pnp_solver_check(const pnp_row *row, int h, int w, char *err, size_t errlen)
{
    if (!row->distribute_denoiser) return 0;
    pnp_tiling t;
    if (pnp_tiling_plan(h, w, row->patch_size, row->overlap, &t, err, errlen)) return -1;
    pnp_tiling_free(&t);
    return 0;
}

void pnp_trace_alloc(pnp_trace *tr, int max_iter)
{
    memset(tr, 0, sizeof *tr);
    const size_t n = max_iter > 0 ? (size_t)max_iter : 1;
    tr->psnr = pnp_calloc(n, sizeof(double));
    tr->elapsed = pnp_calloc(n, sizeof(double));
    tr->grad_time = pnp_calloc(n, sizeof(double));
    tr->denoise_time = pnp_calloc(n, sizeof(double));
    tr->comm_time = pnp_calloc(n, sizeof(double));
    tr->peak_bytes = pnp_calloc(n, sizeof(double));
}

void pnp_trace_free(pnp_trace *tr)
{
    free(tr->psnr), free(tr->elapsed), free(tr->grad_time), free(tr->denoise_time), free(tr->comm_time);
    free(tr->peak_bytes);
    memset(tr, 0, sizeof *tr);
}

static double now(pnp_backend *be)
{
    be->ops->sync(be);
    return MPI_Wtime();
}

/* as pnp_psnr: infinity for x == truth, NaN when x holds a NaN or an infinity */
static double psnr_of(pnp_backend *be, const float *x, const float *truth, size_t n)
{
    const double sse = be->ops->sum_sq_diff(be, x, truth, n);
    return sse == 0 ? INFINITY : isfinite(sse) ? 10.0 * log10((double)n / sse) : NAN;
}

/* Operators of this rank: round-robin when distributing the physics, else all. */
static int owned_operators(const pnp_row *row, const pnp_comm *c, int n_ops, int *ids)
{
    int k = 0;
    for (int i = 0; i < n_ops; ++i)
        if (!row->distribute_physics || i % c->size == c->rank) ids[k++] = i;
    return k;
}

/* The tiled denoiser of one rank: its slab of windows and the batch buffers. */
typedef struct {
    pnp_tiling t;
    int first, count, batch;
    int *y0, *x0, *sy, *sx, *dy, *dx, *rows, *cols; /* [count] */
    float *in, *out;                                /* [batch, 3, win_h, win_w] */
} tiled;

/* Plans the windows and the batch; *planned: the bytes the rank will hold at
 * most, what it holds now plus the batch's need. 0, or -1 with the reason in
 * err when --max-memory cannot hold one window (nothing allocated then). */
static int tiled_setup(tiled *td, const pnp_solver_args *a, int h, int w, size_t *planned, char *err, size_t errlen)
{
    pnp_backend *be = a->be;
    const pnp_row *row = a->row;
    if (pnp_tiling_plan(h, w, row->patch_size, row->overlap, &td->t, err, errlen))
        pnp_fatal("%s (pnp_solver_check should have refused it)", err);
    pnp_tiling_slab(&td->t, a->comm->rank, a->comm->size, &td->first, &td->count);
    const int n = td->count > 0 ? td->count : 1;
    int *v = pnp_malloc(sizeof(int) * 8 * n);
    td->y0 = v, td->x0 = v + n, td->sy = v + 2 * n, td->sx = v + 3 * n;
    td->dy = v + 4 * n, td->dx = v + 5 * n, td->rows = v + 6 * n, td->cols = v + 7 * n;
    for (int j = 0; j < td->count; ++j)
        pnp_tiling_window(&td->t, td->first + j, &td->y0[j], &td->x0[j], &td->sy[j], &td->sx[j], &td->dy[j],
                          &td->dx[j], &td->rows[j], &td->cols[j]);

    /* batch: max_batch_size (0: the whole slab), halved while its activations,
     * window buffers and the layers' scratch would not fit in this rank's room:
     * 0.9 of the free memory shared by the ranks on it, and under a cap what the
     * cap leaves above what the backend holds now */
    const int wh = td->t.win_h, ww = td->t.win_w;
    const int wanted = row->max_batch_size > 0 && row->max_batch_size < td->count ? row->max_batch_size : td->count;
    int b = wanted > 0 ? wanted : 1;
    const size_t win_bytes = sizeof(float) * 3 * (size_t)wh * ww; /* a window image [3,wh,ww] float32 NCHW */
    const size_t reserve = be->ops->workspace_bytes(be), held = be->ops->peak_bytes(be);
    const int sharers = a->memory_sharers > 1 ? a->memory_sharers : 1;
    double room = 0.9 * (double)be->ops->free_bytes(be) / sharers;
    const char *what = sharers > 1 ? "its share of the free memory" : "the free memory";
    const bool capped = a->memory_cap && (double)a->memory_cap - (double)held < room;
    if (capped) {
        room = a->memory_cap > held ? (double)(a->memory_cap - held) : 0;
        what = "what --max-memory leaves";
    }
    size_t need = 0;
    for (;;) {
        need = pnp_denoiser_activation_bytes(a->dn, b, wh, ww) + 2 * (size_t)b * win_bytes + reserve;
        if (b == 1 || (double)need <= room) break;
        b = (b + 1) / 2;
    }
    char cap_text[32], held_text[32], need_text[32];
    if ((double)need > room && capped) {
        snprintf(err, errlen, "--max-memory %s: this rank holds %s (operators, weights, images) and one %dx%d window "
                 "needs %s more", pnp_format_bytes((double)a->memory_cap, cap_text, sizeof cap_text),
                 pnp_format_bytes((double)held, held_text, sizeof held_text), wh, ww,
                 pnp_format_bytes((double)need, need_text, sizeof need_text));
        return -1;
    }
    if ((double)need > room)
        fprintf(stderr, "pnp: [rank %d] warning: one window of %dx%d needs %.1f MiB, more than %s (%.1f MiB)\n",
                a->comm->rank, wh, ww, need / 1048576.0, what, room / 1048576.0);
    else if (b < wanted)
        fprintf(stderr,
                "pnp: [rank %d] note: a batch of %d windows of %dx%d would not fit in %s (%.1f MiB); "
                "running batches of %d (%.1f MiB)\n",
                a->comm->rank, wanted, wh, ww, what, room / 1048576.0, b, need / 1048576.0);
    td->batch = b;
    if (td->count > 0) {
        td->in = be->ops->alloc(be, (size_t)b * win_bytes);
        td->out = be->ops->alloc(be, (size_t)b * win_bytes);
    }
    *planned = held + need;
    return 0;
}

static void tiled_free(tiled *td, pnp_backend *be)
{
    be->ops->free(be, td->in);
    be->ops->free(be, td->out);
    free(td->y0);
    pnp_tiling_free(&td->t);
}

/* x <- the zero-filled image with this rank's windows of D(z) in their owned places. */
static void tiled_denoise(tiled *td, const pnp_solver_args *a, const float *z, float *x, int h, int w)
{
    pnp_backend *be = a->be;
    const int wh = td->t.win_h, ww = td->t.win_w;
    be->ops->zero(be, x, sizeof(float) * 3 * (size_t)h * w);
    for (int j = 0; j < td->count; j += td->batch) {
        const int nb = td->count - j < td->batch ? td->count - j : td->batch;
        be->ops->gather_windows(be, z, 3, h, w, td->t.overlap, wh, ww, nb, td->y0 + j, td->x0 + j, td->in);
        pnp_denoiser_forward(a->dn, td->in, nb, wh, ww, (float)a->row->denoiser_sigma, td->out);
        be->ops->scatter_windows(be, td->out, 3, wh, ww, nb, td->sy + j, td->sx + j, td->dy + j, td->dx + j,
                                 td->rows + j, td->cols + j, x, h, w);
    }
}

static void progress_line(FILE *f, const pnp_trace *tr, int k, int first, int max_iter)
{
    const double per_iter = (tr->elapsed[k] - (first > 0 ? tr->elapsed[first - 1] : 0)) / (k + 1 - first);
    fprintf(f,
            "iter %3d/%d  PSNR %7.3f dB  grad %8.3f s  denoise %8.3f s  comm %7.3f s  peak %8.1f MiB  "
            "elapsed %7.1f s  ETA %6.1f s\n",
            k + 1, max_iter, tr->psnr[k], tr->grad_time[k], tr->denoise_time[k], tr->comm_time[k],
            tr->peak_bytes[k] / 1048576.0, tr->elapsed[k], per_iter * (max_iter - k - 1));
    fflush(f);
}

/* Whole-image denoising (or none): *planned, what the rank holds now plus the
 * denoiser's activations and scratch on the whole image; -1 with err when that
 * is more than --max-memory. */
static int whole_setup(const pnp_solver_args *a, int h, int w, size_t *planned, char *err, size_t errlen)
{
    pnp_backend *be = a->be;
    const size_t held = be->ops->peak_bytes(be);
    const size_t need = a->dn ? pnp_denoiser_activation_bytes(a->dn, 1, h, w) + be->ops->workspace_bytes(be) : 0;
    *planned = held + need;
    if (!a->memory_cap || *planned <= a->memory_cap) return 0;
    char cap_text[32], held_text[32], need_text[32];
    pnp_format_bytes((double)a->memory_cap, cap_text, sizeof cap_text);
    pnp_format_bytes((double)held, held_text, sizeof held_text);
    if (a->dn)
        snprintf(err, errlen, "--max-memory %s: this rank holds %s (operators, weights, images) and the denoiser on "
                 "the whole %dx%d image needs %s more (activations and scratch); distribute_denoiser: true with a "
                 "patch_size tiles it into windows", cap_text, held_text, h, w,
                 pnp_format_bytes((double)need, need_text, sizeof need_text));
    else
        snprintf(err, errlen, "--max-memory %s: this rank already holds %s (operators, images)", cap_text, held_text);
    return -1;
}

int pnp_solve(const pnp_solver_args *a, float *x_out, float *measurement0, pnp_trace *tr)
{
    pnp_backend *be = a->be;
    const pnp_backend_ops *o = be->ops;
    const pnp_row *row = a->row;
    const pnp_problem *p = a->p;
    const int H = p->truth.h, W = p->truth.w, iters = row->max_iter;
    const size_t N = pnp_image_numel(&p->truth), bytes = N * sizeof(float);
    if (!o->blur_gradient || !o->gather_windows || !o->add_scaled)
        pnp_fatal("backend '%s' has no solver operations yet", o->name);

    const int first = tr->iterations;
    if (first > 0 && !a->x_resume) pnp_fatal("pnp_solve: %d iterations recorded but no x to resume from", first);
    bool stopping = false;

    const double t_setup = now(be);
    float *truth = o->alloc(be, bytes), *x = o->alloc(be, bytes), *z = o->alloc(be, bytes);
    o->upload(be, truth, p->truth.data, bytes);

    /* this rank's operators, measurements and data term */
    int *ids = pnp_malloc(sizeof(int) * (p->n_ops > 0 ? p->n_ops : 1));
    const int n_own = owned_operators(row, a->comm, p->n_ops, ids);
    tr->ops_owned = n_own;
    pnp_blur *ops = NULL;
    if (n_own > 0) {
        const size_t kk = (size_t)p->ksize * p->ksize;
        float *kernels = pnp_malloc(sizeof(float) * kk * n_own);
        for (int l = 0; l < n_own; ++l) memcpy(kernels + kk * l, p->kernels + kk * ids[l], sizeof(float) * kk);
        ops = o->blur_create(be, 3, H, W, n_own, p->ksize, kernels);
        free(kernels);
        for (int l = 0; l < n_own; ++l) { /* y_i into z, then into the data term */
            if ((stopping = a->stop_requested && a->stop_requested(a->user))) break; /* a signal: setup ends here */
            pnp_problem_measure(be, ops, l, ids[l], row, p, truth, z);
            if (ids[l] == 0 && measurement0) o->download(be, measurement0, z, bytes);
            o->blur_add_data(ops, l, z);
        }
    }
    free(ids);

    /* x_0 = 0 (init "zeros": alloc is zero-filled), or the resumed x; its PSNR
     * before the tiles are planned, so that PSNR's scratch counts in what is held */
    if (first > 0) o->upload(be, x, a->x_resume, bytes);
    const double psnr_start = psnr_of(be, x, truth, N);
    if (first == 0) tr->psnr_initial = psnr_start;

    tiled td = {0};
    const int tiled_mode = a->dn && row->distribute_denoiser;
    size_t planned = 0;
    char failure[1024] = "";
    int refused = 0;
    if (stopping) {
        /* no plan: the agreement below ends the run */
    } else if (tiled_mode) {
        refused = tiled_setup(&td, a, H, W, &planned, failure, sizeof failure);
        tr->windows_total = td.t.count;
        tr->window_first = td.first;
        tr->windows_owned = td.count;
        tr->batch = td.batch;
        tr->win_h = td.t.win_h;
        tr->win_w = td.t.win_w;
    } else { /* the whole image through the denoiser, if any: its activations and scratch */
        refused = whole_setup(a, H, W, &planned, failure, sizeof failure);
    }
    tr->planned_bytes = (double)planned;
    tr->setup_time += now(be) - t_setup;
    if (refused && !a->setup_agree) pnp_fatal("%s", failure);
    if (a->setup_agree && a->setup_agree(a->user, refused ? failure : NULL)) { /* some rank refused or stops */
        if (tiled_mode) tiled_free(&td, be);
        if (ops) o->blur_destroy(ops);
        o->free(be, truth), o->free(be, x), o->free(be, z);
        return -1;
    }

    const float sigma = (float)row->denoiser_sigma;
    const double t_start = now(be) - (first > 0 ? tr->elapsed[first - 1] : 0);
    for (int k = first; k < iters; ++k) {
        const double comm0 = a->comm->seconds;
        double t0 = now(be);
        if (ops) o->blur_gradient(ops, x, z);
        else o->zero(be, z, bytes);
        double t1 = now(be);
        if (row->distribute_physics) a->comm->ops->allreduce_sum(a->comm, z, N);
        double t2 = now(be);
        const double comm1 = a->comm->seconds;
        o->add_scaled(be, z, x, -(float)row->step_size, z, N); /* z = x - step * grad */
        double t3 = now(be);
        tr->grad_time[k] = (t1 - t0) + (t3 - t2);

        if (!a->dn) {
            float *swap = x; /* x <- z */
            x = z, z = swap;
        } else if (tiled_mode) {
            tiled_denoise(&td, a, z, x, H, W);
            a->comm->ops->allreduce_sum(a->comm, x, N);
        } else {
            pnp_denoiser_forward(a->dn, z, 1, H, W, sigma, x);
        }
        tr->nonfinite = o->clamp01(be, x, N); /* the iterate diverged: should_stop ends the run */
        tr->psnr[k] = tr->nonfinite ? NAN : psnr_of(be, x, truth, N);
        const double t4 = now(be);
        tr->comm_time[k] = a->comm->seconds - comm0;
        tr->denoise_time[k] = (t4 - t3) - (a->comm->seconds - comm1);
        tr->peak_bytes[k] = (double)o->peak_bytes(be);
        tr->elapsed[k] = t4 - t_start;
        tr->iterations = k + 1;
        if (a->progress) progress_line(a->progress, tr, k, first, iters);
        if (a->should_stop ? a->should_stop(a->user) : tr->nonfinite) break;
    }

    o->download(be, x_out, x, bytes);
    if (tiled_mode) tiled_free(&td, be);
    if (ops) o->blur_destroy(ops);
    o->free(be, truth);
    o->free(be, x);
    o->free(be, z);
    return 0;
}
