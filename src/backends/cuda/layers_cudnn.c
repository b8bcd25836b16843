/* layers_cudnn.c - the CUDA backend's layer engine: convolutions through
 * cuDNN's legacy convolution API, everything else through kernels/layers.cu.
 * NOTE: runs in every make test on the CUDA emulation (tests/cuda_emu/), never
 * on a real GPU yet (see README.md); the first GPU run should start with
 * tests/unit/test_cuda_parity (bash bench/gpu.sh).
 *
 * Layouts (src/backends/cuda/backend_cuda.h): activations NHWC [n, h, w, cs], cs the
 * channel count rounded up to 8 with zero channels, float32 or bfloat16.
 * Weights are converted once, at conv_create, from PyTorch's layout into
 * cuDNN's NHWC filter layout KRSC [K, R, S, C] (K filters of R x S taps over C
 * channels), zero-padded to the channel strides, in the activations' type:
 *   convolution, PyTorch w [cout, cin, k, k]:
 *       filter [K = cs(cout), k, k, C = cs(cin)],  f[co, r, s, ci] = w[co, ci, r, s]
 *   transposed convolution (stride = k, pad 0), PyTorch w [cin, cout, k, k]:
 *       run as cuDNN's backward-data of the convolution that maps our output
 *       [cout] to our input [cin]; that convolution's filter is
 *       [K = cs(cin), k, k, C = cs(cout)],  f[ci, r, s, co] = w[ci, co, r, s],
 *       and its backward data is y[co, k iy + r, k ix + s] = sum_ci w[ci, co, r, s] x[ci, iy, ix],
 *       PyTorch's ConvTranspose2d.
 * Arithmetic: compute type float always. fp32 data lets cuDNN use TF32 tensor
 * cores (CUDNN_DEFAULT_MATH, as PyTorch with allow_tf32) unless PNP_CUDA_TF32=0
 * (CUDNN_FMA_MATH: plain float32); bf16 data uses CUDNN_TENSOR_OP_MATH. A math
 * type that down-converts (CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) is never used.
 *
 * conv_forward y = relu?(conv(x) + bias) + residual?, rounded once to the
 * activations' type (what matters in bf16: a second rounding of the output
 * doubles the error the trained denoisers lose to bfloat16), by case:
 *   relu, no residual (the first convolution of every residual block, DnCNN's
 *       and FFDNet's hidden layers): cudnnConvolutionBiasActivationForward,
 *       relu(1 * conv(x) + 0 * z + bias) with z = y and a zero bias when the
 *       layer has none;
 *   bias and residual, no relu (DnCNN's last layer): the same call with
 *       IDENTITY, conv(x) + 1 * residual + bias (IDENTITY runs only with
 *       IMPLICIT_PRECOMP_GEMM);
 *   otherwise without both a residual and (a bias or a relu), and wherever
 *       cuDNN refuses the fused call above: y starts as the residual, or the
 *       bias broadcast, or nothing, and cudnnConvolutionForward (or
 *       BackwardData) blends conv(x) into it with beta = 1 (0), then a kernel
 *       applies the relu in place (exact: rounding and relu commute);
 *   a residual and (a bias or a relu) otherwise (no network here has a relu
 *       before a residual; DnCNN's last layer when cuDNN refuses IDENTITY):
 *       the convolution in float32 into the epilogue scratch (bfloat16 inputs
 *       and weights widened first: exact, so are their products under TF32),
 *       then a kernel adds bias and residual and rounds once; a batch is cut
 *       to fit EPILOGUE_CAP, and a single image that does not fit takes the
 *       residual path above plus a bias kernel (two roundings, said once on
 *       stderr) or, with a relu, ends the run.
 * A fused call cuDNN refuses with every algorithm is counted (conv_forward
 * runs that layer unfused from then on: slower, same rounding): said on
 * stderr the first time and at the end, and read by unfused_convs (the
 * result file's root attribute).
 *
 * Algorithms: chosen once per (layer, input shape, kind of call) from cuDNN's
 * heuristics (cudnnGet*Algorithm_v7, best first), keeping deterministic ones
 * whose workspace is at most WORKSPACE_CAP, plus known-safe fallbacks
 * (IMPLICIT_PRECOMP_GEMM and IMPLICIT_GEMM forward, ALGO_1 backward data) at
 * the end. The first call
 * tries them in order and keeps the first that cuDNN accepts (a refusal,
 * NOT_SUPPORTED or BAD_PARAM, is answered on the host before anything runs);
 * later calls reuse it. Each candidate gets the workspace its query gives:
 * cudnnGetConvolutionForwardWorkspaceSize also for the fused call (cuDNN has
 * no query of its own for it; NVIDIA says the forward one accounts for it);
 * should a fused call still refuse its queried workspace (BAD_PARAM), it is
 * tried once more with the whole cap before the next candidate, so a short
 * query cannot silently unfuse a layer. Up to MAX_PLANS (shape, call) plans
 * are kept per layer (the tiled solver sees two shapes: full batches and the
 * last one). One grow-only workspace in
 * the backend context serves every layer, and one grow-only epilogue scratch
 * (at most EPILOGUE_CAP); both count in peak_bytes and are reserved, up to
 * their caps, by workspace_bytes.
 * PNP_CUDNN_LOG=1 prints each choice on stderr. */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda.h"
