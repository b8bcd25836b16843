/* emu_cudnn.cpp - cuDNN's stand-in in the CUDA emulation: the legacy
 * convolution API pnp uses (defined against the toolkit's cudnn*.h), as
 * plain loops in double over the descriptors' own layouts and data types.
 *
 * Arithmetic. Operands are read through their descriptors (any strides: NCHW,
 * NHWC; filters KCRS or KRSC) as float32 or bfloat16 and widened to double;
 * products and sums are exact in double (a real GPU sums in float32, in an
 * order of its own). float32 data under CUDNN_DEFAULT_MATH or
 * CUDNN_TENSOR_OP_MATH may use TF32 tensor cores, so both operands are first
 * rounded to TF32's 10-bit mantissa: PNP_EMU_TF32=rna (round to nearest, ties
 * away; the default), trunc (truncation) or off; NVIDIA_TF32_OVERRIDE=0
 * turns it off as it does in cuDNN. CUDNN_FMA_MATH keeps float32 operands.
 * The result (alpha * conv + beta * y, or act(alpha1 * conv + alpha2 * z +
 * bias) for the fused call) is rounded once to the output's type (bfloat16:
 * through float32, nearest even). beta == 0 does not read y (documented); the
 * fused call reads z whatever alpha2 (0 * NaN is NaN).
 *
 * Algorithms. The heuristics (cudnnGet*Algorithm_v7) list every algorithm,
 * best first, including ones a caller must skip: NOT_SUPPORTED entries, a
 * non-deterministic one (its results then differ from call to call by one
 * float32 ulp, as atomics would), one whose workspace (2 GiB) is over any
 * sane cap and, for float32 data, GEMM suggested with
 * CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (not emulated: running it fails).
 * Support and workspace sizes follow one table (support() below) used by the
 * heuristics, the workspace queries and the calls alike, so a call with less
 * workspace than its query said is refused with CUDNN_STATUS_BAD_PARAM.
 * The fused call accepts RELU, and IDENTITY only with
 * IMPLICIT_PRECOMP_GEMM (documented), with z of y's shape and type (z may be y)
 * and a bias [1, K, 1, 1] of y's type. Options: PNP_EMU_REFUSE_FUSED=1
 * refuses every fused call (NOT_SUPPORTED); PNP_EMU_REFUSE_ALGO=name,...
 * refuses those algorithms when called (e.g. winograd,implicit_precomp_gemm;
 * backward data: algo_1) although the heuristics offered them;
 * PNP_EMU_FUSED_WORKSPACE_EXTRA=BYTES makes the fused call need that much more
 * workspace than cudnnGetConvolutionForwardWorkspaceSize says.
 *
 * Contracts: descriptors set before use and not used after destruction;
 * every tensor's extent inside one device allocation; x and y (dy and dx) not
 * overlapping; alpha and beta in host memory; the workspace inside device
 * memory; an output tensor of the convolution's output shape. A refusal
 * returns its status with a message for cudnnGetLastErrorString; a violation
 * ends the process. */
#include <cudnn.h>

#include <omp.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "emu.h"

