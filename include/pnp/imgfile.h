/* imgfile.h - images and PSFs in the user's file formats: reading (what the
 * `observed` dataset takes) and writing (`pnp export`).
 *
 * Every reader sees a file as n images of [c, h, w] (float32 after reading):
 *   PNG    8- or 16-bit, grey (c 1) or RGB (c 3), palette expanded; n 1.
 *          An alpha channel (or a transparency chunk) is refused.
 *   TIFF   (libtiff) uint8, uint16 or float32 samples, 1 (grey) or 3 (RGB)
 *          samples per pixel, strips (contiguous or planar); every page is an
 *          image (a multi-page stack: n = pages, all of one shape and type).
 *   FITS   (cfitsio) the first HDU holding an image: 2-D (n 1, c 1) or a 3-D
 *          cube of n planes (c 1); uint8, uint16 (BITPIX 16 with BZERO 32768),
 *          float32 or float64. Rows as stored (numpy / astropy order).
 *   NumPy  .npy (C order) float32, float64, uint8 or uint16, little- or
 *          big-endian: [H,W] (n 1, c 1), [C,H,W] (n 1), [N,C,H,W].
 *   HDF5   the bundle `pnp dataset` writes (include/pnp/bundle.h): the
 *          measurements /measurements [n,c,h,w], the PSFs /kernels [n,kh,kw]
 *          or [n,c,kh,kw], the reference /ground_truth [c,h,w].
 * The format is told by the file's first bytes (any extension). Integers
 * are scaled to [0,1] by their type's range (v / 255, v / 65535); floats are
 * taken as they are. Roles change two readings: as PSFs, a 3-D NumPy array is
 * [N,kh,kw] (N PSFs); where a file must hold one image (the reference, or each
 * file of a glob matching several), 3 planes of one channel (a FITS cube, a
 * 3-page grey TIFF) are one RGB image.
 *
 * Every failure is a message naming the file and what is wrong (cannot open,
 * truncated or corrupt, unsupported pixel type, alpha, shape), never an abort. */
#ifndef PNP_IMGFILE_H
#define PNP_IMGFILE_H

#include <stddef.h>

#include "pnp/image.h"

typedef enum { PNP_ROLE_MEASUREMENTS, PNP_ROLE_PSFS, PNP_ROLE_REFERENCE } pnp_file_role;

/* What a file holds. */
typedef struct {
    int n, c, h, w;
    int ndim;          /* dimensions as stored (2, 3 or 4) */
    char type[16];     /* "uint8", "uint16", "float32", "float64" */
    char format[8];    /* "PNG", "TIFF", "FITS", "NumPy", "HDF5" */
} pnp_file_info;

/* The readers of one format each: count 0 fills info only (the header);
 * otherwise images first .. first + count - 1 go to out [count, c, h, w]
 * (float32, integers scaled). 0, or -1 with "PATH: what" in err. The HDF5
 * bundle's reader takes the role (which dataset). */
int pnp_png_load(const char *path, int first, int count, pnp_file_info *info, float *out, char *err, size_t errlen);
int pnp_tiff_load(const char *path, int first, int count, pnp_file_info *info, float *out, char *err, size_t errlen);
int pnp_fits_load(const char *path, int first, int count, pnp_file_info *info, float *out, char *err, size_t errlen);
int pnp_npy_load(const char *path, int first, int count, pnp_file_info *info, float *out, char *err, size_t errlen);

/* The same for any format (told by its first bytes), as `role` reads it;
 * one_image: the file must hold one image (3 single-channel planes are one RGB
 * image; always so for the reference). */
int pnp_file_load(const char *path, pnp_file_role role, int one_image, int first, int count, pnp_file_info *info,
                  float *out, char *err, size_t errlen);

/* The images a pattern names: a glob matched in sorted (byte) order, one file
 * holding them all, or several files holding one image each; all of one
 * shape [c, h, w]. */
typedef struct {
    pnp_file_role role;
    int n, c, h, w;     /* images and their shape */
    int nfiles;
    char **paths;       /* [nfiles] */
    pnp_file_info *info; /* [nfiles] */
    int *file_of, *index_in_file; /* [n] */
} pnp_image_set;

/* Expand the pattern and read every header. Errors (-1, err): no file matches;
 * a file that cannot be read; several files where one holds more than one
 * image; shapes or channel counts that differ (naming both files). */
int pnp_image_set_open(const char *pattern, pnp_file_role role, pnp_image_set *s, char *err, size_t errlen);
/* Image k [c, h, w] into out; -1 with err (the file, and which image) when the
 * read fails or a pixel is NaN or infinite. */
int pnp_image_set_read(const pnp_image_set *s, int k, float *out, char *err, size_t errlen);
void pnp_image_set_free(pnp_image_set *s);
/* "PATH" or "PATH (image K of N)": which file image k is, for messages. */
void pnp_image_set_name(const pnp_image_set *s, int k, char *buf, size_t len);

/* The files of an `observed` row, headers only: the measurements (1 or 3
 * channels), the PSFs (as many, in the same order; 1 channel or one per
 * channel; no larger than the measurements) and, when reference is not "",
 * the reference (one image of the measurements' shape). The `observed`
 * dataset builds on them; `pnp config`, `pnp grid` and `pnp run` check them
 * before any work (pnp_problem_check_files). 0, or -1 with err naming the file
 * and the rule; the sets are then freed. */
int pnp_observed_files_open(const char *measurements, const char *psfs, const char *reference, pnp_image_set *ms,
                            pnp_image_set *ps, pnp_image_set *rs, char *err, size_t errlen);

/* Writers of a [c, h, w] image (c 1 or 3), under a temporary name renamed once
 * complete (a failure never leaves a partial file):
 *   PNG   bits 8 or 16 (clamped to [0,1], rounded to the nearest level)
 *   TIFF  bits 8 or 16 (integers as PNG) or 32 (float32 as it is)
 *   FITS  float32 as it is ([h,w] for one channel, a [c,h,w] cube for three)
 *   NumPy float32 [c, h, w]
 * pnp_image_file_write picks the format from the extension (.png, .tif/.tiff,
 * .fits/.fit/.fts, .npy); bits 0 is the format's default (PNG 16, TIFF 32).
 * (The temporary-name protocol: pnp_output_begin / pnp_output_commit, include/pnp/files.h.) */
int pnp_png_write_bits(const char *path, const pnp_image *im, int bits, char *err, size_t errlen);
int pnp_tiff_write(const char *path, const pnp_image *im, int bits, char *err, size_t errlen);
int pnp_fits_write(const char *path, const pnp_image *im, char *err, size_t errlen);
int pnp_npy_write(const char *path, const pnp_image *im, char *err, size_t errlen);
int pnp_image_file_write(const char *path, const pnp_image *im, int bits, char *err, size_t errlen);

#endif
