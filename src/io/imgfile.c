/* imgfile.c - any of the image formats of include/pnp/imgfile.h: the format
 * told by the first bytes, the role's reading of the stored array, sets of
 * images named by a glob, and the writer chosen by the output's extension.
 * The formats themselves live in their own modules (image.c for PNG, tiff.c,
 * fits.c, npy.c, bundle.c for pnp's HDF5 bundle). */
#include "pnp/imgfile.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pnp/bundle.h"
#include "pnp/error.h"

typedef enum { FMT_UNKNOWN, FMT_PNG, FMT_TIFF, FMT_FITS, FMT_NPY, FMT_HDF5 } file_format;

/* The format from the first bytes; FMT_UNKNOWN with err set when unreadable or unknown. */
static file_format sniff(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return FMT_UNKNOWN;
    }
    unsigned char b[9] = {0};
    const size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    if (got == 0) {
        snprintf(err, errlen, "%s: empty file", path);
        return FMT_UNKNOWN;
    }
    if (got >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return FMT_PNG;
    if (got >= 8 && !memcmp(b, "\x89HDF\r\n\x1a\n", 8)) return FMT_HDF5;
    if (got >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4) || !memcmp(b, "II+\0", 4) ||
                     !memcmp(b, "MM\0+", 4)))
        return FMT_TIFF;
    if (got >= 9 && !memcmp(b, "SIMPLE  =", 9)) return FMT_FITS;
    if (got >= 6 && !memcmp(b, "\x93NUMPY", 6)) return FMT_NPY;
    snprintf(err, errlen, "%s: unknown file format (pnp reads PNG, TIFF, FITS, NumPy .npy and its HDF5 bundles)", path);
    return FMT_UNKNOWN;
}

/* The stored array as the format's reader sees it. */
static int load_raw(file_format fmt, const char *path, pnp_file_role role, int first, int count, pnp_file_info *info,
                    float *out, char *err, size_t errlen)
{
    switch (fmt) {
    case FMT_PNG: return pnp_png_load(path, first, count, info, out, err, errlen);
    case FMT_TIFF: return pnp_tiff_load(path, first, count, info, out, err, errlen);
    case FMT_FITS: return pnp_fits_load(path, first, count, info, out, err, errlen);
    case FMT_NPY: return pnp_npy_load(path, first, count, info, out, err, errlen);
    case FMT_HDF5: return pnp_bundle_load(path, role, first, count, info, out, err, errlen);
    default: return -1;
    }
}

int pnp_file_load(const char *path, pnp_file_role role, int one_image, int first, int count, pnp_file_info *info,
                  float *out, char *err, size_t errlen)
{
    const file_format fmt = sniff(path, err, errlen);
    pnp_file_info raw;
    if (fmt == FMT_UNKNOWN || load_raw(fmt, path, role, 0, 0, &raw, NULL, err, errlen)) return -1;
    /* the role's reading of the same memory: [1, N, kh, kw] NumPy PSFs are N PSFs; where one
     * image is wanted, 3 single-channel planes are one RGB image */
    *info = raw;
    if (role == PNP_ROLE_PSFS && fmt == FMT_NPY && raw.ndim == 3) info->n = raw.c, info->c = 1;
    if ((one_image || role == PNP_ROLE_REFERENCE) && info->n == 3 && info->c == 1) info->n = 1, info->c = 3;
    if (count == 0) return 0;
    if (first < 0 || first + count > info->n) {
        snprintf(err, errlen, "%s: images %d..%d asked, the file holds %d", path, first, first + count - 1, info->n);
        return -1;
    }
    const size_t raw_per = (size_t)raw.c * raw.h * raw.w, per = (size_t)info->c * info->h * info->w;
    if (per % raw_per == 0) { /* whole stored images: read just those */
        const size_t k = per / raw_per;
        return load_raw(fmt, path, role, (int)(first * k), (int)(count * k), &raw, out, err, errlen);
    }
    float *all = pnp_malloc(sizeof(float) * raw_per * raw.n); /* a stored image holds several: all of it */
    const int rc = load_raw(fmt, path, role, 0, raw.n, &raw, all, err, errlen);
    if (!rc) memcpy(out, all + per * first, sizeof(float) * per * count);
    free(all);
    return rc;
}

/* ----------------------------------------------------------------- sets */

static int has_wildcard(const char *s) { return strpbrk(s, "*?[") != NULL; }

/* Why a pattern's files cannot be listed: its folder (when it has no
 * wildcard) missing or unreadable, named with where a relative one was looked
 * for; else glob's reason. */
