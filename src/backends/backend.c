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

int pnp_backend_unfused_convs(pnp_backend *be)
{
    return be && be->ops->unfused_convs ? be->ops->unfused_convs(be) : 0;
}
