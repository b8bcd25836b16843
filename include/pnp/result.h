/* result.h - the result file of one `pnp run` row (DIR/<config name>_row<K>.h5):
 * its layout is written down here once, written by pnp_result_write and read
 * back by pnp_result_read, for `pnp inspect`, for `pnp run --resume` and for any
 * later reader (scripts/pnp-report reads it through `pnp inspect --json`).
 *
 * Layout (rank 0 writes it under a temporary name renamed when complete, see
 * include/pnp/h5io.h, so a crash never leaves a half file):
 *   root attributes   provenance (pnp_h5_provenance: pnp_version, git_commit,
 *                     created_utc, hosts, slurm_job_id, ranks, backend,
 *                     gpu_names, library_versions, config_file, grid_row_index,
 *                     grid_row) and
 *                     content "reconstruction"
 *                     status "finished" | "interrupted" (a checkpoint) | "resumed"
 *                            | "failed" (the iterate turned non-finite: NaN)
 *                     failure (only with status "failed": why, which iteration)
 *                     stop_reason "max_iter" | "tolerance" (the relative change
 *                       fell below the row's tolerance) | "signal" | "test" | "failed"
 *                     solver "PnP" | "DPIR" (include/pnp/solver.h)
 *                     step_size (PnP: the gamma used), lipschitz and
 *                       lipschitz_iterations (with step_size null: L and the power
 *                       iterations it took, 0 when exact), init_iterations (init
 *                       wiener by conjugate gradients; 0: exact)
 *                     iterations, total_time, setup_time (s),
 *                     final_data_residual, initial_data_residual (f(x) after the
 *                       last iteration and of x_0: 1/2 sum_i ||A_i x - y_i||^2),
 *                     final_psnr, initial_psnr (dB; only with a ground truth or
 *                       reference: PSNR of the measured region),
 *                     final_ssim, initial_ssim (likewise: SSIM as deepinv.metric.SSIM),
 *                     measurement_psnr (dB, with a reference: the best PSNR of
 *                       the measurements, what the reconstruction has to beat),
 *                     channels (1 or 3), boundary ("circular" | "pad"),
 *                     communication ("mpi" | "nccl"), denoiser (one line),
 *                     source (where the data came from),
 *                     windows, window_height, window_width, batch_size (the
 *                     tiling; windows 0: the denoiser saw the whole image),
 *                     patch_size (the tiling's patch, patch_size auto resolved),
 *                     slab_combine ("allgather", or "allreduce" under
 *                       PNP_SLAB_COMBINE; absent without tiles), comm_overlap
 *                       (1: an all-gather per batch overlapping the next one),
 *                     unfused_convolutions (rank 0's layers that ran unfused
 *                     because cuDNN refused the fused call; 0 on the CPU)
 *   /reconstruction   float32 [C,H,W]  x after `iterations` iterations, the
 *                                      measured region; attrs layout="CHW", psnr
 *                                      (with a reference)
 *   /reconstruction_extended  float32 [C,H+kh-1,W+kw-1]  boundary pad only: the
 *                                      whole estimate, of which /reconstruction is
 *                                      rows region_row.., columns region_col..
 *                                      (attributes; layout="CHW")
 *   /ground_truth     float32 [C,H,W]  attr layout="CHW" (when there is one)
 *   /measurement      float32 [C,H,W]  y_0; attrs layout="CHW", operator=0,
 *                                      angle_deg (synthetic blurs)
 *   /kernels          float32 [n,kh,kw], or [n,C,kh,kw] with one PSF per channel
 *   /traces/data_residual, /traces/relative_change   float64 [iterations]  f(x)
 *                                      after each iteration; ||x_k - x_{k-1}|| / ||x_k||
 *   /traces/psnr, /traces/ssim   float64 [iterations]  dB; SSIM (with a ground truth or reference)
 *   /traces/denoiser_sigma  float64 [iterations]  the sigma the denoiser got (DPIR: sigma_k)
 *   /traces/data_step_iterations  float64 [iterations]  DPIR: conjugate-gradient
 *                                      iterations of the data step (0: exact)
 *   /traces/elapsed   float64 [iterations]  s since the first iteration began
 *   /traces/gradient_time, denoise_time, wait_time, comm_time
 *                                               float64 [iterations, ranks]  s: the
 *                                      data step, the denoiser, and the time in
 *                                      collectives split into waiting for later
 *                                      ranks and transfer (include/pnp/comm.h,
 *                                      solver.h); they add up to what
 *                                      /traces/elapsed advances by (files before
 *                                      wait_time: comm_time holds both)
 *   /traces/bytes_sent, bytes_received          float64 [iterations, ranks]  bytes
 *                                      (include/pnp/comm.h counts them)
 *   /traces/peak_memory                         float64 [iterations, ranks]  bytes
 *   /traces/planned_memory                      float64 [ranks]  bytes
 *   /traces/operators_owned, windows_owned, window_first, pixels_owned   int64 [ranks]
 *                                      (pixels_owned: the image pixels, per channel,
 *                                      whose denoised value the rank's windows give)
 *   /config/yaml (the configuration verbatim), /config/row (one attribute per
 *   resolved parameter)
 *   /iterates/K       float32 [C,H,W]  with save_every: x after iteration K (the
 *                                      measured region; K = save_every, 2 save_every, ...),
 *                                      attrs layout="CHW", iteration=K
 * Every trace dataset has a "units" attribute. Images are chunked and
 * deflate-compressed. A checkpoint is simply a result with status
 * "interrupted": x (the extended one for pad) and the traces so far are the
 * state of the iteration. Files of earlier versions (always [3,H,W] with a
 * ground truth, no data_residual) read back with the new fields absent. */