#include "pnp_kernels.h"
#include "pnp/backend_util.h"

enum { MAX_PLANS = 6, MAX_CANDIDATES = CUDNN_CONVOLUTION_FWD_ALGO_COUNT + 2 };
static const size_t WORKSPACE_CAP = (size_t)256 << 20; /* bytes; DRUNet's convolutions need far less */
static const size_t EPILOGUE_CAP = (size_t)128 << 20;  /* bytes of float32 epilogue scratch */

typedef enum {
    CALL_FUSED_RELU,     /* cudnnConvolutionBiasActivationForward with RELU, z = y weighted 0 */
    CALL_FUSED_IDENTITY, /* the same with IDENTITY, z = the residual weighted 1 */
    CALL_FORWARD,        /* cudnnConvolutionForward */
    CALL_BACKWARD_DATA,  /* cudnnConvolutionBackwardData: the transposed convolution */
} conv_call;

typedef struct {
    int algo; /* cudnnConvolutionFwdAlgo_t or cudnnConvolutionBwdDataAlgo_t */
    cudnnMathType_t math;
    size_t workspace; /* bytes */
} algo_choice;

/* How one layer runs one input shape. */
typedef struct {
    int n, h, w;
    conv_call call;
    bool f32;                             /* float32 descriptors and weights (the bf16 epilogue path) */
    cudnnTensorDescriptor_t xdesc, ydesc; /* [n, cs(cin), h, w] and [n, cs(cout), oh, ow], NHWC */
    algo_choice cand[MAX_CANDIDATES];     /* best first */
    int ncand;
    int chosen;   /* index into cand of the one that ran; -1 before the first call */
    bool unfused; /* a fused call whose candidates cuDNN all refused */
} conv_plan;

struct pnp_conv {
    pnp_backend *be;
    int cin, cout, k, stride, pad;
    bool transposed, has_bias;
    int xs, ys;   /* channel strides of the input and output activations */
    void *weight; /* KRSC filter on the device (header) */
    float *weight_f32; /* the same in float32 (bf16 only, made by the first epilogue-path call) */
    void *bias;   /* [ys] on the device; zeros when the layer has none */
    cudnnFilterDescriptor_t wdesc, wdesc_f32;
    cudnnConvolutionDescriptor_t cdesc;
    cudnnTensorDescriptor_t bdesc; /* [1, ys, 1, 1] */
    cudnnActivationDescriptor_t relu, identity;
    conv_plan plans[MAX_PLANS];
    int nplans, next_evict;
};

static size_t elem_bytes(const cuda_ctx *c) { return c->bf16 ? 2 : 4; }
static cudnnDataType_t data_type(const cuda_ctx *c) { return c->bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT; }

/* The math type the descriptors start with (see the header). */
static cudnnMathType_t base_math(const cuda_ctx *c)
{
    if (c->bf16) return CUDNN_TENSOR_OP_MATH;
    return c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

static size_t act_elems(const pnp_act *a) { return (size_t)a->n * a->h * a->w * cudnn_channel_stride(a->c); }

/* float -> bfloat16 bits, rounded to nearest even as __float2bfloat16_rn (NaN stays NaN). */
static uint16_t bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* count floats (host) into a new device buffer of the activations' type. */
static void *upload_as_act_type(pnp_backend *be, const float *host, size_t count)
{
    cuda_ctx *c = be->ctx;
    void *dev = cuda_alloc(be, count * elem_bytes(c));
    if (c->bf16) {
        uint16_t *h = pnp_malloc(count * sizeof *h);
        for (size_t i = 0; i < count; ++i) h[i] = bf16_bits(host[i]);
        be->ops->upload(be, dev, h, count * sizeof *h);
        free(h);
    } else {
        be->ops->upload(be, dev, host, count * sizeof(float));
    }
    return dev;
}

/* Grow-only buffers of the context (cuda_free waits for work still using the old one). */
static void *grow(pnp_backend *be, void **buf, size_t *have, size_t need)
{
    if (need > *have) {
        cuda_free(be, *buf);
        *buf = cuda_alloc(be, need);
        *have = need;
    }
    return *buf;
}

static void ensure_handle(cuda_ctx *c)
{
    if (c->cudnn) return;
    CUDNN_CHECK(cudnnCreate(&c->cudnn));
    CUDNN_CHECK(cudnnSetStream(c->cudnn, c->stream));
}

static void set_nhwc(cudnnTensorDescriptor_t d, const cuda_ctx *c, int n, int cs, int h, int w)
{
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NHWC, data_type(c), n, cs, h, w));
}

