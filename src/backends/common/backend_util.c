/* backend_util.c - what every backend shares (include/pnp/backend_util.h). */
#include "pnp/backend_util.h"

#include <string.h>

#include "pnp/error.h"

void pnp_conv_check_shapes(int cin, int cout, int k, int stride, int pad, bool transposed, const pnp_act *x,
                           const pnp_act *y, const pnp_act *residual)
{
    int oh, ow;
    if (transposed) {
        oh = x->h * k;
        ow = x->w * k;
    } else {
        /* an input smaller than the kernel gives no output (C division would round -1/s up to 0) */
        oh = x->h + 2 * pad >= k ? (x->h + 2 * pad - k) / stride + 1 : 0;
        ow = x->w + 2 * pad >= k ? (x->w + 2 * pad - k) / stride + 1 : 0;
    }
    if (x->c != cin || y->c != cout || y->n != x->n || y->h != oh || y->w != ow || oh < 1 || ow < 1)
        pnp_fatal("conv %dx%d (%d -> %d channels, stride %d%s): input [%d,%d,%d,%d] does not give output [%d,%d,%d,%d]",
                  k, k, cin, cout, stride, transposed ? ", transposed" : "", x->n, x->c, x->h, x->w, y->n, y->c, y->h,
                  y->w);
    if (residual && (residual->n != y->n || residual->c != y->c || residual->h != y->h || residual->w != y->w))
        pnp_fatal("conv: residual [%d,%d,%d,%d] does not match output [%d,%d,%d,%d]", residual->n, residual->c,
                  residual->h, residual->w, y->n, y->c, y->h, y->w);
}

void pnp_wrap_kernel(const float *kernel, int kh, int kw, int h, int w, float *out)
{
    const int ch = kh / 2, cw = kw / 2;
    memset(out, 0, sizeof(float) * (size_t)h * w);
    for (int a = 0; a < kh; ++a)
        for (int b = 0; b < kw; ++b) {
            const int y = ((a - ch) % h + h) % h, x = ((b - cw) % w + w) % w;
            out[(size_t)y * w + x] += kernel[(size_t)a * kw + b];
        }
}
