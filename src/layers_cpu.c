/* layers_cpu.c - the CPU backend's layer engine: NCHW float32 activations,
 * direct convolutions parallel over (image, output channel) with OpenMP, the
 * inner loops running along contiguous rows so the compiler vectorises them.
 * It is the reference the CUDA layer engine is tested against. */
#include <stdlib.h>
#include <string.h>

#include "layers_cpu.h"
#include "pnp/error.h"

struct pnp_conv {
    int cin, cout, k, stride, pad;
    bool transposed;
    float *w;    /* conv: [cout, cin, k, k]; transposed: [cin, cout, k, k] (PyTorch's) */
    float *bias; /* [cout] or NULL */
};

size_t cpu_act_bytes(pnp_backend *be, int n, int c, int h, int w)
{
    (void)be;
    return (size_t)n * c * h * w * sizeof(float);
}

pnp_conv *cpu_conv_create(pnp_backend *be, int cin, int cout, int k, int stride, int pad, bool transposed,
                          const float *weight, const float *bias)
{
    (void)be;
    if (transposed && (stride != k || pad != 0))
        pnp_fatal("cpu conv: transposed convolutions need stride == kernel and no padding (k %d, stride %d, pad %d)",
                  k, stride, pad);
    pnp_conv *cv = pnp_calloc(1, sizeof *cv);
    *cv = (pnp_conv){cin, cout, k, stride, pad, transposed, NULL, NULL};
    const size_t nw = (size_t)cin * cout * k * k;
    cv->w = pnp_malloc(nw * sizeof(float));
    memcpy(cv->w, weight, nw * sizeof(float));
    if (bias) {
        cv->bias = pnp_malloc((size_t)cout * sizeof(float));
        memcpy(cv->bias, bias, (size_t)cout * sizeof(float));
    }
    return cv;
}

void cpu_conv_destroy(pnp_conv *cv)
{
    if (!cv) return;
    free(cv->w);
    free(cv->bias);
    free(cv);
}

static void check_shapes(const pnp_conv *cv, const pnp_act *x, const pnp_act *y)
{
    int oh, ow;
    if (cv->transposed) {
        oh = x->h * cv->k;
        ow = x->w * cv->k;
    } else {
        oh = (x->h + 2 * cv->pad - cv->k) / cv->stride + 1;
        ow = (x->w + 2 * cv->pad - cv->k) / cv->stride + 1;
    }
    if (x->c != cv->cin || y->c != cv->cout || y->n != x->n || y->h != oh || y->w != ow)
        pnp_fatal("conv %dx%d (%d -> %d channels, stride %d%s): input [%d,%d,%d,%d] does not give output [%d,%d,%d,%d]",
                  cv->k, cv->k, cv->cin, cv->cout, cv->stride, cv->transposed ? ", transposed" : "", x->n, x->c, x->h,
                  x->w, y->n, y->c, y->h, y->w);
}

/* out plane [oh, ow] += conv of one input plane [h, w] with one k x k filter. */
static void conv_plane(const float *in, int h, int w, const float *f, int k, int stride, int pad, float *out, int oh,
                       int ow)
{
    for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx) {
            const float wv = f[ky * k + kx];
            /* output columns whose input column ox*stride + kx - pad is inside [0, w) */
            int x0 = pad - kx > 0 ? (pad - kx + stride - 1) / stride : 0;
            int x1 = (w - 1 + pad - kx) / stride; /* inclusive */
            if (x1 > ow - 1) x1 = ow - 1;
            if (w - 1 + pad - kx < 0) continue;
            for (int oy = 0; oy < oh; ++oy) {
                const int iy = oy * stride + ky - pad;
                if (iy < 0 || iy >= h) continue;
                const float *row = in + (size_t)iy * w + kx - pad;
                float *orow = out + (size_t)oy * ow;
                if (stride == 1)
                    for (int ox = x0; ox <= x1; ++ox) orow[ox] += wv * row[ox];
                else
                    for (int ox = x0; ox <= x1; ++ox) orow[ox] += wv * row[ox * stride];
            }
        }
}