/* ------------------------------------------------------------ element ops */

/* What the workspace and the epilogue scratch may still grow by: up to their caps. */
size_t cudnn_workspace_bytes(pnp_backend *be)
{
    const cuda_ctx *c = be->ctx;
    return (c->workspace_bytes < WORKSPACE_CAP ? WORKSPACE_CAP - c->workspace_bytes : 0) +
           (c->epilogue_bytes < EPILOGUE_CAP ? EPILOGUE_CAP - c->epilogue_bytes : 0);
}

size_t cudnn_act_bytes(pnp_backend *be, int n, int c, int h, int w)
{
    return (size_t)n * h * w * cudnn_channel_stride(c) * elem_bytes(be->ctx);
}

static void same_shape(const pnp_act *a, const pnp_act *b, const char *what)
{
    if (a->n != b->n || a->c != b->c || a->h != b->h || a->w != b->w)
        pnp_fatal("%s: shapes [%d,%d,%d,%d] and [%d,%d,%d,%d] differ", what, a->n, a->c, a->h, a->w, b->n, b->c, b->h,
                  b->w);
}

void cudnn_act_add(pnp_backend *be, const pnp_act *a, const pnp_act *b, pnp_act *y)
{
    cuda_ctx *c = be->ctx;
    same_shape(a, b, "add");
    same_shape(a, y, "add");
    LAUNCH_CHECK(pnp_launch_act_add(a->data, b->data, y->data, act_elems(y), c->bf16, c->stream));
}

void cudnn_act_from_image(pnp_backend *be, const float *img, int n, int c, int h, int w, pnp_act *x)
{
    cuda_ctx *cx = be->ctx;
    if (x->n != n || x->c != c || x->h < h || x->w < w)
        pnp_fatal("act_from_image: image [%d,%d,%d,%d] does not fit activation [%d,%d,%d,%d]", n, c, h, w, x->n, x->c,
                  x->h, x->w);
    LAUNCH_CHECK(pnp_launch_image_to_act(img, n, c, h, w, x->data, cudnn_channel_stride(c), x->h, x->w, cx->bf16,
                                         cx->stream));
}

void cudnn_act_concat_const(pnp_backend *be, const pnp_act *x, float value, pnp_act *y)
{
    cuda_ctx *c = be->ctx;
    if (y->n != x->n || y->c != x->c + 1 || y->h != x->h || y->w != x->w)
        pnp_fatal("concat_const: [%d,%d,%d,%d] + 1 channel is not [%d,%d,%d,%d]", x->n, x->c, x->h, x->w, y->n, y->c,
                  y->h, y->w);
    LAUNCH_CHECK(pnp_launch_concat_const(x->data, cudnn_channel_stride(x->c), x->c, value, y->data,
                                         cudnn_channel_stride(y->c), (size_t)x->n * x->h * x->w, c->bf16, c->stream));
}

void cudnn_act_to_image(pnp_backend *be, const pnp_act *x, int h, int w, float *img)
{
    cuda_ctx *c = be->ctx;
    if (h > x->h || w > x->w) pnp_fatal("act_to_image: crop %dx%d larger than [%d,%d]", h, w, x->h, x->w);
    LAUNCH_CHECK(pnp_launch_act_to_image(x->data, cudnn_channel_stride(x->c), x->h, x->w, x->n, x->c, h, w, img,
                                         c->bf16, c->stream));
}

void cudnn_pixel_unshuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y)
{
    cuda_ctx *c = be->ctx;
    if (y->n != x->n || y->c != 4 * x->c || 2 * y->h != x->h || 2 * y->w != x->w)
        pnp_fatal("pixel_unshuffle: [%d,%d,%d,%d] -> [%d,%d,%d,%d] is not a 2x2 unshuffle", x->n, x->c, x->h, x->w,
                  y->n, y->c, y->h, y->w);
    LAUNCH_CHECK(pnp_launch_pixel_unshuffle2(x->data, x->n, x->c, cudnn_channel_stride(x->c), y->h, y->w, y->data,
                                             cudnn_channel_stride(y->c), c->bf16, c->stream));
}

void cudnn_pixel_shuffle2(pnp_backend *be, const pnp_act *x, pnp_act *y)
{
    cuda_ctx *c = be->ctx;
    if (y->n != x->n || 4 * y->c != x->c || y->h != 2 * x->h || y->w != 2 * x->w)
        pnp_fatal("pixel_shuffle: [%d,%d,%d,%d] -> [%d,%d,%d,%d] is not a 2x2 shuffle", x->n, x->c, x->h, x->w, y->n,
                  y->c, y->h, y->w);
    LAUNCH_CHECK(pnp_launch_pixel_shuffle2(x->data, x->n, y->c, cudnn_channel_stride(x->c), x->h, x->w, y->data,
                                           cudnn_channel_stride(y->c), c->bf16, c->stream));
}

