/* solver.c - the distributed PnP and DPIR iterations (include/pnp/solver.h).
 *
 * Buffers on the backend (N = c*xh*xw floats each, the domain of x): x, the
 * next x, and z (PnP: the gradient at x, then the gradient step in place;
 * DPIR: the data step); the truth [c,h,w] when there is one (and for pad a
 * crop [c,h,w] of x for its PSNR and SSIM); the data term's own
 * (include/pnp/data_term.h); for tiled denoising two window batches
 * [batch, c, win_h, win_w] and the packed owned pixels of every window [N]
 * that the all-gather fills. The measurements live only while they are added
 * to the data term.
 *
 * Order of one iteration k: the data-term step into z (PnP: z = x - gamma g,
 * g the gradient at x; DPIR: z = the exact or CG minimiser of
 * f + rho_k/2 ||. - x||^2), x' = D(z) (PnP: relaxed and clamped), change =
 * ||x' - x|| / ||x'||, x = x', PSNR and SSIM, then the gradient at the new x
 * into z and from it f(x) (pnp_data_term_value): PnP's next step needs that
 * gradient anyway, so its residual costs no extra pass; DPIR pays one
 * gradient per iteration for the trace. The gradient of x_0 is computed at
 * setup. */
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
    /* patch_size auto is chosen at setup (any multiple of 8 works); the overlap must fit the image */
    if (pnp_tiling_plan(h, w, row->patch_size == PNP_AUTO ? 8 : row->patch_size, row->overlap, &t, err, errlen))
        return -1;
    pnp_tiling_free(&t);
    return 0;
}

void pnp_trace_alloc(pnp_trace *tr, int max_iter)
{
    memset(tr, 0, sizeof *tr);
    const size_t n = max_iter > 0 ? (size_t)max_iter : 1;
    double **arrays[] = {&tr->psnr,         &tr->ssim,        &tr->residual,   &tr->change,
                         &tr->elapsed,      &tr->sigma,       &tr->inner_iters, &tr->grad_time,
                         &tr->denoise_time, &tr->wait_time,   &tr->comm_time,   &tr->bytes_sent,
                         &tr->bytes_received,
                         &tr->peak_bytes};
    for (size_t k = 0; k < sizeof arrays / sizeof *arrays; ++k) *arrays[k] = pnp_calloc(n, sizeof(double));
    tr->psnr_initial = tr->ssim_initial = tr->residual_initial = tr->measurement_psnr = NAN;
    tr->step_size = tr->lipschitz = NAN;
}

void pnp_trace_free(pnp_trace *tr)
{
    free(tr->psnr), free(tr->ssim), free(tr->residual), free(tr->change), free(tr->elapsed), free(tr->sigma);
    free(tr->inner_iters), free(tr->grad_time), free(tr->denoise_time), free(tr->wait_time), free(tr->comm_time);
    free(tr->bytes_sent), free(tr->bytes_received), free(tr->peak_bytes);
    memset(tr, 0, sizeof *tr);
}

void pnp_dpir_schedule(const pnp_row *row, int k, double *sigma, double *rho)
{
    /* deepinv's get_DPIR_params: sigma_k = logspace(log10 sigma_start, log10 noise, max_iter);
     * its step 1/rho_k = (sigma_k / max(0.01, noise))^2 / lambda */
    const int n = row->max_iter;
    const double a = log10(row->sigma_start), b = log10(row->noise_level);
    *sigma = pow(10.0, n > 1 ? a + (b - a) * k / (n - 1) : a);
    const double floor_noise = row->noise_level > 0.01 ? row->noise_level : 0.01;
    *rho = row->dpir_lambda * floor_noise * floor_noise / (*sigma * *sigma);
}

static double now(pnp_backend *be)
{
    be->ops->sync(be);
    return MPI_Wtime();
}

/* PSNR (peak 1) of x's measured region [c,h,w] against the truth: x itself
 * (circular), or its crop into `crop` (pad); as pnp_psnr: infinity for x ==
 * truth, NaN when x holds a NaN or an infinity. */
static double region_psnr(pnp_backend *be, pnp_data_term *dt, const float *x, float *crop, const float *truth,
                          size_t n)
{
    if (crop) pnp_data_term_crop(dt, x, crop);
    const double sse = be->ops->sum_sq_diff(be, crop ? crop : x, truth, n);
    return sse == 0 ? INFINITY : isfinite(sse) ? 10.0 * log10((double)n / sse) : NAN;
}