struct cudnnContext {
    cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
    bool set = false;
    cudnnDataType_t type;
    int n, c, h, w;
    int sn, sc, sh, sw; /* strides in elements */
};
struct cudnnFilterStruct {
    bool set = false;
    cudnnDataType_t type;
    cudnnTensorFormat_t format;
    int k, c, r, s;
};
struct cudnnConvolutionStruct {
    bool set = false;
    int ph, pw, u, v, dh, dw;
    cudnnConvolutionMode_t mode;
    cudnnDataType_t compute;
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
struct cudnnActivationStruct {
    bool set = false;
    cudnnActivationMode_t mode;
    double coef;
};

namespace {

std::set<const void *> g_live; /* every live handle and descriptor */
thread_local std::string t_message;
unsigned long g_nondet_calls = 0;

const size_t OVER_CAP = (size_t)2 << 30; /* the workspace of the "too big" candidates */

cudnnStatus_t refuse(cudnnStatus_t st, const char *call, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
cudnnStatus_t refuse(cudnnStatus_t st, const char *call, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t_message = std::string(call) + ": " + msg + " (emulated cuDNN)";
    return st;
}

template <class T> T *live(T *p, const char *call, const char *what)
{
    if (!p || !g_live.count(p)) emu::fail(call, "%s %p is not a live object (destroyed, or never created)", what, (void *)p);
    return p;
}

template <class T> cudnnStatus_t create(T **out, const char *call)
{
    if (!out) emu::fail(call, "the pointer to the result is NULL");
    if (emu::injected_failure(call)) return CUDNN_STATUS_INTERNAL_ERROR;
    *out = new T;
    g_live.insert(*out);
    return CUDNN_STATUS_SUCCESS;
}

template <class T> cudnnStatus_t destroy(T *p, const char *call)
{
    if (!p) return CUDNN_STATUS_SUCCESS; /* documented: destroying NULL is a no-op */
    live(p, call, "descriptor");
    if (emu::injected_failure(call)) return CUDNN_STATUS_INTERNAL_ERROR;
    g_live.erase(p);
    delete p;
    return CUDNN_STATUS_SUCCESS;
}

size_t elem_size(cudnnDataType_t t) { return t == CUDNN_DATA_FLOAT ? 4 : 2; }
bool emulated_type(cudnnDataType_t t) { return t == CUDNN_DATA_FLOAT || t == CUDNN_DATA_BFLOAT16; }

size_t tensor_bytes(const cudnnTensorStruct &d)
{
    const size_t last = (size_t)(d.n - 1) * d.sn + (size_t)(d.c - 1) * d.sc + (size_t)(d.h - 1) * d.sh +
                        (size_t)(d.w - 1) * d.sw;
    return (last + 1) * elem_size(d.type);
}

size_t filter_bytes(const cudnnFilterStruct &f) { return (size_t)f.k * f.c * f.r * f.s * elem_size(f.type); }

/* One element as double / one double stored, rounded to the type. */
double load(const void *base, cudnnDataType_t t, size_t i)
{
    if (t == CUDNN_DATA_FLOAT) return ((const float *)base)[i];
    const uint32_t u = (uint32_t)((const uint16_t *)base)[i] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void store(void *base, cudnnDataType_t t, size_t i, double v)
{
    const float f = (float)v;
    if (t == CUDNN_DATA_FLOAT) {
        ((float *)base)[i] = f;
        return;
    }
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) u |= 0x00400000u; /* NaN stays NaN */
    else u += 0x7fffu + ((u >> 16) & 1u);                  /* nearest even */
    ((uint16_t *)base)[i] = (uint16_t)(u >> 16);
}

enum Rounding { EXACT, TF32_NEAREST, TF32_TRUNC };

double round_operand(double v, Rounding r)
{
    if (r == EXACT) return v;
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return v; /* Inf, NaN */
    if (r == TF32_NEAREST) u += 0x1000u;             /* half of the 13 dropped bits: ties away from zero */
    u &= ~0x1fffu;
    memcpy(&f, &u, 4);
    return f;
}

/* TF32 rounding of the operands for this data type and math type. */
Rounding operand_rounding(cudnnDataType_t t, cudnnMathType_t math, const char *call)
{
    if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
        emu::fail(call, "CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (down-conversion to fp16) is not emulated; pnp "
                        "never chooses it");
    if (t != CUDNN_DATA_FLOAT || math == CUDNN_FMA_MATH) return EXACT;
    if (!strcmp(emu::option("NVIDIA_TF32_OVERRIDE", "1"), "0")) return EXACT;
    const char *m = emu::option("PNP_EMU_TF32", "rna");
    if (!strcmp(m, "rna")) return TF32_NEAREST;
    if (!strcmp(m, "trunc")) return TF32_TRUNC;
    if (!strcmp(m, "off")) return EXACT;
    emu::fail(call, "PNP_EMU_TF32=%s: expected rna, trunc or off", m);
}

/* ------------------------------------------------------------ algorithms */

enum Kind { FWD, BWD_DATA };

struct Shape { /* one convolution call, checked */
    cudnnTensorStruct x, y;     /* FWD: x -> y; BWD_DATA: x is dx (the forward input), y is dy */
    cudnnFilterStruct w;
    cudnnConvolutionStruct c;
};

const char *algo_name(Kind k, int a)
{
    static const char *fwd[] = {"implicit_gemm", "implicit_precomp_gemm", "gemm", "direct",
                                "fft",           "fft_tiling",            "winograd", "winograd_nonfused"};
    static const char *bwd[] = {"algo_0", "algo_1", "fft", "fft_tiling", "winograd", "winograd_nonfused"};
    if (k == FWD) return a >= 0 && a < 8 ? fwd[a] : "?";
    return a >= 0 && a < 6 ? bwd[a] : "?";
}

bool refused_by_option(Kind k, int a)
{
    const std::string list = std::string(",") + emu::option("PNP_EMU_REFUSE_ALGO", "") + ",";
    return list.find(std::string(",") + algo_name(k, a) + ",") != std::string::npos;
}

struct Support {
    cudnnStatus_t status;
    size_t workspace;
    bool deterministic;
};

/* The emulated support table (see the header). */
Support support(Kind k, int a, const Shape &s)
{
    const bool three = s.w.r == 3 && s.w.s == 3 && s.c.u == 1 && s.c.v == 1 && s.c.dh == 1 && s.c.dw == 1;
    const int oh = s.y.h, ow = s.y.w; /* the forward output (dy for backward data) */
    const size_t tiles = (size_t)s.x.n * ((oh + 3) / 4) * ((ow + 3) / 4);
    const size_t winograd_ws = tiles * 36 * (size_t)(s.w.c + s.w.k) * 4;
    if (k == FWD) {
        switch (a) {
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return {CUDNN_STATUS_SUCCESS, 0, true};
        case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
            return {CUDNN_STATUS_SUCCESS, ((size_t)s.w.r * s.w.s * s.w.c * 4 + 255) / 256 * 256, true};
        case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
            return {s.x.type == CUDNN_DATA_FLOAT ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE,
                    (size_t)s.x.n * oh * ow * s.w.c * s.w.r * s.w.s * 4, true};
        case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return {CUDNN_STATUS_NOT_SUPPORTED, 0, true};
        case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return {CUDNN_STATUS_SUCCESS, 4096, false};
        case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return {CUDNN_STATUS_SUCCESS, OVER_CAP, true};
        case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD:
            return {three ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED_SHAPE, 0, true};
        case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED:
            return {three ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED_SHAPE, winograd_ws, true};
        }
    } else {
        switch (a) {
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0: return {CUDNN_STATUS_SUCCESS, 0, false};
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1: return {CUDNN_STATUS_SUCCESS, 0, true};
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT: return {CUDNN_STATUS_NOT_SUPPORTED_LAYOUT, 0, true};
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING: return {CUDNN_STATUS_SUCCESS, OVER_CAP, true};
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD:
            return {three ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED_SHAPE, 0, true};
        case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED:
            return {three ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED_SHAPE, winograd_ws, true};
        }
    }
    return {CUDNN_STATUS_BAD_PARAM, 0, true};
}

/* The forward output of x through the filter and convolution, or a refusal. */
cudnnStatus_t output_dims(const cudnnConvolutionStruct &c, const cudnnTensorStruct &x, const cudnnFilterStruct &w,
                          int *n, int *k, int *oh, int *ow, const char *call)
{
    if (x.c != w.c)
        return refuse(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, call, "input has %d channels, the filter %d", x.c, w.c);
    if (x.type != w.type)
        return refuse(CUDNN_STATUS_BAD_PARAM, call, "input and filter data types differ (%d, %d)", (int)x.type,
                      (int)w.type);
    *n = x.n;
    *k = w.k;
    *oh = 1 + (x.h + 2 * c.ph - ((w.r - 1) * c.dh + 1)) / c.u;
    *ow = 1 + (x.w + 2 * c.pw - ((w.s - 1) * c.dw + 1)) / c.v;
    if (*oh < 1 || *ow < 1) return refuse(CUDNN_STATUS_BAD_PARAM, call, "the output would be empty");
    return CUDNN_STATUS_SUCCESS;
}

/* The descriptors of one call, checked against each other: fwd input -> output. */
cudnnStatus_t shape(Kind k, const cudnnTensorStruct *in, const cudnnFilterStruct *w, const cudnnConvolutionStruct *c,
                    const cudnnTensorStruct *out, Shape *s, const char *call)
{
    live(in, call, "tensor descriptor");
    live(w, call, "filter descriptor");
    live(c, call, "convolution descriptor");
    live(out, call, "tensor descriptor");
    if (!in->set || !w->set || !c->set || !out->set)
        return refuse(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, call, "a descriptor was never set");
    *s = Shape{*in, *out, *w, *c};
    if (!emulated_type(in->type) || in->type != out->type)
        return refuse(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE, call, "data types %d -> %d (emulated: FLOAT, BFLOAT16, "
                      "both sides alike)", (int)in->type, (int)out->type);
    if (c->compute != CUDNN_DATA_FLOAT)
        return refuse(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE, call, "compute type %d (FLOAT and BFLOAT16 data need "
                      "FLOAT)", (int)c->compute);
    if (in->type == CUDNN_DATA_BFLOAT16 && c->math == CUDNN_FMA_MATH)
        return refuse(CUDNN_STATUS_NOT_SUPPORTED, call, "BFLOAT16 data need tensor-op math, not CUDNN_FMA_MATH");
    int n, kk, oh, ow;
    const cudnnStatus_t st = output_dims(*c, *in, *w, &n, &kk, &oh, &ow, call);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (out->n != n || out->c != kk || out->h != oh || out->w != ow)
        return refuse(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, call,
                      "%s [%d,%d,%d,%d] is not the convolution's output [%d,%d,%d,%d]",
                      k == FWD ? "yDesc" : "dyDesc", out->n, out->c, out->h, out->w, n, kk, oh, ow);
    return CUDNN_STATUS_SUCCESS;
}

/* ------------------------------------------------------------ arithmetic */

/* x [n, c, h, w] through its strides as dense double [n][h][w][c], rounded. */
std::vector<double> dense(const void *p, const cudnnTensorStruct &d, Rounding r)
{
    std::vector<double> v((size_t)d.n * d.h * d.w * d.c);
#pragma omp parallel for collapse(2)
    for (int n = 0; n < d.n; ++n)
        for (int y = 0; y < d.h; ++y)
            for (int x = 0; x < d.w; ++x)
                for (int c = 0; c < d.c; ++c)
                    v[(((size_t)n * d.h + y) * d.w + x) * d.c + c] = round_operand(
                        load(p, d.type, (size_t)n * d.sn + (size_t)c * d.sc + (size_t)y * d.sh + (size_t)x * d.sw), r);
    return v;
}

/* The filter as dense double [r][s][inner][outer], rounded: FWD [r][s][c][k], BWD_DATA [r][s][k][c]. */
std::vector<double> dense_filter(const void *p, const cudnnFilterStruct &f, Kind kind, bool flip, Rounding r)
{
    std::vector<double> v((size_t)f.k * f.c * f.r * f.s);
    for (int k = 0; k < f.k; ++k)
        for (int c = 0; c < f.c; ++c)
            for (int i = 0; i < f.r; ++i)
                for (int j = 0; j < f.s; ++j) {
                    const size_t src = f.format == CUDNN_TENSOR_NHWC ? (((size_t)k * f.r + i) * f.s + j) * f.c + c
                                                                     : (((size_t)k * f.c + c) * f.r + i) * f.s + j;
                    const int ri = flip ? f.r - 1 - i : i, sj = flip ? f.s - 1 - j : j;
                    const size_t dst = kind == FWD ? (((size_t)ri * f.s + sj) * f.c + c) * f.k + k
                                                   : (((size_t)ri * f.s + sj) * f.k + k) * f.c + c;
                    v[dst] = round_operand(load(p, f.type, src), r);
                }
    return v;
}

/* acc [n][oh][ow][k] = the forward convolution of X [n][h][w][c] with W [r][s][c][k]. */
std::vector<double> forward_sums(const Shape &s, const std::vector<double> &X, const std::vector<double> &W)
{
    const cudnnTensorStruct &x = s.x, &y = s.y;
    const int C = x.c, K = y.c, R = s.w.r, S = s.w.s;
    std::vector<double> acc((size_t)y.n * y.h * y.w * K, 0.0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < y.n; ++n)
        for (int oy = 0; oy < y.h; ++oy)
            for (int ox = 0; ox < y.w; ++ox) {
                double *a = &acc[(((size_t)n * y.h + oy) * y.w + ox) * K];
                for (int i = 0; i < R; ++i) {
                    const int iy = oy * s.c.u - s.c.ph + i * s.c.dh;
                    if (iy < 0 || iy >= x.h) continue;
                    for (int j = 0; j < S; ++j) {
                        const int ix = ox * s.c.v - s.c.pw + j * s.c.dw;
                        if (ix < 0 || ix >= x.w) continue;
                        const double *xp = &X[(((size_t)n * x.h + iy) * x.w + ix) * C];
                        const double *wp = &W[((size_t)i * S + j) * C * K];
                        for (int c = 0; c < C; ++c) {
                            const double xv = xp[c];
                            const double *wr = wp + (size_t)c * K;
                            for (int k = 0; k < K; ++k) a[k] += xv * wr[k];
                        }
                    }
                }
            }
    return acc;
}

/* acc [n][h][w][c] = backward data (the transposed convolution) of DY [n][oh][ow][k] with W [r][s][k][c]. */
std::vector<double> backward_sums(const Shape &s, const std::vector<double> &DY, const std::vector<double> &W)
{
    const cudnnTensorStruct &dx = s.x, &dy = s.y;
    const int C = dx.c, K = dy.c, R = s.w.r, S = s.w.s;
    std::vector<double> acc((size_t)dx.n * dx.h * dx.w * C, 0.0);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < dx.n; ++n)
        for (int iy = 0; iy < dx.h; ++iy)
            for (int ix = 0; ix < dx.w; ++ix) {
                double *a = &acc[(((size_t)n * dx.h + iy) * dx.w + ix) * C];
                for (int i = 0; i < R; ++i) {
                    const int ty = iy + s.c.ph - i * s.c.dh;
                    if (ty < 0 || ty % s.c.u || ty / s.c.u >= dy.h) continue;
                    for (int j = 0; j < S; ++j) {
                        const int tx = ix + s.c.pw - j * s.c.dw;
                        if (tx < 0 || tx % s.c.v || tx / s.c.v >= dy.w) continue;
                        const double *gp = &DY[(((size_t)n * dy.h + ty / s.c.u) * dy.w + tx / s.c.v) * K];
                        const double *wp = &W[((size_t)i * S + j) * K * C];
                        for (int k = 0; k < K; ++k) {
                            const double g = gp[k];
                            const double *wr = wp + (size_t)k * C;
                            for (int c = 0; c < C; ++c) a[c] += g * wr[c];
                        }
                    }
                }
            }
    return acc;
}

/* ------------------------------------------------------------ calls */

float host_scalar(const void *p, const char *call, const char *what)
{
    if (!p) emu::fail(call, "%s is NULL", what);
    const emu::Alloc *a = emu::find(p);
    if (a && !a->pinned) emu::fail(call, "%s = %p is device memory; cuDNN reads scaling factors from the host", what, p);
    return *(const float *)p;
}

void no_overlap(const void *a, size_t an, const void *b, size_t bn, const char *call, const char *what)
{
    const char *p = (const char *)a, *q = (const char *)b;
    if (p < q + bn && q < p + an) emu::fail(call, "%s overlap (cuDNN computes out of place)", what);
}

/* Everything a queued convolution needs, copied at the call (the caller may
 * change or destroy its descriptors and scalars right after). */
struct Call {
    Kind kind;
    bool fused;
    Shape s;
    const void *in, *w;
    void *out;
    double alpha, beta;        /* fused: alpha1, alpha2 */
    cudnnTensorStruct zd, bd;  /* fused */
    const void *z, *bias;
    cudnnActivationMode_t act;
    Rounding rounding;
    bool deterministic;
};

void run(const Call &c)
{
    const bool flip = c.s.c.mode == CUDNN_CONVOLUTION;
    const cudnnTensorStruct &od = c.kind == FWD ? c.s.y : c.s.x;
    std::vector<double> acc;
    if (c.kind == FWD)
        acc = forward_sums(c.s, dense(c.in, c.s.x, c.rounding), dense_filter(c.w, c.s.w, FWD, flip, c.rounding));
    else
        acc = backward_sums(c.s, dense(c.in, c.s.y, c.rounding), dense_filter(c.w, c.s.w, BWD_DATA, flip, c.rounding));
    const double jitter = c.deterministic ? 0 : std::ldexp((double)(g_nondet_calls++ % 3) - 1, -23);
    const int C = od.c;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < od.n; ++n)
        for (int y = 0; y < od.h; ++y)
            for (int x = 0; x < od.w; ++x)
                for (int ch = 0; ch < C; ++ch) {
                    const size_t at = (size_t)n * od.sn + (size_t)ch * od.sc + (size_t)y * od.sh + (size_t)x * od.sw;
                    double v = c.alpha * acc[(((size_t)n * od.h + y) * od.w + x) * C + ch] * (1 + jitter);
                    if (c.fused) {
                        v += c.beta * load(c.z, c.zd.type,
                                           (size_t)n * c.zd.sn + (size_t)ch * c.zd.sc + (size_t)y * c.zd.sh +
                                               (size_t)x * c.zd.sw);
                        v += load(c.bias, c.bd.type, (size_t)ch * c.bd.sc);
                        if (c.act == CUDNN_ACTIVATION_RELU && v < 0) v = 0;
                    } else if (c.beta != 0) {
                        v += c.beta * load(c.out, od.type, at);
                    }
                    store(c.out, od.type, at, v);
                }
}

/* The checks every convolution call shares; queues it on the handle's stream. */
cudnnStatus_t submit(cudnnHandle_t h, Call c, int algo, void *ws, size_t ws_bytes, size_t extra_ws, const char *call)
{
    if (emu::injected_failure(call)) return CUDNN_STATUS_EXECUTION_FAILED;
    const Support sup = support(c.kind, algo, c.s);
    if (sup.status != CUDNN_STATUS_SUCCESS)
        return refuse(sup.status, call, "algorithm %s is not supported here", algo_name(c.kind, algo));
    if (refused_by_option(c.kind, algo))
        return refuse(CUDNN_STATUS_NOT_SUPPORTED, call, "algorithm %s refused (PNP_EMU_REFUSE_ALGO)",
                      algo_name(c.kind, algo));
    const size_t need = sup.workspace + extra_ws;
    if (ws_bytes < need)
        return refuse(CUDNN_STATUS_BAD_PARAM, call, "workspace of %zu bytes, algorithm %s needs %zu", ws_bytes,
                      algo_name(c.kind, algo), need);
    c.rounding = operand_rounding(c.s.x.type, c.s.c.math, call);
    c.deterministic = sup.deterministic;
    const cudnnTensorStruct &in_d = c.kind == FWD ? c.s.x : c.s.y, &out_d = c.kind == FWD ? c.s.y : c.s.x;
    const size_t in_bytes = tensor_bytes(in_d), out_bytes = tensor_bytes(out_d);
    emu::Op op;
    op.uses = {emu::device_range(c.in, in_bytes, call, c.kind == FWD ? "x" : "dy"),
               emu::device_range(c.w, filter_bytes(c.s.w), call, "w"),
               emu::device_range(c.out, out_bytes, call, c.kind == FWD ? "y" : "dx")};
    no_overlap(c.in, in_bytes, c.out, out_bytes, call, c.kind == FWD ? "x and y" : "dy and dx");
    if (ws_bytes) op.uses.push_back(emu::device_range(ws, ws_bytes, call, "workSpace"));
    if (c.fused) {
        const size_t zb = tensor_bytes(c.zd);
        op.uses.push_back(emu::device_range(c.z, zb, call, "z"));
        op.uses.push_back(emu::device_range(c.bias, tensor_bytes(c.bd), call, "bias"));
        if (c.z != c.out) no_overlap(c.z, zb, c.out, out_bytes, call, "z and y (z may be y itself, not part of it)");
    }
    op.what = std::string(call) + " (algorithm " + algo_name(c.kind, algo) + ")";
    op.run = [c] { run(c); };
    emu::enqueue(live(h, call, "handle")->stream, std::move(op));
    return CUDNN_STATUS_SUCCESS;
}

struct Register {
    Register()
    {
        emu::add_leak_counter("live_cudnn_objects", [] { return g_live.size(); });
    }
} g_register;

} // namespace

