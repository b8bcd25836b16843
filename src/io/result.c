/* result.c - the result file of a `pnp run` row: its one writer and its one
 * reader (layout in include/pnp/result.h). The writer goes through h5io's
 * checked helpers (HDF5's failures are fatal there); the reader goes through
 * h5io's readers, which return messages instead, so a bad file is a message
 * naming the file and the item, never a crash. */
#include "pnp/result.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pnp/error.h"
#include "pnp/h5io.h"

const char *const pnp_result_per_rank_names[PNP_RESULT_PER_RANK] = {
    "gradient_time", "denoise_time", "comm_time", "peak_memory", "wait_time", "bytes_sent", "bytes_received"};
const char *const pnp_result_image_names[PNP_RESULT_IMAGES] = {"ground_truth", "measurement", "reconstruction",
                                                                 "reconstruction_extended"};
static const char *const PER_RANK_UNITS[PNP_RESULT_PER_RANK] = {"s", "s", "s", "bytes", "s", "bytes", "bytes"};
enum { OWNED = 4 };
static const char *const OWNED_NAMES[OWNED] = {"operators_owned", "windows_owned", "window_first", "pixels_owned"};

/* ------------------------------------------------------------- writing */

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

/* int64 [n] from whole numbers held as doubles. */
static void write_i64(hid_t loc, const char *name, long long n, const double *v)
{
    long long *iv = pnp_malloc(sizeof(long long) * (size_t)(n > 0 ? n : 1));
    for (long long q = 0; q < n; ++q) iv[q] = (long long)v[q];
    hsize_t dims[1] = {(hsize_t)n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    H5_CHECK(s);
    hid_t d = H5Dcreate2(loc, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(d);
    H5_CHECK(H5Dwrite(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, iv));
    H5_CHECK(H5Dclose(d));
    H5_CHECK(H5Sclose(s));
    free(iv);
}

/* A [C,h,w] image with layout="CHW"; returns the open dataset (for more attributes). */
static hid_t write_image(hid_t loc, const char *name, int c, int h, int w, const float *data)
{
    hsize_t dims[3] = {(hsize_t)c, (hsize_t)h, (hsize_t)w};
    hid_t d = pnp_h5_create_f32(loc, name, 3, dims);
    H5_CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    pnp_h5_attr_str(d, "layout", "CHW");
    return d;
}

int pnp_result_write(const char *path, const pnp_config *cfg, const pnp_row *row, const pnp_result *r,
                     const pnp_result_images *img, char *err, size_t errlen)
{
    const long long it = r->traced, ranks = r->ranks;
    const double final_psnr = r->psnr && it > 0 ? r->psnr[it - 1] : r->initial_psnr;
    const double final_ssim = r->ssim && it > 0 ? r->ssim[it - 1] : r->initial_ssim;
    const double final_residual = it > 0 ? r->residual[it - 1] : r->initial_residual;
    const int C = img->channels, H = img->height, W = img->width;
    pnp_h5 h5;
    if (pnp_h5_create(&h5, path, err, errlen)) return -1;
    hid_t f = h5.file;
    pnp_h5_provenance(f, cfg, row, r->backend, (int)ranks, r->hosts);
    pnp_h5_attr_str(f, "content", "reconstruction");
    pnp_h5_attr_str(f, "status", r->status);
    pnp_h5_attr_str(f, "stop_reason", r->stop_reason);
    if (r->failure) pnp_h5_attr_str(f, "failure", r->failure);
    pnp_h5_attr_int(f, "iterations", it);
    if (r->solver) pnp_h5_attr_str(f, "solver", r->solver);
    if (!isnan(r->step_size)) pnp_h5_attr_double(f, "step_size", r->step_size);
    if (!isnan(r->lipschitz)) {
        pnp_h5_attr_double(f, "lipschitz", r->lipschitz);
        pnp_h5_attr_int(f, "lipschitz_iterations", r->lipschitz_iterations);
    }
    pnp_h5_attr_int(f, "init_iterations", r->init_iterations);
    if (r->psnr) {
        pnp_h5_attr_double(f, "final_psnr", final_psnr);
        pnp_h5_attr_double(f, "initial_psnr", r->initial_psnr);
        if (!isnan(r->measurement_psnr)) pnp_h5_attr_double(f, "measurement_psnr", r->measurement_psnr);
    }
    if (r->ssim) {
        pnp_h5_attr_double(f, "final_ssim", final_ssim);
        pnp_h5_attr_double(f, "initial_ssim", r->initial_ssim);
    }
    pnp_h5_attr_double(f, "final_data_residual", final_residual);
    pnp_h5_attr_double(f, "initial_data_residual", r->initial_residual);
    pnp_h5_attr_double(f, "total_time", r->total_time);
    pnp_h5_attr_double(f, "setup_time", r->setup_time);
    pnp_h5_attr_int(f, "channels", C);
    pnp_h5_attr_str(f, "boundary", r->boundary);
    pnp_h5_attr_str(f, "communication", r->communication);
    pnp_h5_attr_str(f, "denoiser", r->denoiser);
    pnp_h5_attr_str(f, "source", r->source);
    pnp_h5_attr_int(f, "windows", r->windows);
    pnp_h5_attr_int(f, "window_height", r->window_height);
    pnp_h5_attr_int(f, "window_width", r->window_width);
    pnp_h5_attr_int(f, "batch_size", r->batch_size);
    if (r->slab_combine) {
        pnp_h5_attr_int(f, "patch_size", r->patch_size);
        pnp_h5_attr_str(f, "slab_combine", r->slab_combine);
        pnp_h5_attr_int(f, "comm_overlap", r->comm_overlap);
    }
    pnp_h5_attr_int(f, "unfused_convolutions", r->unfused_convolutions);

    hid_t d = write_image(f, pnp_result_image_names[PNP_RESULT_RECONSTRUCTION], C, H, W, img->reconstruction);
    if (r->psnr) pnp_h5_attr_double(d, "psnr", final_psnr);
    if (r->ssim) pnp_h5_attr_double(d, "ssim", final_ssim);
    H5_CHECK(H5Dclose(d));
    if (r->n_iterates > 0) {
        hid_t ig = pnp_h5_group(f, "iterates");
        for (int q = 0; q < r->n_iterates; ++q) {
            char name[32];
            snprintf(name, sizeof name, "%d", r->iterate_index[q]);
            d = write_image(ig, name, C, H, W, r->iterates[q]);
            pnp_h5_attr_int(d, "iteration", r->iterate_index[q]);
            H5_CHECK(H5Dclose(d));
        }
        H5_CHECK(H5Gclose(ig));
    }
    if (img->extended) {
        d = write_image(f, pnp_result_image_names[PNP_RESULT_RECONSTRUCTION_EXTENDED], C, img->ext_height,
                        img->ext_width, img->extended);
        pnp_h5_attr_int(d, "region_row", img->region_row);
        pnp_h5_attr_int(d, "region_col", img->region_col);
        H5_CHECK(H5Dclose(d));
    }
    if (img->ground_truth)
        H5_CHECK(H5Dclose(write_image(f, pnp_result_image_names[PNP_RESULT_GROUND_TRUTH], C, H, W, img->ground_truth)));
    d = write_image(f, pnp_result_image_names[PNP_RESULT_MEASUREMENT], C, H, W, img->measurement);
    pnp_h5_attr_int(d, "operator", 0);
    if (!isnan(img->measurement_angle)) pnp_h5_attr_double(d, "angle_deg", img->measurement_angle);
    H5_CHECK(H5Dclose(d));
    if (img->kernel_channels > 1) {
        hsize_t kd[4] = {(hsize_t)img->n_kernels, (hsize_t)img->kernel_channels, (hsize_t)img->kernel_height,
                         (hsize_t)img->kernel_width};
        pnp_h5_write_f32(f, "kernels", 4, kd, img->kernels);
    } else {
        hsize_t kd[3] = {(hsize_t)img->n_kernels, (hsize_t)img->kernel_height, (hsize_t)img->kernel_width};
        pnp_h5_write_f32(f, "kernels", 3, kd, img->kernels);
    }

    hid_t g = pnp_h5_group(f, "traces");
    hsize_t d1[1] = {(hsize_t)it}, d2[2] = {(hsize_t)it, (hsize_t)ranks}, dr[1] = {(hsize_t)ranks};
    if (r->psnr) write_f64(g, "psnr", 1, d1, r->psnr, "dB");
    if (r->ssim) write_f64(g, "ssim", 1, d1, r->ssim, "1 (SSIM, data range 1)");
    if (r->sigma) write_f64(g, "denoiser_sigma", 1, d1, r->sigma, "1 (image range)");
    if (r->inner_iters) write_f64(g, "data_step_iterations", 1, d1, r->inner_iters, "conjugate-gradient iterations");
    write_f64(g, "data_residual", 1, d1, r->residual, "1/2 sum_i ||A_i x - y_i||^2");
    write_f64(g, "relative_change", 1, d1, r->change, "||x_k - x_{k-1}|| / ||x_k||");
    write_f64(g, "elapsed", 1, d1, r->elapsed, "s");
    for (int k = 0; k < PNP_RESULT_PER_RANK; ++k)
        if (r->per_rank[k]) write_f64(g, pnp_result_per_rank_names[k], 2, d2, r->per_rank[k], PER_RANK_UNITS[k]);
    write_f64(g, "planned_memory", 1, dr, r->planned_memory, "bytes");
    const double *owned[OWNED] = {r->operators_owned, r->windows_owned, r->window_first, r->pixels_owned};
    for (int k = 0; k < OWNED; ++k)
        if (owned[k]) write_i64(g, OWNED_NAMES[k], ranks, owned[k]);
    H5_CHECK(H5Gclose(g));
    return pnp_h5_commit(&h5, err, errlen);
}

/* ------------------------------------------------------------- reading */

typedef struct {
    char *out;
    size_t len;
    int count;
} names_ctx;

static herr_t add_name(hid_t group, const char *name, const H5L_info_t *info, void *user)
{
    (void)group, (void)info;
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
 * when absent and not required), or -1 with err (when absent, naming what
 * /traces holds). */
static int read_trace(hid_t traces, const char *name, int ndims, hsize_t *dims, int required, double **v, char *err,
                      size_t errlen)
{
    const int rc = pnp_h5_read_f64_any(traces, name, ndims, dims, v, err, errlen);
    if (rc > 0 && required) {
        char have[1024];
        list_names(traces, ".", have, sizeof have);
        const size_t used = strlen(err);
        snprintf(err + used, errlen - used, " (/traces holds: %s)", have);
    }
    return rc < 0 || (rc > 0 && required) ? -1 : 0;
}

static int read_attrs(hid_t f, const char *path, pnp_result *r, char *err, size_t errlen)
{
    /* the first two strings, the first three integers and the first number are required */
    const char *str_keys[] = {"status", "backend", "grid_row", "config_file", "communication", "denoiser", "hosts",
                              "slurm_job_id", "source", "stop_reason", "boundary", "solver", "failure",
                              "slab_combine"};
    char **str_dst[] = {&r->status, &r->backend, &r->grid_row, &r->config_file, &r->communication, &r->denoiser,
                        &r->hosts, &r->slurm_job_id, &r->source, &r->stop_reason, &r->boundary, &r->solver,
                        &r->failure, &r->slab_combine};
    const char *int_keys[] = {"grid_row_index", "ranks", "iterations", "windows", "window_height", "window_width",
                              "batch_size", "channels", "unfused_convolutions", "lipschitz_iterations",
                              "init_iterations", "patch_size", "comm_overlap"};
    long long *int_dst[] = {&r->grid_row_index, &r->ranks, &r->iterations, &r->windows, &r->window_height,
                            &r->window_width, &r->batch_size, &r->channels, &r->unfused_convolutions,
                            &r->lipschitz_iterations, &r->init_iterations, &r->patch_size, &r->comm_overlap};
    const char *num_keys[] = {"total_time", "final_psnr", "initial_psnr", "setup_time", "final_data_residual",
                              "initial_data_residual", "measurement_psnr", "final_ssim", "initial_ssim", "step_size",
                              "lipschitz"};
    double *num_dst[] = {&r->total_time, &r->final_psnr, &r->initial_psnr, &r->setup_time, &r->final_residual,
                         &r->initial_residual, &r->measurement_psnr, &r->final_ssim, &r->initial_ssim, &r->step_size,
                         &r->lipschitz};
    int rc;
    for (size_t k = 0; k < sizeof str_keys / sizeof *str_keys; ++k)
        if ((rc = pnp_h5_read_attr_str(f, str_keys[k], str_dst[k], err, errlen)) < 0 || (rc && k < 2)) return -1;
    r->channels = 3; /* files of earlier versions were colour */
    for (size_t k = 0; k < sizeof int_keys / sizeof *int_keys; ++k)
        if ((rc = pnp_h5_read_attr_int(f, int_keys[k], int_dst[k], err, errlen)) < 0 || (rc && k < 3)) return -1;
    int absent = 0; /* of final_psnr (bit 0) and final_data_residual (bit 1) */
    for (size_t k = 0; k < sizeof num_keys / sizeof *num_keys; ++k) {
        *num_dst[k] = NAN;
        if ((rc = pnp_h5_read_attr_double(f, num_keys[k], num_dst[k], err, errlen)) < 0 || (rc && k < 1)) return -1;
        if (rc && k == 1) absent |= 1;
        if (rc && k == 4) absent |= 2;
    }
    if (absent == 3) {
        snprintf(err, errlen, "%s: root attribute 'final_psnr' or 'final_data_residual': not found", path);
        return -1;
    }
    if (r->ranks < 1) {
        snprintf(err, errlen, "%s: root attribute 'ranks' is %lld, expected at least 1", path, r->ranks);
        return -1;
    }
    return 0;
}

static int read_traces(hid_t f, const char *path, pnp_result *r, char *err, size_t errlen)
{
    hid_t g = H5Gopen2(f, "traces", H5P_DEFAULT);
    if (g < 0) {
        snprintf(err, errlen, "%s: not a pnp result: /traces is not a group", path);
        return -1;
    }
    hsize_t dims[2] = {0, 0};
    int rc = read_trace(g, "elapsed", 1, dims, 1, &r->elapsed, err, errlen);
    const long long n = rc ? 0 : (long long)dims[0], ranks = r->ranks;
    /* per iteration: psnr (with a reference) and data_residual (newer files): one of them at least */
    const char *iter_names[6] = {"psnr", "data_residual", "relative_change", "ssim", "denoiser_sigma",
                                 "data_step_iterations"};
    double **iter_dst[6] = {&r->psnr, &r->residual, &r->change, &r->ssim, &r->sigma, &r->inner_iters};
    for (int k = 0; k < 6 && !rc; ++k) {
        if (read_trace(g, iter_names[k], 1, dims, 0, iter_dst[k], err, errlen)) rc = -1;
        else if (*iter_dst[k] && (long long)dims[0] != n) {
            snprintf(err, errlen, "%s: /traces/%s has %llu values, /traces/elapsed %lld", path, iter_names[k],
                     (unsigned long long)dims[0], n);
            rc = -1;
        }
    }
    if (!rc && !r->psnr && !r->residual) rc = read_trace(g, "psnr", 1, dims, 1, &r->psnr, err, errlen);
    for (int k = 0; k < PNP_RESULT_PER_RANK && !rc; ++k) {
        const char *name = pnp_result_per_rank_names[k];
        if (!(rc = read_trace(g, name, 2, dims, k < PNP_RESULT_PER_RANK_REQUIRED, &r->per_rank[k], err, errlen)) &&
            r->per_rank[k] && ((long long)dims[0] != n || (long long)dims[1] != ranks)) {
            snprintf(err, errlen, "%s: /traces/%s has shape [%llu, %llu], expected [iterations, ranks] = [%lld, %lld]",
                     path, name, (unsigned long long)dims[0], (unsigned long long)dims[1], n, ranks);
            rc = -1;
        }
    }
    const char *per_rank_names[1 + OWNED] = {"planned_memory", OWNED_NAMES[0], OWNED_NAMES[1], OWNED_NAMES[2],
                                             OWNED_NAMES[3]};
    double **per_rank_dst[1 + OWNED] = {&r->planned_memory, &r->operators_owned, &r->windows_owned, &r->window_first,
                                        &r->pixels_owned};
    for (int k = 0; k < 1 + OWNED && !rc; ++k) {
        if (read_trace(g, per_rank_names[k], 1, dims, 0, per_rank_dst[k], err, errlen)) rc = -1;
        else if (*per_rank_dst[k] && (long long)dims[0] != ranks) {
            snprintf(err, errlen, "%s: /traces/%s has %llu values, expected one per rank (%lld)", path,
                     per_rank_names[k], (unsigned long long)dims[0], ranks);
            rc = -1;
        }
    }
    if (!rc) r->traced = n;
    H5Gclose(g);
    return rc;
}

/* The image NAME, [channels, h, w], into a malloc'd array. */
static int read_image(hid_t f, const char *path, const char *name, long long channels, int *h, int *w, float **out,
                      char *err, size_t errlen)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[3] = {0, 0, 0};
    const int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (nd == 3) H5Sget_simple_extent_dims(s, dims, NULL);
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    if (d < 0) {
        snprintf(err, errlen, "%s: /%s: not found", path, name);
        return -1;
    }
    if (nd != 3 || (long long)dims[0] != channels || dims[1] < 1 || dims[2] < 1 || dims[1] > (1u << 30) ||
        dims[2] > (1u << 30)) {
        snprintf(err, errlen, "%s: /%s: expected float32 [%lld,H,W] (root attribute channels)", path, name, channels);
        return -1;
    }
    *h = (int)dims[1], *w = (int)dims[2];
    const size_t numel = (size_t)channels * dims[1] * dims[2];
    *out = pnp_malloc(sizeof(float) * numel);
    return pnp_h5_read_f32(f, name, *out, numel, err, errlen) ? -1 : 0;
}

static herr_t add_iterate(hid_t group, const char *name, const H5L_info_t *info, void *user)
{
    (void)group, (void)info;
    pnp_result *r = user;
    char *end = NULL;
    const long k = strtol(name, &end, 10);
    if (*end || k < 1 || k > 1000000000L) return 0; /* not one of ours */
    r->iterate_index = realloc(r->iterate_index, sizeof(int) * (size_t)(r->n_iterates + 1));
    if (!r->iterate_index) pnp_fatal("out of memory");
    int q = r->n_iterates++;
    for (; q > 0 && r->iterate_index[q - 1] > k; --q) r->iterate_index[q] = r->iterate_index[q - 1];
    r->iterate_index[q] = (int)k;
    return 0;
}

/* Which /iterates/K there are (and with `images` each of them, the
 * reconstruction's shape). */
static int read_iterates(hid_t f, const char *path, pnp_result *r, int images, char *err, size_t errlen)
{
    if (H5Lexists(f, "iterates", H5P_DEFAULT) <= 0) return 0;
    hid_t g = H5Gopen2(f, "iterates", H5P_DEFAULT);
    if (g < 0) {
        snprintf(err, errlen, "%s: /iterates is not a group", path);
        return -1;
    }
    hsize_t idx = 0;
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, add_iterate, r);
    int rc = 0;
    if (images && r->n_iterates > 0) {
        r->iterates = pnp_calloc((size_t)r->n_iterates, sizeof(float *));
        for (int q = 0; q < r->n_iterates && !rc; ++q) {
            char name[48];
            int h = 0, w = 0;
            snprintf(name, sizeof name, "iterates/%d", r->iterate_index[q]);
            rc = read_image(f, path, name, r->channels, &h, &w, &r->iterates[q], err, errlen);
            if (!rc && (h != r->height || w != r->width)) {
                snprintf(err, errlen, "%s: /%s is %dx%d, /reconstruction %dx%d", path, name, h, w, r->height, r->width);
                rc = -1;
            }
        }
    }
    H5Gclose(g);
    return rc;
}

