/* error.c - the fatal-error path (see include/pnp/error.h).
 * This file is the only place that decides how a pnp process dies: on an
 * error (pnp_fatal) and on a signal that ends it (the temporary output file
 * goes with it). */
#include "pnp/error.h"

#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int g_rank = -1;
static char g_tempfile[4096]; /* read by the signal handler below: written only outside it */

void pnp_error_set_rank(int rank) { g_rank = rank; }

void pnp_error_set_tempfile(const char *path)
{
    if (path == NULL) {
        g_tempfile[0] = '\0';
        return;
    }
    snprintf(g_tempfile, sizeof g_tempfile, "%s", path);
}

void pnp_fatal_at(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    fflush(stdout); /* what the run printed comes before why it ends */
    if (g_rank >= 0)
        fprintf(stderr, "pnp: [rank %d] %s:%d: %s\n", g_rank, file, line, msg);
    else
        fprintf(stderr, "pnp: %s:%d: %s\n", file, line, msg);
    fflush(stderr);

    if (g_tempfile[0] != '\0') unlink(g_tempfile);

    int initialized = 0, finalized = 0, size = 1;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) {
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1); /* peers must not hang in a collective */
        /* alone (no peer can hang): ending MPI spares the launcher's abort banner
         * and a singleton's ORTE messages; only the main thread may (FUNNELED) */
        if (syscall(SYS_gettid) == getpid()) MPI_Finalize();
    }
    /* _exit, not exit: atexit handlers would close open files (HDF5's flush of a
     * file on a full disk crashes); the half-written temporary is gone already */
    _exit(1);
}

static void remove_tempfile_and_die(int sig)
{
    if (g_tempfile[0] != '\0') unlink(g_tempfile);
    signal(sig, SIG_DFL);
    raise(sig);
}

void pnp_error_remove_tempfile_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = remove_tempfile_and_die;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
    for (size_t k = 0; k < sizeof sigs / sizeof *sigs; ++k) {
        struct sigaction old;
        /* a signal the shell ignores (nohup) stays ignored */
        if (sigaction(sigs[k], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[k], &sa, NULL);
    }
    /* past a file size limit (ulimit -f) a write then fails with EFBIG, which
     * the writer reports like a full disk, instead of killing the process */
    signal(SIGXFSZ, SIG_IGN);
}

void *pnp_malloc_at(size_t bytes, const char *file, int line)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) pnp_fatal_at(file, line, "out of host memory allocating %zu bytes", bytes);
    return p;
}

void *pnp_calloc_at(size_t count, size_t size, const char *file, int line)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        pnp_fatal_at(file, line, "out of host memory allocating %zu x %zu bytes", count, size);
    return p;
}

char *pnp_strdup_at(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *p = pnp_malloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}