static void missing_folder_error(const char *pattern, int rc, char *err, size_t errlen)
{
    char dir[4096];
    const char *slash = strrchr(pattern, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - pattern) : 1, slash ? pattern : ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    struct stat st;
    char cwd[4096] = "";
    if (pattern[0] != '/' && !getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    const char *where = cwd[0] ? " (a relative path is taken from the current folder, " : "";
    if (rc != GLOB_NOSPACE && !has_wildcard(dir) && stat(dir, &st) != 0)
        snprintf(err, errlen, "%s: folder %s does not exist%s%s%s", pattern, dir, where, cwd, cwd[0] ? ")" : "");
    else if (rc != GLOB_NOSPACE && !has_wildcard(dir) && !S_ISDIR(st.st_mode))
        snprintf(err, errlen, "%s: %s is not a folder", pattern, dir);
    else
        snprintf(err, errlen, "%s: cannot list the files of this pattern (%s)", pattern,
                 rc == GLOB_NOSPACE ? "out of memory" : "a folder cannot be read");
}

int pnp_image_set_open(const char *pattern, pnp_file_role role, pnp_image_set *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->role = role;
    glob_t g = {0};
    if (has_wildcard(pattern)) {
        const int rc = glob(pattern, GLOB_ERR, NULL, &g);
        if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
            snprintf(err, errlen, "%s: no file matches this pattern", pattern);
            globfree(&g);
            return -1;
        }
        if (rc != 0) {
            missing_folder_error(pattern, rc, err, errlen);
            globfree(&g);
            return -1;
        }
        s->nfiles = (int)g.gl_pathc; /* glob sorts the names (byte order in the C locale) */
    } else {
        s->nfiles = 1;
    }
    s->paths = pnp_calloc((size_t)s->nfiles, sizeof(char *));
    s->info = pnp_calloc((size_t)s->nfiles, sizeof(pnp_file_info));
    for (int i = 0; i < s->nfiles; ++i) s->paths[i] = pnp_strdup(has_wildcard(pattern) ? g.gl_pathv[i] : pattern);
    globfree(&g);

    const int one_image = s->nfiles > 1;
    for (int i = 0; i < s->nfiles; ++i) {
        pnp_file_info *fi = &s->info[i];
        if (pnp_file_load(s->paths[i], role, one_image, 0, 0, fi, NULL, err, errlen)) return -1;
        if (one_image && fi->n != 1) {
            snprintf(err, errlen, "%s holds %d images; where a pattern matches several files (%d here) each must "
                     "hold one (or name one file holding them all)", s->paths[i], fi->n, s->nfiles);
            return -1;
        }
        const pnp_file_info *f0 = &s->info[0];
        if (i > 0 && fi->c != f0->c) {
            snprintf(err, errlen, "%s has %d channel%s but %s has %d: all must match", s->paths[i], fi->c,
                     fi->c == 1 ? "" : "s", s->paths[0], f0->c);
            return -1;
        }
        if (i > 0 && (fi->h != f0->h || fi->w != f0->w)) {
            snprintf(err, errlen, "%s is %dx%d (height x width) but %s is %dx%d: all must match", s->paths[i], fi->h,
                     fi->w, s->paths[0], f0->h, f0->w);
            return -1;
        }
        s->n += fi->n;
    }
    s->c = s->info[0].c, s->h = s->info[0].h, s->w = s->info[0].w;
    s->file_of = pnp_malloc(sizeof(int) * s->n);
    s->index_in_file = pnp_malloc(sizeof(int) * s->n);
    for (int i = 0, k = 0; i < s->nfiles; ++i)
        for (int j = 0; j < s->info[i].n; ++j, ++k) s->file_of[k] = i, s->index_in_file[k] = j;
    return 0;
}

void pnp_image_set_name(const pnp_image_set *s, int k, char *buf, size_t len)
{
    const int i = s->file_of[k];
    if (s->info[i].n > 1) snprintf(buf, len, "%s (image %d of %d)", s->paths[i], s->index_in_file[k], s->info[i].n);
    else snprintf(buf, len, "%s", s->paths[i]);
}

