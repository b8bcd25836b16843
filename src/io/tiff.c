/* tiff.c - TIFF files through libtiff: the reader of include/pnp/imgfile.h
 * (every page an image; uint8, uint16 or float32 samples; 1 or 3 samples per
 * pixel; strips, contiguous or planar; any compression libtiff decodes) and
 * the writer of `pnp export` (8, 16 or 32 bits, uncompressed strips).
 * libtiff's own messages are caught (not printed) and end up in err. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "pnp/error.h"
#include "pnp/files.h"
#include "pnp/imgfile.h"

static char tiff_message[512]; /* libtiff's last error (the handler below) */

static void catch_error(const char *module, const char *fmt, va_list ap)
{
    (void)module;
    vsnprintf(tiff_message, sizeof tiff_message, fmt, ap);
}

static void quiet_libtiff(void)
{
    TIFFSetErrorHandler(catch_error);
    TIFFSetWarningHandler(NULL);
    tiff_message[0] = '\0';
}

/* One page's layout. */
typedef struct {
    uint32_t w, h;
    uint16_t spp, bps, format, photometric, planar, extra;
    int tiled;
} page;

static void read_page(TIFF *t, page *p)
{
    memset(p, 0, sizeof *p);
    uint16_t *extra_types = NULL;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &p->w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &p->h);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &p->spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &p->bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &p->format);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &p->planar);
    TIFFGetFieldDefaulted(t, TIFFTAG_EXTRASAMPLES, &p->extra, &extra_types);
    if (!TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &p->photometric)) p->photometric = PHOTOMETRIC_MINISBLACK;
    p->tiled = TIFFIsTiled(t);
}

/* Why pnp cannot read this page, or NULL. */
static const char *page_problem(const page *p, char *buf, size_t len)
{
    if (p->extra) return "has an extra (alpha) channel; pnp takes grey or RGB without alpha";
    if (p->spp != 1 && p->spp != 3) {
        snprintf(buf, len, "has %u samples per pixel; pnp takes 1 (grey) or 3 (RGB)", p->spp);
        return buf;
    }
    const int uint_ok = p->format == SAMPLEFORMAT_UINT && (p->bps == 8 || p->bps == 16);
    const int float_ok = p->format == SAMPLEFORMAT_IEEEFP && p->bps == 32;
    if (!uint_ok && !float_ok) {
        snprintf(buf, len, "unsupported pixel type (%u-bit %s); pnp reads uint8, uint16 and float32", p->bps,
                 p->format == SAMPLEFORMAT_INT ? "signed integer" : p->format == SAMPLEFORMAT_IEEEFP ? "float"
                 : p->format == SAMPLEFORMAT_UINT ? "unsigned integer" : "other");
        return buf;
    }
    if (p->photometric != PHOTOMETRIC_MINISBLACK && p->photometric != PHOTOMETRIC_RGB) {
        snprintf(buf, len, "photometric interpretation %u (palette, inverted grey, YCbCr, ...) is not supported; "
                 "pnp takes min-is-black grey or RGB", p->photometric);
        return buf;
    }
    if (p->tiled) return "is tiled; pnp reads TIFF strips (save without tiles)";
    if (p->w < 1 || p->h < 1) return "is empty";
    return NULL;
}

static float sample(const page *p, const unsigned char *row, size_t e)
{
    if (p->bps == 8) return (float)row[e] / 255.0f;
    if (p->bps == 16) {
        uint16_t v;
        memcpy(&v, row + 2 * e, 2);
        return (float)v / 65535.0f;
    }
    float v;
    memcpy(&v, row + 4 * e, 4);
    return v;
}

/* Page k [spp, h, w] into out. */
static int read_pixels(TIFF *t, const page *p, float *out)
{
    const size_t plane = (size_t)p->h * p->w;
    unsigned char *row = pnp_malloc((size_t)TIFFScanlineSize(t) + 16);
    int rc = 0;
    if (p->planar == PLANARCONFIG_SEPARATE || p->spp == 1) {
        for (uint16_t s = 0; s < p->spp && !rc; ++s)
            for (uint32_t y = 0; y < p->h && !rc; ++y) {
                if (TIFFReadScanline(t, row, y, s) < 0) rc = -1;
                for (uint32_t x = 0; x < p->w && !rc; ++x) out[s * plane + (size_t)y * p->w + x] = sample(p, row, x);
            }
    } else {
        for (uint32_t y = 0; y < p->h && !rc; ++y) {
            if (TIFFReadScanline(t, row, y, 0) < 0) rc = -1;
            for (uint32_t x = 0; x < p->w && !rc; ++x)
                for (uint16_t s = 0; s < p->spp; ++s)
                    out[s * plane + (size_t)y * p->w + x] = sample(p, row, (size_t)x * p->spp + s);
        }
    }
    free(row);
    return rc;
}