/* ---------------------------------------------------------------- library */

extern "C" size_t cudnnGetVersion(void) { return CUDNN_VERSION; }

extern "C" const char *cudnnGetErrorString(cudnnStatus_t status)
{
    switch (CUDNN_STATUS_CATEGORY(status)) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    }
    return "CUDNN_STATUS_UNKNOWN (emulated cuDNN)";
}

extern "C" void cudnnGetLastErrorString(char *message, size_t max_size)
{
    if (!message || !max_size) return;
    snprintf(message, max_size, "%s", t_message.c_str());
    t_message.clear();
}

extern "C" cudnnStatus_t cudnnCreate(cudnnHandle_t *handle)
{
    emu::current_device();
    return create(handle, "cudnnCreate");
}

extern "C" cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) { return destroy(handle, "cudnnDestroy"); }

extern "C" cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId)
{
    live(handle, "cudnnSetStream", "handle");
    emu::stream_name(streamId, "cudnnSetStream");
    handle->stream = streamId;
    return CUDNN_STATUS_SUCCESS;
}

/* ---------------------------------------------------------------- descriptors */

extern "C" cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d)
{
    return create(d, "cudnnCreateTensorDescriptor");
}
extern "C" cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d)
{
    return destroy(d, "cudnnDestroyTensorDescriptor");
}