int pnp_observed_files_open(const char *measurements, const char *psfs, const char *reference, pnp_image_set *ms,
                            pnp_image_set *ps, pnp_image_set *rs, char *err, size_t errlen)
{
    memset(ps, 0, sizeof *ps);
    memset(rs, 0, sizeof *rs);
    if (pnp_image_set_open(measurements, PNP_ROLE_MEASUREMENTS, ms, err, errlen)) goto fail;
    if (ms->c != 1 && ms->c != 3) {
        snprintf(err, errlen, "%s: %d channels; pnp takes 1 (grey) or 3 (RGB)", ms->paths[0], ms->c);
        goto fail;
    }
    if (pnp_image_set_open(psfs, PNP_ROLE_PSFS, ps, err, errlen)) goto fail;
    if (ps->n != ms->n) {
        const bool per_channel = ms->n == 1 && ps->n == ms->c && ps->c == 1 && ps->nfiles == 1; /* [c,kh,kw] */
        snprintf(err, errlen, "%d measurement%s (%s) but %d PSF%s (%s): one PSF per measurement, in the same order%s",
                 ms->n, ms->n == 1 ? "" : "s", measurements, ps->n, ps->n == 1 ? "" : "s", psfs,
                 per_channel ? " (a 3-D array is read as [N,kh,kw], N PSFs: for one PSF per channel of a single "
                               "measurement store it as [1,C,kh,kw])"
                             : "");
        goto fail;
    }
    if (ps->c != 1 && ps->c != ms->c) {
        snprintf(err, errlen, "%s: PSFs of %d channels for measurements of %d (%s): one PSF for every channel, or "
                 "one per channel", ps->paths[0], ps->c, ms->c, ms->paths[0]);
        goto fail;
    }
    if (ps->h > ms->h || ps->w > ms->w) {
        snprintf(err, errlen, "%s: PSF of %dx%d is larger than the measurements' %dx%d (%s)", ps->paths[0], ps->h,
                 ps->w, ms->h, ms->w, ms->paths[0]);
        goto fail;
    }
    if (reference[0]) {
        if (pnp_image_set_open(reference, PNP_ROLE_REFERENCE, rs, err, errlen)) goto fail;
        if (rs->n != 1 || rs->c != ms->c || rs->h != ms->h || rs->w != ms->w) {
            snprintf(err, errlen, "%s: the reference is %d image%s of [%d,%d,%d], the measurements (%s) [%d,%d,%d]: "
                     "it must be one image of their shape", reference, rs->n, rs->n == 1 ? "" : "s", rs->c, rs->h,
                     rs->w, ms->paths[0], ms->c, ms->h, ms->w);
            goto fail;
        }
    }
    return 0;
fail:
    pnp_image_set_free(ms);
    pnp_image_set_free(ps);
    pnp_image_set_free(rs);
    return -1;
}

int pnp_image_set_read(const pnp_image_set *s, int k, float *out, char *err, size_t errlen)
{
    const int i = s->file_of[k];
    pnp_file_info info;
    if (pnp_file_load(s->paths[i], s->role, s->nfiles > 1, s->index_in_file[k], 1, &info, out, err, errlen))
        return -1;
    const size_t plane = (size_t)s->h * s->w, n = plane * s->c;
    for (size_t e = 0; e < n; ++e)
        if (!isfinite(out[e])) {
            char name[4200];
            pnp_image_set_name(s, k, name, sizeof name);
            snprintf(err, errlen, "%s: pixel (channel %zu, row %zu, column %zu) is %s; pnp needs finite values", name,
                     e / plane, e % plane / s->w, e % s->w, isnan(out[e]) ? "NaN" : "infinite");
            return -1;
        }
    return 0;
}

void pnp_image_set_free(pnp_image_set *s)
{
    for (int i = 0; i < s->nfiles && s->paths; ++i) free(s->paths[i]);
    free(s->paths), free(s->info), free(s->file_of), free(s->index_in_file);
    memset(s, 0, sizeof *s);
}

/* ----------------------------------------------------------------- writing */

int pnp_image_file_write(const char *path, const pnp_image *im, int bits, char *err, size_t errlen)
{
    const char *dot = strrchr(path, '.');
    const char *ext = dot && !strchr(dot, '/') ? dot + 1 : "";
    if (im->c != 1 && im->c != 3) {
        snprintf(err, errlen, "%s: can only write 1 or 3 channels, got %d", path, im->c);
        return -1;
    }
    if (!strcasecmp(ext, "png")) return pnp_png_write_bits(path, im, bits ? bits : 16, err, errlen);
    if (!strcasecmp(ext, "tif") || !strcasecmp(ext, "tiff")) return pnp_tiff_write(path, im, bits ? bits : 32, err, errlen);
    if (bits && bits != 32 && (!strcasecmp(ext, "fits") || !strcasecmp(ext, "fit") || !strcasecmp(ext, "fts") ||
                               !strcasecmp(ext, "npy"))) {
        snprintf(err, errlen, "%s: %s files are written as float32 (no --bits)", path, ext);
        return -1;
    }
    if (!strcasecmp(ext, "fits") || !strcasecmp(ext, "fit") || !strcasecmp(ext, "fts"))
        return pnp_fits_write(path, im, err, errlen);
    if (!strcasecmp(ext, "npy")) return pnp_npy_write(path, im, err, errlen);
    snprintf(err, errlen, "%s: unknown output format '.%s' (.png, .tif, .tiff, .fits, .fit, .fts or .npy)", path, ext);
    return -1;
}
