/* denoiser.c - DRUNet, DnCNN and FFDNet on the backend's layer engine
 * (include/pnp/denoiser.h). The graph code sees only pnp_act shapes and
 * backend ops; it never touches activation memory itself.
 *
 * DRUNet activation plan for a padded input [n, 3, H, W] (level l: w_l
 * channels at H/2^l x W/2^l): skips X0..X3 live through the whole pass; two
 * scratch buffers A and B, each the size of the largest level (w0 H W), carry
 * the residual blocks, the down/up convolutions and the sums of every level;
 * the input [n,3,H,W] (reused for the output) and its 4-channel copy with the
 * sigma map complete it. */
#include "pnp/denoiser.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/error.h"

typedef enum { ARCH_DRUNET, ARCH_DNCNN, ARCH_FFDNET } arch_kind;

enum { MAX_LAYERS = 160 };

struct pnp_denoiser {
    pnp_backend *be;
    arch_kind kind;
    int net_channels;  /* the image channels of the weights (1 or 3) */
    int channels;      /* the image channels forward takes and returns */
    int graph_channels; /* the image channels of the graph built: 1 when a colour network is folded for grey */
    int batch_factor;  /* 3 when a grey network runs on colour images (each channel an image), else 1 */
    int widths[4], nb; /* DRUNet */
    int features, depth; /* DnCNN / FFDNet: hidden channels, conv layers */
    int nconv, ntensors;
    pnp_conv *conv[MAX_LAYERS];
    size_t weight_bytes;
    long long params;
    char desc[256];
    /* activation buffers for the last input shape */
    int bn, bh, bw;
    void *buf[8];
};

/* ------------------------------------------------------------ skeletons */

static void add4(pnp_state_dict *sd, const char *name, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t s[4] = {a, b, c, d};
    pnp_weights_add(sd, name, 4, s, NULL);
}

static void add1(pnp_state_dict *sd, const char *name, int64_t a) { pnp_weights_add(sd, name, 1, &a, NULL); }

static void drunet_skeleton(pnp_state_dict *sd, const int w[4], int nb, int nc)
{
    char k[128];
    add4(sd, "m_head.weight", w[0], nc + 1, 3, 3);
    for (int l = 1; l <= 3; ++l) {
        for (int b = 0; b < nb; ++b)
            for (int r = 0; r <= 2; r += 2) {
                snprintf(k, sizeof k, "m_down%d.%d.res.%d.weight", l, b, r);
                add4(sd, k, w[l - 1], w[l - 1], 3, 3);
            }
        snprintf(k, sizeof k, "m_down%d.%d.weight", l, nb);
        add4(sd, k, w[l], w[l - 1], 2, 2);
    }
    for (int b = 0; b < nb; ++b)
        for (int r = 0; r <= 2; r += 2) {
            if (nb == 1) snprintf(k, sizeof k, "m_body.res.%d.weight", r); /* deepinv's name for a lone block */
            else snprintf(k, sizeof k, "m_body.%d.res.%d.weight", b, r);
            add4(sd, k, w[3], w[3], 3, 3);
        }
    for (int l = 3; l >= 1; --l) {
        snprintf(k, sizeof k, "m_up%d.0.weight", l);
        add4(sd, k, w[l], w[l - 1], 2, 2);
        for (int b = 1; b <= nb; ++b)
            for (int r = 0; r <= 2; r += 2) {
                snprintf(k, sizeof k, "m_up%d.%d.res.%d.weight", l, b, r);
                add4(sd, k, w[l - 1], w[l - 1], 3, 3);
            }
    }
    add4(sd, "m_tail.weight", nc, w[0], 3, 3);
}

/* KAIR's sequential stacks: model.{0,2,...}.weight/bias */
static void stack_skeleton(pnp_state_dict *sd, int cin, int feat, int cout, int depth)
{
    char k[64];
    for (int i = 0; i < depth; ++i) {
        int ci = i == 0 ? cin : feat, co = i == depth - 1 ? cout : feat;
        snprintf(k, sizeof k, "model.%d.weight", 2 * i);
        add4(sd, k, co, ci, 3, 3);
        snprintf(k, sizeof k, "model.%d.bias", 2 * i);
        add1(sd, k, co);
    }
}

