/* layers_cpu.c - the CPU backend's layer engine apart from the convolutions
 * (those are in conv_cpu.c): NCHW float32 activations, element-wise sums,
 * image moves, sigma channel and pixel (un)shuffle: the reference a GPU layer
 * engine is to be tested against. */
#include <stdlib.h>
#include <string.h>

#include "backend_cpu.h"
#include "pnp/error.h"

size_t cpu_act_bytes(pnp_backend *be, int n, int c, int h, int w)
{
    (void)be;
    return (size_t)n * c * h * w * sizeof(float);
}

static void same_shape(const pnp_act *a, const pnp_act *b, const char *what)
{
    if (a->n != b->n || a->c != b->c || a->h != b->h || a->w != b->w)
        pnp_fatal("%s: shapes [%d,%d,%d,%d] and [%d,%d,%d,%d] differ", what, a->n, a->c, a->h, a->w, b->n, b->c, b->h,
                  b->w);
}

void cpu_act_add(pnp_backend *be, const pnp_act *a, const pnp_act *b, pnp_act *y)
{
    same_shape(a, b, "add");
    same_shape(a, y, "add");
    const size_t n = (size_t)a->n * a->c * a->h * a->w;
    const float *pa = a->data, *pb = b->data;
    float *py = y->data;
#pragma omp parallel for schedule(static) num_threads(cpu_threads(be))
    for (size_t i = 0; i < n; ++i) py[i] = pa[i] + pb[i];
}

void cpu_act_from_image(pnp_backend *be, const float *img, int n, int c, int h, int w, pnp_act *x)
{
    if (x->n != n || x->c != c || x->h < h || x->w < w)
        pnp_fatal("act_from_image: image [%d,%d,%d,%d] does not fit activation [%d,%d,%d,%d]", n, c, h, w, x->n, x->c,
                  x->h, x->w);
    float *out = x->data;
#pragma omp parallel for collapse(2) schedule(static) num_threads(cpu_threads(be))
    for (int p = 0; p < n * c; ++p)
        for (int y = 0; y < x->h; ++y) {
            const float *src = img + ((size_t)p * h + (y < h ? y : h - 1)) * w;
            float *dst = out + ((size_t)p * x->h + y) * x->w;
            memcpy(dst, src, sizeof(float) * w);
            for (int q = w; q < x->w; ++q) dst[q] = src[w - 1];
        }
}

void cpu_act_concat_const(pnp_backend *be, const pnp_act *x, float value, pnp_act *y)
{
    (void)be;
    if (y->n != x->n || y->c != x->c + 1 || y->h != x->h || y->w != x->w)
        pnp_fatal("concat_const: [%d,%d,%d,%d] + 1 channel is not [%d,%d,%d,%d]", x->n, x->c, x->h, x->w, y->n, y->c,
                  y->h, y->w);
    const size_t plane = (size_t)x->h * x->w, img = (size_t)x->c * plane;
    for (int n = 0; n < x->n; ++n) {
        memcpy((float *)y->data + n * (img + plane), (const float *)x->data + n * img, img * sizeof(float));
        float *cst = (float *)y->data + n * (img + plane) + img;
        for (size_t t = 0; t < plane; ++t) cst[t] = value;
    }
}

void cpu_act_to_image(pnp_backend *be, const pnp_act *x, int h, int w, float *img)
{
    (void)be;
    if (h > x->h || w > x->w) pnp_fatal("act_to_image: crop %dx%d larger than [%d,%d]", h, w, x->h, x->w);
    for (int p = 0; p < x->n * x->c; ++p)
        for (int y = 0; y < h; ++y)
            memcpy(img + ((size_t)p * h + y) * w, (const float *)x->data + ((size_t)p * x->h + y) * x->w,
                   sizeof(float) * w);
}

/* PyTorch's pixel_unshuffle(2): y[n, c*4 + dy*2 + dx, i, j] = x[n, c, 2i + dy, 2j + dx]. */
void cpu_pixel_unshuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y)
{
    (void)be;
    if (y->n != x->n || y->c != 4 * x->c || 2 * y->h != x->h || 2 * y->w != x->w)
        pnp_fatal("pixel_unshuffle: [%d,%d,%d,%d] -> [%d,%d,%d,%d] is not a 2x2 unshuffle", x->n, x->c, x->h, x->w,
                  y->n, y->c, y->h, y->w);
    const float *xs = x->data;
    float *ys = y->data;
    for (int n = 0; n < x->n; ++n)
        for (int c = 0; c < x->c; ++c)
            for (int d = 0; d < 4; ++d)
                for (int i = 0; i < y->h; ++i)
                    for (int j = 0; j < y->w; ++j)
                        ys[(((size_t)n * y->c + c * 4 + d) * y->h + i) * y->w + j] =
                            xs[(((size_t)n * x->c + c) * x->h + 2 * i + d / 2) * x->w + 2 * j + d % 2];
}

void cpu_pixel_shuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y)
{
    (void)be;
    if (y->n != x->n || 4 * y->c != x->c || y->h != 2 * x->h || y->w != 2 * x->w)
        pnp_fatal("pixel_shuffle: [%d,%d,%d,%d] -> [%d,%d,%d,%d] is not a 2x2 shuffle", x->n, x->c, x->h, x->w, y->n,
                  y->c, y->h, y->w);
    const float *xs = x->data;
    float *ys = y->data;
    for (int n = 0; n < y->n; ++n)
        for (int c = 0; c < y->c; ++c)
            for (int d = 0; d < 4; ++d)
                for (int i = 0; i < x->h; ++i)
                    for (int j = 0; j < x->w; ++j)
                        ys[(((size_t)n * y->c + c) * y->h + 2 * i + d / 2) * y->w + 2 * j + d % 2] =
                            xs[(((size_t)n * x->c + c * 4 + d) * x->h + i) * x->w + j];
}
