/* cmd_grid.c - `pnp grid`: one job per row of a grid, on Slurm or on this machine.
 *
 * --dry-run (the default) writes one sbatch script per row,
 * DIR/slurm/<name>_row<K>.sbatch, and prints them. --submit writes them, asks
 * Slurm whether it would take every one (`sbatch --test-only`) and only then
 * submits them (`sbatch --parsable`), printing each job id with where its result
 * (DIR/<name>_row<K>.h5) and log (DIR/slurm/<name>_row<K>-<job id>.out) land.
 * --local runs the rows one after another with `mpirun -n N` here.
 *
 * A script asks for the row's resources (--nodes, --ntasks-per-node, --gres,
 * and slurm_time, slurm_partition, slurm_account, slurm_cpus_per_task, one
 * #SBATCH line per slurm_extra option), names the job and its log, asks for USR1
 * 120 s before the time limit (the shell forwards it through srun to every
 * rank), and runs `srun PNP run CONFIG --row K --out DIR` with absolute paths and
 * the --set overrides shell-quoted.
 *
 * Refusals: a bad grid, or a row naming a file that is not there (image,
 * weights), is refused by the config loader before anything is written (exit
 * 2, file:line:col and row). When Slurm refuses a row (a gres no node has, an
 * unknown partition...), no further row is submitted: the message names the
 * row and quotes Slurm, the rows submitted before are listed, exit 1.
 *
 * The run's own status: a launcher (mpirun on TERM or INT, srun killed by a
 * signal) may report another exit status than the ranks'. `pnp run` writes its
 * own to $PNP_STATUS_FILE; --local and the scripts set it, report that status
 * with what it means, and exit with it (README "Exit status"). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pnp/cli.h"
#include "pnp/h5io.h"
#include "pnp/error.h"
#include "pnp/version.h"

static const char *USAGE =
    "usage: pnp grid [CONFIG] [--dry-run | --submit | --local] [--out DIR] [--row K]\n"
    "                [--set KEY=VALUE ...] [--threads N]\n"
    "\n"
    "One job per grid row (every row, or --row K), each running\n"
    "`pnp run CONFIG --row K --out DIR` on the row's ranks: slurm_ntasks_per_node\n"
    "per node x slurm_nodes, one rank per GPU.\n"
    "\n"
    "modes:\n"
    "  --dry-run         write DIR/slurm/NAME_row<K>.sbatch for each row and print\n"
    "                    them (the default); NAME is CONFIG's file name without .yml\n"
    "  --submit          write them, check that Slurm would take every one (sbatch\n"
    "                    --test-only), then submit them (sbatch --parsable); print the\n"
    "                    job ids and where each result (DIR/NAME_row<K>.h5) and log\n"
    "                    (DIR/slurm/NAME_row<K>-JOBID.out) will land. When Slurm\n"
    "                    refuses a row, no further row is submitted (exit 1)\n"
    "  --local           run the rows here, one after another, with mpirun -n N\n"
    "                    (N = slurm_ntasks_per_node x slurm_nodes; adds\n"
    "                    --allow-run-as-root as root, --oversubscribe past the cores)\n"
    "\n"
    "options:\n"
    "  --out DIR         results folder (default results/)\n"
    "  --row K           only row K\n"
    "  --set KEY=VALUE   override a parameter in every row; passed on to each job\n"
    "  --threads N       passed on to pnp run (CPU threads per rank)\n"
    "  -h, --help        this text\n"
    "\n"
    "A script asks for --nodes, --ntasks-per-node and --gres (when the row has\n"
    "slurm_gres) from the row; --time, --partition, --account, --cpus-per-task from\n"
    "slurm_time, slurm_partition, slurm_account, slurm_cpus_per_task when set; one\n"
    "#SBATCH line per option of slurm_extra (options separated by spaces or ';',\n"
    "e.g. slurm_extra: \"--qos=high --constraint=a100\"); --signal=B:USR1@120 (the\n"
    "script forwards USR1 to the ranks before the time limit); --job-name and\n"
    "--output. The ranks start with srun: the cluster's MPI plugin must suit Open\n"
    "MPI (MpiDefault=pmix, or `export SLURM_MPI_TYPE=pmix` before submitting).\n";

enum { SIGNAL_LEAD_S = 120 }; /* USR1 this long before the time limit */

typedef enum { MODE_DRY_RUN, MODE_SUBMIT, MODE_LOCAL } grid_mode;

/* ------------------------------------------------------------ text */

typedef struct {
    char *s;
    size_t n, cap;
} text;