/* The PSNR and SSIM of x's measured region (region_psnr; the SSIM NaN too when
 * x is not finite). */
static void region_metrics(pnp_backend *be, pnp_data_term *dt, const pnp_data_geometry *g, const float *x, float *crop,
                           const float *truth, double *psnr, double *ssim)
{
    *psnr = region_psnr(be, dt, x, crop, truth, (size_t)g->c * g->h * g->w);
    *ssim = isnan(*psnr) ? NAN : be->ops->ssim(be, crop ? crop : x, truth, g->c, g->h, g->w);
}

/* The tiled denoiser of one rank: the windows, its slab, the batch buffers,
 * and how the slabs are combined. */
typedef struct {
    pnp_tiling t;
    int first, count, batch;                        /* this rank's slab [first, first + count) */
    int *y0, *x0, *sy, *sx, *dy, *dx, *rows, *cols; /* [t.count] every window */
    size_t *offset;                                 /* [t.count + 1] where window j's pixels start in `packed` */
    float *in, *out;                                /* [batch, c, win_h, win_w] */
    float *packed;                                  /* [c * h * w]: every window's owned pixels in window order */
    bool overlap;                                   /* one all-gather per batch, started as the batch is done */
    bool allreduce;                                 /* PNP_SLAB_COMBINE=allreduce: the zero-filled all-reduce */
    int rounds;                                     /* all-gathers per iteration */
    size_t *counts, *displs;                        /* [rounds, ranks] their blocks (floats) */
} tiled;

/* The windows' memory for a batch of b: activations, the two window buffers, the layers' scratch. */
static size_t batch_need(const pnp_solver_args *a, int b, int c, int wh, int ww)
{
    const size_t win_bytes = sizeof(float) * c * (size_t)wh * ww; /* a window image [c,wh,ww] float32 NCHW */
    return pnp_denoiser_activation_bytes(a->dn, b, wh, ww) + 2 * (size_t)b * win_bytes +
           a->be->ops->workspace_bytes(a->be);
}

/* The largest multiple of 8 whose one window fits in `room` (0: none). */
static int largest_fitting_patch(const pnp_solver_args *a, int c, int h, int w, int overlap, double room)
{
    const int longest = h > w ? h : w;
    for (int patch = (longest + 7) / 8 * 8; patch >= 8; patch -= 8) {
        const int win = patch + 2 * overlap, wh = win < h + 2 * overlap ? win : h + 2 * overlap;
        const int ww = win < w + 2 * overlap ? win : w + 2 * overlap;
        if ((double)batch_need(a, 1, c, wh, ww) <= room) return patch;
    }
    return 0;
}

/* The blocks of the all-gathers, from every rank's slab and batch: one block
 * per rank and round; round b carries rank q's batch b (empty past its last),
 * or, without overlap, one round carries every slab. */
static void plan_rounds(tiled *td, int ranks, const int *batches)
{
    int *first = pnp_malloc(sizeof(int) * 2 * (size_t)ranks), *count = first + ranks;
    td->rounds = 1;
    for (int q = 0; q < ranks; ++q) {
        pnp_tiling_slab(&td->t, q, ranks, &first[q], &count[q]);
        const int nb = batches[q] > 0 ? (count[q] + batches[q] - 1) / batches[q] : 0;
        if (td->overlap && nb > td->rounds) td->rounds = nb;
    }
    td->counts = pnp_malloc(sizeof(size_t) * 2 * (size_t)td->rounds * ranks);
    td->displs = td->counts + (size_t)td->rounds * ranks;
    for (int b = 0; b < td->rounds; ++b)
        for (int q = 0; q < ranks; ++q) {
            const int end = first[q] + count[q];
            int lo = first[q], hi = end;
            if (td->overlap) {
                lo = first[q] + b * batches[q] < end ? first[q] + b * batches[q] : end;
                hi = lo + batches[q] < end ? lo + batches[q] : end;
            }
            td->displs[(size_t)b * ranks + q] = td->offset[lo];
            td->counts[(size_t)b * ranks + q] = td->offset[hi] - td->offset[lo];
        }
    free(first);
}