int pnp_denoiser_skeleton(const char *spec, pnp_state_dict *sd, char *arch, size_t archlen, char *err, size_t errlen)
{
    memset(sd, 0, sizeof *sd);
    int w[4], nb;
    if (pnp_denoiser_spec_parse(spec, arch, archlen, w, &nb, err, errlen)) return -1;
    char *gray = strstr(arch, "_gray"); /* a grey version: KAIR's grey sizes, one image channel */
    if (gray) *gray = '\0';
    if (!strcmp(arch, "drunet")) {
        drunet_skeleton(sd, w, nb, gray ? 1 : 3);
    } else if (!strcmp(arch, "dncnn")) {
        if (gray) stack_skeleton(sd, 1, 64, 1, 17);
        else stack_skeleton(sd, 3, 64, 3, 20);
    } else if (!strcmp(arch, "ffdnet")) {
        if (gray) stack_skeleton(sd, 5, 64, 4, 15);
        else stack_skeleton(sd, 13, 96, 12, 12);
    } else {
        snprintf(err, errlen, "denoiser '%s' has no weights", spec);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- building */

typedef struct {
    const pnp_state_dict *sd;
    char *err;
    size_t errlen;
    int failed;
} wctx;

/* The tensor `name` with the given shape (ndim 4 or 1), or NULL with a message. */
static const float *need(wctx *c, const char *name, int ndim, int64_t a, int64_t b, int64_t k)
{
    if (c->failed) return NULL;
    const pnp_tensor *t = pnp_weights_find(c->sd, name);
    if (!t) {
        snprintf(c->err, c->errlen, "weights: missing key '%s'", name);
        c->failed = 1;
        return NULL;
    }
    const int64_t want[4] = {a, b, k, k};
    int ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; ++d) ok = t->shape[d] == want[d];
    if (!ok) {
        char got[128] = "", exp[128] = "";
        for (int d = 0; d < t->ndim; ++d)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "", (long long)t->shape[d]);
        for (int d = 0; d < ndim; ++d)
            snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%lld", d ? "," : "", (long long)want[d]);
        snprintf(c->err, c->errlen, "weights: key '%s' has shape [%s], expected [%s]", name, got, exp);
        c->failed = 1;
        return NULL;
    }
    return t->data;
}

/* One convolution from weights in PyTorch's layout (host; bias may be NULL). */
static void add_conv_data(pnp_denoiser *dn, const float *w, const float *b, int cin, int cout, int k, int stride,
                          int pad, bool transposed)
{
    if (dn->nconv == MAX_LAYERS) pnp_fatal("denoiser: more than %d layers", MAX_LAYERS);
    dn->conv[dn->nconv++] = dn->be->ops->conv_create(dn->be, cin, cout, k, stride, pad, transposed, w, b);
    dn->weight_bytes += ((size_t)cin * cout * k * k + (b ? cout : 0)) * sizeof(float);
}

static void add_conv(pnp_denoiser *dn, wctx *c, const char *wname, const char *bname, int cin, int cout, int k,
                     int stride, int pad, bool transposed)
{
    const float *w = transposed ? need(c, wname, 4, cin, cout, k) : need(c, wname, 4, cout, cin, k);
    const float *b = bname ? need(c, bname, 1, cout, 0, 0) : NULL;
    if (c->failed) return;
    add_conv_data(dn, w, b, cin, cout, k, stride, pad, transposed);
}

/* A first layer [cout, 3 * per + extra, k, k] whose input is a grey image
 * replicated into 3 colour channels (channel ch's sub-channel s at ch * per + s,
 * then `extra` other inputs such as the sigma map): the same layer on the grey
 * image alone, [cout, per + extra, k, k], its filters summed over ch. */
static float *fold_input(const float *w, int cout, int per, int extra, int k)
{
    const int cin = 3 * per + extra, fin = per + extra, kk = k * k;
    float *f = pnp_calloc((size_t)cout * fin * kk, sizeof(float));
    for (int o = 0; o < cout; ++o) {
        for (int s = 0; s < per; ++s)
            for (int ch = 0; ch < 3; ++ch)
                for (int t = 0; t < kk; ++t)
                    f[((size_t)o * fin + s) * kk + t] += w[((size_t)o * cin + ch * per + s) * kk + t];
        for (int e = 0; e < extra; ++e)
            memcpy(f + ((size_t)o * fin + per + e) * kk, w + ((size_t)o * cin + 3 * per + e) * kk,
                   sizeof(float) * kk);
    }
    return f;
}