static void text_add(text *t, const char *fmt, ...) PNP_PRINTF(2, 3);
static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->n + (size_t)need + 1 > t->cap) {
        t->cap = 2 * (t->n + (size_t)need + 1) + 256;
        t->s = realloc(t->s, t->cap);
        if (!t->s) pnp_fatal("out of memory");
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)need;
}

/* One comment line "# ...": control characters (a newline in a file name or a
 * --set value) become '?', so nothing in a comment can turn into a command. */
static void text_comment(text *t, const char *fmt, ...) PNP_PRINTF(2, 3);
static void text_comment(text *t, const char *fmt, ...)
{
    char line[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *p = line; *p; ++p)
        if (iscntrl((unsigned char)*p)) *p = '?';
    text_add(t, "# %s\n", line);
}

/* One word for bash: as it is when made of safe characters, else single-quoted. */
static void text_word(text *t, const char *w)
{
    bool safe = *w != '\0';
    for (const char *p = w; *p; ++p)
        if (!isalnum((unsigned char)*p) && !strchr("_-./:=,+@%", *p)) safe = false;
    if (safe) {
        text_add(t, "%s", w);
        return;
    }
    text_add(t, "'");
    for (const char *p = w; *p; ++p) {
        if (*p == '\'') text_add(t, "'\\''");
        else text_add(t, "%c", *p);
    }
    text_add(t, "'");
}

/* ------------------------------------------------------------ argv lists */

typedef struct {
    int n;
    char *v[200];
} argvec;

static void arg_push(argvec *a, const char *fmt, ...) PNP_PRINTF(2, 3);
static void arg_push(argvec *a, const char *fmt, ...)
{
    if (a->n + 1 >= (int)(sizeof a->v / sizeof a->v[0])) pnp_fatal("internal: too many arguments");
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    a->v[a->n++] = pnp_strdup(buf);
    a->v[a->n] = NULL;
}

static void args_free(argvec *a)
{
    for (int i = 0; i < a->n; ++i) free(a->v[i]);
    a->n = 0;
}

/* The words of a, shell-quoted; with wrap, long lines continue ("\\") before an option. */
static void text_args(text *t, const argvec *a, bool wrap)
{
    size_t line_start = t->n;
    for (int i = 0; i < a->n; ++i) {
        if (i && wrap && a->v[i][0] == '-' && t->n - line_start > 60) {
            text_add(t, " \\\n   ");
            line_start = t->n - 3;
        }
        if (i) text_add(t, " ");
        text_word(t, a->v[i]);
    }
}

/* ------------------------------------------------------------ processes */

/* Run argv (looked up on PATH) and wait. With out/err non-NULL, its stdout and
 * stderr are captured there (truncated to the buffers); else it shares ours.
 * child (may be NULL) holds the child's pid while it runs. Returns the exit
 * status, 128 + the signal when killed, 127 when it could not start. */
