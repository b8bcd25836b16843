/* cmd_report.c - `pnp report`: figures and an HTML page for result files.
 *
 * The report itself is the Python script scripts/pnp-report (h5py, numpy,
 * matplotlib from Debian); this command finds it beside the program
 * (pnp_cli_find_data: installed under PREFIX/share/pnp, or in the source tree
 * the program was built in; or $PNP_REPORT_SCRIPT) and replaces itself with
 * `python3 SCRIPT ARGS...` ($PNP_PYTHON, else /usr/bin/python3, else python3
 * on PATH). PNP_BIN is set to this executable so the script's table comes
 * from this very program's `pnp inspect --json`. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnp/cli.h"
#include "pnp/error.h"

static const char *USAGE =
    "usage: pnp report FILE.h5 [FILE.h5 ...] [--out DIR]\n"
    "\n"
    "Write figures and an HTML page comparing `pnp run` results into DIR\n"
    "(default report/): psnr_vs_iteration.png, psnr_vs_time.png (the files with a\n"
    "ground truth or reference), residual_vs_iteration.png (data residual and\n"
    "relative change), time_split.png (gradient / denoiser / communication time\n"
    "per iteration, slowest rank, stacked), memory_per_rank.png (peak memory of\n"
    "each rank), one preview_<name>.png per file (ground truth when there is one |\n"
    "measurement | reconstruction)\n"
    "and index.html showing them with the table of `pnp inspect`. Configurations\n"
    "are labelled by grid row, ranks and file name.\n"
    "\n"
    "Runs scripts/pnp-report (Python 3 with h5py, numpy and matplotlib: Debian's\n"
    "python3-h5py, python3-numpy, python3-matplotlib) installed with this program\n"
    "or in the source tree it was built in, or at $PNP_REPORT_SCRIPT; the interpreter is $PNP_PYTHON,\n"
    "else /usr/bin/python3, else python3 on PATH. Files that are not pnp results\n"
    "stop it with status 2, as `pnp inspect`.\n"
    "\n"
    "options:\n"
    "  --out DIR    folder for the report (created if needed; default report/)\n"
    "  -h, --help   this text\n";

int pnp_cmd_report(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "pnp: report: no result file given\n\n%s", USAGE);
        return 2;
    }
    for (int i = 1; i < argc; ++i)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(USAGE, stdout);
            return 0;
        }

    char exe[PATH_MAX], script[PATH_MAX + 64];
    const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        fprintf(stderr, "pnp: report: cannot find this program's path (/proc/self/exe): %s\n", strerror(errno));
        return 1;
    }
    exe[len] = '\0';
    const char *env_script = getenv("PNP_REPORT_SCRIPT");
    if (env_script && env_script[0]) snprintf(script, sizeof script, "%s", env_script);
    else pnp_cli_find_data("scripts/pnp-report", script, sizeof script);
    if (access(script, R_OK) != 0) {
        fprintf(stderr,
                "pnp: report: cannot read the report script %s (%s); it is installed with the program (make "
                "install: PREFIX/share/pnp/scripts/) or lives in the source tree beside build/; or set "
                "PNP_REPORT_SCRIPT\n",
                script, strerror(errno));
        return 1;
    }

    const char *python = getenv("PNP_PYTHON");
    if (!python || !python[0]) python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    setenv("PNP_BIN", exe, 1);
    char **args = pnp_calloc((size_t)argc + 2, sizeof *args);
    args[0] = (char *)python;
    args[1] = script;
    for (int i = 1; i < argc; ++i) args[i + 1] = argv[i];
    fflush(stdout);
    execvp(python, args);
    fprintf(stderr, "pnp: report: cannot run %s: %s (install python3 with python3-h5py, python3-numpy and "
                    "python3-matplotlib, or set PNP_PYTHON)\n", python, strerror(errno));
    free(args);
    return 1;
}