#ifndef PNP_RESULT_H
#define PNP_RESULT_H

#include <stddef.h>

#include "pnp/config.h"

/* The per-rank traces, [traced, ranks] each, in this order; the first
 * PNP_RESULT_PER_RANK_REQUIRED are in every file, the others may be absent
 * (files of earlier versions). */
enum { PNP_RESULT_GRADIENT_TIME, PNP_RESULT_DENOISE_TIME, PNP_RESULT_COMM_TIME, PNP_RESULT_PEAK_MEMORY,
       PNP_RESULT_WAIT_TIME, PNP_RESULT_BYTES_SENT, PNP_RESULT_BYTES_RECEIVED, PNP_RESULT_PER_RANK };
enum { PNP_RESULT_PER_RANK_REQUIRED = PNP_RESULT_WAIT_TIME };
extern const char *const pnp_result_per_rank_names[PNP_RESULT_PER_RANK]; /* "gradient_time", ... */

/* The image datasets, in the order a viewer shows them. */
enum { PNP_RESULT_GROUND_TRUTH, PNP_RESULT_MEASUREMENT, PNP_RESULT_RECONSTRUCTION, PNP_RESULT_RECONSTRUCTION_EXTENDED,
       PNP_RESULT_IMAGES };
extern const char *const pnp_result_image_names[PNP_RESULT_IMAGES]; /* "ground_truth", "measurement", ... */

/* A run as its result file holds it, every rank's records side by side. Read
 * back, absent optional strings are NULL, numbers NaN, arrays NULL. */
