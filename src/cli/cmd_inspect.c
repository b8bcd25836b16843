/* cmd_inspect.c - `pnp inspect`: summarize `pnp run` result files.
 *
 * Every file is read completely before anything is printed: a file that is
 * missing, not HDF5, or not a pnp result (no /traces, a missing attribute or
 * trace, inconsistent shapes) stops the command with status 2 and a message
 * naming the file and the missing item. Then either one table per file and
 * one table across files (text), or one JSON array with one object per file
 * (--json, for scripts: scripts/pnp-report reads everything but the pixels
 * from it, the image datasets at the paths it gives).
 *
 * Times per iteration: /traces/{gradient,denoise,wait,comm}_time are
 * [iterations, ranks]; on every rank they add up to the iteration's wall time
 * (include/pnp/solver.h), so their means over the iterations and then over
 * the ranks split the wall time per iteration (the last /traces/elapsed
 * divided by the iterations) into gradient + denoiser + wait + transfer, and
 * "other" is what is left (the progress line; files before wait_time: their
 * comm_time held the waiting). The slowest rank's times (each iteration's max
 * over ranks, then the mean over iterations) say what bounds an iteration.
 * Means are plain left-to-right sums, then a division.
 * Peak memory: each rank's max over the iterations of /traces/peak_memory;
 * planned memory: /traces/planned_memory (what setup planned; older files lack it).
 *
 * Reading is the result file's own reader (include/pnp/result.h), which never
 * aborts: each failure is a message naming the file and the object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/cli.h"
#include "pnp/error.h"
#include "pnp/result.h"

static const char *USAGE =
    "usage: pnp inspect FILE.h5 [FILE.h5 ...] [--json]\n"
    "\n"
    "Summarize `pnp run` result files: for each file a table (status, grid row,\n"
    "ranks, backend, solver and its step, denoiser, iterations, PSNR and SSIM,\n"
    "total time, time per iteration split into gradient + denoiser + wait +\n"
    "transfer, each rank's split, bytes and pixels, peak memory of every rank),\n"
    "then one table across the files, one row per file.\n"
    "\n"
    "Time per iteration: the wall time is /traces/elapsed at the last iteration\n"
    "divided by the iterations. Each rank's gradient, denoiser, wait (in a\n"
    "collective before the last rank arrived: imbalance) and transfer times add\n"
    "up to it; the split shown is their mean over iterations and ranks, \"other\"\n"
    "what is left. The slowest rank: each iteration's max over ranks, then the\n"
    "mean over iterations. Bytes: sent and received per iteration and rank.\n"
    "Peak memory: each rank's high-water mark, the max over iterations; planned\n"
    "memory: what each rank's setup planned to hold at most.\n"
    "Status: the file's 'status' attribute (finished, interrupted, resumed, or\n"
    "failed: the iterate turned non-finite, with the reason below it).\n"
    "\n"
    "A file that is missing, not HDF5, or not a pnp result (no /traces, a missing\n"
    "attribute or trace) stops the command with status 2, naming the file and the\n"
    "missing item; nothing else is printed.\n"
    "\n"
    "options:\n"
    "  --json       print one JSON array instead, one object per file (numbers as\n"
    "               numbers, seconds and bytes; the split as gradient_time,\n"
    "               denoise_time, wait_time, comm_time (transfer), other_time,\n"
    "               the slowest rank's under \"slowest\", each rank's means over\n"
    "               the iterations under \"per_rank\"; per-rank values as arrays; the\n"
    "               per-iteration PSNR, SSIM, denoiser sigma, elapsed time, data\n"
    "               residual and relative change under \"traces\" (null when the\n"
    "               file has none, e.g. no PSNR without a reference); the dataset\n"
    "               path of each image, or null, under \"images\", of each saved\n"
    "               iterate under \"iterates\")\n"
    "  -h, --help   this text\n"
    "\n"
    "See also `pnp report FILES --out DIR` (figures and an HTML page), h5dump, h5py.\n";

/* ------------------------------------------------------------ one file */

/* The split of an iteration, in the order shown. */
enum { PART_GRADIENT, PART_DENOISE, PART_WAIT, PART_TRANSFER, PARTS };
static const int PART_TRACE[PARTS] = {PNP_RESULT_GRADIENT_TIME, PNP_RESULT_DENOISE_TIME, PNP_RESULT_WAIT_TIME,
                                      PNP_RESULT_COMM_TIME};