/* ------------------------------------------------------------ convolution */

pnp_conv *cudnn_conv_create(pnp_backend *be, int cin, int cout, int k, int stride, int pad, bool transposed,
                            const float *weight, const float *bias)
{
    if (transposed && (stride != k || pad != 0))
        pnp_fatal("cuda conv: transposed convolutions need stride == kernel and no padding (k %d, stride %d, pad %d)",
                  k, stride, pad);
    if (cin < 1 || cout < 1 || k < 1 || stride < 1 || pad < 0)
        pnp_fatal("cuda conv: bad shape (cin %d, cout %d, k %d, stride %d, pad %d)", cin, cout, k, stride, pad);
    cuda_ctx *c = be->ctx;
    ensure_handle(c);
    pnp_conv *cv = pnp_calloc(1, sizeof *cv);
    *cv = (pnp_conv){.be = be, .cin = cin, .cout = cout, .k = k, .stride = stride, .pad = pad,
                     .transposed = transposed, .has_bias = bias != NULL};
    cv->xs = cudnn_channel_stride(cin);
    cv->ys = cudnn_channel_stride(cout);

    /* the KRSC filter (header): K filters over C channels */
    const int K = transposed ? cv->xs : cv->ys, C = transposed ? cv->ys : cv->xs;
    const size_t fcount = (size_t)K * k * k * C;
    float *f = pnp_calloc(fcount, sizeof *f); /* padded channels stay zero */
    for (int co = 0; co < cout; ++co)
        for (int ci = 0; ci < cin; ++ci)
            for (int r = 0; r < k; ++r)
                for (int s = 0; s < k; ++s) {
                    const size_t src = transposed ? (((size_t)ci * cout + co) * k + r) * k + s  /* w[ci, co, r, s] */
                                                  : (((size_t)co * cin + ci) * k + r) * k + s; /* w[co, ci, r, s] */
                    const int kk = transposed ? ci : co, cc = transposed ? co : ci;
                    f[(((size_t)kk * k + r) * k + s) * C + cc] = weight[src];
                }
    cv->weight = upload_as_act_type(be, f, fcount);
    free(f);
    float *b = pnp_calloc((size_t)cv->ys, sizeof *b); /* [ys], zeros past cout or without a bias */
    if (bias) memcpy(b, bias, sizeof(float) * cout);
    cv->bias = upload_as_act_type(be, b, (size_t)cv->ys);
    free(b);

    CUDNN_CHECK(cudnnCreateFilterDescriptor(&cv->wdesc));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(cv->wdesc, data_type(c), CUDNN_TENSOR_NHWC, K, C, k, k));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cv->cdesc));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cv->cdesc, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(cv->cdesc, base_math(c)));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&cv->bdesc));
    set_nhwc(cv->bdesc, c, 1, cv->ys, 1, 1);
    CUDNN_CHECK(cudnnCreateActivationDescriptor(&cv->relu));
    CUDNN_CHECK(cudnnSetActivationDescriptor(cv->relu, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, DBL_MAX));
    CUDNN_CHECK(cudnnCreateActivationDescriptor(&cv->identity));
    CUDNN_CHECK(cudnnSetActivationDescriptor(cv->identity, CUDNN_ACTIVATION_IDENTITY, CUDNN_NOT_PROPAGATE_NAN, 0.0));
    return cv;
}

static void plan_release(conv_plan *p)
{
    if (p->xdesc) CUDNN_CHECK(cudnnDestroyTensorDescriptor(p->xdesc));
    if (p->ydesc) CUDNN_CHECK(cudnnDestroyTensorDescriptor(p->ydesc));
    memset(p, 0, sizeof *p);
}

void cudnn_conv_destroy(pnp_conv *cv)
{
    if (!cv) return;
    for (int i = 0; i < cv->nplans; ++i) plan_release(&cv->plans[i]);
    CUDNN_CHECK(cudnnDestroyActivationDescriptor(cv->relu));
    CUDNN_CHECK(cudnnDestroyActivationDescriptor(cv->identity));
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(cv->bdesc));
    CUDNN_CHECK(cudnnDestroyConvolutionDescriptor(cv->cdesc));
    CUDNN_CHECK(cudnnDestroyFilterDescriptor(cv->wdesc));
    if (cv->wdesc_f32) CUDNN_CHECK(cudnnDestroyFilterDescriptor(cv->wdesc_f32));
    cuda_free(cv->be, cv->weight);
    cuda_free(cv->be, cv->weight_f32);
    cuda_free(cv->be, cv->bias);
    free(cv);
}

