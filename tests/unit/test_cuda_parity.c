/* test_cuda_parity.c - the CUDA backend against the CPU backend: blur A x and
 * A^T y (max abs 1e-5), the measurement noise (bit-identical), the data-term
 * gradient (1e-5 relative to its max), x + a y (1e-6: the inputs differ by the
 * gradient's rounding), clamp (exact), the squared
 * error (relative 1e-12), and window gather / scatter (exact; also two gathers
 * queued back to back, whose window starts share a pinned staging buffer).
 *
 * Then the cuDNN layer engine, each op on random data against the CPU backend,
 * whole DRUNets (random weights, drunet:16,32,64,128:1, 64x48 batch 2 and a
 * padded 61x45) and the trained DnCNN / FFDNet of kair-small denoising a
 * CBSD68 crop, in three arithmetic modes of the CUDA backend. Errors are
 * max |gpu - cpu| / max |cpu| ("rel") unless said otherwise:
 *   tf32    fp32 data, cuDNN free to use TF32 tensor cores (the default). TF32
 *           rounds both factors of every product to a 10-bit mantissa (relative
 *           error up to 2^-11 each when rounded, 2^-10 when truncated), sums in
 *           float32: a 3x3 convolution's output carries an error of about 1e-3
 *           of its typical size, a few times less relative to its maximum, so
 *           the brief's 1e-4 is out of reach. Tolerances: 4e-3 per convolution
 *           (3x the worst-case estimate), 2e-2 for a whole DRUNet (the error
 *           grows over ~30 layers). Whether the tensor cores round or truncate
 *           is not documented, so a probe finds out first (a convolution whose
 *           exact, rounded and truncated results differ; tf32_rounding) and the
 *           trained denoisers' PSNR tolerance follows from it: 0.01 dB for
 *           unbiased rounding; truncation also shrinks every product, on
 *           average by delta = 2 x 2^-11 x E[1/m] = 1.44 x 2^-11 ~ 7.0e-4 (13
 *           dropped bits, half a TF32 ulp on average, over a mantissa m spread
 *           log-uniformly in [1, 2)), a gain of (1 - delta) per convolution that
 *           ReLU passes on: the PSNR then moves as that of the CPU output with
 *           its convolution stack scaled by (1 - delta)^L (L convolutions;
 *           DnCNN's stack is the noise it subtracts), and the tolerance is
 *           0.01 dB plus that predicted shift (emulated: FFDNet loses 0.034
 *           dB when truncating, 0.043 predicted; +0.002 dB when rounding).
 *   bf16    bfloat16 activations and weights (8-bit mantissa: 2^-9 relative
 *           rounding of inputs, weights and every stored output), float32 sums:
 *           2e-2 per convolution; moves exact up to that rounding and sums up to
 *           three roundings (8e-3); DRUNet by relative L2 error <= 5e-2 (a
 *           layout or filter bug gives ~1); trained denoisers' PSNR within 0.05 dB.
 *   strict  fp32 with TF32 forbidden (PNP_CUDA_TF32=0, CUDNN_FMA_MATH): 1e-4
 *           per convolution and 3e-4 for DRUNet (float32 sums in another order,
 *           and cuDNN may pick Winograd or FFT algorithms, whose transforms cost
 *           some 1e-5), PSNR within 0.001 dB; run last, since a cuDNN that
 *           refuses plain-FMA NHWC kernels ends the process.
 * Moves and sums (image <-> activation with replicate padding and crop, sigma
 * channel, pixel (un)shuffle, add) are bit-identical in fp32 modes.
 * PNP_PARITY_MODES=tf32,bf16,strict (the default) picks the modes the layer
 * engine runs in. Under the CUDA emulation (tests/cuda_emu/, PNP_CUDA_EMU=1)
 * the probe must find the rounding PNP_EMU_TF32 asks for, and the backend must
 * count unfused convolutions exactly when PNP_EMU_REFUSE_FUSED refuses the
 * fused call. Built wherever the CUDA backend is; reports "skipped: no GPU"
 * where no device is visible. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden.h"
#include "random_net.h"
#include "pnp/backend.h"
#include "pnp/blur.h"
#include "pnp/denoiser.h"
#include "pnp/error.h"
#include "pnp/image.h"
#include "pnp/philox.h"
#include "pnp/tiling.h"
#include "pnp/weights.h"

#ifdef PNP_WITH_CUDA

/* ------------------------------------------------------------ helpers */

static uint64_t rng = 12345;

/* uniform in [-1, 1) (splitmix64) */
static float urand(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static float *random_floats(size_t n, float scale)
{
    float *x = pnp_malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; ++i) x[i] = scale * urand();
    return x;
}

static double rel_err(const float *got, const float *ref, size_t n)
{
    const double m = max_abs(ref, n);
    return max_abs_diff(got, ref, n) / (m > 0 ? m : 1);
}