static int read_images(hid_t f, const char *path, pnp_result *r, char *err, size_t errlen)
{
    if (read_image(f, path, pnp_result_image_names[PNP_RESULT_RECONSTRUCTION], r->channels, &r->height, &r->width,
                   &r->reconstruction, err, errlen))
        return -1;
    if (!r->has_image[PNP_RESULT_RECONSTRUCTION_EXTENDED]) return 0;
    const char *name = pnp_result_image_names[PNP_RESULT_RECONSTRUCTION_EXTENDED];
    if (read_image(f, path, name, r->channels, &r->ext_height, &r->ext_width, &r->extended, err, errlen)) return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    long long row = -1, col = -1;
    int rc = pnp_h5_read_attr_int(d, "region_row", &row, err, errlen) ||
             pnp_h5_read_attr_int(d, "region_col", &col, err, errlen);
    H5Dclose(d);
    if (rc || row < 0 || col < 0 || row + r->height > r->ext_height || col + r->width > r->ext_width) {
        snprintf(err, errlen, "%s: /%s: attributes region_row, region_col missing or outside the image", path, name);
        return -1;
    }
    r->region_row = (int)row, r->region_col = (int)col;
    return 0;
}

int pnp_result_read(const char *path, int what, pnp_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->initial_psnr = r->final_psnr = r->total_time = r->setup_time = r->initial_residual = r->final_residual = NAN;
    r->initial_ssim = r->final_ssim = r->step_size = r->lipschitz = NAN;
    r->measurement_psnr = NAN;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, errno == ENOENT ? "no such file" : strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a folder, not a result file", path);
        return -1;
    }
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages instead of HDF5's stack dumps */
    int rc = 0;
    const htri_t is = H5Fis_hdf5(path);
    hid_t f = is > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (is <= 0) {
        snprintf(err, errlen, "%s: %s", path, is == 0 ? "not an HDF5 file" : "cannot be read");
        rc = -1;
    } else if (f < 0) {
        snprintf(err, errlen, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
        rc = -1;
    } else if (H5Lexists(f, "traces", H5P_DEFAULT) <= 0) {
        char have[1024];
        list_names(f, "/", have, sizeof have);
        snprintf(err, errlen, "%s: not a pnp result: no /traces group (the file holds: %s)", path, have);
        rc = -1;
    }
    if (!rc) rc = read_attrs(f, path, r, err, errlen);
    if (!rc) rc = read_traces(f, path, r, err, errlen);
    for (int k = 0; k < PNP_RESULT_IMAGES && !rc; ++k)
        r->has_image[k] = H5Lexists(f, pnp_result_image_names[k], H5P_DEFAULT) > 0;
    if (!rc && (what & (PNP_RESULT_READ_IMAGE | PNP_RESULT_READ_ITERATES))) rc = read_images(f, path, r, err, errlen);
    if (!rc) rc = read_iterates(f, path, r, what & PNP_RESULT_READ_ITERATES, err, errlen);
    if (f >= 0) H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc;
}

