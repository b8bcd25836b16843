/* image.h - host images: PNG in/out, PyTorch-exact bicubic resize, the
 * deterministic synthetic scene used when no image file is given.
 * Layout everywhere: planar CHW float32, values nominally in [0, 1]. */
#ifndef PNP_IMAGE_H
#define PNP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int c, h, w;
    float *data; /* [c, h, w] */
} pnp_image;

static inline size_t pnp_image_numel(const pnp_image *im)
{
    return (size_t)im->c * (size_t)im->h * (size_t)im->w;
}

pnp_image pnp_image_alloc(int c, int h, int w); /* zero-filled */
void pnp_image_free(pnp_image *im);

/* Read an 8- or 16-bit PNG (gray, RGB, palette, with or without alpha) as RGB
 * [3,H,W] in [0,1] (value / 255 or / 65535; alpha dropped, gray replicated).
 * Returns 0, or -1 with a message naming the file in err (no such file, a
 * folder, not a PNG, corrupt or truncated, too large for the free memory). */
int pnp_png_read(const char *path, pnp_image *out, char *err, size_t errlen);

/* The same, resized bicubically (exactly pnp_resize_bicubic) so that the longer
 * side is `longer` (pnp_fit_longer_side; 0 or the PNG's own size: no resize).
 * A resized PNG is decoded row by row into the resize, keeping only the rows
 * the resize reads, each resized along x: a 20000x20000 PNG read for a 64-pixel
 * target holds kilobytes, not gigabytes (an interlaced PNG cannot be read by
 * rows: it is decoded whole). What the read will hold is checked against the
 * free memory (include/pnp/host.h) before anything is allocated, so a header
 * claiming more is refused naming the file and the sizes. src_h, src_w (may be
 * NULL): the PNG's own size. 0, or -1 with the message in err. */
int pnp_png_read_fit(const char *path, int longer, pnp_image *out, int *src_h, int *src_w, char *err,
                     size_t errlen);

/* Write [3,H,W] (or [1,H,W]) clamped to [0,1] as an 8-bit PNG (values rounded
 * as pnp_quantize8 does), under a temporary name renamed to `path` once
 * complete: a failed write never leaves a partial file. 0, or -1 and err. */
int pnp_png_write(const char *path, const pnp_image *im, char *err, size_t errlen);

/* v clamped to [0,1] on the 8- or 16-bit grid: round(v * 255) or round(v * 65535),
 * ties to even (what pnp's integer writers store). */
uint8_t pnp_to_u8(float v);
uint16_t pnp_to_u16(float v);

/* Bicubic resize exactly as torch.nn.functional.interpolate(mode='bicubic',
 * align_corners=False, size=(out_h, out_w)): A = -0.75, source coordinate
 * (dst + 0.5) * in/out - 0.5, border taps clamped to the edge. No clamping of values. */
pnp_image pnp_resize_bicubic(const pnp_image *in, int out_h, int out_w);

/* The output size that makes the longer side `longer` while keeping the aspect
 * ratio, as the benchmark does: int(side * longer / max(h, w)). */
void pnp_fit_longer_side(int h, int w, int longer, int *out_h, int *out_w);

/* Deterministic synthetic colour scene [3,H,W] in [0,1]: smooth shading, sharp
 * discs and bars, fine stripes and a texture patch, so deblurring has edges and
 * detail to recover. A pure function of (h, w, seed). */
pnp_image pnp_synthetic_scene(int h, int w, uint64_t seed);

void pnp_clamp01(float *x, size_t n);
/* Clamp to [0,1] and round to the 8-bit grid (k / 255): what pnp_png_write
 * stores, and what KAIR's tensor2uint does before measuring PSNR. */
void pnp_quantize8(float *x, size_t n);

/* PSNR in dB with peak 1 over all elements: infinity for equal images, NaN
 * when x holds a NaN or an infinity (never a "perfect" score for them). */
double pnp_psnr(const float *x, const float *ref, size_t n);

#endif