static int spawn(char *const argv[], char *out, size_t outlen, char *err, size_t errlen,
                 volatile sig_atomic_t *child)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    const bool capture = out != NULL;
    if (capture && (pipe(po) || pipe(pe))) pnp_fatal("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) pnp_fatal("fork: %s", strerror(errno));
    if (child) *child = pid;
    if (pid == 0) {
        if (capture) {
            dup2(po[1], 1), dup2(pe[1], 2);
            close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (capture) {
        close(po[1]), close(pe[1]);
        struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        char *buf[2] = {out, err};
        size_t len[2] = {outlen, errlen}, used[2] = {0, 0};
        int open_fds = 2;
        while (open_fds > 0) {
            if (poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                pnp_fatal("poll: %s", strerror(errno));
            }
            for (int k = 0; k < 2; ++k) {
                if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                char chunk[4096];
                const ssize_t got = read(fds[k].fd, chunk, sizeof chunk);
                if (got <= 0) {
                    close(fds[k].fd);
                    fds[k].fd = -1;
                    --open_fds;
                    continue;
                }
                const size_t keep = used[k] + (size_t)got < len[k] ? (size_t)got : len[k] - 1 - used[k];
                memcpy(buf[k] + used[k], chunk, keep);
                used[k] += keep;
            }
        }
        out[used[0]] = '\0';
        err[used[1]] = '\0';
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) pnp_fatal("waitpid: %s", strerror(errno));
    if (child) *child = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Physical cores (what mpirun counts as slots): distinct sibling sets in sysfs. */
static int physical_cores(void)
{
    const long n = sysconf(_SC_NPROCESSORS_CONF);
    char seen[256][64];
    int count = 0;
    for (long c = 0; c < n && count < 256; ++c) {
        char path[128], sib[64] = "";
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/thread_siblings_list", c);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(sib, sizeof sib, f)) sib[0] = '\0';
        fclose(f);
        bool dup = false;
        for (int k = 0; k < count && !dup; ++k) dup = !strcmp(seen[k], sib);
        if (!dup) snprintf(seen[count++], sizeof seen[0], "%s", sib);
    }
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return count > 0 ? count : (online > 0 ? (int)online : 1);
}

/* ------------------------------------------------------------ paths */

/* DIR made absolute and normalised ("." and ".." removed) without touching the disk. */
static void absolute_path(const char *cwd, const char *path, char *out, size_t len)
{
    char joined[8192];
    snprintf(joined, sizeof joined, "%s%s%s", path[0] == '/' ? "" : cwd, path[0] == '/' ? "" : "/", path);
    char *parts[1024];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(joined, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (!strcmp(tok, ".")) continue;
        if (!strcmp(tok, "..")) {
            if (n > 0) --n;
            continue;
        }
        if (n < 1024) parts[n++] = tok;
    }
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used + 1 < len; ++i) used += (size_t)snprintf(out + used, len - used, "/%s", parts[i]);
    if (n == 0) snprintf(out, len, "/");
}

/* mkdir -p */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char buf[4400];
    if (snprintf(buf, sizeof buf, "%s/", dir) >= (int)sizeof buf) {
        snprintf(err, errlen, "folder name too long");
        return -1;
    }
    return pnp_make_parent_dirs(buf, err, errlen);
}

/* ------------------------------------------------------------ the jobs */

typedef struct {
    grid_mode mode;
    pnp_cli_opts o;
    pnp_config cfg;
    char exe[4096];        /* this program, absolute */
    char config_abs[4096]; /* CONFIG absolute; "" for the embedded default */
    char cwd[4096];
    char out[4096];        /* --out as given (default results) */
    char out_abs[4096];
    char stem[256];        /* job names: <stem>_row<K> */
    pnp_parallel_config pc; /* --parallel-config FILE: cluster settings for every script */
    bool have_pc;
    int node_cpus;         /* CPUs of a compute node (sinfo, else this machine): --cpus-per-task's default */
    char node_cpus_from[128];
} grid;

typedef struct {
    const pnp_row *row;
    char name[300];        /* <stem>_row<K> made safe for Slurm: job, script and log names */
    char script_path[4600], result[4600], log[4600];
    text script;
    char job_id[64];
} grid_job;

/* "gpu:2, 2 tasks per node x 1 node" */
static void row_resources(const pnp_row *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s, %d task%s per node x %d node%s", r->slurm_gres[0] ? r->slurm_gres : "no gres",
             r->ntasks_per_node, r->ntasks_per_node == 1 ? "" : "s", r->nodes, r->nodes == 1 ? "" : "s");
}

/* `pnp run` of one row: absolute paths for a script, as given for --local. */
static void run_args(const grid *g, const pnp_row *r, bool absolute, argvec *a)
{
    arg_push(a, "%s", g->exe);
    arg_push(a, "run");
    if (g->o.config) arg_push(a, "%s", absolute ? g->config_abs : g->o.config);
    arg_push(a, "--row");
    arg_push(a, "%d", r->index);
    arg_push(a, "--out");
    arg_push(a, "%s", absolute ? g->out_abs : g->out);
    for (int i = 0; i < g->o.n_overrides; ++i) {
        arg_push(a, "--set");
        arg_push(a, "%s", g->o.overrides[i]);
    }
    if (g->o.threads > 0) {
        arg_push(a, "--threads");
        arg_push(a, "%d", g->o.threads);
    }
}

