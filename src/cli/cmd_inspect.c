/* cmd_inspect.c - `pnp inspect`: summarize `pnp run` result files.
 *
 * Every file is read completely before anything is printed: a file that is
 * missing, not HDF5, or not a pnp result (no /traces, a missing attribute or
 * trace, inconsistent shapes) stops the command with status 2 and a message
 * naming the file and the missing item. Then either one table per file and
 * one table across files (text), or one JSON array with one object per file
 * (--json, for scripts; scripts/pnp-report builds its HTML table from it).
 *
 * Times per iteration: /traces/{gradient,denoise,comm}_time are
 * [iterations, ranks]; an iteration lasts as long as its slowest rank, so each
 * iteration's time is the max over ranks, and the reported value is the mean
 * of those over the iterations (plain left-to-right sum, then divide).
 * Peak memory: each rank's max over the iterations of /traces/peak_memory;
 * planned memory: /traces/planned_memory (what setup planned; older files lack it).
 *
 * Reading goes through h5io's readers (include/pnp/h5io.h), which never abort:
 * each failure is a message naming the file and the object, and HDF5's own
 * error printing is switched off while the files are read. */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pnp/cli.h"
#include "pnp/error.h"
#include "pnp/h5io.h"

static const char *USAGE =
    "usage: pnp inspect FILE.h5 [FILE.h5 ...] [--json]\n"
    "\n"
    "Summarize `pnp run` result files: for each file a table (status, grid row,\n"
    "ranks, backend, denoiser, iterations, PSNR, total time, time per iteration\n"
    "split into gradient / denoiser / communication, peak memory of every rank),\n"
    "then one table across the files, one row per file.\n"
    "\n"
    "Time per iteration: the traces hold one time per iteration and rank; an\n"
    "iteration takes as long as its slowest rank, so for each iteration the max\n"
    "over ranks is taken, then the mean over iterations. The wall time per\n"
    "iteration is /traces/elapsed at the last iteration divided by the iterations.\n"
    "Peak memory: each rank's high-water mark, the max over iterations; planned\n"
    "memory: what each rank's setup planned to hold at most.\n"
    "Status: the file's 'status' attribute (finished, interrupted or resumed).\n"
    "\n"
    "A file that is missing, not HDF5, or not a pnp result (no /traces, a missing\n"
    "attribute or trace) stops the command with status 2, naming the file and the\n"
    "missing item; nothing else is printed.\n"
    "\n"
    "options:\n"
    "  --json       print one JSON array instead, one object per file (numbers as\n"
    "               numbers, seconds and bytes; per-rank values as arrays)\n"
    "  -h, --help   this text\n"
    "\n"
    "See also `pnp report FILES --out DIR` (figures and an HTML page), h5dump, h5py.\n";

/* ------------------------------------------------------------ one file */

typedef struct {
    const char *path;
    /* root attributes; optional strings are NULL and optional numbers NaN when absent */
    char *status, *grid_row, *config_file, *backend, *communication, *denoiser, *hosts, *slurm_job_id;
    long long grid_row_index, ranks, iterations;
    double initial_psnr, final_psnr, total_time, setup_time;
    /* from /traces */
    long long traced; /* rows of the traces (iterations recorded) */
    double iteration_time, gradient_time, denoise_time, comm_time; /* NaN when traced == 0 */
    double *peak;                                                   /* [ranks], bytes */
    double *operators_owned, *windows_owned, *planned;              /* [ranks] or NULL */
} summary;

typedef struct {
    const char *path;
    char err[2048];
} reader;

static void summary_free(summary *s)
{
    free(s->status), free(s->grid_row), free(s->config_file), free(s->backend);
    free(s->communication), free(s->denoiser), free(s->hosts), free(s->slurm_job_id);
    free(s->peak), free(s->operators_owned), free(s->windows_owned), free(s->planned);
}

typedef struct {
    char *out;
    size_t len;
    int count;
} names_ctx;

static herr_t add_name(hid_t group, const char *name, const H5L_info_t *info, void *user)
{
    names_ctx *c = user;
    const size_t used = strlen(c->out);
    const int more = c->count++ == 8; /* enough to recognize the file */
    snprintf(c->out + used, c->len - used, "%s%s", used ? ", " : "", more ? "..." : name);
    return more; /* positive: stop iterating */
}