extern "C" cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format,
                                                    cudnnDataType_t type, int n, int c, int h, int w)
{
    const char *call = "cudnnSetTensor4dDescriptor";
    live(d, call, "tensor descriptor");
    if (n < 1 || c < 1 || h < 1 || w < 1)
        return refuse(CUDNN_STATUS_BAD_PARAM, call, "dimensions [%d,%d,%d,%d]", n, c, h, w);
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
        return refuse(CUDNN_STATUS_NOT_SUPPORTED, call, "format %d (emulated: NCHW, NHWC)", (int)format);
    *d = cudnnTensorStruct{true, type, n, c, h, w, 0, 0, 0, 0};
    if (format == CUDNN_TENSOR_NCHW) d->sw = 1, d->sh = w, d->sc = h * w, d->sn = c * h * w;
    else d->sc = 1, d->sw = c, d->sh = w * c, d->sn = h * w * c;
    return CUDNN_STATUS_SUCCESS;
}

extern "C" cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d)
{
    return create(d, "cudnnCreateFilterDescriptor");
}
extern "C" cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d)
{
    return destroy(d, "cudnnDestroyFilterDescriptor");
}

extern "C" cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type,
                                                    cudnnTensorFormat_t format, int k, int c, int h, int w)
{
    const char *call = "cudnnSetFilter4dDescriptor";
    live(d, call, "filter descriptor");
    if (k < 1 || c < 1 || h < 1 || w < 1)
        return refuse(CUDNN_STATUS_BAD_PARAM, call, "dimensions [%d,%d,%d,%d]", k, c, h, w);
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
        return refuse(CUDNN_STATUS_NOT_SUPPORTED, call, "format %d (emulated: NCHW = KCRS, NHWC = KRSC)", (int)format);
    *d = cudnnFilterStruct{true, type, format, k, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}

extern "C" cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d)
{
    return create(d, "cudnnCreateConvolutionDescriptor");
}
extern "C" cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d)
{
    return destroy(d, "cudnnDestroyConvolutionDescriptor");
}