/* Comment lines "#   key=value key=value ..." of about 80 columns. */
static void text_row_comment(text *t, const pnp_row *r)
{
    char all[8192], line[8192] = "";
    pnp_row_format(r, all, sizeof all);
    for (char *save = NULL, *kv = strtok_r(all, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        if (line[0] && strlen(line) + 1 + strlen(kv) > 74) {
            text_comment(t, "  %s", line);
            line[0] = '\0';
        }
        if (line[0]) strncat(line, " ", sizeof line - strlen(line) - 1);
        strncat(line, kv, sizeof line - strlen(line) - 1);
    }
    if (line[0]) text_comment(t, "  %s", line);
}

/* What an exit status of `pnp run` means (README "Exit status"). */
static const char *run_status_meaning(int status)
{
    switch (status) {
    case 0: return "done";
    case 2: return "bad input, refused at setup";
    case 3: return "interrupted by a signal: past setup, the result file is its checkpoint (--resume FILE)";
    default: return "a runtime failure or a diverged iterate";
    }
}

/* "#SBATCH OPTION=LOG" with LOG's ".out" ending replaced by ending, and every
 * '%' but that of "%j" (the job id) doubled for sbatch. */
static void log_option(text *t, const char *option, const char *log, const char *ending)
{
    const size_t stem = strlen(log) - strlen(".out");
    text_add(t, "#SBATCH %s=", option);
    for (size_t k = 0; k < stem; ++k) text_add(t, log[k] == '%' && log[k + 1] != 'j' ? "%%%%" : "%c", log[k]);
    text_add(t, "%s\n", ending);
}

static void make_script(const grid *g, grid_job *j)
{
    const pnp_row *r = j->row;
    text *t = &j->script;
    char opts[PNP_SLURM_EXTRA_MAX][PNP_SLURM_OPT_LEN], why[1024];
    const int n_extra = pnp_slurm_extra_options(r->slurm_extra, opts, PNP_SLURM_EXTRA_MAX, why, sizeof why);
    if (n_extra < 0) pnp_fatal("internal: slurm_extra passed the loader: %s", why);

    text_add(t, "#!/bin/bash\n");
    text_comment(t, "%s.sbatch - written by `pnp grid` (pnp %s, commit %s)", j->name, PNP_VERSION, PNP_GIT_COMMIT);
    text_comment(t, "for row %d of %s, which reads as:", r->index, g->o.config ? g->config_abs : "the embedded default");
    text_row_comment(t, r);
    text_comment(t, "(the job reads the configuration again when it starts)");
    text_comment(t, "Submit: sbatch %s", j->script_path);
    text_comment(t, "Result: %s", j->result);
    text_comment(t, "Log:    %s (%%j: the job id)", j->log);
    text_add(t, "#SBATCH --job-name=%s\n", j->name);
    text_add(t, "#SBATCH --nodes=%d\n", r->nodes);
    text_add(t, "#SBATCH --ntasks-per-node=%d\n", r->ntasks_per_node);
    if (r->slurm_gres[0]) text_add(t, "#SBATCH --gres=%s\n", r->slurm_gres);
    /* the row's keys, else the parallel config's */
    const pnp_parallel_config *pc = g->have_pc ? &g->pc : NULL;
    const char *time = r->slurm_time[0] || !pc ? r->slurm_time : pc->slurm_time;
    const char *partition = r->slurm_partition[0] || !pc ? r->slurm_partition : pc->slurm_partition;
    const char *account = r->slurm_account[0] || !pc ? r->slurm_account : pc->slurm_account;
    if (time[0]) text_add(t, "#SBATCH --time=%s\n", time);
    if (partition[0]) text_add(t, "#SBATCH --partition=%s\n", partition);
    if (account[0]) text_add(t, "#SBATCH --account=%s\n", account);
    if (pc && pc->slurm_mem[0]) text_add(t, "#SBATCH --mem=%s\n", pc->slurm_mem);
    int cpus = r->slurm_cpus_per_task > 0 ? r->slurm_cpus_per_task : pc ? pc->slurm_cpus_per_task : 0;
    if (cpus <= 0) { /* each rank's share of a node */
        cpus = g->node_cpus / r->ntasks_per_node > 0 ? g->node_cpus / r->ntasks_per_node : 1;
        text_comment(t, "--cpus-per-task: %d CPUs per node (%s) / %d tasks per node", g->node_cpus, g->node_cpus_from,
                     r->ntasks_per_node);
    }
    text_add(t, "#SBATCH --cpus-per-task=%d\n", cpus);
    for (int i = 0; i < n_extra; ++i) text_add(t, "#SBATCH %s\n", opts[i]);
    for (int i = 0; pc && i < pc->n_sbatch; ++i) text_add(t, "#SBATCH %s\n", pc->sbatch[i]);
    text_add(t, "#SBATCH --signal=B:USR1@%d\n", SIGNAL_LEAD_S);
    log_option(t, "--output", j->log, ".out");
    if (pc && !pc->stderr_to_stdout) log_option(t, "--error", j->log, ".err"); /* stderr in a log of its own */
    text_add(t, "\n");

    text_add(t, "# relative paths in the configuration (image, weights) mean what they meant at submission\n");
    text_add(t, "cd ");
    text_word(t, g->cwd);
    text_add(t, " || exit 1\n\n");
    if (pc && pc->n_setup > 0) {
        text_comment(t, "slurm_setup of %s", pc->path);
        for (int i = 0; i < pc->n_setup; ++i) text_add(t, "%s\n", pc->setup[i]);
        text_add(t, "\n");
    }
    text_add(t,
             "# Slurm sends USR1 to this shell %d s before the time limit (--signal above):\n"
             "# pass it to srun, which forwards it to every rank (for pnp run to checkpoint).\n"
             "forward_usr1() {\n"
             "    echo \"pnp grid: USR1 from Slurm (time limit near): forwarding it to the ranks\"\n"
             "    forwarded=1\n"
             "    # before srun_pid is known (a signal right at the start): forward it once it is\n"
             "    if [ -n \"$srun_pid\" ]; then kill -USR1 \"$srun_pid\" 2>/dev/null; else usr1_pending=1; fi\n"
             "}\n"
             "srun_pid=\n"
             "trap forward_usr1 USR1\n"
             "# TERM (the time limit, scancel) reaches the ranks from Slurm itself: they checkpoint; wait for them\n"
             "trap 'echo \"pnp grid: TERM from Slurm: the ranks stop and write their checkpoint\"; forwarded=1' TERM\n"
             "# pnp run writes its own exit status here: srun may report another when a signal ends the job\n"
             "export PNP_STATUS_FILE=",
             SIGNAL_LEAD_S);
    char status_file[4700];
    snprintf(status_file, sizeof status_file, "%s/slurm/%s-", g->out_abs, j->name);
    text_word(t, status_file);
    text_add(t, "\"$SLURM_JOB_ID\".status\n\n");
    argvec a = {0};
    arg_push(&a, "srun");
    arg_push(&a, "--mpi=pmix"); /* Open MPI's ranks wire up through PMIx, whatever the site's MpiDefault */
    run_args(g, r, true, &a);
    text_args(t, &a, true);
    args_free(&a);
    text_add(t, " &\n"
                "srun_pid=$!\n"
                "if [ \"${usr1_pending:-0}\" = 1 ]; then kill -USR1 \"$srun_pid\" 2>/dev/null; fi\n"
                "# wait returns early when USR1 arrives: then wait again until srun ends\n"
                "forwarded=1\n"
                "while [ \"$forwarded\" = 1 ]; do\n"
                "    forwarded=0\n"
                "    wait \"$srun_pid\"\n"
                "    status=$?\n"
                "done\n"
                "if [ -s \"$PNP_STATUS_FILE\" ]; then status=$(cat \"$PNP_STATUS_FILE\"); fi\n"
                "rm -f \"$PNP_STATUS_FILE\"\n"
                "case $status in\n"
                "    0) ;;\n");
    const int statuses[] = {2, 3, 1}; /* 1: any other, the last case */
    for (int k = 0; k < 3; ++k) {
        if (statuses[k] == 1) text_add(t, "    *)");
        else text_add(t, "    %d)", statuses[k]);
        text_add(t, " echo \"pnp grid: pnp run exited with status $status: %s\" ;;\n", run_status_meaning(statuses[k]));
    }
    text_add(t, "esac\n"
                "exit \"$status\"\n");
}

/* The CPUs of a compute node for --cpus-per-task's default: the smallest node
 * Slurm reports (sinfo), else this machine's. */
static void node_cpus(grid *g)
{
    char *argv[] = {"sinfo", "--noheader", "--Node", "--format=%c", NULL}, out[4096] = "", err[1024];
    g->node_cpus = 0;
    if (g->mode != MODE_LOCAL && spawn(argv, out, sizeof out, err, sizeof err, NULL) == 0)
        for (char *save = NULL, *w = strtok_r(out, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
            const int c = atoi(w);
            if (c > 0 && (g->node_cpus == 0 || c < g->node_cpus)) g->node_cpus = c;
        }
    if (g->node_cpus > 0) {
        snprintf(g->node_cpus_from, sizeof g->node_cpus_from, "the smallest node sinfo lists");
        return;
    }
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    g->node_cpus = online > 0 ? (int)online : 1;
    snprintf(g->node_cpus_from, sizeof g->node_cpus_from, "this machine's: sinfo gave none");
}

/* Characters an #SBATCH line cannot carry in a path. */
static bool sbatch_path_ok(const char *p)
{
    for (; *p; ++p)
        if (!isgraph((unsigned char)*p) || strchr("'\"\\`", *p)) return false;
    return true;
}

static void job_names(const grid *g, grid_job *j)
{
    const pnp_row *r = j->row;
    snprintf(j->name, sizeof j->name, "%s_row%d", g->stem, r->index);
    for (char *p = j->name; *p; ++p)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) *p = '_';
    snprintf(j->script_path, sizeof j->script_path, "%s/slurm/%s.sbatch", g->out_abs, j->name);
    pnp_cli_result_path(g->o.config, g->out_abs, r->index, j->result, sizeof j->result);
    snprintf(j->log, sizeof j->log, "%s/slurm/%s-%%j.out", g->out_abs, j->name);
}

/* The log path of a submitted job: %j replaced by its id. */
static void job_log(const grid_job *j, char *buf, size_t len)
{
    const char *pct = strstr(j->log, "%j");
    snprintf(buf, len, "%.*s%s%s", (int)(pct - j->log), j->log, j->job_id, pct + 2);
}

/* Slurm's message on one line, without "sbatch: error: " prefixes. */
static void slurm_message(char *msg)
{
    char out[4096] = "";
    for (char *save = NULL, *line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "sbatch: error: ", 15)) line += 15;
        else if (!strncmp(line, "sbatch: ", 8)) line += 8;
        if (!line[0]) continue;
        if (out[0]) strncat(out, "; ", sizeof out - strlen(out) - 1);
        strncat(out, line, sizeof out - strlen(out) - 1);
    }
    strcpy(msg, out);
}

