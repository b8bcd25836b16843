/* error.h - the one fatal-error path of pnp.
 *
 * Every library has one check macro that turns a failed call into pnp_fatal(),
 * which prints "pnp: [rank R] FILE:LINE: message", removes the temporary output
 * file being written (if any), and ends the whole job: MPI_Abort when MPI is
 * running (so peers never hang in a collective), exit(1) otherwise.
 * The CUDA-side macros (CUDA_CHECK, CUDNN_CHECK, NCCL_CHECK, CUFFT_CHECK) live in
 * the CUDA backend and call the same pnp_fatal(). */
#ifndef PNP_ERROR_H
#define PNP_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define PNP_NORETURN __attribute__((noreturn))
#define PNP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PNP_NORETURN
#define PNP_PRINTF(a, b)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Print the message with rank, file and line, clean up, abort the job. */
PNP_NORETURN void pnp_fatal_at(const char *file, int line, const char *fmt, ...) PNP_PRINTF(3, 4);

/* The path of an output file being written under a temporary name: pnp_fatal
 * deletes it so a failed run never leaves a half-written file. NULL clears. */
void pnp_error_set_tempfile(const char *path);

/* On SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2: remove the temporary output
 * file, then die of the signal as before (main() sets this for every command;
 * `pnp run` then checkpoints on TERM, INT and USR1 instead). Signals already
 * ignored stay ignored. SIGXFSZ is ignored: past a file size limit a write
 * fails, and the writer reports it as it would a full disk. */
void pnp_error_remove_tempfile_on_signals(void);

/* Rank to print in messages (-1: not running under MPI). */
void pnp_error_set_rank(int rank);

/* malloc/calloc that die with the size and the caller's location. */
void *pnp_malloc_at(size_t bytes, const char *file, int line);
void *pnp_calloc_at(size_t count, size_t size, const char *file, int line);
char *pnp_strdup_at(const char *s, const char *file, int line);

#ifdef __cplusplus
}
#endif

#define pnp_fatal(...) pnp_fatal_at(__FILE__, __LINE__, __VA_ARGS__)
#define pnp_malloc(n) pnp_malloc_at((n), __FILE__, __LINE__)
#define pnp_calloc(n, s) pnp_calloc_at((n), (s), __FILE__, __LINE__)
#define pnp_strdup(s) pnp_strdup_at((s), __FILE__, __LINE__)

/* MPI: any return other than MPI_SUCCESS is fatal. */
#define MPI_CHECK(call)                                                        \
    do {                                                                       \
        int mpi_check_rc_ = (call);                                            \
        if (mpi_check_rc_ != 0)                                                \
            pnp_fatal("MPI error %d in %s", mpi_check_rc_, #call);             \
    } while (0)

#endif