int pnp_tiff_load(const char *path, int first, int count, pnp_file_info *info, float *out, char *err, size_t errlen)
{
    quiet_libtiff();
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    fclose(probe);
    TIFF *t = TIFFOpen(path, "r");
    if (!t) {
        snprintf(err, errlen, "%s: not a readable TIFF file (%s)", path, tiff_message[0] ? tiff_message : "libtiff");
        return -1;
    }
    int rc = 0, pages = 0;
    page p0 = {0}, p;
    char why[256];
    do { /* every page: the same readable layout */
        read_page(t, &p);
        const char *bad = page_problem(&p, why, sizeof why);
        if (bad) {
            snprintf(err, errlen, "%s: page %d %s", path, pages, bad);
            rc = -1;
        } else if (pages == 0) {
            p0 = p;
        } else if (p.w != p0.w || p.h != p0.h || p.spp != p0.spp || p.bps != p0.bps || p.format != p0.format) {
            snprintf(err, errlen, "%s: page %d is %ux%u with %u samples of %u bits, page 0 %ux%u with %u of %u bits; "
                     "a stack must be of one shape and type", path, pages, p.w, p.h, p.spp, p.bps, p0.w, p0.h, p0.spp,
                     p0.bps);
            rc = -1;
        }
        ++pages;
    } while (!rc && TIFFReadDirectory(t));
    if (!rc && tiff_message[0]) {
        snprintf(err, errlen, "%s: corrupt TIFF: %s", path, tiff_message);
        rc = -1;
    }
    if (!rc) {
        *info = (pnp_file_info){pages, p0.spp, (int)p0.h, (int)p0.w, 2 + (pages > 1) + (p0.spp > 1), "", "TIFF"};
        snprintf(info->type, sizeof info->type, "%s", p0.bps == 8 ? "uint8" : p0.bps == 16 ? "uint16" : "float32");
    }
    const size_t per = rc ? 0 : (size_t)info->c * info->h * info->w;
    if (!rc && count > 0 && (first < 0 || first + count > pages)) {
        snprintf(err, errlen, "%s: images %d..%d asked, the file holds %d", path, first, first + count - 1, pages);
        rc = -1;
    }
    for (int k = 0; !rc && k < count; ++k) {
        int bad = !TIFFSetDirectory(t, (uint16_t)(first + k));
        if (!bad) {
            read_page(t, &p);
            bad = read_pixels(t, &p, out + per * k) || tiff_message[0];
        }
        if (bad) {
            snprintf(err, errlen, "%s: page %d: read error, truncated or corrupt file (%s)", path, first + k,
                     tiff_message[0] ? tiff_message : "libtiff");
            rc = -1;
        }
    }
    TIFFClose(t);
    return rc;
}

int pnp_tiff_write(const char *path, const pnp_image *im, int bits, char *err, size_t errlen)
{
    if (bits != 8 && bits != 16 && bits != 32) {
        snprintf(err, errlen, "%s: TIFF takes 8, 16 or 32 (float) bits, not %d", path, bits);
        return -1;
    }
    char tmp[4400];
    if (pnp_output_begin(path, tmp, sizeof tmp, err, errlen)) return -1;
    quiet_libtiff();
    TIFF *t = TIFFOpen(tmp, "w");
    int ok = t != NULL;
    if (ok) {
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)im->w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)im->h);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)im->c);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)bits);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, bits == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, im->c == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(t, 0));
        const size_t plane = (size_t)im->h * im->w, bytes = (size_t)bits / 8;
        unsigned char *row = pnp_malloc((size_t)im->w * im->c * bytes);
        for (int y = 0; y < im->h && ok; ++y) {
            for (int x = 0; x < im->w; ++x)
                for (int c = 0; c < im->c; ++c) {
                    const float v = im->data[c * plane + (size_t)y * im->w + x];
                    const size_t e = (size_t)x * im->c + c;
                    if (bits == 8) {
                        row[e] = pnp_to_u8(v);
                    } else if (bits == 16) {
                        const uint16_t q = pnp_to_u16(v);
                        memcpy(row + 2 * e, &q, 2);
                    } else {
                        memcpy(row + 4 * e, &v, 4);
                    }
                }
            ok = TIFFWriteScanline(t, row, (uint32_t)y, 0) == 1;
        }
        free(row);
        TIFFClose(t);
    }
    if (!ok) snprintf(err, errlen, "%s: cannot write TIFF (%s)", path, tiff_message[0] ? tiff_message : strerror(errno));
    return pnp_output_commit(tmp, path, ok, err, errlen);
}