static void refusal(const grid *g, const grid_job *j, const char *what, char *msg)
{
    char res[256];
    row_resources(j->row, res, sizeof res);
    slurm_message(msg);
    fprintf(stderr, "pnp: row %d of %s (%s): Slurm %s: %s\n", j->row->index, g->cfg.path, res, what,
            msg[0] ? msg : "(no message)");
    if (strstr(msg, "node configuration is not available"))
        fprintf(stderr, "pnp: no node of the partition has what row %d asks for (%s); check slurm_gres, "
                        "slurm_ntasks_per_node, slurm_nodes and slurm_partition (sinfo -o '%%P %%D %%c %%G' shows "
                        "what the nodes have)\n",
                j->row->index, res);
}

static int submit(const grid *g, grid_job *jobs, int n)
{
    char out[4096], err[4096];
    /* 1. would Slurm take every row? nothing is queued yet */
    for (int i = 0; i < n; ++i) {
        char *argv[] = {"sbatch", "--test-only", jobs[i].script_path, NULL};
        if (spawn(argv, out, sizeof out, err, sizeof err, NULL) != 0) {
            refusal(g, &jobs[i], "refuses the job (sbatch --test-only)", err);
            fprintf(stderr, "pnp: nothing submitted (the scripts are in %s/slurm)\n", g->out_abs);
            return 1;
        }
    }
    /* 2. submit, stopping at the first refusal */
    for (int i = 0; i < n; ++i) {
        char *argv[] = {"sbatch", "--parsable", jobs[i].script_path, NULL};
        const int rc = spawn(argv, out, sizeof out, err, sizeof err, NULL);
        out[strcspn(out, ";\n")] = '\0';
        bool numeric = out[0] != '\0' && strlen(out) < sizeof jobs[i].job_id;
        for (const char *p = out; *p; ++p) numeric &= isdigit((unsigned char)*p) != 0;
        if (rc != 0 || !numeric) {
            if (rc == 0) snprintf(err, sizeof err, "sbatch printed no job id ('%.200s')", out);
            refusal(g, &jobs[i], "refused the submission", err);
            if (i == 0) fprintf(stderr, "pnp: nothing submitted\n");
            for (int k = 0; k < i; ++k)
                fprintf(stderr, "pnp: row %d was submitted before as job %s (scancel %s to cancel it)\n",
                        jobs[k].row->index, jobs[k].job_id, jobs[k].job_id);
            for (int k = i + 1; k < n; ++k) fprintf(stderr, "pnp: row %d not submitted\n", jobs[k].row->index);
            return 1;
        }
        memcpy(jobs[i].job_id, out, strlen(out) + 1);
    }
    printf("pnp grid: %s: %d job%s submitted to Slurm\n", g->cfg.path, n, n == 1 ? "" : "s");
    text ids = {0};
    for (int i = 0; i < n; ++i) {
        char res[256], log[4700];
        row_resources(jobs[i].row, res, sizeof res);
        job_log(&jobs[i], log, sizeof log);
        printf("row %d: job %s (%s): result %s, log %s\n", jobs[i].row->index, jobs[i].job_id, res,
               jobs[i].result, log);
        text_add(&ids, "%s%s", i ? "," : "", jobs[i].job_id);
    }
    printf("follow them with: squeue -j %s\n", ids.s ? ids.s : "");
    free(ids.s);
    return 0;
}