static double rel_l2(const float *got, const float *ref, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; ++i) {
        d += ((double)got[i] - ref[i]) * ((double)got[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return d != d ? d : sqrt(d / (r > 0 ? r : 1));
}

static size_t numel4(const pnp_act *a) { return (size_t)a->n * a->c * a->h * a->w; }

static pnp_act act_new(pnp_backend *be, int n, int c, int h, int w)
{
    return (pnp_act){be->ops->alloc(be, be->ops->act_bytes(be, n, c, h, w)), n, c, h, w};
}

static void act_del(pnp_backend *be, pnp_act *a) { be->ops->free(be, a->data); }

/* a = the host image img [a->n, a->c, h, w] (replicate-padded to a's size) */
static void act_set(pnp_backend *be, pnp_act *a, const float *img, int h, int w)
{
    const size_t bytes = sizeof(float) * a->n * a->c * h * w;
    float *d = be->ops->alloc(be, bytes);
    be->ops->upload(be, d, img, bytes);
    be->ops->act_from_image(be, d, a->n, a->c, h, w, a);
    be->ops->free(be, d);
}

/* The top-left h x w of a as a host NCHW image (malloc'ed). */
static float *act_get(pnp_backend *be, const pnp_act *a, int h, int w)
{
    const size_t bytes = sizeof(float) * a->n * a->c * h * w;
    float *d = be->ops->alloc(be, bytes), *host = pnp_malloc(bytes);
    be->ops->act_to_image(be, a, h, w, d);
    be->ops->download(be, host, d, bytes);
    be->ops->free(be, d);
    return host;
}

/* gpu activation a == cpu activation b within tol (rel) */
static void same_act(pnp_backend *cpu, const pnp_act *ref, pnp_backend *gpu, const pnp_act *got, double tol,
                     const char *mode, const char *what)
{
    float *r = act_get(cpu, ref, ref->h, ref->w), *g = act_get(gpu, got, got->h, got->w);
    const double e = rel_err(g, r, numel4(ref));
    CHECK(e <= tol, "%s: %s: rel %.3g (tol %g)", mode, what, e, tol);
    free(r), free(g);
}

typedef struct {
    const char *name;
    pnp_backend *gpu;
    double move_tol;   /* ops that only move or add values */
    double conv_tol;   /* one convolution */
    double net_tol;    /* whole DRUNet, rel (or relative L2 when net_l2) */
    bool net_l2;
    double psnr_tol;   /* trained denoisers: |PSNR gpu - PSNR cpu| in dB, plus the shift predicted by */
    double shrink;     /* the mean relative shrinking of a product (TF32 truncation; header) */
} mode;

static bool emulated(void) { return getenv("PNP_CUDA_EMU") != NULL; }

/* ------------------------------------------------------------ moves */

static void check_moves(pnp_backend *cpu, const mode *m)
{
    pnp_backend *gpu = m->gpu;
    const int n = 2, c = 3, h = 37, w = 45, H = 40, W = 48;
    float *img = random_floats((size_t)n * c * h * w, 1.f);
    pnp_act xc = act_new(cpu, n, c, H, W), xg = act_new(gpu, n, c, H, W);
    act_set(cpu, &xc, img, h, w);
    act_set(gpu, &xg, img, h, w);
    same_act(cpu, &xc, gpu, &xg, m->move_tol, m->name, "act_from_image [2,3,37,45] into [2,3,40,48] (replicate pad)");
    float *crop = act_get(gpu, &xg, h, w);
    const double ce = rel_err(crop, img, (size_t)n * c * h * w);
    CHECK(ce <= m->move_tol, "%s: act_to_image crops back to the input: rel %.3g", m->name, ce);
    free(crop);

    pnp_act sc = act_new(cpu, n, c + 1, H, W), sg = act_new(gpu, n, c + 1, H, W);
    cpu->ops->act_concat_const(cpu, &xc, 0.3f, &sc);
    gpu->ops->act_concat_const(gpu, &xg, 0.3f, &sg);
    same_act(cpu, &sc, gpu, &sg, m->move_tol, m->name, "concat_const: a sigma channel of 0.3 (3 -> 4 channels)");

    pnp_act uc = act_new(cpu, n, 4 * c, H / 2, W / 2), ug = act_new(gpu, n, 4 * c, H / 2, W / 2);
    cpu->ops->pixel_unshuffle2(cpu, &xc, &uc);
    gpu->ops->pixel_unshuffle2(gpu, &xg, &ug);
    same_act(cpu, &uc, gpu, &ug, m->move_tol, m->name, "pixel_unshuffle2 [2,3,40,48] -> [2,12,20,24]");
    pnp_act bg = act_new(gpu, n, c, H, W);
    gpu->ops->pixel_shuffle2(gpu, &ug, &bg);
    same_act(cpu, &xc, gpu, &bg, m->move_tol, m->name, "pixel_shuffle2 undoes pixel_unshuffle2");

    const int ca = 13, ha = 16, wa = 24; /* 13 channels: a padded channel stride on the GPU */
    float *ia = random_floats((size_t)n * ca * ha * wa, 1.f), *ib = random_floats((size_t)n * ca * ha * wa, 1.f);
    pnp_act ac = act_new(cpu, n, ca, ha, wa), bc = act_new(cpu, n, ca, ha, wa);
    pnp_act ag = act_new(gpu, n, ca, ha, wa), bgg = act_new(gpu, n, ca, ha, wa);
    act_set(cpu, &ac, ia, ha, wa), act_set(cpu, &bc, ib, ha, wa);
    act_set(gpu, &ag, ia, ha, wa), act_set(gpu, &bgg, ib, ha, wa);
    cpu->ops->act_add(cpu, &ac, &bc, &ac); /* in place, as DRUNet adds its skips */
    gpu->ops->act_add(gpu, &ag, &bgg, &ag);
    same_act(cpu, &ac, gpu, &ag, m->move_tol, m->name, "act_add a += b, 13 channels");

    act_del(cpu, &xc), act_del(gpu, &xg), act_del(cpu, &sc), act_del(gpu, &sg), act_del(cpu, &uc);
    act_del(gpu, &ug), act_del(gpu, &bg), act_del(cpu, &ac), act_del(cpu, &bc), act_del(gpu, &ag), act_del(gpu, &bgg);
    free(img), free(ia), free(ib);
}

/* ------------------------------------------------------------ convolutions */

typedef struct {
    int cin, cout, k, stride, pad, transposed, bias, relu;
    int residual; /* 0 none, 1 the output itself (in place), 2 another buffer */
    int n, h, w;  /* input */
    const char *what;
} conv_case;

static const conv_case CONV_CASES[] = {
    {4, 16, 3, 1, 1, 0, 0, 1, 0, 2, 24, 40, "3x3 4 -> 16, ReLU (fused call)"},
    {16, 16, 3, 1, 1, 0, 0, 0, 1, 2, 24, 40, "3x3 16 -> 16 + residual in place (a block's second conv)"},
    {16, 16, 3, 1, 1, 0, 0, 0, 2, 2, 21, 30, "3x3 16 -> 16 + residual from another buffer, 21x30"},
    {13, 24, 3, 1, 1, 0, 1, 1, 0, 1, 20, 24, "3x3 13 -> 24, bias, ReLU (FFDNet's first layer)"},
    {24, 12, 3, 1, 1, 0, 1, 0, 0, 1, 20, 24, "3x3 24 -> 12, bias (FFDNet's last layer)"},
    {16, 3, 3, 1, 1, 0, 1, 0, 2, 2, 24, 40, "3x3 16 -> 3, bias + residual (DnCNN's last layer)"},
    {16, 16, 3, 1, 1, 0, 1, 1, 2, 1, 24, 40, "3x3 16 -> 16, bias, ReLU, then residual (scratch + epilogue)"},
    {64, 64, 3, 1, 1, 0, 0, 1, 0, 1, 32, 48, "3x3 64 -> 64, ReLU"},
    {16, 32, 2, 2, 0, 0, 0, 0, 0, 2, 24, 40, "2x2 stride 2 down 16 -> 32"},
    {32, 16, 2, 2, 0, 1, 0, 0, 0, 2, 12, 20, "2x2 transposed up 32 -> 16 (backward data)"},
    {32, 16, 2, 2, 0, 1, 0, 0, 1, 1, 12, 20, "2x2 transposed 32 -> 16 + residual in place"},
    {24, 8, 2, 2, 0, 1, 1, 1, 2, 1, 12, 20, "2x2 transposed 24 -> 8, bias, ReLU, residual"},
};

static void check_conv(pnp_backend *cpu, const mode *m, const conv_case *t)
{
    pnp_backend *gpu = m->gpu;
    const int oh = t->transposed ? t->h * t->k : (t->h + 2 * t->pad - t->k) / t->stride + 1;
    const int ow = t->transposed ? t->w * t->k : (t->w + 2 * t->pad - t->k) / t->stride + 1;
    const int fan_in = t->transposed ? t->cin : t->cin * t->k * t->k;
    float *wt = random_floats((size_t)t->cin * t->cout * t->k * t->k, (float)sqrt(3.0 / fan_in));
    float *b = t->bias ? random_floats((size_t)t->cout, 0.1f) : NULL;
    pnp_conv *cc = cpu->ops->conv_create(cpu, t->cin, t->cout, t->k, t->stride, t->pad, t->transposed, wt, b);
    pnp_conv *cg = gpu->ops->conv_create(gpu, t->cin, t->cout, t->k, t->stride, t->pad, t->transposed, wt, b);
    const size_t in_n = (size_t)t->n * t->cin * t->h * t->w, out_n = (size_t)t->n * t->cout * oh * ow;
    float *xi = random_floats(in_n, 1.f), *ri = random_floats(out_n, 1.f), *poison = random_floats(out_n, 50.f);
    pnp_act xc = act_new(cpu, t->n, t->cin, t->h, t->w), xg = act_new(gpu, t->n, t->cin, t->h, t->w);
    pnp_act yc = act_new(cpu, t->n, t->cout, oh, ow), yg = act_new(gpu, t->n, t->cout, oh, ow);
    pnp_act rc = act_new(cpu, t->n, t->cout, oh, ow), rg = act_new(gpu, t->n, t->cout, oh, ow);
    act_set(cpu, &xc, xi, t->h, t->w);
    act_set(gpu, &xg, xi, t->h, t->w);
    act_set(cpu, &rc, ri, oh, ow);
    act_set(gpu, &rg, ri, oh, ow);
    if (t->residual == 1) { /* y starts as the residual */
        act_set(cpu, &yc, ri, oh, ow);
        act_set(gpu, &yg, ri, oh, ow);
    } else {
        act_set(gpu, &yg, poison, oh, ow); /* every output element must be written */
    }
    const pnp_act *resc = t->residual == 1 ? &yc : t->residual == 2 ? &rc : NULL;
    const pnp_act *resg = t->residual == 1 ? &yg : t->residual == 2 ? &rg : NULL;
    cpu->ops->conv_forward(cc, &xc, &yc, t->relu, resc);
    gpu->ops->conv_forward(cg, &xg, &yg, t->relu, resg);
    char what[256];
    snprintf(what, sizeof what, "%s on [%d,%d,%d,%d]", t->what, t->n, t->cin, t->h, t->w);
    same_act(cpu, &yc, gpu, &yg, m->conv_tol, m->name, what);
    if (t->residual != 1) { /* the second call runs the cached algorithm: the same bits */
        float *first = act_get(gpu, &yg, oh, ow);
        act_set(gpu, &yg, poison, oh, ow);
        gpu->ops->conv_forward(cg, &xg, &yg, t->relu, resg);
        float *second = act_get(gpu, &yg, oh, ow);
        CHECK(!memcmp(first, second, sizeof(float) * out_n), "%s: %s: a second call gives the same bits", m->name,
              t->what);
        free(first), free(second);
    }
    cpu->ops->conv_destroy(cc);
    gpu->ops->conv_destroy(cg);
    act_del(cpu, &xc), act_del(gpu, &xg), act_del(cpu, &yc), act_del(gpu, &yg), act_del(cpu, &rc), act_del(gpu, &rg);
    free(wt), free(b), free(xi), free(ri), free(poison);
}

/* ------------------------------------------------------------ networks */

/* out [n,3,h,w] (host) = D(img) on backend be */
static void denoise_on(pnp_backend *be, pnp_denoiser *dn, const float *img, int n, int h, int w, float sigma,
                       float *out)
{
    const size_t bytes = sizeof(float) * n * 3 * h * w;
    float *x = be->ops->alloc(be, bytes), *y = be->ops->alloc(be, bytes);
    be->ops->upload(be, x, img, bytes);
    pnp_denoiser_forward(dn, x, n, h, w, sigma, y);
    be->ops->download(be, out, y, bytes);
    be->ops->free(be, x);
    be->ops->free(be, y);
}

static void check_drunet(pnp_backend *cpu, const mode *m)
{
    const char *spec = "drunet:16,32,64,128:1";
    pnp_denoiser *dc = random_net(cpu, spec, 5), *dg = random_net(m->gpu, spec, 5);
    const int shapes[2][3] = {{2, 64, 48}, {1, 61, 45}};
    for (int s = 0; s < 2; ++s) {
        const int n = shapes[s][0], h = shapes[s][1], w = shapes[s][2];
        const size_t numel = (size_t)n * 3 * h * w;
        float *img = random_floats(numel, 0.5f), *ref = pnp_malloc(sizeof(float) * numel);
        float *got = pnp_malloc(sizeof(float) * numel);
        for (size_t i = 0; i < numel; ++i) img[i] += 0.5f;
        denoise_on(cpu, dc, img, n, h, w, 0.05f, ref);
        denoise_on(m->gpu, dg, img, n, h, w, 0.05f, got);
        const double e = m->net_l2 ? rel_l2(got, ref, numel) : rel_err(got, ref, numel);
        CHECK(e <= m->net_tol, "%s: DRUNet %s on [%d,3,%d,%d] = cpu: %s %.3g (tol %g)", m->name, spec, n, h, w,
              m->net_l2 ? "relative L2" : "rel", e, m->net_tol);
        const size_t planned = pnp_denoiser_activation_bytes(dg, n, h, w);
        CHECK(m->gpu->ops->peak_bytes(m->gpu) >= planned, "%s: GPU peak %zu B holds the planned activations %zu B",
              m->name, m->gpu->ops->peak_bytes(m->gpu), planned);
        free(img), free(ref), free(got);
    }
    pnp_denoiser_destroy(dc);
    pnp_denoiser_destroy(dg);
}

/* The trained DnCNN and FFDNet of kair-small on a 128x192 crop of a CBSD68
 * photo with noise 25/255 (pnp denoise's generator, unclipped): the GPU's
 * PSNR (output rounded to 8 bits) within m->psnr_tol of the CPU's. */
static void check_trained(pnp_backend *cpu, const mode *m)
{
    const char *names[] = {"dncnn", "ffdnet"};
    const char *files[] = {"weights/kair-small/dncnn_color_blind.h5", "weights/kair-small/ffdnet_color.h5"};
    char err[512];
    pnp_image photo;
    if (pnp_png_read(shared_path("images/CBSD68/101085.png"), &photo, err, sizeof err)) {
        SKIP("%s: trained denoisers: %s (set PNP_SHARED)", m->name, err);
        return;
    }
    const int h = 128, w = 192;
    const size_t numel = (size_t)3 * h * w;
    float *clean = pnp_malloc(sizeof(float) * numel), *noisy = pnp_malloc(sizeof(float) * numel);
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < h; ++i)
            memcpy(clean + ((size_t)c * h + i) * w, photo.data + ((size_t)c * photo.h + i) * photo.w, sizeof(float) * w);
    const float sigma = 25.f / 255.f;
    for (size_t e = 0; e < numel; ++e) noisy[e] = clean[e] + sigma * (float)pnp_normal(0, 0, e);
    for (int i = 0; i < 2; ++i) {
        pnp_state_dict sd;
        if (pnp_weights_read_h5(shared_path(files[i]), &sd, err, sizeof err)) {
            SKIP("%s: %s: %s (set PNP_SHARED)", m->name, names[i], err);
            continue;
        }
        int convs = 0; /* L: every 4-D weight is a convolution's */
        for (int t = 0; t < sd.count; ++t) convs += sd.t[t].ndim == 4;
        pnp_denoiser *dc = pnp_denoiser_create(cpu, names[i], &sd, err, sizeof err);
        pnp_denoiser *dg = pnp_denoiser_create(m->gpu, names[i], &sd, err, sizeof err);
        pnp_weights_free(&sd);
        if (!dc || !dg) pnp_fatal("%s: %s", names[i], err);
        float *ref = pnp_malloc(sizeof(float) * numel), *got = pnp_malloc(sizeof(float) * numel);
        float *model = pnp_malloc(sizeof(float) * numel);
        denoise_on(cpu, dc, noisy, 1, h, w, sigma, ref);
        denoise_on(m->gpu, dg, noisy, 1, h, w, sigma, got);
        const double e = rel_err(got, ref, numel), gain = pow(1 - m->shrink, convs);
        const bool residual = !strcmp(names[i], "dncnn"); /* DnCNN: noisy - stack(noisy) */
        for (size_t k = 0; k < numel; ++k)
            model[k] = residual ? (float)(noisy[k] + gain * (ref[k] - noisy[k])) : (float)(gain * ref[k]);
        pnp_quantize8(ref, numel);
        pnp_quantize8(got, numel);
        pnp_quantize8(model, numel);
        const double pc = pnp_psnr(ref, clean, numel), pg = pnp_psnr(got, clean, numel);
        const double shift = pnp_psnr(model, clean, numel) - pc, tol = m->psnr_tol + fabs(shift);
        CHECK(fabs(pg - pc) <= tol, "%s: %s on a noisy 128x192 CBSD68 crop: PSNR %.4f dB (cpu %.4f), "
              "diff %.4f dB (tol %.4f: %g + the %.4f dB predicted for %d convolutions); rel %.3g before rounding",
              m->name, names[i], pg, pc, pg - pc, tol, m->psnr_tol, shift, convs, e);
        free(ref), free(got), free(model);
        pnp_denoiser_destroy(dc);
        pnp_denoiser_destroy(dg);
    }
    free(clean), free(noisy);
    pnp_image_free(&photo);
}

static void check_layers(pnp_backend *cpu, const mode *m)
{
    check_moves(cpu, m);
    for (size_t i = 0; i < sizeof CONV_CASES / sizeof CONV_CASES[0]; ++i) check_conv(cpu, m, &CONV_CASES[i]);
    check_drunet(cpu, m);
    check_trained(cpu, m);
    const int unfused = pnp_backend_unfused_convs(m->gpu);
    if (emulated()) {
        const bool refused = getenv("PNP_EMU_REFUSE_FUSED") != NULL;
        CHECK(refused ? unfused > 0 : unfused == 0, "%s: %d convolution plans counted unfused (the emulated cuDNN "
              "%s the fused call)", m->name, unfused, refused ? "refuses" : "accepts");
    } else {
        printf("# %s: %d convolution plans ran unfused (cuDNN refused the fused call)\n", m->name, unfused);
    }
}

/* How the TF32 tensor cores treat float32 operands: a 3x3 convolution of 64
 * channels, every input 1 + 3 * 2^-12 (exact in float32, between the TF32
 * values 1 and 1 + 2^-10), every weight 2^-10. Its centre output sums 576
 * equal products exactly in float32: 0.5625 x 1.000732 = 0.5629120 with float32
 * operands, 0.5630493 with the input rounded to nearest, 0.5625 truncated (an
 * algorithm with transforms, such as Winograd, may add a few float32 ulps:
 * the nearest of the three within 1e-5 counts). Returns the result's name and
 * sets *shrink (the header's delta). */
static const char *tf32_rounding(pnp_backend *gpu, double *shrink)
{
    const int c = 64, n = 8;
    float *w = pnp_malloc(sizeof(float) * c * 9), *img = pnp_malloc(sizeof(float) * c * n * n);
    for (int i = 0; i < c * 9; ++i) w[i] = 1.f / 1024;
    for (int i = 0; i < c * n * n; ++i) img[i] = 1.f + 3.f / 4096;
    pnp_conv *cv = gpu->ops->conv_create(gpu, c, 1, 3, 1, 1, false, w, NULL);
    pnp_act x = act_new(gpu, 1, c, n, n), y = act_new(gpu, 1, 1, n, n);
    act_set(gpu, &x, img, n, n);
    gpu->ops->conv_forward(cv, &x, &y, false, NULL);
    float *out = act_get(gpu, &y, n, n);
    const double v = out[(n / 2) * n + n / 2], exact = 0.5625 * (1 + 3.0 / 4096);
    const double nearest = 0.5625 * (1 + 1.0 / 1024), truncated = 0.5625;
    const char *name = fabs(v - nearest) < 1e-5 ? "nearest" : fabs(v - truncated) < 1e-5 ? "truncation"
                       : fabs(v - exact) < 1e-5                                       ? "none"
                                                                                      : NULL;
    CHECK(name != NULL, "tf32: the probe convolution gives %.9g: float32 operands (%.9g), TF32 rounded to nearest "
          "(%.9g) or truncated (%.9g)", v, exact, nearest, truncated);
    *shrink = name && !strcmp(name, "truncation") ? 1.44 * pow(2, -11) : 0;
    gpu->ops->conv_destroy(cv);
    act_del(gpu, &x), act_del(gpu, &y);
    free(w), free(img), free(out);
    return name ? name : "unknown";
}

static bool mode_wanted(const char *name)
{
    const char *list = getenv("PNP_PARITY_MODES");
    if (!list) return true;
    const size_t len = strlen(name);
    for (const char *s = strstr(list, name); s; s = strstr(s + 1, name))
        if ((s == list || s[-1] == ',') && (s[len] == ',' || !s[len])) return true;
    return false;
}

#endif /* PNP_WITH_CUDA */

int main(void)
{
#ifndef PNP_WITH_CUDA
    SKIP("CUDA parity: skipped: the CUDA backend is not built (CUDA=0 or no nvcc)");
    return 0;
#else
    if (pnp_cuda_device_count() == 0) {
        SKIP("CUDA parity: skipped: no GPU");
        return 0;
    }
    pnp_backend *cpu = pnp_backend_cpu_create(0, false), *gpu = pnp_backend_cuda_create(0, false);
    const int C = 3, H = 181, W = 256, n = 3;
    double sr, sc, a;
    pnp_benchmark_blur_params(512, n, 0, &sr, &sc, &a);
    const int k = pnp_gaussian_kernel_side(sr, sc);
    float *kern = pnp_malloc(sizeof(float) * n * k * k);
    for (int i = 0; i < n; ++i) {
        pnp_benchmark_blur_params(512, n, i, &sr, &sc, &a);
        pnp_gaussian_kernel(sr, sc, a, k, kern + (size_t)i * k * k);
    }
    const size_t numel = (size_t)C * H * W, bytes = numel * sizeof(float);
    float *x = pnp_malloc(bytes), *ref = pnp_malloc(bytes), *got = pnp_malloc(bytes);
    for (size_t e = 0; e < numel; ++e) x[e] = (float)((e * 2654435761u) % 1000) / 1000.0f;
    pnp_blur *bc = cpu->ops->blur_create(cpu, C, H, W, n, 1, k, k, kern), *bg = gpu->ops->blur_create(gpu, C, H, W, n, 1, k, k, kern);
    float *xd = gpu->ops->alloc(gpu, bytes), *yd = gpu->ops->alloc(gpu, bytes);
    gpu->ops->upload(gpu, xd, x, bytes);
    for (int i = 0; i < n; ++i)
        for (int adj = 0; adj < 2; ++adj) {
            cpu->ops->blur_apply(bc, i, x, ref, adj);
            gpu->ops->blur_apply(bg, i, xd, yd, adj);
            gpu->ops->download(gpu, got, yd, bytes);
            CHECK(max_abs_diff(got, ref, numel) <= 1e-5, "cuda blur %s op %d = cpu: max abs diff %.3g",
                  adj ? "A^T" : "A", i, max_abs_diff(got, ref, numel));
        }
    for (size_t e = 0; e < numel; ++e) ref[e] = 0.5f;
    gpu->ops->upload(gpu, yd, ref, bytes);
    cpu->ops->add_noise_clamp(cpu, ref, numel, 42, 5, 1000, 0.1f);
    gpu->ops->add_noise_clamp(gpu, yd, numel, 42, 5, 1000, 0.1f);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(!memcmp(got, ref, bytes), "cuda noise bit-identical to cpu noise");
    /* data term and gradient (the noisy y of above as every operator's measurement) */
    for (int i = 0; i < n; ++i) {
        cpu->ops->blur_add_data(bc, i, ref);
        gpu->ops->blur_add_data(bg, i, yd);
    }
    float *g = pnp_malloc(bytes);
    cpu->ops->blur_gradient(bc, x, g);
    gpu->ops->blur_gradient(bg, xd, yd);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(max_abs_diff(got, g, numel) <= 1e-5 * (1 + max_abs(g, numel)), "cuda data-term gradient = cpu: %.3g",
          max_abs_diff(got, g, numel));
    /* the exact data step (B + rho rfft(z)) / (S + rho), with z = x and z = 0 */
    for (int with_z = 0; with_z < 2; ++with_z) {
        cpu->ops->blur_solve(bc, with_z ? x : NULL, 0.05f, g);
        gpu->ops->blur_solve(bg, with_z ? xd : NULL, 0.05f, yd);
        gpu->ops->download(gpu, got, yd, bytes);
        CHECK(max_abs_diff(got, g, numel) <= 1e-5 * (1 + max_abs(g, numel)), "cuda data step%s = cpu: %.3g",
              with_z ? "" : " (z = 0)", max_abs_diff(got, g, numel));
    }
    /* SSIM of the data step's result against x, the same inputs on both */
    gpu->ops->upload(gpu, yd, g, bytes);
    const double ssim_c = cpu->ops->ssim(cpu, g, x, C, H, W), ssim_g = gpu->ops->ssim(gpu, yd, xd, C, H, W);
    CHECK(fabs(ssim_c - ssim_g) <= 1e-12, "cuda SSIM = cpu: %.15f vs %.15f", ssim_g, ssim_c);
    /* the masked normal operator of boundary pad, and the dot product */
    cpu->ops->blur_normal_window(bc, x, g, 15, 9, H - 30, W - 20);
    gpu->ops->blur_normal_window(bg, xd, yd, 15, 9, H - 30, W - 20);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(max_abs_diff(got, g, numel) <= 1e-5 * (1 + max_abs(g, numel)), "cuda blur_normal_window = cpu: %.3g",
          max_abs_diff(got, g, numel));
    const double dc = cpu->ops->dot(cpu, g, x, numel), dg = gpu->ops->dot(gpu, yd, xd, numel);
    CHECK(fabs(dc - dg) <= 1e-5 * fabs(dc), "cuda dot = cpu: %.17g vs %.17g", dg, dc);
    cpu->ops->blur_gradient(bc, x, g);
    gpu->ops->blur_gradient(bg, xd, yd);
    /* z = x + a g, clamp, squared error */
    cpu->ops->add_scaled(cpu, g, x, -0.1f, g, numel);
    gpu->ops->add_scaled(gpu, yd, xd, -0.1f, yd, numel);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(max_abs_diff(got, g, numel) <= 1e-6 * (1 + max_abs(g, numel)), "cuda x + a y = cpu: %.3g",
          max_abs_diff(got, g, numel));
    got[0] = NAN, got[1] = INFINITY, got[numel - 1] = -INFINITY; /* the same input to both clamps, 3 non-finite */
    cpu->ops->upload(cpu, g, got, bytes);
    gpu->ops->upload(gpu, yd, got, bytes);
    const bool bad_cpu = cpu->ops->clamp01(cpu, g, numel), bad_gpu = gpu->ops->clamp01(gpu, yd, numel);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(!memcmp(got, g, bytes) && g[0] == 0 && g[1] == 1 && g[numel - 1] == 0,
          "cuda clamp01 bit-identical to cpu (NaN to 0, infinities clamped)");
    CHECK(bad_cpu && bad_gpu, "clamp01 says the input held non-finite values: cpu %d, cuda %d", bad_cpu, bad_gpu);
    CHECK(!cpu->ops->clamp01(cpu, g, numel) && !gpu->ops->clamp01(gpu, yd, numel),
          "clamp01 of the clamped (finite) image: nothing non-finite on either");
    const double sc_ = cpu->ops->sum_sq_diff(cpu, g, x, numel), sg = gpu->ops->sum_sq_diff(gpu, yd, xd, numel);
    CHECK(fabs(sc_ - sg) <= 1e-12 * sc_, "cuda sum of squared differences = cpu: %.17g vs %.17g", sg, sc_);
    /* windows */
    pnp_tiling t;
    char err[128];
    pnp_tiling_plan(H, W, 64, 16, &t, err, sizeof err);
    int *v = pnp_malloc(sizeof(int) * 8 * t.count);
    int *y0 = v, *x0 = v + t.count, *sy = v + 2 * t.count, *sx = v + 3 * t.count, *dy = v + 4 * t.count,
        *dx = v + 5 * t.count, *nr = v + 6 * t.count, *nc = v + 7 * t.count;
    for (int j = 0; j < t.count; ++j)
        pnp_tiling_window(&t, j, &y0[j], &x0[j], &sy[j], &sx[j], &dy[j], &dx[j], &nr[j], &nc[j]);
    const size_t wbytes = sizeof(float) * t.count * C * t.win_h * t.win_w;
    float *wc = pnp_malloc(wbytes), *wg = pnp_malloc(wbytes), *wd = gpu->ops->alloc(gpu, wbytes);
    cpu->ops->gather_windows(cpu, x, C, H, W, 16, t.win_h, t.win_w, t.count, y0, x0, wc);
    gpu->ops->gather_windows(gpu, xd, C, H, W, 16, t.win_h, t.win_w, t.count, y0, x0, wd);
    gpu->ops->download(gpu, wg, wd, wbytes);
    CHECK(!memcmp(wc, wg, wbytes), "cuda gather of %d windows bit-identical to cpu", t.count);
    float *pc = pnp_malloc(bytes), *pd = gpu->ops->alloc(gpu, bytes); /* every pixel owned once: [C, H, W] in all */
    cpu->ops->pack_windows(cpu, wc, C, t.win_h, t.win_w, t.count, sy, sx, nr, nc, pc);
    gpu->ops->pack_windows(gpu, wd, C, t.win_h, t.win_w, t.count, sy, sx, nr, nc, pd);
    gpu->ops->download(gpu, got, pd, bytes);
    CHECK(!memcmp(got, pc, bytes), "cuda pack of %d windows bit-identical to cpu", t.count);
    gpu->ops->zero(gpu, yd, bytes);
    gpu->ops->unpack_windows(gpu, pd, C, t.count, dy, dx, nr, nc, yd, H, W);
    gpu->ops->download(gpu, got, yd, bytes);
    CHECK(!memcmp(got, x, bytes), "cuda unpack of the packed windows rebuilds the image");
    gpu->ops->free(gpu, pd);
    free(pc);
    /* two gathers queued back to back, the second with the windows in reverse order: the window
     * starts travel through one pinned staging buffer, rewritten only once the copy out of it ran */
    int *ry0 = pnp_malloc(sizeof(int) * 2 * t.count), *rx0 = ry0 + t.count;
    for (int j = 0; j < t.count; ++j) ry0[j] = y0[t.count - 1 - j], rx0[j] = x0[t.count - 1 - j];
    float *wd2 = gpu->ops->alloc(gpu, wbytes), *wg2 = pnp_malloc(wbytes);
    gpu->ops->gather_windows(gpu, xd, C, H, W, 16, t.win_h, t.win_w, t.count, y0, x0, wd);
    gpu->ops->gather_windows(gpu, xd, C, H, W, 16, t.win_h, t.win_w, t.count, ry0, rx0, wd2);
    gpu->ops->download(gpu, wg, wd, wbytes);
    gpu->ops->download(gpu, wg2, wd2, wbytes);
    const size_t per = wbytes / t.count;
    bool reversed = !memcmp(wg, wc, wbytes);
    for (int j = 0; j < t.count; ++j)
        reversed = reversed && !memcmp((char *)wg2 + per * j, (char *)wc + per * (t.count - 1 - j), per);
    CHECK(reversed, "cuda: two gathers queued back to back each use their own window starts");
    gpu->ops->free(gpu, wd2);
    free(wg2), free(ry0);
    gpu->ops->free(gpu, wd);
    free(wc), free(wg), free(v), free(g);
    pnp_tiling_free(&t);
    cpu->ops->blur_destroy(bc);
    gpu->ops->blur_destroy(bg);
    gpu->ops->free(gpu, xd);
    gpu->ops->free(gpu, yd);
    free(kern), free(x), free(ref), free(got);

    /* the layer engine: tf32 (this backend), bf16, then strict fp32 (see the header) */
    if (mode_wanted("tf32")) {
        double shrink = 0;
        const char *rounding = tf32_rounding(gpu, &shrink);
        printf("# tf32: the tensor cores' operand rounding: %s\n", rounding);
        const char *emu_tf32 = getenv("PNP_EMU_TF32");
        if (emulated()) {
            const char *want = !emu_tf32 || !strcmp(emu_tf32, "rna") ? "nearest"
                               : !strcmp(emu_tf32, "trunc")           ? "truncation"
                                                                      : "none";
            CHECK(!strcmp(rounding, want), "tf32: the probe finds the emulation's rounding: %s (PNP_EMU_TF32=%s)",
                  rounding, emu_tf32 ? emu_tf32 : "rna");
        }
        const mode tf32 = {"tf32", gpu, 0, 4e-3, 2e-2, false, 0.01, shrink};
        check_layers(cpu, &tf32);
    }
    pnp_backend_destroy(gpu);
    if (mode_wanted("bf16")) {
        pnp_backend *gpu_bf16 = pnp_backend_cuda_create(0, true);
        const mode bf16 = {"bf16", gpu_bf16, 8e-3, 2e-2, 5e-2, true, 0.05, 0};
        check_layers(cpu, &bf16);
        pnp_backend_destroy(gpu_bf16);
    }
    if (mode_wanted("strict")) {
        setenv("PNP_CUDA_TF32", "0", 1);
        pnp_backend *gpu_strict = pnp_backend_cuda_create(0, false);
        unsetenv("PNP_CUDA_TF32");
        const mode strict = {"strict fp32", gpu_strict, 0, 1e-4, 3e-4, false, 0.001, 0};
        check_layers(cpu, &strict);
        pnp_backend_destroy(gpu_strict);
    }
    pnp_backend_destroy(cpu);
    CHECK_DONE();
#endif
}
