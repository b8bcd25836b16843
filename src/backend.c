/* backend.c - choose a backend by name. */
#include "pnp/backend.h"

#include <stdio.h>
#include <string.h>

#include "pnp/error.h"

int pnp_backend_check(const char *name, char *err, size_t errlen)
{
    if (strcmp(name, "cpu") == 0) return 0;
    if (strcmp(name, "cuda") == 0) {
#ifdef PNP_WITH_CUDA
        if (pnp_cuda_device_count() > 0) return 0;
        snprintf(err, errlen, "backend 'cuda': no CUDA device is visible on this machine");
#else
        snprintf(err, errlen, "backend 'cuda' is not built into this pnp (rebuild with nvcc present and CUDA=1)");
#endif
        return -1;
    }
    snprintf(err, errlen, "unknown backend '%s' (known: cpu, cuda)", name);
    return -1;
}

pnp_backend *pnp_backend_create(const char *name, int threads, int device)
{
    char err[256];
    if (pnp_backend_check(name, err, sizeof err)) pnp_fatal("%s", err);
    if (strcmp(name, "cpu") == 0) return pnp_backend_cpu_create(threads);
#ifdef PNP_WITH_CUDA
    return pnp_backend_cuda_create(device % pnp_cuda_device_count());
#else
    (void)device;
    pnp_fatal("unreachable: backend '%s'", name);
#endif
}

void pnp_backend_destroy(pnp_backend *be)
{
    if (be) be->ops->destroy(be);
}