static const char *const PART_KEY[PARTS] = {"gradient_time", "denoise_time", "wait_time", "comm_time"};

/* A result file as read (include/pnp/result.h) and what the tables derive from it. */
typedef struct {
    const char *path;
    pnp_result r;
    double iteration_time;                      /* wall; NaN when nothing was traced */
    double split[PARTS], other_time;            /* means over iterations and ranks (NaN: absent) */
    double slowest[PARTS];                      /* mean over iterations of the max over ranks */
    double *rank_mean[PNP_RESULT_PER_RANK];     /* [ranks] each trace's mean over iterations, or NULL */
    double *peak;                               /* [ranks], bytes, or NULL */
} summary;

static void summary_free(summary *s)
{
    pnp_result_free(&s->r);
    for (int k = 0; k < PNP_RESULT_PER_RANK; ++k) free(s->rank_mean[k]);
    free(s->peak);
}

/* Mean over the iterations of the max over ranks of v [n, ranks]. */
static double mean_of_slowest(const double *v, long long n, long long ranks)
{
    if (n == 0) return NAN;
    double sum = 0;
    for (long long k = 0; k < n; ++k) {
        double m = v[k * ranks];
        for (long long q = 1; q < ranks; ++q) m = v[k * ranks + q] > m ? v[k * ranks + q] : m;
        sum += m;
    }
    return sum / (double)n;
}

/* Read PATH into s. 0, or -1 with the message in err. */
static int read_summary(const char *path, summary *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    if (pnp_result_read(path, PNP_RESULT_READ_SUMMARY, &s->r, err, errlen)) return -1;
    const pnp_result *r = &s->r;
    const long long n = r->traced, ranks = r->ranks;
    s->iteration_time = n ? r->elapsed[n - 1] / (double)n : NAN;
    for (int k = 0; k < PNP_RESULT_PER_RANK; ++k) {
        const double *v = r->per_rank[k];
        if (!v || n == 0) continue;
        s->rank_mean[k] = pnp_calloc((size_t)ranks, sizeof(double));
        for (long long q = 0; q < ranks; ++q) {
            double sum = 0;
            for (long long i = 0; i < n; ++i) sum += v[i * ranks + q];
            s->rank_mean[k][q] = sum / (double)n;
        }
    }
    s->other_time = s->iteration_time;
    for (int p = 0; p < PARTS; ++p) {
        const double *m = s->rank_mean[PART_TRACE[p]];
        s->split[p] = s->slowest[p] = NAN;
        if (!m) continue;
        double sum = 0;
        for (long long q = 0; q < ranks; ++q) sum += m[q];
        s->split[p] = sum / (double)ranks;
        s->slowest[p] = mean_of_slowest(r->per_rank[PART_TRACE[p]], n, ranks);
        s->other_time -= s->split[p];
    }
    if (isnan(s->split[PART_WAIT])) s->other_time = NAN; /* an earlier version's file: no split */
    if (n > 0) {
        const double *peak = r->per_rank[PNP_RESULT_PEAK_MEMORY];
        s->peak = pnp_calloc((size_t)ranks, sizeof(double));
        for (long long q = 0; q < ranks; ++q) {
            s->peak[q] = peak[q];
            for (long long k = 1; k < n; ++k) s->peak[q] = peak[k * ranks + q] > s->peak[q] ? peak[k * ranks + q] : s->peak[q];
        }
    }
    return 0;
}

/* ------------------------------------------------------------ text output */

static const char *or_dash(const char *s) { return s && s[0] ? s : "-"; }

static void print_per_rank(const char *label, const double *v, long long ranks, double scale, const char *fmt,
                           const char *unit)
{
    printf("  %-18s", label);
    for (long long q = 0; q < ranks; ++q) {
        if (q && q % 6 == 0) printf("\n  %-18s", "");
        printf("%srank %lld ", q % 6 ? " | " : "", q);
        printf(fmt, v[q] / scale);
        printf("%s", unit);
    }
    printf("\n");
}

