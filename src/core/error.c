/* error.c - the fatal-error path (see include/pnp/error.h).
 * This file is the only place that decides how a pnp process dies. */
#include "pnp/error.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_rank = -1;
static char g_tempfile[4096];

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

    if (g_rank >= 0)
        fprintf(stderr, "pnp: [rank %d] %s:%d: %s\n", g_rank, file, line, msg);
    else
        fprintf(stderr, "pnp: %s:%d: %s\n", file, line, msg);
    fflush(stderr);

    if (g_tempfile[0] != '\0') unlink(g_tempfile);

    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
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