static const char *call_name(conv_call call)
{
    switch (call) {
    case CALL_FUSED_RELU: return "conv+bias+relu";
    case CALL_FUSED_IDENTITY: return "conv+residual+bias";
    case CALL_FORWARD: return "conv";
    case CALL_BACKWARD_DATA: return "transposed conv";
    }
    return "?";
}

static bool fused(conv_call call) { return call == CALL_FUSED_RELU || call == CALL_FUSED_IDENTITY; }

/* The math type a plan's descriptors start with (see the header; float32
 * plans of the bf16 epilogue path compute like fp32 ones). */
static cudnnMathType_t plan_math(const cuda_ctx *c, const conv_plan *p)
{
    if (c->bf16 && !p->f32) return CUDNN_TENSOR_OP_MATH;
    return c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

static cudnnFilterDescriptor_t plan_filter(const pnp_conv *cv, const conv_plan *p)
{
    return p->f32 ? cv->wdesc_f32 : cv->wdesc;
}

/* Adds (algo, math) to the plan's candidates when its workspace is known and
 * within the cap and it is not there yet. */
static void add_candidate(pnp_conv *cv, conv_plan *p, int algo, cudnnMathType_t math)
{
    cuda_ctx *c = cv->be->ctx;
    for (int i = 0; i < p->ncand; ++i)
        if (p->cand[i].algo == algo && p->cand[i].math == math) return;
    if (p->ncand == MAX_CANDIDATES) return;
    size_t ws = 0;
    cudnnStatus_t st = cudnnSetConvolutionMathType(cv->cdesc, math);
    if (st == CUDNN_STATUS_SUCCESS)
        st = p->call == CALL_BACKWARD_DATA
                 ? cudnnGetConvolutionBackwardDataWorkspaceSize(c->cudnn, plan_filter(cv, p), p->xdesc, cv->cdesc,
                                                                p->ydesc, (cudnnConvolutionBwdDataAlgo_t)algo, &ws)
                 : cudnnGetConvolutionForwardWorkspaceSize(c->cudnn, p->xdesc, plan_filter(cv, p), cv->cdesc,
                                                           p->ydesc, (cudnnConvolutionFwdAlgo_t)algo, &ws);
    if (st != CUDNN_STATUS_SUCCESS || ws > WORKSPACE_CAP) return;
    p->cand[p->ncand++] = (algo_choice){algo, math, ws};
}

/* The math type to run a heuristic's (algo, math) with, or -1 to skip it. */
static int usable_math(const cuda_ctx *c, const conv_plan *p, cudnnMathType_t suggested)
{
    if (suggested == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return -1; /* would down-convert to fp16 */
    if (plan_math(c, p) == CUDNN_FMA_MATH) return CUDNN_FMA_MATH;     /* plain float32 asked for */
    return (int)suggested;
}

/* The candidates of a plan whose descriptors are set: cuDNN's heuristics, best
 * first, then the fallback; the IDENTITY fused call has one algorithm only. */
static void find_candidates(pnp_conv *cv, conv_plan *p)
{
    cuda_ctx *c = cv->be->ctx;
    const cudnnMathType_t math = plan_math(c, p);
    CUDNN_CHECK(cudnnSetConvolutionMathType(cv->cdesc, math));
    int got = 0;
    if (p->call == CALL_FUSED_IDENTITY) {
        add_candidate(cv, p, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, math);
    } else if (p->call == CALL_BACKWARD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(c->cudnn, plan_filter(cv, p), p->xdesc, cv->cdesc,
                                                                p->ydesc, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got,
                                                                perf));
        for (int i = 0; i < got; ++i) {
            const int m = usable_math(c, p, perf[i].mathType);
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC && m >= 0)
                add_candidate(cv, p, perf[i].algo, (cudnnMathType_t)m);
        }
        add_candidate(cv, p, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, math);
    } else {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(c->cudnn, p->xdesc, plan_filter(cv, p), cv->cdesc,
                                                           p->ydesc, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf));
        for (int i = 0; i < got; ++i) {
            const int m = usable_math(c, p, perf[i].mathType);
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC && m >= 0)
                add_candidate(cv, p, perf[i].algo, (cudnnMathType_t)m);
        }
        add_candidate(cv, p, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, math);
        add_candidate(cv, p, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, math);
    }
    if (p->ncand == 0 && !fused(p->call))
        pnp_fatal("cuDNN offers no algorithm for %s %dx%d %d -> %d channels on [%d,%d,%d,%d]", call_name(p->call),
                  cv->k, cv->k, cv->cin, cv->cout, p->n, cv->cin, p->h, p->w);
}

/* The plan of (x's shape, call, f32), made on first sight: descriptors, shape
 * check against cuDNN's own output size, candidates. */