static void print_file(const summary *s)
{
    const double mib = 1024.0 * 1024.0;
    printf("%s\n", s->path);
    printf("  %-18s%s\n", "status", s->r.status);
    if (s->r.failure) printf("  %-18s%s\n", "failure", s->r.failure);
    printf("  %-18s%lld of %s\n", "grid row", s->r.grid_row_index, or_dash(s->r.config_file));
    if (s->r.grid_row) printf("  %-18s%s\n", "parameters", s->r.grid_row);
    printf("  %-18s%lld (backend %s, communication %s, hosts %s", "ranks", s->r.ranks, s->r.backend,
           or_dash(s->r.communication), or_dash(s->r.hosts));
    if (s->r.slurm_job_id && s->r.slurm_job_id[0]) printf(", Slurm job %s", s->r.slurm_job_id);
    printf(")\n");
    printf("  %-18s%s", "solver", s->r.solver ? s->r.solver : "PnP");
    if (!isnan(s->r.step_size)) printf(" (step %.6g", s->r.step_size);
    if (!isnan(s->r.lipschitz))
        printf(" = scale / L, L = %.6g%s", s->r.lipschitz, s->r.lipschitz_iterations ? " by the power method" : ", exact");
    if (!isnan(s->r.step_size)) printf(")");
    printf("\n");
    printf("  %-18s%s\n", "denoiser", or_dash(s->r.denoiser));
    printf("  %-18s%lld", "iterations", s->r.iterations);
    if (s->r.n_iterates) printf(" (%d saved in /iterates)", s->r.n_iterates);
    if (s->r.traced != s->r.iterations) printf(" (%lld traced)", s->r.traced);
    printf("\n");
    if (s->r.boundary || s->r.channels != 3)
        printf("  %-18s%lld channel%s, boundary %s\n", "data", s->r.channels, s->r.channels == 1 ? "" : "s",
               or_dash(s->r.boundary));
    if (s->r.stop_reason) printf("  %-18s%s\n", "stopped by", s->r.stop_reason);
    if (isnan(s->r.final_psnr)) printf("  %-18s- (no ground truth or reference)\n", "PSNR");
    else if (isnan(s->r.initial_psnr)) printf("  %-18sfinal %.3f dB\n", "PSNR", s->r.final_psnr);
    else printf("  %-18s%.3f dB initial, %.3f dB final\n", "PSNR", s->r.initial_psnr, s->r.final_psnr);
    if (!isnan(s->r.measurement_psnr) && !isnan(s->r.final_psnr))
        printf("  %-18s%.3f dB, the best measurement (the reconstruction %.3f dB %s it)\n", "", s->r.measurement_psnr,
               fabs(s->r.final_psnr - s->r.measurement_psnr),
               s->r.final_psnr >= s->r.measurement_psnr ? "above" : "below");
    if (!isnan(s->r.final_ssim)) printf("  %-18s%.4f initial, %.4f final\n", "SSIM", s->r.initial_ssim, s->r.final_ssim);
    if (!isnan(s->r.final_residual))
        printf("  %-18s%.6g initial, %.6g final (1/2 sum_i ||A_i x - y_i||^2)\n", "data residual",
               s->r.initial_residual, s->r.final_residual);
    if (s->r.change && s->r.traced)
        printf("  %-18s%.3g at the last iteration (||x_k - x_{k-1}|| / ||x_k||)\n", "relative change",
               s->r.change[s->r.traced - 1]);
    printf("  %-18s%.3f s", "total time", s->r.total_time);
    if (!isnan(s->r.setup_time)) printf(" (setup %.3f s)", s->r.setup_time);
    printf("\n");
    if (s->r.traced && isnan(s->split[PART_WAIT])) { /* an earlier version's file: communication undivided */
        printf("  %-18s%.4f s wall; slowest rank: gradient %.4f s, denoiser %.4f s, communication %.4f s\n",
               "time / iteration", s->iteration_time, s->slowest[PART_GRADIENT], s->slowest[PART_DENOISE],
               s->slowest[PART_TRANSFER]);
    } else if (s->r.traced) {
        printf("  %-18s%.4f s wall = gradient %.4f + denoiser %.4f + wait %.4f + transfer %.4f s (mean over ranks; "
               "other %.4f s)\n", "time / iteration", s->iteration_time, s->split[PART_GRADIENT],
               s->split[PART_DENOISE], s->split[PART_WAIT], s->split[PART_TRANSFER], s->other_time);
        printf("  %-18sgradient %.4f s, denoiser %.4f s, wait %.4f s, transfer %.4f s\n", "slowest rank",
               s->slowest[PART_GRADIENT], s->slowest[PART_DENOISE], s->slowest[PART_WAIT], s->slowest[PART_TRANSFER]);
        printf("  %-18s", "per rank (s/iter)");
        for (long long q = 0; q < s->r.ranks; ++q) {
            if (q && q % 3 == 0) printf("\n  %-18s", "");
            printf("%srank %lld %.4f + %.4f + %.4f + %.4f", q % 3 ? " | " : "", q,
                   s->rank_mean[PNP_RESULT_GRADIENT_TIME][q], s->rank_mean[PNP_RESULT_DENOISE_TIME][q],
                   s->rank_mean[PNP_RESULT_WAIT_TIME][q], s->rank_mean[PNP_RESULT_COMM_TIME][q]);
        }
        printf("\n");
    }
    if (s->r.traced && s->rank_mean[PNP_RESULT_BYTES_SENT] && s->rank_mean[PNP_RESULT_BYTES_RECEIVED]) {
        printf("  %-18s", "bytes / iteration");
        for (long long q = 0; q < s->r.ranks; ++q) {
            if (q && q % 3 == 0) printf("\n  %-18s", "");
            printf("%srank %lld sent %.3f MB, received %.3f MB", q % 3 ? " | " : "", q,
                   s->rank_mean[PNP_RESULT_BYTES_SENT][q] / 1e6, s->rank_mean[PNP_RESULT_BYTES_RECEIVED][q] / 1e6);
        }
        printf("\n");
    }
    if (s->r.traced) print_per_rank("peak memory", s->peak, s->r.ranks, mib, "%.1f", " MiB");
    if (s->r.planned_memory) print_per_rank("planned memory", s->r.planned_memory, s->r.ranks, mib, "%.1f", " MiB");
    if (s->r.operators_owned) print_per_rank("operators owned", s->r.operators_owned, s->r.ranks, 1, "%.0f", "");
    if (s->r.windows_owned) print_per_rank("windows owned", s->r.windows_owned, s->r.ranks, 1, "%.0f", "");
    if (s->r.slab_combine)
        printf("  %-18s%lld windows of %lldx%lld, patch %lld; slabs combined by %s%s\n", "tiles", s->r.windows,
               s->r.window_height, s->r.window_width, s->r.patch_size, s->r.slab_combine,
               s->r.comm_overlap ? ", one per batch, overlapping the next" : "");
    if (s->r.pixels_owned) {
        double total = 0;
        for (long long q = 0; q < s->r.ranks; ++q) total += s->r.pixels_owned[q];
        printf("  %-18s", "pixels owned");
        for (long long q = 0; q < s->r.ranks; ++q) {
            if (q && q % 4 == 0) printf("\n  %-18s", "");
            printf("%srank %lld %.0f (%.1f%%)", q % 4 ? " | " : "", q, s->r.pixels_owned[q],
                   total > 0 ? 100.0 * s->r.pixels_owned[q] / total : 0.0);
        }
        printf("\n");
    }
    printf("\n");
}