/* Plans the windows, the batch and the all-gathers; *planned: the bytes the
 * rank will hold at most, what it holds now plus the batch's need. Collective
 * (every rank, whatever happens here). 0, or -1 with the reason in err when
 * --max-memory cannot hold one window (nothing allocated then but the packed
 * buffer). */
static int tiled_setup(tiled *td, const pnp_solver_args *a, int c, int h, int w, size_t *planned, char *err,
                       size_t errlen)
{
    pnp_backend *be = a->be;
    pnp_comm *cm = a->comm;
    const pnp_row *row = a->row;
    const int P = cm->size;
    td->packed = be->ops->alloc(be, sizeof(float) * c * (size_t)h * w);
    const char *combine = getenv("PNP_SLAB_COMBINE");
    if (combine && combine[0] && strcmp(combine, "allgather") && strcmp(combine, "allreduce"))
        pnp_fatal("PNP_SLAB_COMBINE='%s': expected allgather (the default) or allreduce", combine);
    td->allreduce = combine && !strcmp(combine, "allreduce");

    /* room: 0.9 of the free memory shared by the ranks on it, and under a cap
     * what the cap leaves above what the backend holds now */
    const size_t held = be->ops->peak_bytes(be);
    const int sharers = a->memory_sharers > 1 ? a->memory_sharers : 1;
    double room = 0.9 * (double)be->ops->free_bytes(be) / sharers;
    const char *what = sharers > 1 ? "its share of the free memory" : "the free memory";
    const bool capped = a->memory_cap && (double)a->memory_cap - (double)held < room;
    if (capped) {
        room = a->memory_cap > held ? (double)(a->memory_cap - held) : 0;
        what = "what --max-memory leaves";
    }

    /* patch_size auto: the largest patch every rank can hold one window of, then the best of those */
    int patch = row->patch_size;
    int *all = pnp_malloc(sizeof(int) * (size_t)P);
    if (patch == PNP_AUTO) {
        pnp_comm_gather_ints(cm, largest_fitting_patch(a, c, h, w, row->overlap, room), all);
        int fits = all[0];
        for (int q = 1; q < P; ++q) fits = all[q] < fits ? all[q] : fits;
        patch = pnp_tiling_auto_patch(h, w, row->overlap, P, fits);
        if (!patch) patch = 8; /* nothing fits: the refusal below names the cap */
    }
    if (pnp_tiling_plan(h, w, patch, row->overlap, &td->t, err, errlen))
        pnp_fatal("%s (pnp_solver_check should have refused it)", err);
    pnp_tiling_slab(&td->t, cm->rank, P, &td->first, &td->count);
    const int T = td->t.count;
    int *v = pnp_malloc(sizeof(int) * 8 * (size_t)T);
    td->y0 = v, td->x0 = v + T, td->sy = v + 2 * T, td->sx = v + 3 * T;
    td->dy = v + 4 * T, td->dx = v + 5 * T, td->rows = v + 6 * T, td->cols = v + 7 * T;
    td->offset = pnp_malloc(sizeof(size_t) * ((size_t)T + 1));
    td->offset[0] = 0;
    for (int j = 0; j < T; ++j) {
        pnp_tiling_window(&td->t, j, &td->y0[j], &td->x0[j], &td->sy[j], &td->sx[j], &td->dy[j], &td->dx[j],
                          &td->rows[j], &td->cols[j]);
        td->offset[j + 1] = td->offset[j] + (size_t)c * td->rows[j] * td->cols[j];
    }
    if (td->offset[T] != (size_t)c * h * w) pnp_fatal("tiling: the windows own %zu values of %d x %d x %d",
                                                      td->offset[T], c, h, w);

    /* overlap: asked for, or (auto) where the communicator moves data while the denoiser computes */
    td->overlap = !td->allreduce && P > 1 &&
                  (row->comm_overlap == PNP_AUTO ? cm->ops->progresses_alone && T > P : row->comm_overlap == 1);

    /* batch: max_batch_size (0: the whole slab, or one window to overlap),
     * halved while its activations, window buffers and the layers' scratch
     * would not fit in the room */
    const int wh = td->t.win_h, ww = td->t.win_w;
    const int asked = row->max_batch_size > 0 ? row->max_batch_size : td->overlap ? 1 : td->count;
    const int wanted = asked < td->count ? asked : td->count;
    int b = wanted > 0 ? wanted : 1;
    size_t need = 0;
    for (;;) {
        need = batch_need(a, b, c, wh, ww);
        if (b == 1 || (double)need <= room) break;
        b = (b + 1) / 2;
    }
    td->batch = b;
    pnp_comm_gather_ints(cm, td->count > 0 ? b : 0, all);
    plan_rounds(td, P, all);
    free(all);

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
                cm->rank, wh, ww, need / 1048576.0, what, room / 1048576.0);
    else if (b < wanted)
        fprintf(stderr,
                "pnp: [rank %d] note: a batch of %d windows of %dx%d would not fit in %s (%.1f MiB); "
                "running batches of %d (%.1f MiB)\n",
                cm->rank, wanted, wh, ww, what, room / 1048576.0, b, need / 1048576.0);
    if (td->count > 0) {
        const size_t win_bytes = sizeof(float) * c * (size_t)wh * ww;
        td->in = be->ops->alloc(be, (size_t)b * win_bytes);
        td->out = be->ops->alloc(be, (size_t)b * win_bytes);
    }
    *planned = held + need;
    return 0;
}

