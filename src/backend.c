/* backend.c - choose a backend by name and precision. */
#include "pnp/backend.h"

#include <stdio.h>
#include <string.h>

#include "pnp/error.h"

const char *pnp_backend_resolve(const char *name)
{
    if (strcmp(name, "auto")) return name;
#ifdef PNP_WITH_CUDA
    if (pnp_cuda_device_count() > 0) return "cuda";
#endif
    return "cpu";
}

int pnp_backend_check(const char *name, const char *precision, char *err, size_t errlen)
{
    name = pnp_backend_resolve(name);
    const char *prec = precision ? precision : "fp32";
    if (strcmp(prec, "fp32") && strcmp(prec, "bf16")) {
        snprintf(err, errlen, "precision must be 'fp32' or 'bf16', got '%s'", prec);
        return -1;
    }
    if (strcmp(name, "cpu") == 0) {
        if (strcmp(prec, "bf16") == 0 && !pnp_backend_cpu_bf16()) {
            snprintf(err, errlen,
                     "precision 'bf16' on backend 'cpu' needs the AVX512_BF16 instructions (avx512_bf16), "
                     "which this CPU lacks (set precision: fp32, or backend: cuda)");
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "cuda") == 0) {
#ifdef PNP_WITH_CUDA
        if (pnp_cuda_device_count() > 0) return 0;
        snprintf(err, errlen, "backend 'cuda': no CUDA device is visible on this machine");
#else
        snprintf(err, errlen, "backend 'cuda' is not built into this pnp (with the CUDA toolkit installed, "
                              "scripts/deps.sh then make CUDA=1)");
#endif
        return -1;
    }
    snprintf(err, errlen, "unknown backend '%s' (known: auto, cpu, cuda)", name);
    return -1;
}

pnp_backend *pnp_backend_create(const char *name, const char *precision, int threads, int device)
{
    char err[256];
    name = pnp_backend_resolve(name);
    if (pnp_backend_check(name, precision, err, sizeof err)) pnp_fatal("%s", err);
    const bool bf16 = precision && strcmp(precision, "bf16") == 0;
    if (strcmp(name, "cpu") == 0) return pnp_backend_cpu_create(threads, bf16);
#ifdef PNP_WITH_CUDA
    return pnp_backend_cuda_create(device % pnp_cuda_device_count(), bf16);
#else
    (void)device, (void)bf16;
    pnp_fatal("unreachable: backend '%s'", name);
#endif
}

void pnp_backend_destroy(pnp_backend *be)
{
    if (be) be->ops->destroy(be);
}

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
