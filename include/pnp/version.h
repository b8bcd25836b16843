/* version.h - program version and the git commit it was built from. */
#ifndef PNP_VERSION_H
#define PNP_VERSION_H

#define PNP_VERSION "0.1.0"

/* Set at build time by the Makefile ("unknown" outside a git checkout;
 * "-dirty" appended when the tree had uncommitted changes). */
extern const char pnp_git_commit[];
#define PNP_GIT_COMMIT pnp_git_commit

#endif
