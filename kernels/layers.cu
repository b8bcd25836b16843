/* layers.cu - the layer engine's kernels for what cuDNN does not do
 * (src/backends/cuda/layers_cudnn.c): moving NCHW float images in and out of NHWC
 * activations (replicate padding at the bottom and right, crop back), the
 * constant sigma channel, 2x2 pixel (un)shuffle in PyTorch's channel order, the
 * sum of two activations, and the bias / ReLU / residual epilogues of the
 * convolutions cuDNN does not fuse (kernels/pnp_kernels.h).
 *
 * Every kernel is one grid-stride loop over the elements of its OUTPUT in
 * memory order (so stores are coalesced) and is instantiated for float and
 * __nv_bfloat16 activations; arithmetic is in float, a bfloat16 result is
 * rounded to nearest even. Activations store `cs` channels per pixel (the
 * logical count padded to a multiple of 8): each kernel writes zeros into the
 * padded channels, so they stay zero through the whole network. */
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "pnp_kernels.h"

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v)
{
    return __float2bfloat16_rn(v);
}

#define GRID_STRIDE_LOOP(e, total)                                                                 \
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < (total);                   \
         e += (size_t)gridDim.x * blockDim.x)

enum { BLOCK = 256 };

/* act [n, ah, aw, cs] from img [n, c, h, w] */
template <typename T>
__global__ void image_to_act_kernel(const float *img, int n, int c, int h, int w, T *act, int cs, int ah, int aw)
{
    const size_t total = (size_t)n * ah * aw * cs;
    GRID_STRIDE_LOOP(e, total)
    {
        const int ch = (int)(e % cs);
        const size_t pixel = e / cs;
        const int x = (int)(pixel % aw), y = (int)(pixel / aw % ah), b = (int)(pixel / ((size_t)aw * ah));
        float v = 0.f;
        if (ch < c) {
            const int sy = y < h ? y : h - 1, sx = x < w ? x : w - 1;
            v = img[(((size_t)b * c + ch) * h + sy) * w + sx];
        }
        act[e] = from_float<T>(v);
    }
}

/* img [n, c, h, w] from the top-left of act [n, ah, aw, cs] */
template <typename T>
__global__ void act_to_image_kernel(const T *act, int cs, int ah, int aw, int n, int c, int h, int w, float *img)
{
    const size_t total = (size_t)n * c * h * w;
    GRID_STRIDE_LOOP(e, total)
    {
        const int x = (int)(e % w), y = (int)(e / w % h), ch = (int)(e / ((size_t)w * h) % c);
        const int b = (int)(e / ((size_t)w * h * c));
        img[e] = to_float(act[(((size_t)b * ah + y) * aw + x) * cs + ch]);
    }
}

/* y [pixels, ys] = x [pixels, xs] (c channels) + one channel of value */
template <typename T>
__global__ void concat_const_kernel(const T *x, int xs, int c, float value, T *y, int ys, size_t pixels)
{
    const size_t total = pixels * ys;
    GRID_STRIDE_LOOP(e, total)
    {
        const int ch = (int)(e % ys);
        const size_t p = e / ys;
        y[e] = ch < c ? x[p * xs + ch] : from_float<T>(ch == c ? value : 0.f);
    }
}

/* y [n, h, w, ys], channel 4 ch + 2 dy + dx = x [n, 2h, 2w, xs] channel ch at (2i + dy, 2j + dx) */
template <typename T>
__global__ void pixel_unshuffle2_kernel(const T *x, int n, int c, int xs, int h, int w, T *y, int ys)
{
    const size_t total = (size_t)n * h * w * ys;
    GRID_STRIDE_LOOP(e, total)
    {
        const int cc = (int)(e % ys);
        const size_t pixel = e / ys;
        const int j = (int)(pixel % w), i = (int)(pixel / w % h), b = (int)(pixel / ((size_t)w * h));
        if (cc >= 4 * c) {
            y[e] = from_float<T>(0.f);
            continue;
        }
        const int ch = cc / 4, dy = cc % 4 / 2, dx = cc % 2;
        y[e] = x[(((size_t)b * 2 * h + 2 * i + dy) * 2 * w + 2 * j + dx) * xs + ch];
    }
}