/* Rank 0's setup lines: the tiling, how the slabs travel, and every rank's share. */
static void tiled_report(const tiled *td, const pnp_solver_args *a, int c)
{
    const int P = a->comm->size, T = td->t.count;
    FILE *f = a->progress;
    if (a->comm->rank != 0) return;
    if (T < P) { /* the slabs leave P - T ranks without a window: name them */
        char idle[256] = "";
        size_t used = 0;
        int listed = 0;
        for (int q = 0; q < P && used + 16 < sizeof idle; ++q) {
            int first, count;
            pnp_tiling_slab(&td->t, q, P, &first, &count);
            if (count == 0) used += (size_t)snprintf(idle + used, sizeof idle - used, "%s%d", listed++ ? ", " : "", q);
        }
        fprintf(stderr, "pnp: warning: %d window%s for %d ranks: rank%s %s denoise%s nothing and wait%s; a smaller "
                "patch_size (or patch_size: auto) gives every rank a window\n", T, T == 1 ? "" : "s", P,
                P - T == 1 ? "" : "s", idle, P - T == 1 ? "s" : "", P - T == 1 ? "s" : "");
    }
    if (!f) return;
    char batches[48] = "no window on rank 0";
    if (td->count > 0) snprintf(batches, sizeof batches, "batches of %d on rank 0", td->batch);
    fprintf(f, "  tiles: %d windows of %dx%d (patch %d%s, overlap %d), %s; slabs combined by %s\n", T, td->t.win_h,
            td->t.win_w, td->t.patch, a->row->patch_size == PNP_AUTO ? ", auto" : "", td->t.overlap, batches,
            td->allreduce ? "an all-reduce of zero-filled images (PNP_SLAB_COMBINE)"
                       : td->overlap ? "one all-gather per batch, overlapping the next batch"
                                     : "one all-gather per iteration");
    fprintf(f, "  pixels per rank:");
    const double total = (double)td->offset[T] / c;
    for (int q = 0; q < P; ++q) {
        int first, count;
        pnp_tiling_slab(&td->t, q, P, &first, &count);
        const double px = (double)(td->offset[first + count] - td->offset[first]) / c;
        fprintf(f, "%s rank %d %d window%s, %.0f px (%.1f%%)", q ? " |" : "", q, count, count == 1 ? "" : "s", px,
                100.0 * px / total);
    }
    fprintf(f, "\n");
    fflush(f);
}

static void tiled_free(tiled *td, pnp_backend *be)
{
    be->ops->free(be, td->in);
    be->ops->free(be, td->out);
    be->ops->free(be, td->packed);
    free(td->y0), free(td->offset), free(td->counts);
    pnp_tiling_free(&td->t);
}