/* "a, b, c": the first links in GROUP (or "nothing"), for messages. */
static void list_names(hid_t loc, const char *group, char *out, size_t len)
{
    out[0] = '\0';
    hid_t g = H5Gopen2(loc, group, H5P_DEFAULT);
    if (g >= 0) {
        hsize_t idx = 0;
        names_ctx c = {out, len, 0};
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, add_name, &c);
        H5Gclose(g);
    }
    if (!out[0]) snprintf(out, len, "nothing");
}

/* /traces/NAME of ndims dimensions (dims filled) into *v, malloc'd. 0 (*v NULL
 * when absent and not required), or -1 with r->err (when absent, naming what
 * /traces holds). */
static int read_trace(reader *r, hid_t traces, const char *name, int ndims, hsize_t *dims, int required, double **v)
{
    const int rc = pnp_h5_read_f64_any(traces, name, ndims, dims, v, r->err, sizeof r->err);
    if (rc > 0 && required) {
        char have[1024];
        list_names(traces, ".", have, sizeof have);
        const size_t used = strlen(r->err);
        snprintf(r->err + used, sizeof r->err - used, " (/traces holds: %s)", have);
    }
    return rc < 0 || (rc > 0 && required) ? -1 : 0;
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

static int read_attrs(reader *r, hid_t f, summary *s)
{
    /* the first two strings, the first three integers and two numbers are required */
    const char *str_keys[8] = {"status", "backend", "grid_row", "config_file", "communication", "denoiser", "hosts",
                               "slurm_job_id"};
    char **str_dst[8] = {&s->status, &s->backend, &s->grid_row, &s->config_file, &s->communication, &s->denoiser,
                         &s->hosts, &s->slurm_job_id};
    const char *int_keys[3] = {"grid_row_index", "ranks", "iterations"};
    long long *int_dst[3] = {&s->grid_row_index, &s->ranks, &s->iterations};
    const char *num_keys[4] = {"final_psnr", "total_time", "initial_psnr", "setup_time"};
    double *num_dst[4] = {&s->final_psnr, &s->total_time, &s->initial_psnr, &s->setup_time};
    int rc;
    for (int k = 0; k < 8; ++k)
        if ((rc = pnp_h5_read_attr_str(f, str_keys[k], str_dst[k], r->err, sizeof r->err)) < 0 || (rc && k < 2))
            return -1;
    for (int k = 0; k < 3; ++k)
        if (pnp_h5_read_attr_int(f, int_keys[k], int_dst[k], r->err, sizeof r->err)) return -1;
    for (int k = 0; k < 4; ++k)
        if ((rc = pnp_h5_read_attr_double(f, num_keys[k], num_dst[k], r->err, sizeof r->err)) < 0 || (rc && k < 2))
            return -1;
    if (s->ranks < 1) {
        snprintf(r->err, sizeof r->err, "%s: root attribute 'ranks' is %lld, expected at least 1", r->path, s->ranks);
        return -1;
    }
    return 0;
}

static int read_traces(reader *r, hid_t f, summary *s)
{
    hid_t g = H5Gopen2(f, "traces", H5P_DEFAULT);
    if (g < 0) {
        snprintf(r->err, sizeof r->err, "%s: not a pnp result: /traces is not a group", r->path);
        return -1;
    }
    const char *names[6] = {"psnr", "elapsed", "gradient_time", "denoise_time", "comm_time", "peak_memory"};
    double *t[6] = {NULL};
    hsize_t dims[6][2] = {{0}};
    int rc = 0;
    for (int k = 0; k < 6 && !rc; ++k)
        rc = read_trace(r, g, names[k], k < 2 ? 1 : 2, dims[k], 1, &t[k]);
    const long long n = rc ? 0 : (long long)dims[0][0], ranks = s->ranks;
    for (int k = 1; k < 6 && !rc; ++k) {
        const unsigned long long rows = dims[k][0], cols = dims[k][1];
        if (k < 2 && (long long)rows != n) {
            snprintf(r->err, sizeof r->err, "%s: /traces/%s has %llu values, /traces/psnr %lld", r->path, names[k],
                     rows, n);
            rc = -1;
        } else if (k >= 2 && ((long long)rows != n || (long long)cols != ranks)) {
            snprintf(r->err, sizeof r->err,
                     "%s: /traces/%s has shape [%llu, %llu], expected [iterations, ranks] = [%lld, %lld]", r->path,
                     names[k], rows, cols, n, ranks);
            rc = -1;
        }
    }
    if (!rc) {
        s->traced = n;
        s->iteration_time = n ? t[1][n - 1] / (double)n : NAN;
        s->gradient_time = mean_of_slowest(t[2], n, ranks);
        s->denoise_time = mean_of_slowest(t[3], n, ranks);
        s->comm_time = mean_of_slowest(t[4], n, ranks);
        s->peak = pnp_calloc((size_t)ranks, sizeof(double));
        for (long long q = 0; q < ranks && n > 0; ++q) {
            s->peak[q] = t[5][q];
            for (long long k = 1; k < n; ++k)
                s->peak[q] = t[5][k * ranks + q] > s->peak[q] ? t[5][k * ranks + q] : s->peak[q];
        }
        const char *owned[3] = {"operators_owned", "windows_owned", "planned_memory"};
        double **dst[3] = {&s->operators_owned, &s->windows_owned, &s->planned};
        for (int k = 0; k < 3 && !rc; ++k) {
            hsize_t d1[1] = {0};
            if (read_trace(r, g, owned[k], 1, d1, 0, dst[k])) rc = -1;
            else if (*dst[k] && (long long)d1[0] != ranks) {
                snprintf(r->err, sizeof r->err, "%s: /traces/%s has %llu values, expected one per rank (%lld)",
                         r->path, owned[k], (unsigned long long)d1[0], ranks);
                rc = -1;
            }
        }
    }
    for (int k = 0; k < 6; ++k) free(t[k]);
    H5Gclose(g);
    return rc;
}

/* Read PATH into s. 0, or -1 with the message in r->err. */
static int read_result(reader *r, summary *s)
{
    memset(s, 0, sizeof *s);
    s->path = r->path;
    s->initial_psnr = s->setup_time = NAN;
    struct stat st;
    if (stat(r->path, &st) != 0) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->path, errno == ENOENT ? "no such file" : strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(r->err, sizeof r->err, "%s: is a folder, not a result file", r->path);
        return -1;
    }
    const htri_t is = H5Fis_hdf5(r->path);
    if (is <= 0) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->path, is == 0 ? "not an HDF5 file" : "cannot be read");
        return -1;
    }
    hid_t f = H5Fopen(r->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(r->err, sizeof r->err, "%s: cannot open as HDF5 (truncated or corrupt?)", r->path);
        return -1;
    }
    int rc = 0;
    if (H5Lexists(f, "traces", H5P_DEFAULT) <= 0) {
        char have[1024];
        list_names(f, "/", have, sizeof have);
        snprintf(r->err, sizeof r->err, "%s: not a pnp result: no /traces group (the file holds: %s)", r->path, have);
        rc = -1;
    }
    if (!rc) rc = read_attrs(r, f, s);
    if (!rc) rc = read_traces(r, f, s);
    H5Fclose(f);
    return rc;
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
    printf("  %-18s%s\n", "status", s->status);
    printf("  %-18s%lld of %s\n", "grid row", s->grid_row_index, or_dash(s->config_file));
    if (s->grid_row) printf("  %-18s%s\n", "parameters", s->grid_row);
    printf("  %-18s%lld (backend %s, communication %s, hosts %s", "ranks", s->ranks, s->backend,
           or_dash(s->communication), or_dash(s->hosts));
    if (s->slurm_job_id && s->slurm_job_id[0]) printf(", Slurm job %s", s->slurm_job_id);
    printf(")\n");
    printf("  %-18s%s\n", "denoiser", or_dash(s->denoiser));
    printf("  %-18s%lld", "iterations", s->iterations);
    if (s->traced != s->iterations) printf(" (%lld traced)", s->traced);
    printf("\n");
    if (isnan(s->initial_psnr)) printf("  %-18sfinal %.3f dB\n", "PSNR", s->final_psnr);
    else printf("  %-18s%.3f dB initial, %.3f dB final\n", "PSNR", s->initial_psnr, s->final_psnr);
    printf("  %-18s%.3f s", "total time", s->total_time);
    if (!isnan(s->setup_time)) printf(" (setup %.3f s)", s->setup_time);
    printf("\n");
    if (s->traced) {
        printf("  %-18s%.4f s wall; slowest rank: gradient %.4f s, denoiser %.4f s, communication %.4f s\n",
               "time / iteration", s->iteration_time, s->gradient_time, s->denoise_time, s->comm_time);
        print_per_rank("peak memory", s->peak, s->ranks, mib, "%.1f", " MiB");
    }
    if (s->planned) print_per_rank("planned memory", s->planned, s->ranks, mib, "%.1f", " MiB");
    if (s->operators_owned) print_per_rank("operators owned", s->operators_owned, s->ranks, 1, "%.0f", "");
    if (s->windows_owned) print_per_rank("windows owned", s->windows_owned, s->ranks, 1, "%.0f", "");
    printf("\n");
}