void pnp_result_free(pnp_result *r)
{
    char *strings[] = {r->status, r->stop_reason, r->backend, r->communication, r->denoiser, r->source, r->hosts,
                       r->boundary, r->grid_row, r->config_file, r->slurm_job_id, r->solver, r->failure,
                       r->slab_combine};
    for (size_t k = 0; k < sizeof strings / sizeof *strings; ++k) free(strings[k]);
    free(r->psnr), free(r->ssim), free(r->residual), free(r->change), free(r->elapsed), free(r->planned_memory);
    free(r->sigma), free(r->inner_iters);
    for (int q = 0; r->iterates && q < r->n_iterates; ++q) free(r->iterates[q]);
    free(r->iterates), free(r->iterate_index);
    free(r->operators_owned), free(r->windows_owned), free(r->window_first), free(r->pixels_owned);
    for (int k = 0; k < PNP_RESULT_PER_RANK; ++k) free(r->per_rank[k]);
    free(r->reconstruction), free(r->extended);
    memset(r, 0, sizeof *r);
}

int pnp_result_read_iterate(const char *path, int iteration, int *c, int *h, int *w, float **data, char *err,
                            size_t errlen)
{
    pnp_result r;
    *data = NULL;
    if (pnp_result_read(path, PNP_RESULT_READ_SUMMARY, &r, err, errlen)) {
        pnp_result_free(&r);
        return -1;
    }
    int found = 0;
    for (int q = 0; q < r.n_iterates; ++q) found |= r.iterate_index[q] == iteration;
    int rc = 0;
    if (!found) {
        char have[512] = "";
        for (int q = 0; q < r.n_iterates && strlen(have) + 16 < sizeof have; ++q)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%d", q ? ", " : "", r.iterate_index[q]);
        snprintf(err, errlen, "%s: no /iterates/%d (%s%s)", path, iteration,
                 r.n_iterates ? "the file holds iterations " : "the run saved none: give it save_every",
                 have);
        rc = -1;
    } else {
        H5E_auto2_t old_fn;
        void *old_data;
        H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        char name[48];
        snprintf(name, sizeof name, "iterates/%d", iteration);
        if (f < 0) {
            snprintf(err, errlen, "%s: cannot open as HDF5", path);
            rc = -1;
        } else {
            rc = read_image(f, path, name, r.channels, h, w, data, err, errlen);
            H5Fclose(f);
        }
        H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
        *c = (int)r.channels;
    }
    pnp_result_free(&r);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}