/* A last layer [3 * per, cin, k, k] (+ bias [3 * per]) whose 3 colour outputs
 * (channel ch's sub-channel s at ch * per + s) are averaged into one:
 * [per, cin, k, k] and bias [per], the filters and biases averaged over ch. */
static float *fold_output(const float *w, const float *b, int per, int cin, int k, float **fb)
{
    const size_t filt = (size_t)cin * k * k;
    float *f = pnp_calloc((size_t)per * filt, sizeof(float));
    *fb = b ? pnp_calloc((size_t)per, sizeof(float)) : NULL;
    for (int s = 0; s < per; ++s) {
        for (size_t t = 0; t < filt; ++t)
            f[s * filt + t] = (w[(0 * per + s) * filt + t] + w[(1 * per + s) * filt + t] + w[(2 * per + s) * filt + t]) / 3.0f;
        if (b) (*fb)[s] = (b[0 * per + s] + b[1 * per + s] + b[2 * per + s]) / 3.0f;
    }
    return f;
}

/* The first convolution of the graph: the network's own, or folded for grey input. */
static void add_first(pnp_denoiser *dn, wctx *c, const char *wname, const char *bname, int per, int extra, int cout)
{
    const int nc = dn->net_channels;
    const float *w = need(c, wname, 4, cout, nc * per + extra, 3);
    const float *b = bname ? need(c, bname, 1, cout, 0, 0) : NULL;
    if (c->failed) return;
    if (dn->graph_channels == nc) {
        add_conv_data(dn, w, b, nc * per + extra, cout, 3, 1, 1, false);
        return;
    }
    float *f = fold_input(w, cout, per, extra, 3);
    add_conv_data(dn, f, b, per + extra, cout, 3, 1, 1, false);
    free(f);
}

/* The last convolution (cin -> net_channels * per): the network's own, or its
 * outputs averaged for grey; negate: DnCNN's x - net(x) as a residual. */
static void add_last(pnp_denoiser *dn, wctx *c, const char *wname, const char *bname, int cin, int per, bool negate)
{
    const int nc = dn->net_channels, cout = nc * per;
    const float *w = need(c, wname, 4, cout, cin, 3);
    const float *b = bname ? need(c, bname, 1, cout, 0, 0) : NULL;
    if (c->failed) return;
    const size_t nw = (size_t)cout * cin * 9;
    float *wn = pnp_malloc(sizeof(float) * nw), *bn = b ? pnp_malloc(sizeof(float) * cout) : NULL;
    for (size_t e = 0; e < nw; ++e) wn[e] = negate ? -w[e] : w[e];
    for (int e = 0; b && e < cout; ++e) bn[e] = negate ? -b[e] : b[e];
    if (dn->graph_channels == nc) {
        add_conv_data(dn, wn, bn, cin, cout, 3, 1, 1, false);
    } else {
        float *fb, *f = fold_output(wn, bn, per, cin, 3, &fb);
        add_conv_data(dn, f, fb, cin, per, 3, 1, 1, false);
        free(f), free(fb);
    }
    free(wn), free(bn);
}

/* Integer dimension d of tensor name, or -1. */
static int64_t dim_of(const pnp_state_dict *sd, const char *name, int d)
{
    const pnp_tensor *t = pnp_weights_find(sd, name);
    return t && t->ndim > d ? t->shape[d] : -1;
}

pnp_denoiser *pnp_denoiser_create(pnp_backend *be, const char *arch, const pnp_state_dict *sd, char *err,
                                  size_t errlen)
{
    return pnp_denoiser_create_for(be, arch, sd, 0, NULL, 0, err, errlen);
}