static void print_table(const summary *s, int n)
{
    int w = 4;
    for (int i = 0; i < n; ++i) w = (int)strlen(s[i].path) > w ? (int)strlen(s[i].path) : w;
    printf("%-*s  %4s %5s %-7s %-11s %5s %9s %9s %8s %8s %8s %8s  %s\n", w, "file", "row", "ranks", "backend",
           "status", "iters", "PSNR dB", "total s", "s/iter", "gradient", "denoiser", "comm", "peak MiB per rank");
    for (int i = 0; i < n; ++i) {
        const summary *f = &s[i];
        printf("%-*s  %4lld %5lld %-7s %-11s %5lld %9.3f %9.3f", w, f->path, f->grid_row_index, f->ranks, f->backend,
               f->status, f->iterations, f->final_psnr, f->total_time);
        if (f->traced)
            printf(" %8.4f %8.4f %8.4f %8.4f  ", f->iteration_time, f->gradient_time, f->denoise_time, f->comm_time);
        else
            printf(" %8s %8s %8s %8s  ", "-", "-", "-", "-");
        for (long long q = 0; q < f->ranks && f->traced; ++q)
            printf("%s%.1f", q ? "," : "", f->peak[q] / (1024.0 * 1024.0));
        printf("%s\n", f->traced ? "" : "-");
    }
    printf("(times per iteration: the slowest rank of each iteration, averaged over iterations;\n"
           " peak memory: each rank's high-water mark over the run)\n");
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
        const char *skeys[] = {"file", "status", "grid_row", "config_file", "backend", "communication",
                               "denoiser", "hosts", "slurm_job_id"};
        const char *svals[] = {f->path, f->status, f->grid_row, f->config_file, f->backend, f->communication,
                               f->denoiser, f->hosts, f->slurm_job_id};
        printf("  {\n");
        for (int k = 0; k < 9; ++k) {
            printf("    \"%s\": ", skeys[k]);
            json_str(svals[k]);
            printf(",\n");
        }
        printf("    \"grid_row_index\": %lld,\n    \"ranks\": %lld,\n    \"iterations\": %lld,\n"
               "    \"traced_iterations\": %lld,\n",
               f->grid_row_index, f->ranks, f->iterations, f->traced);
        const char *nkeys[] = {"initial_psnr", "final_psnr", "total_time", "setup_time", "iteration_time",
                               "gradient_time", "denoise_time", "comm_time"};
        const double nvals[] = {f->initial_psnr, f->final_psnr, f->total_time, f->setup_time, f->iteration_time,
                                f->gradient_time, f->denoise_time, f->comm_time};
        for (int k = 0; k < 8; ++k) {
            printf("    \"%s\": ", nkeys[k]);
            json_num(nvals[k]);
            printf(",\n");
        }
        printf("    \"peak_memory\": ");
        json_array(f->traced ? f->peak : NULL, f->ranks);
        printf(",\n    \"planned_memory\": ");
        json_array(f->planned, f->ranks);
        printf(",\n    \"operators_owned\": ");
        json_array(f->operators_owned, f->ranks);
        printf(",\n    \"windows_owned\": ");
        json_array(f->windows_owned, f->ranks);
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

    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages instead of HDF5's stack dumps */
    summary *s = pnp_calloc((size_t)n, sizeof *s);
    int rc = 0, done = 0;
    for (; done < n && !rc; ++done) {
        reader r = {paths[done], ""};
        if (read_result(&r, &s[done])) {
            fprintf(stderr, "pnp: %s\n", r.err);
            rc = 2;
        }
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);

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