typedef struct {
    /* root attributes */
    char *status, *stop_reason, *backend, *communication, *denoiser, *source, *hosts, *boundary, *solver;
    char *failure;                            /* why, with status "failed"; else NULL */
    char *grid_row, *config_file, *slurm_job_id; /* read only (pnp_h5_provenance writes them from the row) */
    long long grid_row_index, ranks, iterations, channels;
    double initial_psnr, final_psnr, initial_ssim, final_ssim, initial_residual, final_residual, total_time, setup_time;
    double measurement_psnr; /* the best measurement's PSNR against the reference (NaN: none) */
    double step_size, lipschitz;              /* NaN: not recorded */
    long long lipschitz_iterations, init_iterations;
    long long windows, window_height, window_width, batch_size, patch_size, comm_overlap;
    char *slab_combine;                       /* "allgather" | "allreduce", or NULL (no tiles) */
    long long unfused_convolutions; /* rank 0's convolutions that ran unfused (cuDNN refused the fused call) */
    /* /traces */
    long long traced;                         /* rows of the per-iteration traces */
    double *psnr, *ssim, *residual, *change, *elapsed; /* [traced] (psnr, ssim NULL without a reference) */
    double *sigma, *inner_iters;              /* [traced] denoiser_sigma, data_step_iterations (or NULL) */
    double *per_rank[PNP_RESULT_PER_RANK];    /* [traced, ranks] (the optional ones NULL when absent) */
    double *planned_memory;                   /* [ranks] */
    double *operators_owned, *windows_owned, *window_first, *pixels_owned; /* [ranks] (int64 in the file) */
    int has_image[PNP_RESULT_IMAGES];        /* read: which image datasets the file holds */
    /* images, read only when asked (PNP_RESULT_READ_IMAGE) */
    int height, width;                        /* /reconstruction [channels, height, width] */
    float *reconstruction;
    int ext_height, ext_width, region_row, region_col; /* /reconstruction_extended, when the file has it */
    float *extended;                          /* [channels, ext_height, ext_width] or NULL */
    /* /iterates: written when n_iterates > 0; read only with PNP_RESULT_READ_ITERATES */
    int n_iterates;
    int *iterate_index;                       /* [n_iterates] iterations, increasing */
    float **iterates;                         /* [n_iterates] each [channels, height, width] */
} pnp_result;

/* The images a result holds (host). */
typedef struct {
    int channels, height, width;
    const float *reconstruction;              /* [C,H,W] the measured region */
    const float *ground_truth;                /* [C,H,W] or NULL */
    const float *measurement;                 /* [C,H,W] y_0 */
    double measurement_angle;                 /* operator 0's angle, degrees (NaN: not a synthetic blur) */
    int n_kernels, kernel_channels, kernel_height, kernel_width;
    const float *kernels;                     /* [n, kernel_channels, kh, kw] */
    const float *extended;                    /* [C, ext_height, ext_width] (boundary pad) or NULL */
    int ext_height, ext_width, region_row, region_col;
} pnp_result_images;

/* Write r (status, stop_reason, iterations = r->traced, every trace above;
 * psnr NULL: no reference) and the images to PATH with cfg/row's provenance.
 * The final PSNR and residual are the last traced ones (or the initial ones
 * without iterations). 0, or -1 with the message in err. */
int pnp_result_write(const char *path, const pnp_config *cfg, const pnp_row *row, const pnp_result *r,
                     const pnp_result_images *img, char *err, size_t errlen);

enum { PNP_RESULT_READ_SUMMARY = 0, PNP_RESULT_READ_IMAGE = 1, PNP_RESULT_READ_ITERATES = 2 };
/* Read PATH's attributes and traces (and with PNP_RESULT_READ_IMAGE the
 * reconstruction, and the extended one when present; with
 * PNP_RESULT_READ_ITERATES every /iterates/K; without it n_iterates and
 * iterate_index still say which there are). Required: status,
 * backend, grid_row_index, ranks, iterations, total_time, /traces/elapsed, the
 * first four per-rank traces and /traces/psnr or /traces/data_residual (with final_psnr
 * or final_data_residual), all of consistent shapes; the rest is optional. 0, or -1 with "PATH: what" in err
 * (no such file, a folder, not HDF5, not a pnp result, "/traces/psnr: not
 * found (/traces holds: ...)", a wrong shape or type). Never aborts; HDF5's
 * error printing is off meanwhile. Free with pnp_result_free (also after -1). */
int pnp_result_read(const char *path, int what, pnp_result *r, char *err, size_t errlen);
void pnp_result_free(pnp_result *r);

/* /iterates/K of PATH into *data (malloc'd [*c, *h, *w]). 0, or -1 with
 * "PATH: ..." in err (no such iterate: the message lists those the file holds).
 * Never aborts. */
int pnp_result_read_iterate(const char *path, int iteration, int *c, int *h, int *w, float **data, char *err,
                            size_t errlen);

#endif