static void print_table(const summary *s, int n)
{
    int w = 4;
    for (int i = 0; i < n; ++i) w = (int)strlen(s[i].path) > w ? (int)strlen(s[i].path) : w;
    printf("%-*s  %4s %-6s %5s %-7s %-11s %5s %9s %6s %11s %9s %8s %8s %8s %8s %8s %8s  %s\n", w, "file", "row",
           "solver", "ranks", "backend", "status", "iters", "PSNR dB", "SSIM", "residual", "total s", "s/iter",
           "gradient", "denoiser", "wait", "transfer", "MB/iter", "peak MiB per rank");
    for (int i = 0; i < n; ++i) {
        const summary *f = &s[i];
        printf("%-*s  %4lld %-6s %5lld %-7s %-11s %5lld", w, f->path, f->r.grid_row_index,
               f->r.solver ? f->r.solver : "PnP", f->r.ranks, f->r.backend, f->r.status, f->r.iterations);
        if (isnan(f->r.final_psnr)) printf(" %9s", "-");
        else printf(" %9.3f", f->r.final_psnr);
        if (isnan(f->r.final_ssim)) printf(" %6s", "-");
        else printf(" %6.4f", f->r.final_ssim);
        if (isnan(f->r.final_residual)) printf(" %11s", "-");
        else printf(" %11.5g", f->r.final_residual);
        printf(" %9.3f", f->r.total_time);
        const double values[] = {f->iteration_time, f->split[PART_GRADIENT], f->split[PART_DENOISE],
                                 f->split[PART_WAIT], f->split[PART_TRANSFER]};
        for (int k = 0; k < 5; ++k) {
            if (f->r.traced && !isnan(values[k])) printf(" %8.4f", values[k]);
            else printf(" %8s", "-");
        }
        const double *received = f->rank_mean[PNP_RESULT_BYTES_RECEIVED];
        double most = 0;
        for (long long q = 0; received && q < f->r.ranks; ++q) most = received[q] > most ? received[q] : most;
        if (received) printf(" %8.3f  ", most / 1e6);
        else printf(" %8s  ", "-");
        for (long long q = 0; q < f->r.ranks && f->r.traced; ++q)
            printf("%s%.1f", q ? "," : "", f->peak[q] / (1024.0 * 1024.0));
        printf("%s\n", f->r.traced ? "" : "-");
    }
    printf("(times per iteration: the wall time and its split, the mean over iterations and ranks;\n"
           " MB/iter: the most any rank received per iteration; peak memory: each rank's high-water mark)\n");
}