/* x [c, h, w] <- every rank's windows of D(z, sigma) in their owned places (collective). */
static void tiled_denoise(tiled *td, const pnp_solver_args *a, const float *z, float *x, int c, int h, int w,
                          float sigma)
{
    pnp_backend *be = a->be;
    pnp_comm *cm = a->comm;
    const int wh = td->t.win_h, ww = td->t.win_w, P = cm->size, end = td->first + td->count;
    const size_t N = (size_t)c * h * w;
    int round = 0;
    for (int j = td->first; j < end; j += td->batch) {
        const int nb = end - j < td->batch ? end - j : td->batch;
        be->ops->gather_windows(be, z, c, h, w, td->t.overlap, wh, ww, nb, td->y0 + j, td->x0 + j, td->in);
        pnp_denoiser_forward(a->dn, td->in, nb, wh, ww, sigma, td->out);
        be->ops->pack_windows(be, td->out, c, wh, ww, nb, td->sy + j, td->sx + j, td->rows + j, td->cols + j,
                              td->packed + td->offset[j]);
        if (td->overlap) { /* this batch travels while the next one computes */
            cm->ops->allgather_start(cm, td->packed, N, td->counts + (size_t)round * P, td->displs + (size_t)round * P);
            ++round;
        }
    }
    if (td->allreduce) {
        be->ops->zero(be, x, sizeof(float) * N);
        be->ops->unpack_windows(be, td->packed + td->offset[td->first], c, td->count, td->dy + td->first,
                                td->dx + td->first, td->rows + td->first, td->cols + td->first, x, h, w);
        cm->ops->allreduce_sum(cm, x, N);
        return;
    }
    for (; round < td->rounds; ++round) /* without overlap the one all-gather; with it, rounds past this rank's batches */
        cm->ops->allgather_start(cm, td->packed, N, td->counts + (size_t)round * P, td->displs + (size_t)round * P);
    cm->ops->allgather_wait(cm);
    be->ops->unpack_windows(be, td->packed, c, td->t.count, td->dy, td->dx, td->rows, td->cols, x, h, w);
}

/* Rank 0's line: its gradient + denoiser + wait + transfer, which add up to its iteration's time. */
static void progress_line(FILE *f, const pnp_trace *tr, int k, int first, int max_iter)
{
    const double per_iter = (tr->elapsed[k] - (first > 0 ? tr->elapsed[first - 1] : 0)) / (k + 1 - first);
    fprintf(f, "iter %3d/%d  ", k + 1, max_iter);
    if (!isnan(tr->psnr[k])) fprintf(f, "PSNR %7.3f dB  ", tr->psnr[k]);
    if (!isnan(tr->ssim[k])) fprintf(f, "SSIM %.4f  ", tr->ssim[k]);
    fprintf(f,
            "residual %10.4e  change %9.3e  %.4f s = grad %.4f + denoise %.4f + wait %.4f + transfer %.4f s  "
            "peak %8.1f MiB  elapsed %7.1f s  ETA %6.1f s\n",
            tr->residual[k], tr->change[k], tr->elapsed[k] - (k > 0 ? tr->elapsed[k - 1] : 0), tr->grad_time[k],
            tr->denoise_time[k], tr->wait_time[k], tr->comm_time[k], tr->peak_bytes[k] / 1048576.0, tr->elapsed[k],
            per_iter * (max_iter - k - 1));
    fflush(f);
}

/* The same answer on every rank: whether any rank says yes (an all-reduce of one float). */
static int any_rank(const pnp_solver_args *a, int mine)
{
    if (a->comm->size == 1) return mine;
    pnp_backend *be = a->be;
    float v = mine ? 1.0f : 0.0f, *dev = be->ops->alloc(be, sizeof v);
    be->ops->upload(be, dev, &v, sizeof v);
    a->comm->ops->allreduce_sum(a->comm, dev, 1);
    be->ops->download(be, &v, dev, sizeof v);
    be->ops->free(be, dev);
    return v > 0;
}

/* The Tikhonov / Wiener eps of init wiener: the row's, else 10 noise_level^2
 * (1/2 sum ||A_i x - y_i||^2 + eps/2 ||x||^2 is the MAP estimate for pixels of
 * variance 0.1 under noise of that level). */
