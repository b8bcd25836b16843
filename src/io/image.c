/* image.c - PNG input/output (libpng), PyTorch-exact bicubic resize, the
 * synthetic default scene, clamp and PSNR. Host memory, planar CHW float32. */
#include "pnp/image.h"

#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pnp/error.h"
#include "pnp/files.h"
#include "pnp/host.h"
#include "pnp/imgfile.h"
#include "pnp/philox.h"

pnp_image pnp_image_alloc(int c, int h, int w)
{
    pnp_image im = {c, h, w, NULL};
    im.data = pnp_calloc((size_t)c * h * w, sizeof(float));
    return im;
}

void pnp_image_free(pnp_image *im)
{
    free(im->data);
    im->data = NULL;
    im->c = im->h = im->w = 0;
}

/* ---------------------------------------------------------------- PNG */

int pnp_png_read(const char *path, pnp_image *out, char *err, size_t errlen)
{
    return pnp_png_read_fit(path, 0, out, NULL, NULL, err, errlen);
}

/* The observed dataset's reader (include/pnp/imgfile.h): grey stays grey,
 * 8 or 16 bits, alpha refused. */
int pnp_png_load(const char *path, int first, int count, pnp_file_info *info, float *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        snprintf(err, errlen, "%s: not a PNG file", path);
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop pi = png ? png_create_info_struct(png) : NULL;
    if (!png || !pi) {
        fclose(f);
        snprintf(err, errlen, "%s: libpng could not start", path);
        return -1;
    }
    unsigned char *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(buf);
        free(rows);
        png_destroy_read_struct(&png, &pi, NULL);
        fclose(f);
        snprintf(err, errlen, "%s: corrupt or truncated PNG", path);
        return -1;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, pi);
    const int color = png_get_color_type(png, pi), depth = png_get_bit_depth(png, pi);
    const char *why = NULL;
    if (color & PNG_COLOR_MASK_ALPHA) why = "has an alpha channel";
    else if (png_get_valid(png, pi, PNG_INFO_tRNS)) why = "has a transparency chunk (tRNS), i.e. alpha";
    if (why) {
        png_destroy_read_struct(&png, &pi, NULL);
        fclose(f);
        snprintf(err, errlen, "%s: %s; pnp takes grey or RGB images without alpha (save it without transparency)",
                 path, why);
        return -1;
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_swap(png); /* host (little-endian) uint16 */
    png_read_update_info(png, pi);
    const int w = (int)png_get_image_width(png, pi), h = (int)png_get_image_height(png, pi);
    const int c = png_get_channels(png, pi), bytes = png_get_bit_depth(png, pi) == 16 ? 2 : 1;
    *info = (pnp_file_info){1, c, h, w, c == 1 ? 2 : 3, "", "PNG"};
    snprintf(info->type, sizeof info->type, "%s", bytes == 2 ? "uint16" : "uint8");
    if (count == 0 || first != 0 || count != 1) {
        png_destroy_read_struct(&png, &pi, NULL);
        fclose(f);
        if (count == 0) return 0;
        snprintf(err, errlen, "%s: holds one image; image %d asked", path, first + count - 1);
        return -1;
    }
    const size_t rowbytes = png_get_rowbytes(png, pi);
    if (rowbytes != (size_t)w * c * bytes) longjmp(png_jmpbuf(png), 1);
    buf = pnp_malloc(rowbytes * h);
    rows = pnp_malloc(sizeof(png_bytep) * h);
    for (int y = 0; y < h; ++y) rows[y] = buf + rowbytes * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    const size_t plane = (size_t)h * w;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) {
                const size_t k = ((size_t)y * w + x) * c + ch;
                out[ch * plane + (size_t)y * w + x] =
                    bytes == 2 ? (float)((const uint16_t *)buf)[k] / 65535.0f : (float)buf[k] / 255.0f;
            }
    free(buf);
    free(rows);
    png_destroy_read_struct(&png, &pi, NULL);
    fclose(f);
    return 0;
}

uint8_t pnp_to_u8(float v)
{
    v = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
    return (unsigned char)lrintf(v * 255.0f);
}

uint16_t pnp_to_u16(float v)
{
    v = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
    return (uint16_t)lrintf(v * 65535.0f);
}

