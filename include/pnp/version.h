/* version.h - program version, the git commit it was built from, and its libraries. */
#ifndef PNP_VERSION_H
#define PNP_VERSION_H

#define PNP_VERSION "0.1.0"

/* Set at build time by the Makefile ("unknown" outside a git checkout;
 * "-dirty" appended when the tree had uncommitted changes). */
extern const char pnp_git_commit[];
#define PNP_GIT_COMMIT pnp_git_commit

#include <stddef.h>

/* "hdf5 1.10.8; fftw-3.3.10; libyaml 0.2.5; libpng 1.6.39; mpi: Open MPI v4.1.4, ..."
 * (the libraries this program runs on, as they report themselves). */
void pnp_library_versions(char *out, size_t len);

#endif