static conv_plan *get_plan(pnp_conv *cv, const pnp_act *x, const pnp_act *y, conv_call call, bool f32)
{
    cuda_ctx *c = cv->be->ctx;
    for (int i = 0; i < cv->nplans; ++i) {
        conv_plan *p = &cv->plans[i];
        if (p->n == x->n && p->h == x->h && p->w == x->w && p->call == call && p->f32 == f32) return p;
    }
    conv_plan *p;
    if (cv->nplans < MAX_PLANS) {
        p = &cv->plans[cv->nplans++];
    } else { /* replace the oldest */
        p = &cv->plans[cv->next_evict];
        cv->next_evict = (cv->next_evict + 1) % MAX_PLANS;
        plan_release(p);
    }
    *p = (conv_plan){.n = x->n, .h = x->h, .w = x->w, .call = call, .f32 = f32, .chosen = -1};
    const cudnnDataType_t type = f32 ? CUDNN_DATA_FLOAT : data_type(c);
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->xdesc));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->ydesc));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->xdesc, CUDNN_TENSOR_NHWC, type, x->n, cv->xs, x->h, x->w));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->ydesc, CUDNN_TENSOR_NHWC, type, y->n, cv->ys, y->h, y->w));
    /* the forward convolution's output: y's shape, or x's for the transposed one (y -> x) */
    const pnp_act *in = call == CALL_BACKWARD_DATA ? y : x, *out = call == CALL_BACKWARD_DATA ? x : y;
    const int want_c = call == CALL_BACKWARD_DATA ? cv->xs : cv->ys;
    int on, oc, oh, ow;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(cv->cdesc, call == CALL_BACKWARD_DATA ? p->ydesc : p->xdesc,
                                                      plan_filter(cv, p), &on, &oc, &oh, &ow));
    if (on != out->n || oc != want_c || oh != out->h || ow != out->w)
        pnp_fatal("cuda conv: cuDNN's output [%d,%d,%d,%d] for input [%d,%d,%d,%d] is not [%d,%d,%d,%d]", on, oc, oh,
                  ow, in->n, in->c, in->h, in->w, out->n, want_c, out->h, out->w);
    find_candidates(cv, p);
    return p;
}

/* One cuDNN call of the plan with candidate a and `workspace` bytes of
 * workspace: y = conv(x) + beta * y, or for the fused calls
 * act(conv(x) + beta * z + bias). */
static cudnnStatus_t launch(pnp_conv *cv, const conv_plan *p, const algo_choice *a, size_t workspace, const void *x,
                            void *y, const void *z, float beta)
{
    cuda_ctx *c = cv->be->ctx;
    const float one = 1.f;
    grow(cv->be, &c->workspace, &c->workspace_bytes, workspace);
    cudnnStatus_t st = cudnnSetConvolutionMathType(cv->cdesc, a->math);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    const void *w = p->f32 ? (const void *)cv->weight_f32 : cv->weight;
    switch (p->call) {
    case CALL_FUSED_RELU:
    case CALL_FUSED_IDENTITY:
        return cudnnConvolutionBiasActivationForward(
            c->cudnn, &one, p->xdesc, x, cv->wdesc, w, cv->cdesc, (cudnnConvolutionFwdAlgo_t)a->algo, c->workspace,
            workspace, &beta, p->ydesc, z, cv->bdesc, cv->bias, p->call == CALL_FUSED_RELU ? cv->relu : cv->identity,
            p->ydesc, y);
    case CALL_FORWARD:
        return cudnnConvolutionForward(c->cudnn, &one, p->xdesc, x, plan_filter(cv, p), w, cv->cdesc,
                                       (cudnnConvolutionFwdAlgo_t)a->algo, c->workspace, workspace, &beta, p->ydesc,
                                       y);
    case CALL_BACKWARD_DATA:
        return cudnnConvolutionBackwardData(c->cudnn, &one, plan_filter(cv, p), w, p->xdesc, x, cv->cdesc,
                                            (cudnnConvolutionBwdDataAlgo_t)a->algo, c->workspace, workspace, &beta,
                                            p->ydesc, y);
    }
    return CUDNN_STATUS_BAD_PARAM;
}

/* Runs the plan: its chosen algorithm, or on the first call the candidates in
 * order until cuDNN accepts one. Returns false only for a fused call that
 * cuDNN refused with every candidate (counted; the caller runs it unfused). */