pnp_denoiser *pnp_denoiser_create_for(pnp_backend *be, const char *arch, const pnp_state_dict *sd, int channels,
                                      char *note, size_t notelen, char *err, size_t errlen)
{
    if (note && notelen) note[0] = '\0';
    pnp_denoiser *dn = pnp_calloc(1, sizeof *dn);
    dn->be = be;
    wctx c = {sd, err, errlen, 0};
    char k[128], kb[128];
    /* the network's image channels, from its first layer */
    if (!strcmp(arch, "drunet")) dn->net_channels = (int)dim_of(sd, "m_head.weight", 1) - 1;
    else if (!strcmp(arch, "dncnn")) dn->net_channels = (int)dim_of(sd, "model.0.weight", 1);
    else if (!strcmp(arch, "ffdnet")) dn->net_channels = ((int)dim_of(sd, "model.0.weight", 1) - 1) / 4;
    else {
        snprintf(err, errlen, "unknown architecture '%s' (known: drunet, dncnn, ffdnet)", arch);
        free(dn);
        return NULL;
    }
    if (dn->net_channels != 1 && dn->net_channels != 3) {
        const bool drunet = !strcmp(arch, "drunet");
        const char *first = drunet ? "m_head.weight" : "model.0.weight";
        const pnp_tensor *t = pnp_weights_find(sd, first);
        char got[128] = "";
        for (int d = 0; t && d < t->ndim; ++d)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "", (long long)t->shape[d]);
        snprintf(err, errlen, "weights: key '%s' has shape [%s], expected [width, %s, 3, 3] (a %s of 1 or 3 image "
                 "channels)", first, t ? got : "missing", drunet ? "2 or 4" : !strcmp(arch, "dncnn") ? "1 or 3" : "5 or 13",
                 arch);
        free(dn);
        return NULL;
    }
    if (channels != 0 && channels != 1 && channels != 3) {
        snprintf(err, errlen, "denoiser: images of %d channels (1 or 3)", channels);
        free(dn);
        return NULL;
    }
    dn->channels = channels ? channels : dn->net_channels;
    dn->graph_channels = dn->channels == 1 ? 1 : dn->net_channels;
    dn->batch_factor = dn->channels == 3 && dn->net_channels == 1 ? 3 : 1;
    if (note && dn->channels != dn->net_channels)
        snprintf(note, notelen,
                 dn->channels == 1
                     ? "a colour %s on a 1-channel image: the channel is replicated into its 3 inputs and its 3 "
                       "outputs averaged (folded into the first and last layers)"
                     : "a 1-channel %s on a colour image: each channel denoised as its own image",
                 arch);

    if (!strcmp(arch, "drunet")) {
        dn->kind = ARCH_DRUNET;
        /* widths from the head and the down convolutions m_down{l}.{nb}.weight [w_l, w_{l-1}, 2, 2] */
        dn->widths[0] = (int)dim_of(sd, "m_head.weight", 0);
        while (pnp_weights_find(sd, (snprintf(k, sizeof k, "m_down1.%d.res.0.weight", dn->nb), k))) ++dn->nb;
        for (int l = 1; l <= 3; ++l) {
            snprintf(k, sizeof k, "m_down%d.%d.weight", l, dn->nb);
            dn->widths[l] = (int)dim_of(sd, k, 0);
        }
        if (dn->widths[0] < 1 || dn->nb < 1 || dn->widths[1] < 1 || dn->widths[2] < 1 || dn->widths[3] < 1) {
            snprintf(err, errlen, "weights: not a DRUNet (need m_head.weight, m_down1.0.res.0.weight, m_downL.NB.weight)");
            free(dn);
            return NULL;
        }
        const int *w = dn->widths, nb = dn->nb;
        add_first(dn, &c, "m_head.weight", NULL, 1, 1, w[0]);
        for (int l = 1; l <= 3; ++l) {
            for (int b = 0; b < nb; ++b)
                for (int r = 0; r <= 2; r += 2) {
                    snprintf(k, sizeof k, "m_down%d.%d.res.%d.weight", l, b, r);
                    add_conv(dn, &c, k, NULL, w[l - 1], w[l - 1], 3, 1, 1, false);
                }
            snprintf(k, sizeof k, "m_down%d.%d.weight", l, nb);
            add_conv(dn, &c, k, NULL, w[l - 1], w[l], 2, 2, 0, false);
        }
        for (int b = 0; b < nb; ++b)
            for (int r = 0; r <= 2; r += 2) {
                snprintf(k, sizeof k, "m_body.%d.res.%d.weight", b, r);
                /* KAIR's sequential() returns a lone block itself: with nb 1 deepinv's keys are m_body.res.R */
                if (nb == 1 && !pnp_weights_find(sd, k)) snprintf(k, sizeof k, "m_body.res.%d.weight", r);
                add_conv(dn, &c, k, NULL, w[3], w[3], 3, 1, 1, false);
            }
        for (int l = 3; l >= 1; --l) {
            snprintf(k, sizeof k, "m_up%d.0.weight", l);
            add_conv(dn, &c, k, NULL, w[l], w[l - 1], 2, 2, 0, true);
            for (int b = 1; b <= nb; ++b)
                for (int r = 0; r <= 2; r += 2) {
                    snprintf(k, sizeof k, "m_up%d.%d.res.%d.weight", l, b, r);
                    add_conv(dn, &c, k, NULL, w[l - 1], w[l - 1], 3, 1, 1, false);
                }
        }
        add_last(dn, &c, "m_tail.weight", NULL, w[0], 1, false);
        dn->ntensors = dn->nconv;
        snprintf(dn->desc, sizeof dn->desc, "drunet%s widths %d,%d,%d,%d, %d blocks per level",
                 dn->net_channels == 1 ? " (grey)" : "", w[0], w[1], w[2], w[3], nb);
    } else {
        dn->kind = !strcmp(arch, "dncnn") ? ARCH_DNCNN : ARCH_FFDNET;
        const int per = dn->kind == ARCH_DNCNN ? 1 : 4, extra = dn->kind == ARCH_DNCNN ? 0 : 1;
        while (pnp_weights_find(sd, (snprintf(k, sizeof k, "model.%d.weight", 2 * dn->depth), k))) ++dn->depth;
        dn->features = (int)dim_of(sd, "model.0.weight", 0);
        if (dn->depth < 2 || dn->features < 1) {
            snprintf(err, errlen, "weights: not a %s (need model.0.weight ... model.N.weight with biases)", arch);
            free(dn);
            return NULL;
        }
        for (int i = 0; i < dn->depth; ++i) {
            snprintf(k, sizeof k, "model.%d.weight", 2 * i);
            snprintf(kb, sizeof kb, "model.%d.bias", 2 * i);
            if (i == 0) add_first(dn, &c, k, kb, per, extra, dn->features);
            /* DnCNN returns x - net(x): its last layer negated, x added as the residual */
            else if (i == dn->depth - 1) add_last(dn, &c, k, kb, dn->features, per, dn->kind == ARCH_DNCNN);
            else add_conv(dn, &c, k, kb, dn->features, dn->features, 3, 1, 1, false);
        }
        dn->ntensors = 2 * dn->nconv;
        snprintf(dn->desc, sizeof dn->desc, "%s%s %d layers of %d features", arch,
                 dn->net_channels == 1 ? " (grey)" : "", dn->depth, dn->features);
    }
    if (c.failed) {
        pnp_denoiser_destroy(dn);
        return NULL;
    }
    if (sd->count != dn->ntensors) {
        snprintf(err, errlen, "weights: %d tensors where this %s has %d (keys it does not know)", sd->count, arch,
                 dn->ntensors);
        pnp_denoiser_destroy(dn);
        return NULL;
    }
    for (int i = 0; i < sd->count; ++i) dn->params += pnp_tensor_numel(&sd->t[i]);
    snprintf(dn->desc + strlen(dn->desc), sizeof dn->desc - strlen(dn->desc), ", %lld parameters", dn->params);
    return dn;
}