/* y [n, 2h, 2w, ys], channel ch < c at (2i + dy, 2j + dx) = x [n, h, w, xs] channel 4 ch + 2 dy + dx */
template <typename T>
__global__ void pixel_shuffle2_kernel(const T *x, int n, int c, int xs, int h, int w, T *y, int ys)
{
    const int oh = 2 * h, ow = 2 * w;
    const size_t total = (size_t)n * oh * ow * ys;
    GRID_STRIDE_LOOP(e, total)
    {
        const int ch = (int)(e % ys);
        const size_t pixel = e / ys;
        const int X = (int)(pixel % ow), Y = (int)(pixel / ow % oh), b = (int)(pixel / ((size_t)ow * oh));
        if (ch >= c) {
            y[e] = from_float<T>(0.f);
            continue;
        }
        const int d = (Y % 2) * 2 + X % 2;
        y[e] = x[(((size_t)b * h + Y / 2) * w + X / 2) * xs + 4 * ch + d];
    }
}

template <typename T> __global__ void add_kernel(const T *a, const T *b, T *y, size_t count)
{
    GRID_STRIDE_LOOP(e, count) y[e] = from_float<T>(to_float(a[e]) + to_float(b[e]));
}

/* y[e] = values[e % cs] */
template <typename T> __global__ void fill_channels_kernel(const T *values, int cs, T *y, size_t count)
{
    GRID_STRIDE_LOOP(e, count) y[e] = values[e % cs];
}

/* y = relu?(y + bias[e % cs]), in place */
template <typename T> __global__ void bias_relu_kernel(T *y, const T *bias, int cs, int relu, size_t count)
{
    GRID_STRIDE_LOOP(e, count)
    {
        float v = to_float(y[e]);
        if (bias) v += to_float(bias[e % cs]);
        if (relu) v = v < 0.f ? 0.f : v;
        y[e] = from_float<T>(v);
    }
}

/* y = relu?(t + bias[e % cs]) + res?, t float32: one rounding (elementwise, so res may be y) */
template <typename T>
__global__ void epilogue_kernel(const float *t, const T *bias, int cs, int relu, const T *res, T *y, size_t count)
{
    GRID_STRIDE_LOOP(e, count)
    {
        float v = t[e];
        if (bias) v += to_float(bias[e % cs]);
        if (relu) v = v < 0.f ? 0.f : v;
        if (res) v += to_float(res[e]);
        y[e] = from_float<T>(v);
    }
}

template <typename T> __global__ void to_float_kernel(const T *x, float *y, size_t count)
{
    GRID_STRIDE_LOOP(e, count) y[e] = to_float(x[e]);
}

static unsigned blocks_for(size_t count) { return pnp_grid_size(count, BLOCK, PNP_GRID_MAX); }