extern "C" cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u,
                                                         int v, int dilation_h, int dilation_w,
                                                         cudnnConvolutionMode_t mode, cudnnDataType_t computeType)
{
    const char *call = "cudnnSetConvolution2dDescriptor";
    live(d, call, "convolution descriptor");
    if (pad_h < 0 || pad_w < 0 || u < 1 || v < 1 || dilation_h < 1 || dilation_w < 1 ||
        (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION))
        return refuse(CUDNN_STATUS_BAD_PARAM, call, "pad %d,%d stride %d,%d dilation %d,%d mode %d", pad_h, pad_w, u,
                      v, dilation_h, dilation_w, (int)mode);
    const cudnnMathType_t math = d->math;
    *d = cudnnConvolutionStruct{true, pad_h, pad_w, u, v, dilation_h, dilation_w, mode, computeType, math};
    return CUDNN_STATUS_SUCCESS;
}

extern "C" cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t mathType)
{
    const char *call = "cudnnSetConvolutionMathType";
    live(d, call, "convolution descriptor");
    if (mathType != CUDNN_DEFAULT_MATH && mathType != CUDNN_TENSOR_OP_MATH &&
        mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && mathType != CUDNN_FMA_MATH)
        return refuse(CUDNN_STATUS_BAD_PARAM, call, "math type %d", (int)mathType);
    d->math = mathType;
    return CUDNN_STATUS_SUCCESS;
}

