/* main.c - the `pnp` program: subcommand dispatch (the commands are cmd_*.c,
 * their shared options cli.c).
 * Exit codes: 0 success, 1 runtime failure (pnp_fatal), 2 bad usage or input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/cli.h"
#include "pnp/error.h"
#include "pnp/h5io.h"
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
    "                     noisy measurements; or an observed row's files, checked)\n"
    "                     and write it to an HDF5 bundle\n"
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
    "  export RESULT OUT  write a result's reconstruction as PNG (16-bit), TIFF,\n"
    "                     FITS or NumPy .npy\n"
    "  version            print the version, git commit, backends and library versions\n"
    "  help [COMMAND]     this text, or a command's options\n"
    "\n"
    "Without CONFIG a command uses the embedded default (configs/default.yml).\n"
    "Run `pnp COMMAND --help` for a command's options.\n";

/* What `pnp version` prints, said once for `pnp help` and `pnp help version`. */
#define VERSION_HELP "Print the version, the git commit, the built-in backends and the library versions."

static int cmd_version(int argc, char **argv)
{
    if (argc > 1) {
        const int help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");
        fputs("usage: pnp version\n\n" VERSION_HELP "\n", help ? stdout : stderr);
        return help ? 0 : 2;
    }
    char libs[1024];
    pnp_library_versions(libs, sizeof libs);
    printf("pnp %s (commit %s)\n", PNP_VERSION, PNP_GIT_COMMIT);
#ifdef PNP_WITH_CUDA
    printf("backends: cpu cuda\n");
#else
    printf("backends: cpu\n");
#endif
    printf("libraries: %s\n", libs);
    return 0;
}

int main(int argc, char **argv)
{
    pnp_h5_init(); /* HDF5 prints nothing itself: pnp reports its first error */
    pnp_error_remove_tempfile_on_signals();
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
    if (!strcmp(cmd, "export")) return pnp_cmd_export(argc, argv);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version(argc, argv);
    fprintf(stderr, "pnp: unknown command '%s'\n\n%s", cmd, MAIN_USAGE);
    return 2;
}