/* Encode im into the open file f with 8 or 16 bits per sample; 0 or -1 (message in err). */
static int png_encode(FILE *f, const char *path, const pnp_image *im, int bits, char *err, size_t errlen)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile row = NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        free(row);
        png_destroy_write_struct(&png, &info);
        snprintf(err, errlen, "%s: PNG write failed", path);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, im->w, im->h, bits, im->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const int bytes = bits / 8;
    row = pnp_malloc((size_t)im->w * im->c * bytes);
    const size_t plane = (size_t)im->h * im->w;
    for (int y = 0; y < im->h; ++y) {
        for (int x = 0; x < im->w; ++x)
            for (int c = 0; c < im->c; ++c) {
                const float v = im->data[c * plane + (size_t)y * im->w + x];
                const size_t k = (size_t)x * im->c + c;
                if (bytes == 1) {
                    row[k] = pnp_to_u8(v);
                } else { /* PNG is big-endian */
                    const uint16_t q = pnp_to_u16(v);
                    row[2 * k] = (unsigned char)(q >> 8), row[2 * k + 1] = (unsigned char)(q & 0xff);
                }
            }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    free(row);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int pnp_png_write_bits(const char *path, const pnp_image *im, int bits, char *err, size_t errlen)
{
    if (im->c != 3 && im->c != 1) {
        snprintf(err, errlen, "%s: can only write 1 or 3 channels, got %d", path, im->c);
        return -1;
    }
    if (bits != 8 && bits != 16) {
        snprintf(err, errlen, "%s: PNG takes 8 or 16 bits, not %d", path, bits);
        return -1;
    }
    char tmp[4400];
    if (pnp_output_begin(path, tmp, sizeof tmp, err, errlen)) return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create file: %s", path, strerror(errno));
        return pnp_output_commit(tmp, path, 0, err, errlen);
    }
    int rc = png_encode(f, path, im, bits, err, errlen);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: write failed (disk full?)", path);
        rc = -1;
    }
    return pnp_output_commit(tmp, path, rc == 0, err, errlen);
}

int pnp_png_write(const char *path, const pnp_image *im, char *err, size_t errlen)
{
    return pnp_png_write_bits(path, im, 8, err, errlen);
}

/* ------------------------------------------------------------- resize */

/* Cubic convolution weights for fraction t (Keys, A = -0.75), as ATen's
 * get_cubic_upsample_coefficients computes them, in float. */
