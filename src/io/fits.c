/* fits.c - FITS files through cfitsio: the reader of include/pnp/imgfile.h
 * (the first HDU holding an image: 2-D, or a 3-D cube whose planes are the
 * images; uint8, uint16 (BITPIX 16, BZERO 32768), float32, float64 as
 * cfitsio's equivalent type says, BSCALE/BZERO applied) and the float32 writer
 * of `pnp export`. File names are taken literally (cfitsio's "disk file"
 * calls: no extended-name syntax). NAXIS1 is the width; rows are kept in
 * stored order, as numpy and astropy index them. */
#include <fitsio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pnp/error.h"
#include "pnp/files.h"
#include "pnp/imgfile.h"

static int fits_fail(char *err, size_t errlen, const char *path, const char *what, int status)
{
    char text[FLEN_STATUS] = "";
    if (status) fits_get_errstatus(status, text);
    snprintf(err, errlen, "%s: %s%s%s%s", path, what, status ? " (cfitsio: " : "", text, status ? ")" : "");
    return -1;
}

int pnp_fits_load(const char *path, int first, int count, pnp_file_info *info, float *out, char *err, size_t errlen)
{
    if (access(path, R_OK) != 0) return fits_fail(err, errlen, path, "cannot open", 0);
    fitsfile *ff = NULL;
    int status = 0;
    if (fits_open_diskfile(&ff, path, READONLY, &status))
        return fits_fail(err, errlen, path, "not a readable FITS file", status);
    /* the first HDU with an image of at least one axis */
    int hdus = 0, naxis = 0, type = 0, rc = 0;
    fits_get_num_hdus(ff, &hdus, &status);
    for (int k = 1; k <= hdus && !status; ++k) {
        fits_movabs_hdu(ff, k, &type, &status);
        if (!status && type == IMAGE_HDU && !fits_get_img_dim(ff, &naxis, &status) && naxis > 0) break;
        naxis = 0;
    }
    int bitpix = 0;
    long axes[3] = {1, 1, 1};
    if (status) rc = fits_fail(err, errlen, path, "corrupt or truncated FITS file", status);
    else if (naxis == 0) rc = fits_fail(err, errlen, path, "holds no image (every HDU is empty or a table)", 0);
    else if (naxis != 2 && naxis != 3) {
        snprintf(err, errlen, "%s: a %d-D image; pnp reads 2-D images and 3-D cubes", path, naxis);
        rc = -1;
    } else if (fits_get_img_equivtype(ff, &bitpix, &status) || fits_get_img_size(ff, 3, axes, &status)) {
        rc = fits_fail(err, errlen, path, "corrupt FITS header", status);
    } else if (bitpix != BYTE_IMG && bitpix != USHORT_IMG && bitpix != FLOAT_IMG && bitpix != DOUBLE_IMG) {
        snprintf(err, errlen, "%s: unsupported pixel type (BITPIX %d%s); pnp reads uint8, uint16 (BITPIX 16 with "
                 "BZERO 32768), float32 and float64", path, bitpix,
                 bitpix == SHORT_IMG ? ", signed 16-bit" : bitpix == LONG_IMG ? ", 32-bit integer" : "");
        rc = -1;
    } else if (axes[0] < 1 || axes[1] < 1 || axes[2] < 1) {
        rc = fits_fail(err, errlen, path, "has an empty axis", 0);
    }
    if (!rc) {
        *info = (pnp_file_info){(int)axes[2], 1, (int)axes[1], (int)axes[0], naxis, "", "FITS"};
        snprintf(info->type, sizeof info->type, "%s",
                 bitpix == BYTE_IMG ? "uint8" : bitpix == USHORT_IMG ? "uint16" : bitpix == FLOAT_IMG ? "float32"
                                                                                                      : "float64");
    }
    if (!rc && count > 0) {
        if (first < 0 || first + count > info->n) {
            snprintf(err, errlen, "%s: images %d..%d asked, the file holds %d", path, first, first + count - 1,
                     info->n);
            rc = -1;
        } else {
            long fpixel[3] = {1, 1, first + 1};
            const long long n = (long long)count * axes[0] * axes[1];
            int anynul = 0;
            if (fits_read_pix(ff, TFLOAT, fpixel, n, NULL, out, &anynul, &status)) {
                rc = fits_fail(err, errlen, path, "read error: truncated or corrupt data", status);
            } else if (bitpix == BYTE_IMG || bitpix == USHORT_IMG) {
                const float top = bitpix == BYTE_IMG ? 255.0f : 65535.0f;
                for (long long e = 0; e < n; ++e) out[e] /= top;
            }
        }
    }
    status = 0;
    fits_close_file(ff, &status);
    return rc;
}

int pnp_fits_write(const char *path, const pnp_image *im, char *err, size_t errlen)
{
    char tmp[4400];
    if (pnp_output_begin(path, tmp, sizeof tmp, err, errlen)) return -1;
    unlink(tmp); /* cfitsio will not overwrite */
    fitsfile *ff = NULL;
    int status = 0;
    long axes[3] = {im->w, im->h, im->c};
    long fpixel[3] = {1, 1, 1};
    fits_create_diskfile(&ff, tmp, &status);
    fits_create_img(ff, FLOAT_IMG, im->c > 1 ? 3 : 2, axes, &status);
    fits_write_pix(ff, TFLOAT, fpixel, (long long)pnp_image_numel(im), im->data, &status);
    if (ff) {
        int close_status = 0;
        fits_close_file(ff, &close_status);
        if (!status) status = close_status;
    }
    if (status) fits_fail(err, errlen, path, "cannot write FITS", status);
    return pnp_output_commit(tmp, path, status == 0, err, errlen);
}
