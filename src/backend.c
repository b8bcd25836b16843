/* backend.c - choose a backend by name. */
#include "pnp/backend.h"

#include <string.h>

#include "pnp/error.h"

pnp_backend *pnp_backend_create(const char *name, int threads, int device)
{
    if (strcmp(name, "cpu") == 0) return pnp_backend_cpu_create(threads);
    if (strcmp(name, "cuda") == 0) {
#ifdef PNP_WITH_CUDA
        int count = pnp_cuda_device_count();
        return pnp_backend_cuda_create(count > 0 ? device % count : 0);
#else
        (void)device;
        pnp_fatal("backend 'cuda' is not built into this pnp (rebuild with nvcc present and CUDA=1)");
#endif
    }
    pnp_fatal("unknown backend '%s' (known: cpu, cuda)", name);
}

void pnp_backend_destroy(pnp_backend *be)
{
    if (be) be->ops->destroy(be);
}
