/* cli.h - the subcommands of the `pnp` program and their shared options. */
#ifndef PNP_CLI_H
#define PNP_CLI_H

#include <stddef.h>

#include "pnp/config.h"

/* The embedded default (configs/default.yml compiled in by the Makefile; the
 * program links it, the library does not). */
extern const char pnp_default_config_yaml[];

/* Options every config-reading subcommand accepts. */
typedef struct {
    const char *config;      /* NULL: the embedded default */
    char config_found[4096]; /* a bare NAME[.yml] not in this folder, found among the data's configs/ */
    const char *overrides[64];
    int n_overrides;
    int row;                 /* --row K, -1 if not given */
    const char *out;         /* --out */
    int threads;             /* --threads (0: not given; see pnp_cli_threads) */
} pnp_cli_opts;

/* Parse argv[1..]; returns 0, 1 when --help was asked (usage printed), or exits 2 on a bad option. */
int pnp_cli_parse(int argc, char **argv, const char *usage, pnp_cli_opts *o);
/* The data files beside the program: REL (e.g. "scripts/pnp-report",
 * "configs/highres_imaging.yml", "weights/x.h5") under PREFIX/share/pnp when
 * the program is installed as PREFIX/bin/pnp (make install), else under the
 * source tree the program was built in (build/pnp -> ./REL). 0 and the path
 * in out, or -1 with out the path where it was expected (for messages). */
int pnp_cli_find_data(const char *rel, char *out, size_t len);

/* What a row needs of the files it names, before any work or submission:
 * pnp_config_check_row (image, weights) and pnp_problem_check_files (an
 * `observed` row's files matched, headers read, shapes agreeing, PSFs read
 * and checked; no measurement pixel is read). 0, or -1 with
 * "CONFIG[:LINE:COL]: row K: ..." in err. */
int pnp_cli_check_row(const pnp_config *cfg, const pnp_row *row, char *err, size_t errlen);
/* Load the config named in o (or the default) with o's overrides and check the
 * rows o selects (pnp_cli_check_row); exits 2 with the message on error
 * (commands without MPI only: `pnp run` agrees on it). */
void pnp_cli_load_config(const pnp_cli_opts *o, pnp_config *cfg);
/* CPU threads for --threads `asked` (0: not given): refused (-1, err) past the
 * CPUs this process may use (include/pnp/host.h: affinity mask, cgroup quota);
 * by default those CPUs divided among the `sharers` processes that run on the
 * same ones (at least 1). */
int pnp_cli_threads(int asked, int sharers, char *err, size_t errlen);

/* The name results are filed under: "configs/highres_imaging.yml" -> "highres_imaging",
 * no CONFIG (the embedded default) -> "default"; `pnp run` writes DIR/<stem>_row<K>.h5. */
void pnp_cli_config_stem(const char *config, char *out, size_t len);
/* Where `pnp run` writes row K's result: OUT/<stem>_row<K>.h5 (OUT NULL: results). */
void pnp_cli_result_path(const char *config, const char *out, int row, char *buf, size_t len);

int pnp_cmd_run(int argc, char **argv);
int pnp_cmd_dataset(int argc, char **argv);
int pnp_cmd_config(int argc, char **argv);
int pnp_cmd_grid(int argc, char **argv);
int pnp_cmd_weights(int argc, char **argv);
int pnp_cmd_denoise(int argc, char **argv);
int pnp_cmd_inspect(int argc, char **argv);
int pnp_cmd_report(int argc, char **argv);
int pnp_cmd_export(int argc, char **argv);

#endif