static bool execute(pnp_conv *cv, conv_plan *p, const void *x, void *y, const void *z, float beta)
{
    cuda_ctx *c = cv->be->ctx;
    if (p->chosen >= 0) {
        const algo_choice *a = &p->cand[p->chosen];
        CUDNN_CHECK(launch(cv, p, a, a->workspace, x, y, z, beta));
        return true;
    }
    if (p->unfused) return false;
    char tried[512] = "";
    for (int i = 0; i < p->ncand; ++i) {
        algo_choice *a = &p->cand[i];
        cudnnStatus_t st = launch(cv, p, a, a->workspace, x, y, z, beta);
        if (fused(p->call) && CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_BAD_PARAM && a->workspace < WORKSPACE_CAP) {
            st = launch(cv, p, a, WORKSPACE_CAP, x, y, z, beta); /* no query of its own: see the header */
            if (st == CUDNN_STATUS_SUCCESS && getenv("PNP_CUDNN_LOG")) {
                fprintf(stderr, "pnp: cudnn: %s %dx%d %d -> %d on [%d,%d,%d,%d]: algo %d refused its queried "
                                "workspace of %zu B; it runs with the cap, %zu B\n",
                        call_name(p->call), cv->k, cv->k, cv->cin, cv->cout, p->n, cv->cin, p->h, p->w, a->algo,
                        a->workspace, WORKSPACE_CAP);
            }
            if (st == CUDNN_STATUS_SUCCESS) a->workspace = WORKSPACE_CAP;
        }
        if (st == CUDNN_STATUS_SUCCESS) {
            p->chosen = i;
            if (getenv("PNP_CUDNN_LOG"))
                fprintf(stderr,
                        "pnp: cudnn: %s %dx%d/%d %d -> %d on [%d,%d,%d,%d]%s: algo %d, math %d, workspace %zu B%s%s%s\n",
                        call_name(p->call), cv->k, cv->k, cv->stride, cv->cin, cv->cout, p->n, cv->cin, p->h, p->w,
                        p->f32 ? " in float32" : "", a->algo, (int)a->math, a->workspace, tried[0] ? " (refused: " : "",
                        tried, tried[0] ? ")" : "");
            return true;
        }
        const int category = CUDNN_STATUS_CATEGORY(st);
        if (category != CUDNN_STATUS_NOT_SUPPORTED && category != CUDNN_STATUS_BAD_PARAM) CUDNN_CHECK(st);
        const size_t used = strlen(tried);
        snprintf(tried + used, sizeof tried - used, "%salgo %d math %d: %s", used ? ", " : "", a->algo, (int)a->math,
                 cudnnGetErrorString(st));
    }
    char detail[512] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    if (fused(p->call)) {
        p->unfused = true;
        if (++c->unfused_convs == 1 || getenv("PNP_CUDNN_LOG"))
            fprintf(stderr, "pnp: cuda: cuDNN refused the fused %s for %dx%d %d -> %d on [%d,%d,%d,%d] with every "
                            "algorithm (%s%s%s): it runs as a convolution then a kernel (slower, same rounding)%s\n",
                    call_name(p->call), cv->k, cv->k, cv->cin, cv->cout, p->n, cv->cin, p->h, p->w,
                    tried[0] ? tried : "no candidate", detail[0] ? "; " : "", detail,
                    c->unfused_convs == 1 && !getenv("PNP_CUDNN_LOG") ? "; further ones are counted" : "");
        return false;
    }
    pnp_fatal("cuDNN ran none of the algorithms for %s %dx%d (stride %d, pad %d) %d -> %d channels on input "
              "[%d,%d,%d,%d] (%s): %s",
              call_name(p->call), cv->k, cv->k, cv->stride, cv->pad, cv->cin, cv->cout, p->n, cv->cin, p->h, p->w,
              tried, detail);
}

/* The float32 copy of a bf16 layer's filter, for the epilogue path. */
static void ensure_weight_f32(pnp_conv *cv)
{
    cuda_ctx *c = cv->be->ctx;
    if (cv->weight_f32) return;
    const int K = cv->transposed ? cv->xs : cv->ys, C = cv->transposed ? cv->ys : cv->xs;
    const size_t count = (size_t)K * cv->k * cv->k * C;
    cv->weight_f32 = cuda_alloc(cv->be, count * sizeof(float));
    LAUNCH_CHECK(pnp_launch_to_float(cv->weight, cv->weight_f32, count, 1, c->stream));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&cv->wdesc_f32));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(cv->wdesc_f32, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, K, C, cv->k, cv->k));
}

/* [n0, n0 + n) of activation a. */
static pnp_act batch_slice(const cuda_ctx *c, const pnp_act *a, int n0, int n)
{
    const size_t per = (size_t)a->h * a->w * cudnn_channel_stride(a->c) * elem_bytes(c);
    return (pnp_act){(char *)a->data + per * n0, n, a->c, a->h, a->w};
}

/* y = relu?(conv(x) + bias) + residual with one rounding: the convolution in
 * float32 into the epilogue scratch, then the epilogue kernel, in slices of
 * the batch that fit EPILOGUE_CAP. False when one image does not fit. */