int pnp_denoiser_channels(const pnp_denoiser *dn) { return dn->channels; }

void pnp_denoiser_destroy(pnp_denoiser *dn)
{
    if (!dn) return;
    for (int i = 0; i < dn->nconv; ++i) dn->be->ops->conv_destroy(dn->conv[i]);
    for (int i = 0; i < 8; ++i) dn->be->ops->free(dn->be, dn->buf[i]);
    free(dn);
}

const char *pnp_denoiser_describe(const pnp_denoiser *dn) { return dn->desc; }
size_t pnp_denoiser_weight_bytes(const pnp_denoiser *dn) { return dn->weight_bytes; }

/* ------------------------------------------------------------ planning */

static int pad_to(int v, int m) { return (v + m - 1) / m * m; }

/* Shapes of the buffers of one forward pass of [n, channels, h, w] images:
 * count returned, shapes in s. The graph sees n * batch_factor images of
 * graph_channels (gc) channels. */
static int plan(const pnp_denoiser *dn, int n, int h, int w, pnp_act s[8])
{
    const int gc = dn->graph_channels;
    n *= dn->batch_factor;
    if (dn->kind == ARCH_DRUNET) {
        const int H = pad_to(h, 8), W = pad_to(w, 8);
        s[0] = (pnp_act){NULL, n, gc, H, W};                     /* padded input, then the output */
        s[1] = (pnp_act){NULL, n, gc + 1, H, W};                 /* input + sigma channel */
        for (int l = 0; l < 4; ++l) s[2 + l] = (pnp_act){NULL, n, dn->widths[l], H >> l, W >> l}; /* skips */
        /* scratch: the largest level in the backend's bytes (its layout may pad channels) */
        int big = 0;
        size_t most = 0;
        for (int l = 0; l < 4; ++l) {
            const size_t b = dn->be->ops->act_bytes(dn->be, n, dn->widths[l], H >> l, W >> l);
            if (b > most) most = b, big = l;
        }
        s[6] = s[7] = (pnp_act){NULL, n, dn->widths[big], H >> big, W >> big};
        return 8;
    }
    if (dn->kind == ARCH_DNCNN) {
        s[0] = (pnp_act){NULL, n, gc, h, w};
        s[1] = s[2] = (pnp_act){NULL, n, dn->features, h, w};
        return 3;
    }
    const int H = pad_to(h, 2), W = pad_to(w, 2); /* FFDNet */
    s[0] = (pnp_act){NULL, n, gc, H, W};
    s[1] = (pnp_act){NULL, n, 4 * gc, H / 2, W / 2};
    s[2] = (pnp_act){NULL, n, 4 * gc + 1, H / 2, W / 2};
    s[3] = s[4] = (pnp_act){NULL, n, dn->features, H / 2, W / 2};
    return 5;
}