extern "C" cudnnStatus_t cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t *d)
{
    return create(d, "cudnnCreateActivationDescriptor");
}
extern "C" cudnnStatus_t cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t d)
{
    return destroy(d, "cudnnDestroyActivationDescriptor");
}

extern "C" cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t d, cudnnActivationMode_t mode,
                                                      cudnnNanPropagation_t reluNanOpt, double coef)
{
    live(d, "cudnnSetActivationDescriptor", "activation descriptor");
    (void)reluNanOpt;
    *d = cudnnActivationStruct{true, mode, coef};
    return CUDNN_STATUS_SUCCESS;
}

/* ---------------------------------------------------------------- queries */

extern "C" cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
                                                               const cudnnTensorDescriptor_t inputTensorDesc,
                                                               const cudnnFilterDescriptor_t filterDesc, int *n,
                                                               int *c, int *h, int *w)
{
    const char *call = "cudnnGetConvolution2dForwardOutputDim";
    live(convDesc, call, "convolution descriptor");
    live(inputTensorDesc, call, "tensor descriptor");
    live(filterDesc, call, "filter descriptor");
    if (!convDesc->set || !inputTensorDesc->set || !filterDesc->set)
        return refuse(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, call, "a descriptor was never set");
    return output_dims(*convDesc, *inputTensorDesc, *filterDesc, n, c, h, w, call);
}