void cpu_conv_forward(pnp_conv *cv, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual)
{
    check_shapes(cv, x, y);
    if (residual && (residual->n != y->n || residual->c != y->c || residual->h != y->h || residual->w != y->w))
        pnp_fatal("conv: residual [%d,%d,%d,%d] does not match output [%d,%d,%d,%d]", residual->n, residual->c,
                  residual->h, residual->w, y->n, y->c, y->h, y->w);
    const int k = cv->k, N = x->n, Ci = x->c, Co = y->c, H = x->h, W = x->w, OH = y->h, OW = y->w;
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)OH * OW;
    const float *xs = x->data;
    float *ys = y->data;
    const float *rs = residual ? residual->data : NULL;
#pragma omp parallel
    {
        float *acc = pnp_malloc(out_plane * sizeof(float));
#pragma omp for schedule(dynamic) collapse(2)
        for (int n = 0; n < N; ++n)
            for (int co = 0; co < Co; ++co) {
                const float b = cv->bias ? cv->bias[co] : 0.f;
                for (size_t t = 0; t < out_plane; ++t) acc[t] = b;
                for (int ci = 0; ci < Ci; ++ci) {
                    const float *in = xs + ((size_t)n * Ci + ci) * in_plane;
                    if (!cv->transposed) {
                        conv_plane(in, H, W, cv->w + ((size_t)co * Ci + ci) * k * k, k, cv->stride, cv->pad, acc, OH,
                                   OW);
                    } else { /* stride == k: each input pixel fills its own k x k output block */
                        const float *f = cv->w + ((size_t)ci * Co + co) * k * k;
                        for (int iy = 0; iy < H; ++iy)
                            for (int ky = 0; ky < k; ++ky) {
                                float *orow = acc + (size_t)(iy * k + ky) * OW;
                                const float *irow = in + (size_t)iy * W;
                                for (int kx = 0; kx < k; ++kx) {
                                    const float wv = f[ky * k + kx];
                                    for (int ix = 0; ix < W; ++ix) orow[ix * k + kx] += wv * irow[ix];
                                }
                            }
                    }
                }
                float *out = ys + ((size_t)n * Co + co) * out_plane;
                const float *res = rs ? rs + ((size_t)n * Co + co) * out_plane : NULL;
                for (size_t t = 0; t < out_plane; ++t) {
                    float v = acc[t];
                    if (relu && v < 0.f) v = 0.f;
                    out[t] = res ? v + res[t] : v;
                }
            }
        free(acc);
    }
}

static void same_shape(const pnp_act *a, const pnp_act *b, const char *what)
{
    if (a->n != b->n || a->c != b->c || a->h != b->h || a->w != b->w)
        pnp_fatal("%s: shapes [%d,%d,%d,%d] and [%d,%d,%d,%d] differ", what, a->n, a->c, a->h, a->w, b->n, b->c, b->h,
                  b->w);
}

void cpu_act_add(pnp_backend *be, const pnp_act *a, const pnp_act *b, pnp_act *y)
{
    (void)be;
    same_shape(a, b, "add");
    same_shape(a, y, "add");
    const size_t n = (size_t)a->n * a->c * a->h * a->w;
    const float *pa = a->data, *pb = b->data;
    float *py = y->data;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) py[i] = pa[i] + pb[i];
}

void cpu_act_from_image(pnp_backend *be, const float *img, int n, int c, int h, int w, pnp_act *x)
{
    (void)be;
    if (x->n != n || x->c != c || x->h < h || x->w < w)
        pnp_fatal("act_from_image: image [%d,%d,%d,%d] does not fit activation [%d,%d,%d,%d]", n, c, h, w, x->n, x->c,
                  x->h, x->w);
    float *out = x->data;
#pragma omp parallel for collapse(2) schedule(static)
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
