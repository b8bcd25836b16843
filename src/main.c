/* main.c - the `pnp` program: subcommand dispatch and shared option parsing.
 * Exit codes: 0 success, 1 runtime failure (pnp_fatal), 2 bad usage or input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/cli.h"
#include "pnp/error.h"
#include "pnp/version.h"

static const char *MAIN_USAGE =
    "usage: pnp <command> [options]\n"
    "\n"
    "Plug-and-Play image reconstruction (deblurring) over MPI ranks, CPU or GPU.\n"
    "\n"
    "commands:\n"
    "  run [CONFIG]       run the PnP reconstruction of the grid's rows (under\n"
    "                     mpirun/srun for several ranks); one HDF5 result per row\n"
    "  dataset [CONFIG]   build a grid row's problem (ground truth, blur kernels,\n"
    "                     noisy measurements) and write it to HDF5\n"
    "  config [CONFIG]    read a benchopt-style YAML grid, check it, print its rows\n"
    "  grid [CONFIG]      one job per grid row: write sbatch scripts (--dry-run),\n"
    "                     submit them to Slurm (--submit), or run the rows here\n"
    "                     one after another with mpirun (--local)\n"
    "  weights VERB ...   inspect, convert (.pth -> HDF5) or generate denoiser weights\n"
    "  denoise IN.png...  denoise PNG images (DRUNet, DnCNN, FFDNet), optionally\n"
    "                     adding noise first and reporting PSNR\n"
    "  inspect FILE...    summarize result files: status, PSNR, time per iteration\n"
    "                     (gradient / denoiser / communication), peak memory per rank\n"
    "  report FILE...     figures and an HTML page comparing result files (--out DIR)\n"
    "  version            print version, git commit and library versions\n"
    "  help [COMMAND]     this text, or a command's options\n"
    "\n"
    "Without CONFIG a command uses the embedded default (configs/default.yml).\n"
    "Run `pnp COMMAND --help` for a command's options.\n";

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "pnp: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    exit(2);
}

static int parse_int(const char *usage, const char *opt, const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > 1000000) usage_error(usage, "%s: expected a non-negative integer", opt);
    return (int)v;
}

int pnp_cli_parse(int argc, char **argv, const char *usage, pnp_cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->row = -1;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const int has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 1;
        } else if (!strcmp(a, "--set")) {
            if (!has_next) usage_error(usage, "%s needs KEY=VALUE", a);
            if (o->n_overrides == 64) usage_error(usage, "%s: too many overrides", a);
            o->overrides[o->n_overrides++] = argv[++i];
        } else if (!strcmp(a, "--row")) {
            if (!has_next) usage_error(usage, "%s needs a row number", a);
            o->row = parse_int(usage, a, argv[++i]);
        } else if (!strcmp(a, "--out")) {
            if (!has_next) usage_error(usage, "%s needs a path", a);
            o->out = argv[++i];
        } else if (!strcmp(a, "--threads")) {
            if (!has_next) usage_error(usage, "%s needs a count", a);
            o->threads = parse_int(usage, a, argv[++i]);
        } else if (a[0] == '-' && a[1] != '\0') {
            usage_error(usage, "unknown option '%s'", a);
        } else if (!o->config) {
            o->config = a;
        } else {
            usage_error(usage, "unexpected argument '%s'", a);
        }
    }
    return 0;
}

void pnp_cli_load_config(const pnp_cli_opts *o, pnp_config *cfg)
{
    char err[2048];
    int rc = o->config ? pnp_config_load_file(o->config, o->overrides, o->n_overrides, cfg, err, sizeof err)
                       : pnp_config_load_string("<embedded default>", pnp_default_config_yaml, o->overrides,
                                                o->n_overrides, cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "pnp: %s\n", err);
        exit(2);
    }
    if (o->row >= cfg->n_rows) {
        fprintf(stderr, "pnp: --row %d: %s has %d row%s (0..%d)\n", o->row, cfg->path, cfg->n_rows,
                cfg->n_rows == 1 ? "" : "s", cfg->n_rows - 1);
        exit(2);
    }
}

void pnp_cli_config_stem(const char *config, char *out, size_t len)
{
    if (!config) {
        snprintf(out, len, "default");
        return;
    }
    const char *base = strrchr(config, '/');
    base = base ? base + 1 : config;
    snprintf(out, len, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

void pnp_cli_result_path(const char *config, const char *out, int row, char *buf, size_t len)
{
    char stem[256];
    pnp_cli_config_stem(config, stem, sizeof stem);
    snprintf(buf, len, "%s/%s_row%d.h5", out ? out : "results", stem, row);
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1) {
        const int help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");
        fputs("usage: pnp version\n\nPrint the version, the git commit and the built-in backends.\n",
              help ? stdout : stderr);
        return help ? 0 : 2;
    }
    printf("pnp %s (commit %s)\n", PNP_VERSION, PNP_GIT_COMMIT);
#ifdef PNP_WITH_CUDA
    printf("backends: cpu cuda\n");
#else
    printf("backends: cpu\n");
#endif
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(MAIN_USAGE, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        fputs(MAIN_USAGE, stdout);
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            fputs(MAIN_USAGE, stdout);
            return 0;
        }
        static char help_flag[] = "--help";
        cmd = argv[2];
        argv[1] = argv[2];
        argv[2] = help_flag;
        argv++;
        argc = 2;
    } else {
        argv++;
        argc--;
    }
    if (!strcmp(cmd, "run")) return pnp_cmd_run(argc, argv);
    if (!strcmp(cmd, "dataset")) return pnp_cmd_dataset(argc, argv);
    if (!strcmp(cmd, "config")) return pnp_cmd_config(argc, argv);
    if (!strcmp(cmd, "grid")) return pnp_cmd_grid(argc, argv);
    if (!strcmp(cmd, "weights")) return pnp_cmd_weights(argc, argv);
    if (!strcmp(cmd, "denoise")) return pnp_cmd_denoise(argc, argv);
    if (!strcmp(cmd, "inspect")) return pnp_cmd_inspect(argc, argv);
    if (!strcmp(cmd, "report")) return pnp_cmd_report(argc, argv);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version(argc, argv);
    fprintf(stderr, "pnp: unknown command '%s'\n\n%s", cmd, MAIN_USAGE);
    return 2;
}
