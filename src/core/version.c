/* version.c - rebuilt on every make so the embedded commit is never stale. */
#include "pnp/version.h"

#ifndef PNP_GIT_COMMIT_STR
#define PNP_GIT_COMMIT_STR "unknown"
#endif
const char pnp_git_commit[] = PNP_GIT_COMMIT_STR;