template <class Perf>
static cudnnStatus_t heuristics(Kind kind, const Shape &s, const int *order, int count, int requested, int *returned,
                                Perf *perf, const char *call)
{
    if (!returned || !perf || requested < 1) emu::fail(call, "requested %d, returned %p, perf %p", requested,
                                                       (void *)returned, (void *)perf);
    const bool tensor_ops = s.c.math != CUDNN_FMA_MATH;
    int got = 0;
    for (int i = 0; i < count && got < requested; ++i) {
        const Support sup = support(kind, order[i], s);
        Perf p = {};
        p.algo = (decltype(p.algo))order[i];
        p.status = sup.status;
        p.time = (float)(i + 1);
        p.memory = sup.workspace;
        p.determinism = sup.deterministic ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC;
        p.mathType = !tensor_ops ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
        if (kind == FWD && order[i] == CUDNN_CONVOLUTION_FWD_ALGO_GEMM && s.x.type == CUDNN_DATA_FLOAT && tensor_ops)
            p.mathType = CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
        perf[got++] = p;
    }
    *returned = got;
    return CUDNN_STATUS_SUCCESS;
}

extern "C" cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle,
                                                                const cudnnTensorDescriptor_t srcDesc,
                                                                const cudnnFilterDescriptor_t filterDesc,
                                                                const cudnnConvolutionDescriptor_t convDesc,
                                                                const cudnnTensorDescriptor_t destDesc,
                                                                const int requestedAlgoCount, int *returnedAlgoCount,
                                                                cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    const char *call = "cudnnGetConvolutionForwardAlgorithm_v7";
    live(handle, call, "handle");
    Shape s;
    const cudnnStatus_t st = shape(FWD, srcDesc, filterDesc, convDesc, destDesc, &s, call);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    static const int order[] = {CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,     CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
                                CUDNN_CONVOLUTION_FWD_ALGO_FFT,            CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED,
                                CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD,       CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_DIRECT};
    return heuristics(FWD, s, order, 8, requestedAlgoCount, returnedAlgoCount, perfResults, call);
}

extern "C" cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle,
                                                                     const cudnnFilterDescriptor_t filterDesc,
                                                                     const cudnnTensorDescriptor_t diffDesc,
                                                                     const cudnnConvolutionDescriptor_t convDesc,
                                                                     const cudnnTensorDescriptor_t gradDesc,
                                                                     const int requestedAlgoCount,
                                                                     int *returnedAlgoCount,
                                                                     cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    const char *call = "cudnnGetConvolutionBackwardDataAlgorithm_v7";
    live(handle, call, "handle");
    Shape s;
    const cudnnStatus_t st = shape(BWD_DATA, gradDesc, filterDesc, convDesc, diffDesc, &s, call);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    static const int order[] = {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,        CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
                                CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT,
                                CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,        CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD};
    return heuristics(BWD_DATA, s, order, 6, requestedAlgoCount, returnedAlgoCount, perfResults, call);
}

extern "C" cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle,
                                                                 const cudnnTensorDescriptor_t xDesc,
                                                                 const cudnnFilterDescriptor_t wDesc,
                                                                 const cudnnConvolutionDescriptor_t convDesc,
                                                                 const cudnnTensorDescriptor_t yDesc,
                                                                 cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes)
{
    const char *call = "cudnnGetConvolutionForwardWorkspaceSize";
    live(handle, call, "handle");
    if (!sizeInBytes) emu::fail(call, "sizeInBytes is NULL");
    Shape s;
    cudnnStatus_t st = shape(FWD, xDesc, wDesc, convDesc, yDesc, &s, call);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    const Support sup = support(FWD, algo, s);
    if (sup.status != CUDNN_STATUS_SUCCESS)
        return refuse(sup.status, call, "algorithm %s is not supported here", algo_name(FWD, algo));
    *sizeInBytes = sup.workspace;
    return CUDNN_STATUS_SUCCESS;
}

extern "C" cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle,
                                                                      const cudnnFilterDescriptor_t wDesc,
                                                                      const cudnnTensorDescriptor_t dyDesc,
                                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                                      const cudnnTensorDescriptor_t dxDesc,
                                                                      cudnnConvolutionBwdDataAlgo_t algo,
                                                                      size_t *sizeInBytes)
{
    const char *call = "cudnnGetConvolutionBackwardDataWorkspaceSize";
    live(handle, call, "handle");
    if (!sizeInBytes) emu::fail(call, "sizeInBytes is NULL");
    Shape s;
    cudnnStatus_t st = shape(BWD_DATA, dxDesc, wDesc, convDesc, dyDesc, &s, call);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    const Support sup = support(BWD_DATA, algo, s);
    if (sup.status != CUDNN_STATUS_SUCCESS)
        return refuse(sup.status, call, "algorithm %s is not supported here", algo_name(BWD_DATA, algo));
    *sizeInBytes = sup.workspace;
    return CUDNN_STATUS_SUCCESS;
}