static double wiener_eps(const pnp_row *row)
{
    return !isnan(row->wiener_eps) ? row->wiener_eps : 10.0 * row->noise_level * row->noise_level;
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
    const pnp_data_geometry geo = pnp_problem_geometry(p);
    const int C = geo.c, XH = geo.xh, XW = geo.xw, iters = row->max_iter;
    const size_t N = (size_t)C * XH * XW, bytes = N * sizeof(float);
    const size_t NY = (size_t)C * p->h * p->w, ybytes = NY * sizeof(float);
    const bool dpir = !strcmp(row->solver, "DPIR");
    if (!o->gather_windows || !o->add_scaled || !o->ssim) pnp_fatal("backend '%s' has no solver operations yet", o->name);

    const int first = tr->iterations;
    if (first > 0 && !a->x_resume) pnp_fatal("pnp_solve: %d iterations recorded but no x to resume from", first);
    bool stopping = false;

    const double t_setup = now(be);
    const bool has_truth = p->truth.data != NULL;
    float *x = o->alloc(be, bytes), *xn = o->alloc(be, bytes), *z = o->alloc(be, bytes);
    float *truth = has_truth ? o->alloc(be, ybytes) : NULL;
    float *crop = has_truth && geo.boundary == PNP_BOUNDARY_PAD ? o->alloc(be, ybytes) : NULL;
    if (has_truth) o->upload(be, truth, p->truth.data, ybytes);

    /* this rank's operators, measurements and data term */
    int *ids = pnp_malloc(sizeof(int) * (p->n_ops > 0 ? p->n_ops : 1));
    const int n_own = pnp_data_term_owned(row->distribute_physics, a->comm->rank, a->comm->size, p->n_ops, ids);
    tr->ops_owned = n_own;
    const size_t kk = (size_t)p->kc * p->kh * p->kw;
    float *kernels = pnp_malloc(sizeof(float) * kk * (n_own > 0 ? n_own : 1));
    for (int l = 0; l < n_own; ++l) memcpy(kernels + kk * l, p->kernels + kk * ids[l], sizeof(float) * kk);
    pnp_data_term *dt = pnp_data_term_create(be, row->distribute_physics ? a->comm : NULL, &geo, n_own, kernels);
    free(kernels);
    float *y = o->alloc(be, ybytes);
    for (int l = 0; l < n_own; ++l) {
        if ((stopping = a->stop_requested && a->stop_requested(a->user))) break; /* a signal: setup ends here */
        pnp_problem_measurement(p, row, be, dt, l, ids[l], truth, y);
        if (has_truth) { /* what the reconstruction has to beat */
            const double m = region_psnr(be, dt, y, NULL, truth, NY);
            if (isnan(tr->measurement_psnr) || m > tr->measurement_psnr) tr->measurement_psnr = m;
        }
        if (ids[l] == 0 && measurement0) o->download(be, measurement0, y, ybytes);
        pnp_data_term_add(dt, l, y);
    }
    o->free(be, y);
    free(ids);
    /* the data term's reductions (here and in the gradient at x_0) run on every
     * rank, a signal during the measurements included, so no rank waits in them
     * alone; the agreement below then ends a stopped setup */
    pnp_data_term_ready(dt);

    /* PnP's step: the row's, or step_size_scale / L; its relaxation weight */
    double gamma = row->step_size, alpha = 1;
    if (!dpir) {
        if (isnan(gamma)) {
            tr->lipschitz = pnp_data_term_lipschitz(dt, &tr->lipschitz_iters);
            gamma = tr->lipschitz > 0 ? row->step_size_scale / tr->lipschitz : row->step_size_scale;
        }
        tr->step_size = gamma;
        if (!isnan(row->denoiser_lambda_relaxation))
            alpha = gamma * row->denoiser_lambda_relaxation / (1 + gamma * row->denoiser_lambda_relaxation);
    }

    /* x_0 (or the resumed x): PnP zeros (alloc is zero-filled), clamp(A^T y),
     * or clamp((sum A_i^T A_i + eps I)^-1 A^T y); DPIR A^T y as deepinv's;
     * then its gradient, residual, PSNR and SSIM before the tiles are planned,
     * so that their scratch counts in what is held */
    if (first > 0) {
        o->upload(be, x, a->x_resume, bytes);
    } else if (dpir || !strcmp(row->init_method, "pseudo_inverse")) {
        o->add_scaled(be, x, pnp_data_term_adjoint_y(dt), 0.0f, pnp_data_term_adjoint_y(dt), N); /* a copy */
        if (!dpir) o->clamp01(be, x, N);
    } else if (!strcmp(row->init_method, "wiener")) {
        tr->init_iters = pnp_data_term_solve(dt, NULL, (float)wiener_eps(row), x);
        o->clamp01(be, x, N);
    }
    if (a->progress) {
        if (dpir) {
            double s0, r0, s1, r1;
            pnp_dpir_schedule(row, 0, &s0, &r0);
            pnp_dpir_schedule(row, iters > 0 ? iters - 1 : 0, &s1, &r1);
            fprintf(a->progress, "  solver DPIR: x_0 = A^T y; sigma %.4g -> %.4g, rho %.4g -> %.4g over %d iterations; "
                    "data step %s\n", s0, s1, r0, r1, iters,
                    geo.boundary == PNP_BOUNDARY_PAD ? "by conjugate gradients" : "exact (Fourier)");
        } else {
            fprintf(a->progress, "  solver PnP: step %.6g", gamma);
            if (!isnan(tr->lipschitz))
                fprintf(a->progress, " = %.4g / L, L = %.6g (%s)", row->step_size_scale, tr->lipschitz,
                        tr->lipschitz_iters ? "power method" : "exact: max over frequencies of sum |H_i|^2");
            if (alpha != 1) fprintf(a->progress, "; relaxation a = %.4g", alpha);
            fprintf(a->progress, "; init %s", first > 0 ? "(resumed)" : row->init_method);
            if (!strcmp(row->init_method, "wiener") && first == 0) fprintf(a->progress, " (eps %.4g)", wiener_eps(row));
            fprintf(a->progress, "\n");
        }
        if (row->distribute_physics && a->comm->size > 1)
            fprintf(a->progress, "  data term: operators over %d ranks; %s\n", a->comm->size,
                    geo.boundary == PNP_BOUNDARY_PAD
                        ? "boundary pad: its normal operator is all-reduced in every iteration (each gradient "
                          "and each conjugate-gradient step)"
                        : "S and B summed once at setup, the gradient needs no communication");
        fflush(a->progress);
    }
    if (dpir) pnp_data_term_prepare_solve(dt); /* its data step's work images, in the plan below */
    pnp_data_term_gradient(dt, x, z);
    if (first == 0) {
        tr->residual_initial = pnp_data_term_value(dt, x, z);
        if (has_truth) region_metrics(be, dt, &geo, x, crop, truth, &tr->psnr_initial, &tr->ssim_initial);
    } else if (has_truth) { /* the metrics' scratch, as an uninterrupted run holds it */
        double unused_psnr, unused_ssim;
        region_metrics(be, dt, &geo, x, crop, truth, &unused_psnr, &unused_ssim);
    }

    tiled td = {0};
    const int tiled_mode = a->dn && row->distribute_denoiser;
    size_t planned = 0;
    char failure[1024] = "";
    int refused = 0;
    if (tiled_mode) { /* collective: planned on every rank, also one that stops (the agreement ends the run) */
        refused = tiled_setup(&td, a, C, XH, XW, &planned, failure, sizeof failure);
        tr->windows_total = td.t.count;
        tr->window_first = td.first;
        tr->windows_owned = td.count;
        tr->batch = td.batch;
        tr->win_h = td.t.win_h;
        tr->win_w = td.t.win_w;
        tr->patch_size = td.t.patch;
        tr->pixels_owned = (double)(td.offset[td.first + td.count] - td.offset[td.first]) / C;
        tr->comm_overlap = td.overlap;
        tr->slab_combine = td.allreduce ? "allreduce" : "allgather";
        if (!stopping && !refused) tiled_report(&td, a, C);
    } else if (stopping) {
        /* no plan: the agreement below ends the run */
    } else { /* the whole image through the denoiser, if any: its activations and scratch */
        refused = whole_setup(a, XH, XW, &planned, failure, sizeof failure);
    }
    tr->planned_bytes = (double)planned;
    tr->setup_time += now(be) - t_setup;
    if (refused && !a->setup_agree) pnp_fatal("%s", failure);
    if (a->setup_agree && a->setup_agree(a->user, refused ? failure : NULL)) { /* some rank refused or stops */
        if (tiled_mode) tiled_free(&td, be);
        pnp_data_term_destroy(dt);
        o->free(be, truth), o->free(be, crop), o->free(be, x), o->free(be, xn), o->free(be, z);
        return -1;
    }

    float *saved = a->on_iterate && row->save_every > 0 ? pnp_malloc(bytes) : NULL; /* host copy of x */
    pnp_comm *cm = a->comm;
    be->ops->sync(be);
    pnp_comm_account_start(cm); /* the ranks start together; the setup's collectives are not an iteration's */
    const double t_start = MPI_Wtime() - (first > 0 ? tr->elapsed[first - 1] : 0);
    double sent = cm->bytes_sent, received = cm->bytes_received;
    for (int k = first; k < iters; ++k) {
        const double comm0 = cm->seconds;
        const double t0 = now(be);
        double sigma = row->denoiser_sigma, rho = 0;
        if (dpir) { /* z = argmin f + rho_k/2 ||. - x||^2 */
            pnp_dpir_schedule(row, k, &sigma, &rho);
            tr->inner_iters[k] = pnp_data_term_solve(dt, x, (float)rho, z);
        } else { /* z = x - gamma * grad f(x) (z holds the gradient) */
            o->add_scaled(be, z, x, -(float)gamma, z, N);
        }
        tr->sigma[k] = sigma;
        const double t1 = now(be), comm1 = cm->seconds;

        if (!a->dn) { /* x' = z: swapped in, z is rewritten below */
            float *t = xn;
            xn = z, z = t;
        } else if (tiled_mode) {
            tiled_denoise(&td, a, z, xn, C, XH, XW, (float)sigma);
        } else {
            pnp_denoiser_forward(a->dn, z, 1, XH, XW, (float)sigma, xn);
        }
        if (!dpir && alpha != 1 && a->dn) { /* x' = z + a (D(z) - z) */
            o->add_scaled(be, xn, xn, -1.0f, z, N);
            o->add_scaled(be, xn, z, (float)alpha, xn, N);
        }
        /* a NaN or an infinity means the iterate diverged (should_stop ends the
         * run): PnP's clamp says so; DPIR (no clamp) learns it from |x'|^2 */
        tr->nonfinite = !dpir && o->clamp01(be, xn, N);
        const double step_sq = o->sum_sq_diff(be, xn, x, N), norm_sq = o->dot(be, xn, xn, N);
        if (dpir) tr->nonfinite = !isfinite(norm_sq);
        tr->change[k] = norm_sq > 0 ? sqrt(step_sq / norm_sq) : (step_sq > 0 ? INFINITY : 0);
        float *swap = x; /* x <- x' */
        x = xn, xn = swap;
        tr->psnr[k] = tr->ssim[k] = NAN;
        if (has_truth && !tr->nonfinite) region_metrics(be, dt, &geo, x, crop, truth, &tr->psnr[k], &tr->ssim[k]);
        const double t2 = now(be), comm2 = cm->seconds;

        pnp_data_term_gradient(dt, x, z); /* for the next step, and f(x) */
        tr->residual[k] = pnp_data_term_value(dt, x, z);
        const double t3 = now(be);
        tr->grad_time[k] = (t1 - t0) + (t3 - t2) - (cm->seconds - comm2) - (comm1 - comm0);
        tr->denoise_time[k] = (t2 - t1) - (comm2 - comm1);
        /* the collectives since the last split (this iteration's and the stop agreement before it) */
        pnp_comm_account(cm, &tr->wait_time[k], &tr->comm_time[k]);
        tr->bytes_sent[k] = cm->bytes_sent - sent, tr->bytes_received[k] = cm->bytes_received - received;
        sent = cm->bytes_sent, received = cm->bytes_received;
        tr->peak_bytes[k] = (double)o->peak_bytes(be);
        tr->elapsed[k] = t3 - t_start;
        tr->iterations = k + 1;
        if (a->progress) progress_line(a->progress, tr, k, first, iters);
        if (saved && (k + 1) % row->save_every == 0) {
            o->download(be, saved, x, bytes);
            a->on_iterate(a->iterate_user, k + 1, saved);
        }
        if (k + 1 < iters && row->tolerance > 0 && any_rank(a, tr->change[k] < row->tolerance)) {
            tr->converged = 1;
            break;
        }
        if (!a->should_stop) {
            if (tr->nonfinite) break;
            continue;
        }
        const double ts = MPI_Wtime(); /* a collective outside the communicator: its time is recorded too */
        const int stop = a->should_stop(a->user);
        pnp_comm_record(cm, MPI_Wtime() - ts);
        if (stop) break;
    }

    o->download(be, x_out, x, bytes);
    free(saved);
    if (tiled_mode) tiled_free(&td, be);
    pnp_data_term_destroy(dt);
    o->free(be, truth);
    o->free(be, crop);
    o->free(be, x);
    o->free(be, xn);
    o->free(be, z);
    return 0;
}