static void cubic_weights(float t, float wgt[4])
{
    const float A = -0.75f;
    float x1 = t;
    wgt[0] = ((A * (x1 + 1) - 5 * A) * (x1 + 1) + 8 * A) * (x1 + 1) - 4 * A;
    wgt[1] = ((A + 2) * x1 - (A + 3)) * x1 * x1 + 1;
    float x2 = 1 - t;
    wgt[2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
    wgt[3] = ((A * (x2 + 1) - 5 * A) * (x2 + 1) + 8 * A) * (x2 + 1) - 4 * A;
}

/* For each output index: the 4 clamped input taps and their weights. */
static void cubic_taps(int in, int out, int *idx /*[out,4]*/, float *wgt /*[out,4]*/)
{
    const float scale = (float)in / (float)out;
    for (int d = 0; d < out; ++d) {
        float src = scale * ((float)d + 0.5f) - 0.5f; /* not clamped for cubic */
        float fl = floorf(src);
        int i0 = (int)fl;
        cubic_weights(src - fl, wgt + 4 * d);
        for (int k = 0; k < 4; ++k) {
            int i = i0 - 1 + k;
            idx[4 * d + k] = i < 0 ? 0 : (i > in - 1 ? in - 1 : i);
        }
    }
}

/* sum_k v[t[k]] * w[k], k < 4, in this order (one place, so that the whole-image
 * resize and the row-by-row PNG reader round alike) */
static inline float taps4(const float *v, const int *t, const float *w)
{
    return v[t[0]] * w[0] + v[t[1]] * w[1] + v[t[2]] * w[2] + v[t[3]] * w[3];
}
static const int TAPS_IN_ORDER[4] = {0, 1, 2, 3};

pnp_image pnp_resize_bicubic(const pnp_image *in, int out_h, int out_w)
{
    pnp_image out = pnp_image_alloc(in->c, out_h, out_w);
    int *ix = pnp_malloc(sizeof(int) * 4 * out_w), *iy = pnp_malloc(sizeof(int) * 4 * out_h);
    float *wx = pnp_malloc(sizeof(float) * 4 * out_w), *wy = pnp_malloc(sizeof(float) * 4 * out_h);
    cubic_taps(in->w, out_w, ix, wx);
    cubic_taps(in->h, out_h, iy, wy);
    for (int c = 0; c < in->c; ++c) {
        const float *src = in->data + (size_t)c * in->h * in->w;
        float *dst = out.data + (size_t)c * out_h * out_w;
        for (int y = 0; y < out_h; ++y)
            for (int x = 0; x < out_w; ++x) {
                /* interpolate along x in each of the 4 rows, then along y */
                float col[4];
                for (int r = 0; r < 4; ++r) col[r] = taps4(src + (size_t)iy[4 * y + r] * in->w, ix + 4 * x, wx + 4 * x);
                dst[(size_t)y * out_w + x] = taps4(col, TAPS_IN_ORDER, wy + 4 * y);
            }
    }
    free(ix);
    free(iy);
    free(wx);
    free(wy);
    return out;
}

void pnp_fit_longer_side(int h, int w, int longer, int *out_h, int *out_w)
{
    const double s = (double)longer / (double)(h > w ? h : w);
    *out_h = (int)(h * s);
    *out_w = (int)(w * s);
}

/* ------------------------------------------------ PNG, read to a size */

/* Everything a read holds, on the heap: a libpng error longjmps back to
 * pnp_png_read_fit, which frees it all through this one pointer. */
typedef struct {
    FILE *f;
    png_structp png;
    png_infop info;
    unsigned char *buf; /* decoded rows: one [w*3] (by rows) or all [h, w*3] */
    png_bytep *rows;    /* [h] into buf (whole decode) */
    float *line;        /* [3, w] one decoded row as floats (by rows) */
    float *slots;       /* [kept, 3, out_w] the rows the resize reads, resized along x */
    int *slot_of;       /* [h] slot of each input row, -1 when the resize never reads it */
    int *ix, *iy;       /* [out_w, 4], [out_h, 4] cubic taps */
    float *wx, *wy;
    pnp_image im;
    char why[200];      /* libpng's message, reported by pnp rather than printed by libpng */
} png_reader;

static void png_error_quiet(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->why, sizeof r->why, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_quiet(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void reader_free(png_reader *r)
{
    if (r->png) png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
    if (r->f) fclose(r->f);
    free(r->buf), free(r->rows), free(r->line), free(r->slots), free(r->slot_of);
    free(r->ix), free(r->iy), free(r->wx), free(r->wy);
    pnp_image_free(&r->im);
    free(r);
}

/* Sample k of decoded interleaved RGB (8 or 16 bits) as a float in [0,1]. */
static float sample(const unsigned char *buf, int bytes, size_t k)
{
    return bytes == 2 ? (float)((const uint16_t *)buf)[k] / 65535.0f : (float)buf[k] / 255.0f;
}

/* The whole image, then resized when asked (interlaced PNGs, or no resize). */
static void read_whole(png_reader *r, int h, int w, int bytes, size_t rowbytes, int out_h, int out_w)
{
    r->buf = pnp_malloc(rowbytes * h);
    r->rows = pnp_malloc(sizeof(png_bytep) * h);
    for (int y = 0; y < h; ++y) r->rows[y] = r->buf + rowbytes * y;
    png_read_image(r->png, r->rows);
    png_read_end(r->png, NULL);
    r->im = pnp_image_alloc(3, h, w);
    const size_t plane = (size_t)h * w;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                r->im.data[c * plane + (size_t)y * w + x] = sample(r->buf, bytes, ((size_t)y * w + x) * 3 + c);
    if (out_h != h || out_w != w) {
        pnp_image resized = pnp_resize_bicubic(&r->im, out_h, out_w);
        pnp_image_free(&r->im);
        r->im = resized;
    }
}

/* Row by row into the resize: each row the resize reads is resized along x as
 * it is decoded, then the kept rows are combined along y (pnp_resize_bicubic's
 * arithmetic, term for term). */
static void read_by_rows(png_reader *r, int h, int w, int bytes, size_t rowbytes, int out_h, int out_w, int kept)
{
    r->buf = pnp_malloc(rowbytes);
    r->line = pnp_malloc(sizeof(float) * 3 * w);
    r->slots = pnp_malloc(sizeof(float) * 3 * out_w * (size_t)kept);
    r->ix = pnp_malloc(sizeof(int) * 4 * out_w);
    r->wx = pnp_malloc(sizeof(float) * 4 * out_w);
    cubic_taps(w, out_w, r->ix, r->wx);
    for (int y = 0; y < h; ++y) {
        png_read_row(r->png, r->buf, NULL);
        if (r->slot_of[y] < 0) continue;
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) r->line[(size_t)c * w + x] = sample(r->buf, bytes, (size_t)x * 3 + c);
        float *slot = r->slots + (size_t)r->slot_of[y] * 3 * out_w;
        for (int c = 0; c < 3; ++c)
            for (int x = 0; x < out_w; ++x)
                slot[(size_t)c * out_w + x] = taps4(r->line + (size_t)c * w, r->ix + 4 * x, r->wx + 4 * x);
    }
    png_read_end(r->png, NULL);
    r->im = pnp_image_alloc(3, out_h, out_w);
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < out_h; ++y)
            for (int x = 0; x < out_w; ++x) {
                float col[4];
                for (int k = 0; k < 4; ++k)
                    col[k] = r->slots[((size_t)r->slot_of[r->iy[4 * y + k]] * 3 + c) * out_w + x];
                r->im.data[((size_t)c * out_h + y) * out_w + x] = taps4(col, TAPS_IN_ORDER, r->wy + 4 * y);
            }
}

int pnp_png_read_fit(const char *path, int longer, pnp_image *out, int *src_h, int *src_w, char *err,
                     size_t errlen)
{
    *out = (pnp_image){0};
    if (pnp_input_check(path, "PNG image", err, errlen)) return -1;
    png_reader *r = pnp_calloc(1, sizeof *r);
    unsigned char sig[8];
    if (!(r->f = fopen(path, "rb")) || fread(sig, 1, 8, r->f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        snprintf(err, errlen, "%s: not a PNG file", path);
        reader_free(r);
        return -1;
    }
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, png_error_quiet, png_warning_quiet);
    r->info = r->png ? png_create_info_struct(r->png) : NULL;
    if (!r->png || !r->info) {
        snprintf(err, errlen, "%s: libpng could not start", path);
        reader_free(r);
        return -1;
    }
    if (setjmp(png_jmpbuf(r->png))) { /* r itself is not modified after setjmp */
        snprintf(err, errlen, "%s: corrupt or truncated PNG%s%s%s", path, r->why[0] ? " (" : "", r->why,
                 r->why[0] ? ")" : "");
        reader_free(r);
        return -1;
    }
    png_init_io(r->png, r->f);
    png_set_sig_bytes(r->png, 8);
    png_read_info(r->png, r->info);
    const int color = png_get_color_type(r->png, r->info), depth = png_get_bit_depth(r->png, r->info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
    if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(r->png);
    png_set_strip_alpha(r->png);
    if (depth == 16) png_set_swap(r->png); /* host (little-endian) uint16 */
    png_set_interlace_handling(r->png);    /* interlaced PNGs are read whole (read_whole) */
    png_read_update_info(r->png, r->info);

    const int w = (int)png_get_image_width(r->png, r->info), h = (int)png_get_image_height(r->png, r->info);
    const int bytes = png_get_bit_depth(r->png, r->info) == 16 ? 2 : 1;
    const size_t rowbytes = png_get_rowbytes(r->png, r->info);
    if (rowbytes != (size_t)w * 3 * bytes) longjmp(png_jmpbuf(r->png), 1);
    int out_h = h, out_w = w;
    if (longer > 0) pnp_fit_longer_side(h, w, longer, &out_h, &out_w);
    if (out_h < 1 || out_w < 1) {
        snprintf(err, errlen, "%s: %dx%d resized to longer side %d gives %dx%d, no image", path, h, w, longer, out_h,
                 out_w);
        reader_free(r);
        return -1;
    }
    const bool resize = out_h != h || out_w != w;
    const bool by_rows = resize && png_get_interlace_type(r->png, r->info) == PNG_INTERLACE_NONE;
    int kept = 0; /* rows the resize reads */
    if (by_rows) {
        r->iy = pnp_malloc(sizeof(int) * 4 * out_h);
        r->wy = pnp_malloc(sizeof(float) * 4 * out_h);
        cubic_taps(h, out_h, r->iy, r->wy);
        r->slot_of = pnp_malloc(sizeof(int) * h);
        for (int y = 0; y < h; ++y) r->slot_of[y] = -1;
        for (int k = 0; k < 4 * out_h; ++k) r->slot_of[r->iy[k]] = 0;
        for (int y = 0; y < h; ++y)
            if (r->slot_of[y] == 0) r->slot_of[y] = kept++;
            else r->slot_of[y] = -1;
    }
    /* what the read holds at its peak, against the free memory, before allocating it */
    const double result = 12.0 * out_h * out_w, whole = (double)rowbytes * h + 12.0 * h * w;
    const double need = by_rows ? (double)rowbytes + 12.0 * w + 12.0 * out_w * kept + result
                                : whole + (resize ? result : 0);
    const double room = (double)pnp_host_free_bytes();
    if (need > room) {
        char a[32], b[32];
        snprintf(err, errlen, "%s: reading this %dx%d PNG%s needs %s (%s), more than the %s of free memory", path, w,
                 h, resize ? " resized" : "", pnp_format_bytes(need, a, sizeof a),
                 by_rows ? "row by row into the resize" : "decoded whole", pnp_format_bytes(room, b, sizeof b));
        reader_free(r);
        return -1;
    }
    if (by_rows) read_by_rows(r, h, w, bytes, rowbytes, out_h, out_w, kept);
    else read_whole(r, h, w, bytes, rowbytes, out_h, out_w);
    *out = r->im;
    r->im = (pnp_image){0};
    if (src_h) *src_h = h;
    if (src_w) *src_w = w;
    reader_free(r);
    return 0;
}

/* ---------------------------------------------------- synthetic scene */

static double uniform01(uint64_t seed, uint32_t stream, uint64_t i)
{
    pnp_philox_ctr c = {{(uint32_t)i, (uint32_t)(i >> 32), stream, 0x7363656eu}};
    c = pnp_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    return (double)c.v[0] / 4294967296.0;
}

pnp_image pnp_synthetic_scene(int h, int w, uint64_t seed)
{
    pnp_image im = pnp_image_alloc(3, h, w);
    const size_t plane = (size_t)h * w;
    const double s = (double)(h > w ? h : w);
    enum { NDISC = 12 };
    double cx[NDISC], cy[NDISC], rad[NDISC], col[NDISC][3];
    for (int d = 0; d < NDISC; ++d) {
        cx[d] = uniform01(seed, 1, 6 * d) * w;
        cy[d] = uniform01(seed, 1, 6 * d + 1) * h;
        rad[d] = (0.04 + 0.12 * uniform01(seed, 1, 6 * d + 2)) * s;
        for (int c = 0; c < 3; ++c) col[d][c] = 0.1 + 0.8 * uniform01(seed, 1, 6 * d + 3 + c);
    }
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const double u = x / s, v = y / s;
            /* smooth colour shading */
            double rgb[3] = {0.35 + 0.25 * u, 0.30 + 0.20 * v, 0.55 - 0.2 * u * v};
            /* discs with sharp edges, later ones on top */
            for (int d = 0; d < NDISC; ++d) {
                const double dx = x - cx[d], dy = y - cy[d];
                if (dx * dx + dy * dy < rad[d] * rad[d])
                    for (int c = 0; c < 3; ++c) rgb[c] = col[d][c];
            }
            /* a band of fine stripes of increasing frequency (resolution chart) */
            if (v > 0.80 && v < 0.92) {
                const double f = 8.0 + 120.0 * u;
                const double stripe = sin(2.0 * M_PI * f * u) > 0 ? 0.9 : 0.1;
                for (int c = 0; c < 3; ++c) rgb[c] = stripe;
            }
            /* a noise-texture patch in the top-left corner */
            if (u < 0.18 && v < 0.18) {
                const double t = uniform01(seed, 2, (uint64_t)(y / 2) * (uint64_t)w + (uint64_t)(x / 2));
                for (int c = 0; c < 3; ++c) rgb[c] = 0.25 + 0.5 * t;
            }
            for (int c = 0; c < 3; ++c)
                im.data[c * plane + (size_t)y * w + x] = (float)(rgb[c] < 0 ? 0 : (rgb[c] > 1 ? 1 : rgb[c]));
        }
    return im;
}

/* ------------------------------------------------------------ helpers */

void pnp_clamp01(float *x, size_t n)
{
    for (size_t i = 0; i < n; ++i) x[i] = x[i] < 0.f ? 0.f : (x[i] > 1.f ? 1.f : x[i]);
}

void pnp_quantize8(float *x, size_t n)
{
    for (size_t i = 0; i < n; ++i) x[i] = (float)pnp_to_u8(x[i]) / 255.0f;
}

double pnp_psnr(const float *x, const float *ref, size_t n)
{
    double se = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double d = (double)x[i] - (double)ref[i];
        se += d * d;
    }
    if (!isfinite(se)) return NAN; /* a NaN or an infinity in x */
    const double mse = se / (double)n;
    return mse == 0 ? INFINITY : -10.0 * log10(mse);
}
