/* config.h - benchopt-style YAML configurations (read with libyaml).
 *
 * A file names datasets and solvers with parameter blocks; each block is the
 * cartesian product over its keys, a key "a, b, c" takes a list of zipped rows,
 * a scalar is a one-element list. Plain scalars resolve YAML-1.1 style (bool,
 * int, float, null); quoted scalars stay strings. Unknown keys are errors.
 * The grid (datasets x solvers x parameter products) becomes pnp_row records
 * with every parameter resolved; each error names file, line and column. */
#ifndef PNP_CONFIG_H
#define PNP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int line, col; /* 1-based; line 0: not from the file (default or --set) */
} pnp_mark;

/* The value of a key given as `auto` (patch_size, comm_overlap): pnp decides. */
#define PNP_AUTO (-1)

/* One fully resolved run: a dataset, a solver, and all their parameters. */
typedef struct {
    int index; /* position in the grid, from 0 */

    char dataset[64];   /* highres_color_image | observed */

    /* dataset: highres_color_image */
    int image_size;     /* longer side of the ground truth */
    int num_operators;  /* blurs; angles linspace(0, 180, n) */
    double noise_level; /* std of the Gaussian noise before clamping (observed: the data's, if known; 0: not given) */
    long long seed;     /* noise seed */
    char image[1024];   /* PNG path; empty: synthetic scene */
    int num_workers;    /* accepted for benchopt compatibility; unused */

    /* dataset: observed (and noise_level above) */
    char measurements[1024]; /* a glob (sorted), or one file holding all */
    char psfs[1024];         /* the same for the PSFs: same count, same order */
    char reference[1024];    /* optional ground truth of the measured region */
    char boundary[16];       /* pad | circular */

    /* solver: PnP | DPIR (include/pnp/solver.h); NaN is a null number */
    char solver[64];
    char denoiser[256];    /* drunet | drunet:W1,W2,W3,W4 | dncnn | ffdnet | none */
    char weights[1024];    /* weights file; empty: generated */
    double denoiser_sigma; /* PnP: sigma given to the denoiser */
    double step_size;      /* PnP: the step; NaN (null): step_size_scale / L */
    double step_size_scale; /* PnP: 0.99 */
    char init_method[32];  /* PnP: zeros | pseudo_inverse | wiener */
    double wiener_eps;     /* PnP, init wiener: Tikhonov eps; NaN: from noise_level */
    double denoiser_lambda_relaxation; /* PnP: x <- (1-a) z + a D(z), a = gamma l / (1 + gamma l); NaN: off */
    double sigma_start;    /* DPIR: the first denoiser level (49/255) */
    double dpir_lambda;    /* DPIR: key 'lambda' (0.23), rho_k = lambda noise^2 / sigma_k^2 */
    int max_iter;          /* alias n_iter (PnP 10, DPIR 8) */
    double tolerance;      /* stop when ||x_k - x_{k-1}|| / ||x_k|| < tolerance (0: never) */
    int save_every;        /* write x every K iterations into the result (/iterates/K); 0: never */
    char backend[16];      /* auto | cpu | cuda */
    bool force_cpu;        /* the benchmark's torchrun rows: backend cpu */
    char precision[16];    /* fp32 | bf16 */

    /* execution */
    char slurm_gres[64]; /* gpu:N */
    int gres_gpus;       /* N parsed from slurm_gres, 0 if none */
    int ntasks_per_node; /* ranks per node (from torchrun_nproc_per_node on workstation rows) */
    int nodes;
    int torchrun_nproc_per_node; /* the benchmark's workstation rows: N ranks on one node (1: no effect) */
    int omp_num_threads;         /* OMP_NUM_THREADS: CPU threads per rank (0: the node's cores / ranks) */
    int mkl_num_threads;         /* MKL_NUM_THREADS: accepted for the benchmark's files; pnp has no MKL */
    char name_prefix[64];        /* accepted for the benchmark's files; recorded in the result only */
    bool distribute_physics, distribute_denoiser;
    int patch_size;      /* a multiple of 8, or PNP_AUTO (include/pnp/tiling.h pnp_tiling_auto_patch) */
    int overlap, max_batch_size;
    int comm_overlap;    /* 1, 0, or PNP_AUTO: overlap the denoiser's all-gathers with its batches (solver.h) */
    char slurm_time[32], slurm_partition[64], slurm_account[64];
    int slurm_cpus_per_task;
    char slurm_extra[512];

    pnp_mark marks[64]; /* where each parameter was set (index = table position) */
    bool given[64];     /* set by the file or --set, not a default (index = table position) */
    pnp_mark dataset_mark; /* where the row's dataset is named (line 0: the embedded default) */
} pnp_row;

typedef struct {
    char *path;        /* file name, or "<embedded default>" */
    char *text;        /* the YAML verbatim */
    int n_rows;
    pnp_row *rows;
} pnp_config;

/* Load, expand, apply "key=value" overrides to every row, validate.
 * Returns 0, or -1 with "FILE:LINE:COL: message" in err. */
int pnp_config_load_file(const char *path, const char *const *overrides, int n_overrides,
                         pnp_config *cfg, char *err, size_t errlen);