/* ---------------------------------------------------------------- convolutions */

extern "C" cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void *alpha,
                                                 const cudnnTensorDescriptor_t xDesc, const void *x,
                                                 const cudnnFilterDescriptor_t wDesc, const void *w,
                                                 const cudnnConvolutionDescriptor_t convDesc,
                                                 cudnnConvolutionFwdAlgo_t algo, void *workSpace,
                                                 size_t workSpaceSizeInBytes, const void *beta,
                                                 const cudnnTensorDescriptor_t yDesc, void *y)
{
    const char *call = "cudnnConvolutionForward";
    live(handle, call, "handle");
    Call c = {};
    cudnnStatus_t st = shape(FWD, xDesc, wDesc, convDesc, yDesc, &c.s, call);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    c.kind = FWD;
    c.in = x, c.w = w, c.out = y;
    c.alpha = host_scalar(alpha, call, "alpha");
    c.beta = host_scalar(beta, call, "beta");
    return submit(handle, c, algo, workSpace, workSpaceSizeInBytes, 0, call);
}

extern "C" cudnnStatus_t cudnnConvolutionBiasActivationForward(
    cudnnHandle_t handle, const void *alpha1, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionFwdAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *alpha2,
    const cudnnTensorDescriptor_t zDesc, const void *z, const cudnnTensorDescriptor_t biasDesc, const void *bias,
    const cudnnActivationDescriptor_t activationDesc, const cudnnTensorDescriptor_t yDesc, void *y)
{
    const char *call = "cudnnConvolutionBiasActivationForward";
    live(handle, call, "handle");
    live(zDesc, call, "tensor descriptor");
    live(biasDesc, call, "tensor descriptor");
    live(activationDesc, call, "activation descriptor");
    Call c = {};
    cudnnStatus_t st = shape(FWD, xDesc, wDesc, convDesc, yDesc, &c.s, call);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (*emu::option("PNP_EMU_REFUSE_FUSED", "") == '1')
        return refuse(CUDNN_STATUS_NOT_SUPPORTED, call, "every fused call refused (PNP_EMU_REFUSE_FUSED=1)");
    if (!zDesc->set || !biasDesc->set || !activationDesc->set)
        return refuse(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, call, "a descriptor was never set");
    const cudnnTensorStruct &yd = c.s.y, &zd = *zDesc, &bd = *biasDesc;
    if (zd.n != yd.n || zd.c != yd.c || zd.h != yd.h || zd.w != yd.w || zd.type != yd.type)
        return refuse(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, call, "zDesc [%d,%d,%d,%d] is not yDesc's shape and type",
                      zd.n, zd.c, zd.h, zd.w);
    if (bd.n != 1 || bd.c != yd.c || bd.h != 1 || bd.w != 1 || bd.type != yd.type)
        return refuse(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, call, "biasDesc [%d,%d,%d,%d] is not [1, %d, 1, 1] of y's "
                      "type", bd.n, bd.c, bd.h, bd.w, yd.c);
    const cudnnActivationMode_t act = activationDesc->mode;
    if (act != CUDNN_ACTIVATION_RELU && act != CUDNN_ACTIVATION_IDENTITY)
        return refuse(CUDNN_STATUS_NOT_SUPPORTED, call, "activation %d (RELU or IDENTITY only)", (int)act);
    if (act == CUDNN_ACTIVATION_IDENTITY && algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM)
        return refuse(CUDNN_STATUS_NOT_SUPPORTED, call, "IDENTITY needs CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM");
    c.kind = FWD;
    c.fused = true;
    c.in = x, c.w = w, c.out = y, c.z = z, c.bias = bias;
    c.zd = zd, c.bd = bd, c.act = act;
    c.alpha = host_scalar(alpha1, call, "alpha1");
    c.beta = host_scalar(alpha2, call, "alpha2");
    return submit(handle, c, algo, workSpace, workSpaceSizeInBytes,
                  (size_t)emu::option_int("PNP_EMU_FUSED_WORKSPACE_EXTRA", 0), call);
}

extern "C" cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void *alpha,
                                                      const cudnnFilterDescriptor_t wDesc, const void *w,
                                                      const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                      cudnnConvolutionBwdDataAlgo_t algo, void *workSpace,
                                                      size_t workSpaceSizeInBytes, const void *beta,
                                                      const cudnnTensorDescriptor_t dxDesc, void *dx)
{
    const char *call = "cudnnConvolutionBackwardData";
    live(handle, call, "handle");
    Call c = {};
    cudnnStatus_t st = shape(BWD_DATA, dxDesc, wDesc, convDesc, dyDesc, &c.s, call);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    c.kind = BWD_DATA;
    c.in = dy, c.w = w, c.out = dx;
    c.alpha = host_scalar(alpha, call, "alpha");
    c.beta = host_scalar(beta, call, "beta");
    return submit(handle, c, algo, workSpace, workSpaceSizeInBytes, 0, call);
}