size_t pnp_denoiser_activation_bytes(const pnp_denoiser *dn, int n, int h, int w)
{
    pnp_act s[8];
    int count = plan(dn, n, h, w, s);
    size_t total = 0;
    for (int i = 0; i < count; ++i) total += dn->be->ops->act_bytes(dn->be, s[i].n, s[i].c, s[i].h, s[i].w);
    return total;
}

/* Buffers for this shape, allocated once and kept while the shape repeats
 * (or the batch shrinks: the last, partial batch of a slab). */
static void ensure_buffers(pnp_denoiser *dn, int n, int h, int w, pnp_act s[8])
{
    int count = plan(dn, n, h, w, s);
    if (n > dn->bn || dn->bh != h || dn->bw != w) { /* a smaller batch reuses the buffers */
        for (int i = 0; i < 8; ++i) {
            dn->be->ops->free(dn->be, dn->buf[i]);
            dn->buf[i] = NULL;
        }
        for (int i = 0; i < count; ++i) dn->buf[i] = dn->be->ops->alloc(dn->be, dn->be->ops->act_bytes(dn->be, s[i].n, s[i].c, s[i].h, s[i].w));
        dn->bn = n, dn->bh = h, dn->bw = w;
    }
    for (int i = 0; i < count; ++i) s[i].data = dn->buf[i];
}

/* ------------------------------------------------------------- forward */

static pnp_act view(void *data, int n, int c, int h, int w) { return (pnp_act){data, n, c, h, w}; }

/* nb residual blocks at one level: out = blocks(in); t is scratch. out may be in. */
static void res_blocks(pnp_denoiser *dn, int *li, const pnp_act *in, pnp_act *out, pnp_act *t)
{
    const pnp_backend_ops *o = dn->be->ops;
    const pnp_act *x = in;
    for (int b = 0; b < dn->nb; ++b) {
        o->conv_forward(dn->conv[(*li)++], x, t, true, NULL);
        o->conv_forward(dn->conv[(*li)++], t, out, false, x); /* out = x + conv(relu(conv(x))) */
        x = out;
    }
}