int pnp_config_load_string(const char *name, const char *text, const char *const *overrides,
                           int n_overrides, pnp_config *cfg, char *err, size_t errlen);
void pnp_config_free(pnp_config *cfg);
/* The text of a configuration file (malloc'd, NUL-terminated) as the loader
 * reads it: `pnp run` reads it on rank 0 alone and broadcasts it, so a file
 * edited while a job starts cannot give its ranks different grids. 0, or -1
 * with err (no such file, a folder, unreadable, NUL bytes). */
int pnp_config_read_text(const char *path, char **text, char *err, size_t errlen);

/* What a row needs of the world outside the configuration, checked before any
 * work or submission (`pnp config`, `pnp grid`, `pnp run`, `pnp dataset` call
 * it on the rows they use): every file the row names exists, is a regular file
 * and is readable (image, weights; pnp_cli_check_row adds an observed row's
 * measurements, PSFs and reference). The loader has already checked everything
 * else in the row, the denoiser name included. 0, or -1 with
 * "FILE:LINE:COL: row K: KEY: PATH: what" in err. */
int pnp_config_check_row(const pnp_config *cfg, const pnp_row *row, char *err, size_t errlen);

/* A denoiser name: "drunet" (widths 64,128,256,512, 4 blocks per level),
 * "drunet:W0,W1,W2,W3" or "drunet:W0,W1,W2,W3:NB" (NB 1..16), "dncnn", "ffdnet",
 * their grey versions "drunet_gray[:W0,W1,W2,W3[:NB]]", "dncnn_gray",
 * "ffdnet_gray", or "none". The one grammar of these names: the loader refuses a
 * row with any other (nets/denoiser.c builds from it). arch receives "drunet",
 * "dncnn", "ffdnet" (with "_gray" appended for a grey version) or "none";
 * widths and blocks DRUNet's (the defaults otherwise).
 * 0, or -1 with the reason in err. */
int pnp_denoiser_spec_parse(const char *spec, char *arch, size_t archlen, int widths[4], int *blocks, char *err,
                            size_t errlen);

/* slurm_extra as sbatch options. Words are separated by spaces or ';'; a word
 * that does not start with '-' is the value of the option before it ("--qos
 * high", "-C a100"). Each option, with its value, becomes one "#SBATCH OPTION"
 * line of `pnp grid`'s scripts. Refused: quotes and backslashes, and the options
 * pnp grid writes from other keys or itself (--gres, --nodes, --ntasks(-per-node),
 * --time, --partition, --account, --cpus-per-task, --job-name, --output,
 * --signal). Returns the number of options stored in opts (at most max), or -1
 * with the reason in err. The config loader runs it on every row. */
#define PNP_SLURM_EXTRA_MAX 32
#define PNP_SLURM_OPT_LEN 512
int pnp_slurm_extra_options(const char *extra, char (*opts)[PNP_SLURM_OPT_LEN], int max, char *err, size_t errlen);

/* A benchopt parallel configuration (`benchopt run --parallel-config FILE`),
 * the cluster settings that `pnp grid --parallel-config FILE` applies to the
 * sbatch script of every row:
 *   backend: submitit                 the only backend pnp grid implements (Slurm)
 *   slurm_time: 30                    minutes (or "H:MM:SS"): --time
 *   slurm_partition, slurm_account, slurm_cpus_per_task, slurm_mem
 *   slurm_additional_parameters:      a mapping: each key becomes --KEY=VALUE (true: --KEY)
 *   slurm_setup: [lines]              shell lines run before srun (module load ...)
 *   slurm_stderr_to_stdout: bool      false: stderr to its own log (--error)
 * Unknown keys are errors naming file, line and column. Row keys (slurm_time,
 * slurm_partition, ...) win over the parallel config's; an additional
 * parameter that names one of those (cpus-per-task, time, ...) fills that key. */
typedef struct {
    char path[1024];
    char slurm_time[32], slurm_partition[64], slurm_account[64], slurm_mem[32];
    int slurm_cpus_per_task;
    int n_sbatch, n_setup;
    char sbatch[PNP_SLURM_EXTRA_MAX][PNP_SLURM_OPT_LEN];  /* "--qos=qos_gpu-dev", ... */
    char setup[PNP_SLURM_EXTRA_MAX][PNP_SLURM_OPT_LEN];   /* "module purge", ... */
    bool stderr_to_stdout;
} pnp_parallel_config;

/* 0, or -1 with "FILE:LINE:COL: message" in err. */
int pnp_parallel_config_load(const char *path, pnp_parallel_config *pc, char *err, size_t errlen);

/* "key=value key=value ..." for every parameter of the row (those of its
 * dataset and every solver parameter), in table order. */
void pnp_row_format(const pnp_row *row, char *buf, size_t len);

/* Visit every parameter: name and its value as text (for HDF5 attributes). */
typedef void (*pnp_row_visit_fn)(void *user, const char *name, const char *type, const char *value);
void pnp_row_visit(const pnp_row *row, pnp_row_visit_fn fn, void *user);

#endif