/* --local: a signal sent to `pnp grid` itself (kill, timeout) goes on to
 * mpirun, which passes it to the ranks; one from the terminal (Ctrl-C, si_code
 * > 0) reached mpirun already. */
static volatile sig_atomic_t g_local_child = 0;
static void forward_to_child(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (g_local_child > 0 && info->si_code <= 0) kill((pid_t)g_local_child, sig);
}

static void forward_signals(bool on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (on) {
        sa.sa_sigaction = forward_to_child;
        sa.sa_flags = SA_SIGINFO;
    } else {
        sa.sa_handler = SIG_DFL;
    }
    const int sigs[] = {SIGTERM, SIGINT, SIGUSR1};
    for (size_t k = 0; k < sizeof sigs / sizeof *sigs; ++k) sigaction(sigs[k], &sa, NULL);
    if (!on) pnp_error_remove_tempfile_on_signals(); /* as main() left them */
}

/* The status `pnp run` wrote to FILE, or -1. */
static int read_run_status(const char *file)
{
    FILE *f = fopen(file, "r");
    int v = -1;
    if (f && fscanf(f, "%d", &v) != 1) v = -1;
    if (f) fclose(f);
    return v;
}

static int run_local(const grid *g, grid_job *jobs, int n)
{
    const int cores = physical_cores();
    char status_file[] = "/tmp/pnp-grid-status-XXXXXX";
    const int fd = mkstemp(status_file);
    if (fd < 0) pnp_fatal("mkstemp %s: %s", status_file, strerror(errno));
    close(fd);
    setenv("PNP_STATUS_FILE", status_file, 1);
    int rc = 0;
    for (int i = 0; i < n; ++i) {
        const pnp_row *r = jobs[i].row;
        const int ranks = r->ntasks_per_node * r->nodes;
        argvec a = {0};
        arg_push(&a, "mpirun");
        if (geteuid() == 0) arg_push(&a, "--allow-run-as-root");
        if (ranks > cores) arg_push(&a, "--oversubscribe");
        arg_push(&a, "-n");
        arg_push(&a, "%d", ranks);
        run_args(g, r, false, &a);
        text cmd = {0};
        text_args(&cmd, &a, false);
        char res[256];
        row_resources(r, res, sizeof res);
        printf("pnp grid: row %d (%d of %d; %s): %d rank%s here%s\n  %s\n", r->index, i + 1, n, res, ranks,
               ranks == 1 ? "" : "s", r->nodes > 1 ? " (the row's nodes all on this machine)" : "", cmd.s);
        free(cmd.s);
        FILE *empty = fopen(status_file, "w"); /* nothing from an earlier row */
        if (empty) fclose(empty);
        forward_signals(true);
        const int launcher = spawn(a.v, NULL, 0, NULL, 0, &g_local_child);
        forward_signals(false);
        args_free(&a);
        const int own = read_run_status(status_file); /* -1: pnp run never got that far */
        rc = own >= 0 ? own : launcher == 2 ? 2 : launcher ? 1 : 0;
        if (rc != 0) {
            fprintf(stderr, "pnp: row %d of %s failed: ", r->index, g->cfg.path);
            if (own >= 0) fprintf(stderr, "pnp run exited with status %d (%s)", own, run_status_meaning(own));
            else fprintf(stderr, "mpirun exit status %d", launcher);
            if (i + 1 < n) {
                fprintf(stderr, "; not run:");
                for (int k = i + 1; k < n; ++k) fprintf(stderr, " row %d", jobs[k].row->index);
            }
            fprintf(stderr, "\n");
            break;
        }
    }
    unlink(status_file);
    unsetenv("PNP_STATUS_FILE");
    if (rc) return rc;
    printf("pnp grid: %d row%s done; results:", n, n == 1 ? "" : "s");
    for (int i = 0; i < n; ++i) printf(" %s", jobs[i].result);
    printf("\n");
    return 0;
}