/* ------------------------------------------------------------ JSON output */

static void json_str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

/* %.17g round-trips a double exactly; JSON has no NaN or infinity: null. */
static void json_num(double v)
{
    if (isfinite(v)) printf("%.17g", v);
    else fputs("null", stdout);
}

static void json_array(const double *v, long long n)
{
    if (!v) {
        fputs("null", stdout);
        return;
    }
    putchar('[');
    for (long long q = 0; q < n; ++q) {
        if (q) fputs(", ", stdout);
        json_num(v[q]);
    }
    putchar(']');
}

static void print_json(const summary *s, int n)
{
    printf("[\n");
    for (int i = 0; i < n; ++i) {
        const summary *f = &s[i];
        const char *skeys[] = {"file", "status", "failure", "grid_row", "config_file", "backend", "communication",
                               "denoiser", "hosts", "slurm_job_id", "stop_reason", "boundary", "solver"};
        const char *svals[] = {f->path, f->r.status, f->r.failure, f->r.grid_row, f->r.config_file, f->r.backend,
                               f->r.communication, f->r.denoiser, f->r.hosts, f->r.slurm_job_id, f->r.stop_reason,
                               f->r.boundary, f->r.solver ? f->r.solver : "PnP"};
        printf("  {\n");
        for (int k = 0; k < 13; ++k) {
            printf("    \"%s\": ", skeys[k]);
            json_str(svals[k]);
            printf(",\n");
        }
        printf("    \"grid_row_index\": %lld,\n    \"ranks\": %lld,\n    \"iterations\": %lld,\n"
               "    \"traced_iterations\": %lld,\n    \"channels\": %lld,\n",
               f->r.grid_row_index, f->r.ranks, f->r.iterations, f->r.traced, f->r.channels);
        const char *nkeys[] = {"initial_psnr", "final_psnr", "initial_ssim", "final_ssim", "total_time", "setup_time",
                               "iteration_time", "gradient_time", "denoise_time", "wait_time", "comm_time",
                               "other_time", "initial_data_residual", "final_data_residual", "measurement_psnr",
                               "step_size", "lipschitz"};
        const double nvals[] = {f->r.initial_psnr, f->r.final_psnr, f->r.initial_ssim, f->r.final_ssim,
                                f->r.total_time, f->r.setup_time, f->iteration_time, f->split[PART_GRADIENT],
                                f->split[PART_DENOISE], f->split[PART_WAIT], f->split[PART_TRANSFER], f->other_time,
                                f->r.initial_residual, f->r.final_residual, f->r.measurement_psnr, f->r.step_size,
                                f->r.lipschitz};
        for (size_t k = 0; k < sizeof nkeys / sizeof *nkeys; ++k) {
            printf("    \"%s\": ", nkeys[k]);
            json_num(nvals[k]);
            printf(",\n");
        }
        printf("    \"slowest\": {");
        for (int p = 0; p < PARTS; ++p) {
            printf("%s\"%s\": ", p ? ", " : "", PART_KEY[p]);
            json_num(f->slowest[p]);
        }
        printf("},\n    \"per_rank\": {");
        const int per_rank_keys[] = {PNP_RESULT_GRADIENT_TIME, PNP_RESULT_DENOISE_TIME, PNP_RESULT_WAIT_TIME,
                                     PNP_RESULT_COMM_TIME, PNP_RESULT_BYTES_SENT, PNP_RESULT_BYTES_RECEIVED};
        for (size_t k = 0; k < sizeof per_rank_keys / sizeof *per_rank_keys; ++k) {
            printf("%s\"%s\": ", k ? ", " : "", pnp_result_per_rank_names[per_rank_keys[k]]);
            json_array(f->rank_mean[per_rank_keys[k]], f->r.ranks);
        }
        printf("},\n    \"patch_size\": ");
        if (f->r.slab_combine) printf("%lld", f->r.patch_size);
        else fputs("null", stdout);
        printf(",\n    \"slab_combine\": ");
        json_str(f->r.slab_combine);
        printf(",\n    \"comm_overlap\": %s,\n", f->r.comm_overlap ? "true" : "false");
        const char *rkeys[] = {"peak_memory", "planned_memory", "operators_owned", "windows_owned", "pixels_owned"};
        const double *rvals[] = {f->r.traced ? f->peak : NULL, f->r.planned_memory, f->r.operators_owned,
                                 f->r.windows_owned, f->r.pixels_owned}; /* [ranks] each */
        for (size_t k = 0; k < sizeof rkeys / sizeof *rkeys; ++k) {
            printf("    \"%s\": ", rkeys[k]);
            json_array(rvals[k], f->r.ranks);
            printf(",\n");
        }
        const char *tkeys[] = {"psnr", "ssim", "denoiser_sigma", "elapsed", "data_residual", "relative_change"};
        const double *tvals[] = {f->r.psnr,    f->r.ssim,     f->r.sigma,
                                 f->r.elapsed, f->r.residual, f->r.change}; /* [traced iterations] each */
        printf("    \"traces\": {");
        for (size_t k = 0; k < sizeof tkeys / sizeof *tkeys; ++k) {
            printf("%s\"%s\": ", k ? ", " : "", tkeys[k]);
            json_array(tvals[k], f->r.traced);
        }
        printf("},\n    \"images\": {");
        for (int k = 0; k < PNP_RESULT_IMAGES; ++k) {
            printf("%s\"%s\": ", k ? ", " : "", pnp_result_image_names[k]);
            if (f->r.has_image[k]) printf("\"/%s\"", pnp_result_image_names[k]);
            else fputs("null", stdout);
        }
        printf("},\n    \"iterates\": {");
        for (int q = 0; q < f->r.n_iterates; ++q)
            printf("%s\"%d\": \"/iterates/%d\"", q ? ", " : "", f->r.iterate_index[q], f->r.iterate_index[q]);
        printf("}");
        printf("\n  }%s\n", i + 1 < n ? "," : "");
    }
    printf("]\n");
}

/* ------------------------------------------------------------ command */

int pnp_cmd_inspect(int argc, char **argv)
{
    int json = 0, n = 0;
    const char **paths = pnp_calloc((size_t)argc, sizeof *paths);
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            free(paths);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "pnp: inspect: unknown option '%s'\n\n%s", a, USAGE);
            free(paths);
            return 2;
        } else {
            paths[n++] = a;
        }
    }
    if (n == 0) {
        fprintf(stderr, "pnp: inspect: no result file given\n\n%s", USAGE);
        free(paths);
        return 2;
    }

    summary *s = pnp_calloc((size_t)n, sizeof *s);
    int rc = 0, done = 0;
    for (; done < n && !rc; ++done) {
        char err[2048];
        if (read_summary(paths[done], &s[done], err, sizeof err)) {
            fprintf(stderr, "pnp: %s\n", err);
            rc = 2;
        }
    }

    if (!rc && json) {
        print_json(s, n);
    } else if (!rc) {
        for (int i = 0; i < n; ++i) print_file(&s[i]);
        print_table(s, n);
    }
    for (int i = 0; i < done; ++i) summary_free(&s[i]);
    free(s);
    free(paths);
    return rc;
}