extern "C" int pnp_launch_image_to_act(const float *img, int n, int c, int h, int w, void *act, int cs, int ah, int aw,
                                       int bf16, void *stream)
{
    const unsigned g = blocks_for((size_t)n * ah * aw * cs);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16) image_to_act_kernel<<<g, BLOCK, 0, s>>>(img, n, c, h, w, (__nv_bfloat16 *)act, cs, ah, aw);
    else image_to_act_kernel<<<g, BLOCK, 0, s>>>(img, n, c, h, w, (float *)act, cs, ah, aw);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_act_to_image(const void *act, int cs, int ah, int aw, int n, int c, int h, int w, float *img,
                                       int bf16, void *stream)
{
    const unsigned g = blocks_for((size_t)n * c * h * w);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16) act_to_image_kernel<<<g, BLOCK, 0, s>>>((const __nv_bfloat16 *)act, cs, ah, aw, n, c, h, w, img);
    else act_to_image_kernel<<<g, BLOCK, 0, s>>>((const float *)act, cs, ah, aw, n, c, h, w, img);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_concat_const(const void *x, int xs, int c, float value, void *y, int ys, size_t pixels,
                                       int bf16, void *stream)
{
    const unsigned g = blocks_for(pixels * ys);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16)
        concat_const_kernel<<<g, BLOCK, 0, s>>>((const __nv_bfloat16 *)x, xs, c, value, (__nv_bfloat16 *)y, ys,
                                                pixels);
    else concat_const_kernel<<<g, BLOCK, 0, s>>>((const float *)x, xs, c, value, (float *)y, ys, pixels);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_pixel_unshuffle2(const void *x, int n, int c, int xs, int h, int w, void *y, int ys, int bf16,
                                           void *stream)
{
    const unsigned g = blocks_for((size_t)n * h * w * ys);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16)
        pixel_unshuffle2_kernel<<<g, BLOCK, 0, s>>>((const __nv_bfloat16 *)x, n, c, xs, h, w, (__nv_bfloat16 *)y, ys);
    else pixel_unshuffle2_kernel<<<g, BLOCK, 0, s>>>((const float *)x, n, c, xs, h, w, (float *)y, ys);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_pixel_shuffle2(const void *x, int n, int c, int xs, int h, int w, void *y, int ys, int bf16,
                                         void *stream)
{
    const unsigned g = blocks_for((size_t)n * 4 * h * w * ys);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16)
        pixel_shuffle2_kernel<<<g, BLOCK, 0, s>>>((const __nv_bfloat16 *)x, n, c, xs, h, w, (__nv_bfloat16 *)y, ys);
    else pixel_shuffle2_kernel<<<g, BLOCK, 0, s>>>((const float *)x, n, c, xs, h, w, (float *)y, ys);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_act_add(const void *a, const void *b, void *y, size_t count, int bf16, void *stream)
{
    const unsigned g = blocks_for(count);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16)
        add_kernel<<<g, BLOCK, 0, s>>>((const __nv_bfloat16 *)a, (const __nv_bfloat16 *)b, (__nv_bfloat16 *)y, count);
    else add_kernel<<<g, BLOCK, 0, s>>>((const float *)a, (const float *)b, (float *)y, count);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_fill_channels(const void *values, int cs, void *y, size_t count, int bf16, void *stream)
{
    const unsigned g = blocks_for(count);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16)
        fill_channels_kernel<<<g, BLOCK, 0, s>>>((const __nv_bfloat16 *)values, cs, (__nv_bfloat16 *)y, count);
    else fill_channels_kernel<<<g, BLOCK, 0, s>>>((const float *)values, cs, (float *)y, count);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_bias_relu(void *y, const void *bias, int cs, int relu, size_t count, int bf16, void *stream)
{
    const unsigned g = blocks_for(count);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16)
        bias_relu_kernel<<<g, BLOCK, 0, s>>>((__nv_bfloat16 *)y, (const __nv_bfloat16 *)bias, cs, relu, count);
    else bias_relu_kernel<<<g, BLOCK, 0, s>>>((float *)y, (const float *)bias, cs, relu, count);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_epilogue(const float *t, const void *bias, int cs, int relu, const void *res, void *y,
                                   size_t count, int bf16, void *stream)
{
    const unsigned g = blocks_for(count);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16)
        epilogue_kernel<<<g, BLOCK, 0, s>>>(t, (const __nv_bfloat16 *)bias, cs, relu, (const __nv_bfloat16 *)res,
                                            (__nv_bfloat16 *)y, count);
    else epilogue_kernel<<<g, BLOCK, 0, s>>>(t, (const float *)bias, cs, relu, (const float *)res, (float *)y, count);
    return (int)cudaGetLastError();
}

extern "C" int pnp_launch_to_float(const void *x, float *y, size_t count, int bf16, void *stream)
{
    const unsigned g = blocks_for(count);
    cudaStream_t s = (cudaStream_t)stream;
    if (bf16) to_float_kernel<<<g, BLOCK, 0, s>>>((const __nv_bfloat16 *)x, y, count);
    else to_float_kernel<<<g, BLOCK, 0, s>>>((const float *)x, y, count);
    return (int)cudaGetLastError();
}
