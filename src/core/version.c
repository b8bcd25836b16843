/* version.c - what this build is: the version, the git commit (baked in by the
 * Makefile, which rebuilds this file on every make so it is never stale) and
 * the versions of the libraries it runs on. */
#include "pnp/version.h"

#include <fftw3.h>
#include <fitsio.h>
#include <hdf5.h>
#include <mpi.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>
#include <yaml.h>

#ifndef PNP_GIT_COMMIT_STR
#define PNP_GIT_COMMIT_STR "unknown"
#endif
const char pnp_git_commit[] = PNP_GIT_COMMIT_STR;

void pnp_library_versions(char *out, size_t len)
{
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
    int mlen = 0;
    MPI_Get_library_version(mpi, &mlen); /* allowed before MPI_Init */
    char *nl = strchr(mpi, '\n');
    if (nl) *nl = '\0';
    float fits_version = 0;
    fits_get_version(&fits_version);
    char tiff[64]; /* "LIBTIFF, Version 4.5.0\nCopyright ..." */
    snprintf(tiff, sizeof tiff, "%s", TIFFGetVersion());
    tiff[strcspn(tiff, "\n")] = '\0';
    snprintf(out, len, "hdf5 %u.%u.%u; %s; libyaml %s; libpng %s; %s; cfitsio %.3g; mpi: %s", maj, min, rel,
             fftwf_version, yaml_get_version_string(), png_get_libpng_ver(NULL), tiff, fits_version, mpi);
}