static void drunet_forward(pnp_denoiser *dn, pnp_act s[8], float sigma)
{
    const pnp_backend_ops *o = dn->be->ops;
    pnp_backend *be = dn->be;
    const int n = s[0].n, H = s[0].h, W = s[0].w;
    pnp_act *X = &s[2];
    void *A = s[6].data, *B = s[7].data;
    int li = 0;
    o->act_concat_const(be, &s[0], sigma, &s[1]);
    o->conv_forward(dn->conv[li++], &s[1], &X[0], false, NULL); /* head */
    for (int l = 0; l < 3; ++l) {                                /* encoder */
        pnp_act a = view(A, n, dn->widths[l], H >> l, W >> l), t = view(B, n, dn->widths[l], H >> l, W >> l);
        res_blocks(dn, &li, &X[l], &a, &t);
        o->conv_forward(dn->conv[li++], &a, &X[l + 1], false, NULL); /* 2x2 stride-2 down */
    }
    pnp_act a = view(A, n, dn->widths[3], H >> 3, W >> 3), t = view(B, n, dn->widths[3], H >> 3, W >> 3);
    res_blocks(dn, &li, &X[3], &a, &t); /* body */
    o->act_add(be, &a, &X[3], &a);
    void *cur = A, *other = B;
    for (int l = 2; l >= 0; --l) { /* decoder: up (transposed conv), blocks, add the skip */
        pnp_act in = view(cur, n, dn->widths[l + 1], H >> (l + 1), W >> (l + 1));
        pnp_act up = view(other, n, dn->widths[l], H >> l, W >> l), tmp = view(cur, n, dn->widths[l], H >> l, W >> l);
        o->conv_forward(dn->conv[li++], &in, &up, false, NULL);
        res_blocks(dn, &li, &up, &up, &tmp);
        o->act_add(be, &up, &X[l], &up);
        void *sw = cur;
        cur = other;
        other = sw;
    }
    pnp_act last = view(cur, n, dn->widths[0], H, W);
    o->conv_forward(dn->conv[li++], &last, &s[0], false, NULL); /* tail, into the input's buffer */
}

/* The conv+ReLU stack: layers ping-pong between p and q; the last layer (no
 * ReLU, plus residual if given) writes `cout` channels into the buffer it does
 * not read. Returns that output. */
static pnp_act stack_forward(pnp_denoiser *dn, const pnp_act *in, int cout, pnp_act *p, pnp_act *q,
                             const pnp_act *residual)
{
    const pnp_backend_ops *o = dn->be->ops;
    const pnp_act *x = in;
    pnp_act y;
    for (int i = 0; i < dn->depth; ++i) {
        const int last = i == dn->depth - 1;
        pnp_act *buf = i % 2 ? q : p;
        y = view(buf->data, in->n, last ? cout : dn->features, in->h, in->w);
        o->conv_forward(dn->conv[i], x, &y, !last, last ? residual : NULL);
        *buf = y;
        x = buf;
    }
    return y;
}

void pnp_denoiser_forward(pnp_denoiser *dn, const float *img, int n, int h, int w, float sigma, float *out)
{
    const pnp_backend_ops *o = dn->be->ops;
    pnp_backend *be = dn->be;
    const int gc = dn->graph_channels, gn = n * dn->batch_factor; /* [n, 3, h, w] is [3n, 1, h, w] */
    pnp_act s[8];
    ensure_buffers(dn, n, h, w, s);
    o->act_from_image(be, img, gn, gc, h, w, &s[0]);
    if (dn->kind == ARCH_DRUNET) {
        drunet_forward(dn, s, sigma);
        o->act_to_image(be, &s[0], h, w, out);
    } else if (dn->kind == ARCH_DNCNN) {
        pnp_act r = stack_forward(dn, &s[0], gc, &s[1], &s[2], &s[0]); /* x + (-net(x)) */
        o->act_to_image(be, &r, h, w, out);
    } else {
        o->pixel_unshuffle2(be, &s[0], &s[1]);
        o->act_concat_const(be, &s[1], sigma, &s[2]);
        pnp_act y = stack_forward(dn, &s[2], 4 * gc, &s[3], &s[4], NULL);
        o->pixel_shuffle2(be, &y, &s[0]);
        o->act_to_image(be, &s[0], h, w, out);
    }
}