static int write_scripts(const grid *g, grid_job *jobs, int n, bool print)
{
    char err[4300], dir[4200];
    snprintf(dir, sizeof dir, "%s/slurm", g->out_abs);
    if (make_dirs(dir, err, sizeof err)) {
        fprintf(stderr, "pnp: %s\n", err);
        return 1;
    }
    for (int i = 0; i < n; ++i) {
        FILE *f = fopen(jobs[i].script_path, "w");
        if (!f || fwrite(jobs[i].script.s, 1, jobs[i].script.n, f) != jobs[i].script.n || fclose(f) != 0) {
            fprintf(stderr, "pnp: %s: cannot write: %s\n", jobs[i].script_path, strerror(errno));
            return 1;
        }
        if (print) printf("==> %s <==\n%s\n", jobs[i].script_path, jobs[i].script.s);
    }
    return 0;
}

/* Take --dry-run / --submit / --local out of argv (the rest goes to pnp_cli_parse). */
/* Takes this command's own options out of argv (the mode, --parallel-config
 * FILE); the shared ones stay for pnp_cli_parse. */
static int take_mode(int *argc, char **argv, grid_mode *mode, const char **parallel_config)
{
    static const char *const with_value[] = {"--set", "--row", "--out", "--threads"};
    int kept = 1, given = 0;
    *mode = MODE_DRY_RUN;
    for (int i = 1; i < *argc; ++i) {
        const char *a = argv[i];
        grid_mode m;
        if (!strcmp(a, "--parallel-config")) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "pnp: --parallel-config needs a file\n\n%s", USAGE);
                return -1;
            }
            *parallel_config = argv[++i];
            continue;
        }
        if (!strcmp(a, "--dry-run")) m = MODE_DRY_RUN;
        else if (!strcmp(a, "--submit")) m = MODE_SUBMIT;
        else if (!strcmp(a, "--local")) m = MODE_LOCAL;
        else {
            argv[kept++] = argv[i];
            for (int k = 0; k < 4; ++k)
                if (!strcmp(a, with_value[k]) && i + 1 < *argc) argv[kept++] = argv[++i];
            continue;
        }
        if (given && m != *mode) {
            fprintf(stderr, "pnp: choose one of --dry-run, --submit, --local\n\n%s", USAGE);
            return -1;
        }
        *mode = m;
        given = 1;
    }
    *argc = kept;
    argv[kept] = NULL;
    return 0;
}