static bool conv_epilogue(pnp_conv *cv, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual)
{
    pnp_backend *be = cv->be;
    cuda_ctx *c = be->ctx;
    const conv_call call = cv->transposed ? CALL_BACKWARD_DATA : CALL_FORWARD;
    const size_t in_floats = c->bf16 ? (size_t)x->h * x->w * cv->xs : 0, out_floats = (size_t)y->h * y->w * cv->ys;
    const size_t per_image = (in_floats + out_floats) * sizeof(float);
    const int fit = (int)(EPILOGUE_CAP / per_image), m = fit < x->n ? fit : x->n;
    if (m < 1) return false;
    float *t = grow(be, &c->epilogue, &c->epilogue_bytes, per_image * m), *xf = t + out_floats * m;
    if (c->bf16) ensure_weight_f32(cv);
    for (int n0 = 0; n0 < x->n; n0 += m) {
        const int n = x->n - n0 < m ? x->n - n0 : m;
        const pnp_act xs = batch_slice(c, x, n0, n), ys = batch_slice(c, y, n0, n);
        const pnp_act rs = residual ? batch_slice(c, residual, n0, n) : ys;
        if (c->bf16) LAUNCH_CHECK(pnp_launch_to_float(xs.data, xf, in_floats * n, 1, c->stream));
        execute(cv, get_plan(cv, &xs, &ys, call, c->bf16), c->bf16 ? xf : xs.data, t, NULL, 0.f);
        LAUNCH_CHECK(pnp_launch_epilogue(t, cv->has_bias ? cv->bias : NULL, cv->ys, relu,
                                           residual ? rs.data : NULL, ys.data, out_floats * n, c->bf16, c->stream));
    }
    return true;
}

void cudnn_conv_forward(pnp_conv *cv, const pnp_act *x, pnp_act *y, bool relu, const pnp_act *residual)
{
    pnp_conv_check_shapes(cv->cin, cv->cout, cv->k, cv->stride, cv->pad, cv->transposed, x, y, residual);
    pnp_backend *be = cv->be;
    cuda_ctx *c = be->ctx;
    const size_t count = act_elems(y), bytes = count * elem_bytes(c);
    const conv_call call = cv->transposed ? CALL_BACKWARD_DATA : CALL_FORWARD;

    /* the fused calls: relu(conv + bias); conv + residual + bias */
    if (!cv->transposed && relu && !residual &&
        execute(cv, get_plan(cv, x, y, CALL_FUSED_RELU, false), x->data, y->data, y->data, 0.f))
        return;
    if (!cv->transposed && !relu && residual && cv->has_bias &&
        execute(cv, get_plan(cv, x, y, CALL_FUSED_IDENTITY, false), x->data, y->data, residual->data, 1.f))
        return;
    /* y starts as what conv(x) adds to: one rounding, then the relu (exact) */
    const bool blend = !residual || (!relu && !cv->has_bias);
    if (!blend && conv_epilogue(cv, x, y, relu, residual)) return;
    if (!blend && relu)
        pnp_fatal("cuda conv: %dx%d %d -> %d with relu and residual on [%d,%d,%d,%d]: one image needs more float32 "
                  "epilogue scratch than its cap of %zu bytes (use smaller tiles)",
                  cv->k, cv->k, cv->cin, cv->cout, x->n, x->c, x->h, x->w, EPILOGUE_CAP);
    if (!blend && !c->said_two_roundings) {
        fprintf(stderr, "pnp: cuda: %dx%d %d -> %d on [%d,%d,%d,%d] is too large for the float32 epilogue scratch: "
                        "its residual and bias round separately (slightly less accurate in bf16)\n",
                cv->k, cv->k, cv->cin, cv->cout, x->n, x->c, x->h, x->w);
        c->said_two_roundings = true;
    }
    float beta = 0.f;
    if (residual) {
        if (residual->data != y->data)
            CUDA_CHECK(cudaMemcpyAsync(y->data, residual->data, bytes, cudaMemcpyDeviceToDevice, c->stream));
        beta = 1.f;
    } else if (cv->has_bias) {
        LAUNCH_CHECK(pnp_launch_fill_channels(cv->bias, cv->ys, y->data, count, c->bf16, c->stream));
        beta = 1.f;
    }
    execute(cv, get_plan(cv, x, y, call, false), x->data, y->data, NULL, beta);
    if (relu || (residual && cv->has_bias))
        LAUNCH_CHECK(pnp_launch_bias_relu(y->data, residual && cv->has_bias ? cv->bias : NULL, cv->ys, relu, count,
                                            c->bf16, c->stream));
}

void cudnn_layers_destroy(pnp_backend *be)
{
    cuda_ctx *c = be->ctx;
    cuda_free(be, c->workspace);
    cuda_free(be, c->epilogue);
    c->workspace = NULL;
    c->epilogue = NULL;
    c->workspace_bytes = c->epilogue_bytes = 0;
    if (c->cudnn) CUDNN_CHECK(cudnnDestroy(c->cudnn));
    c->cudnn = NULL;
}