int pnp_cmd_grid(int argc, char **argv)
{
    static grid g; /* large path buffers: not on the stack */
    const char *parallel_config = NULL;
    if (take_mode(&argc, argv, &g.mode, &parallel_config)) return 2;
    if (pnp_cli_parse(argc, argv, USAGE, &g.o)) return 0;
    pnp_cli_load_config(&g.o, &g.cfg); /* a bad grid ends here (exit 2): nothing written */
    char err[2048];
    if (parallel_config) {
        if (pnp_parallel_config_load(parallel_config, &g.pc, err, sizeof err)) {
            fprintf(stderr, "pnp: %s\n", err);
            pnp_config_free(&g.cfg);
            return 2;
        }
        g.have_pc = true;
    }

    if (!getcwd(g.cwd, sizeof g.cwd)) pnp_fatal("getcwd: %s", strerror(errno));
    const ssize_t len = readlink("/proc/self/exe", g.exe, sizeof g.exe - 1);
    if (len <= 0) pnp_fatal("cannot find this program's path (/proc/self/exe): %s", strerror(errno));
    g.exe[len] = '\0';
    if (g.o.config && !realpath(g.o.config, g.config_abs)) {
        fprintf(stderr, "pnp: %s: %s\n", g.o.config, strerror(errno));
        return 2;
    }
    snprintf(g.out, sizeof g.out, "%s", g.o.out ? g.o.out : "results");
    absolute_path(g.cwd, g.out, g.out_abs, sizeof g.out_abs);
    pnp_cli_config_stem(g.o.config, g.stem, sizeof g.stem);

    if (g.mode != MODE_LOCAL && !sbatch_path_ok(g.out_abs)) {
        fprintf(stderr, "pnp: --out %s: the log path goes on an #SBATCH line, which cannot carry spaces, quotes "
                        "or backslashes; choose a folder without them\n",
                g.out_abs);
        return 2;
    }
    char *probe[] = {"sbatch", "--version", NULL}, out[4096];
    if (g.mode == MODE_SUBMIT && spawn(probe, out, sizeof out, err, sizeof err, NULL) == 127) { /* could not start */
        fprintf(stderr, "pnp: --submit needs Slurm's sbatch, which is not on PATH (--dry-run writes the scripts "
                        "only, --local runs the rows here)\n");
        return 1;
    }

    node_cpus(&g);
    const int n = g.o.row >= 0 ? 1 : g.cfg.n_rows;
    grid_job *jobs = pnp_calloc((size_t)n, sizeof *jobs);
    for (int i = 0; i < n; ++i) {
        jobs[i].row = &g.cfg.rows[g.o.row >= 0 ? g.o.row : i];
        job_names(&g, &jobs[i]);
        if (g.mode != MODE_LOCAL) make_script(&g, &jobs[i]);
    }

    int rc = 0;
    if (g.mode == MODE_LOCAL) {
        rc = run_local(&g, jobs, n);
    } else {
        rc = write_scripts(&g, jobs, n, g.mode == MODE_DRY_RUN);
        if (rc == 0 && g.mode == MODE_DRY_RUN)
            printf("pnp grid: %d script%s in %s/slurm (not submitted: --submit submits them, or sbatch FILE)\n", n,
                   n == 1 ? "" : "s", g.out_abs);
        if (rc == 0 && g.mode == MODE_SUBMIT) rc = submit(&g, jobs, n);
    }
    for (int i = 0; i < n; ++i) free(jobs[i].script.s);
    free(jobs);
    pnp_config_free(&g.cfg);
    return rc;
}
