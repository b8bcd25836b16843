/* state_dict.c - the container of named float32 tensors (include/pnp/state_dict.h). */
#include "pnp/state_dict.h"

#include <stdlib.h>
#include <string.h>

#include "pnp/error.h"

const pnp_tensor *pnp_weights_find(const pnp_state_dict *sd, const char *name)
{
    for (int i = 0; i < sd->count; ++i)
        if (!strcmp(sd->t[i].name, name)) return &sd->t[i];
    return NULL;
}

void pnp_weights_free(pnp_state_dict *sd)
{
    for (int i = 0; i < sd->count; ++i) {
        free(sd->t[i].name);
        free(sd->t[i].data);
    }
    free(sd->t);
    sd->t = NULL;
    sd->count = 0;
}

pnp_tensor *pnp_weights_add(pnp_state_dict *sd, const char *name, int ndim, const int64_t *shape, const float *data)
{
    if (ndim < 0 || ndim > 8) pnp_fatal("tensor %s: %d dimensions (at most 8)", name, ndim);
    pnp_tensor *grown = realloc(sd->t, sizeof(pnp_tensor) * (sd->count + 1));
    if (!grown) pnp_fatal("out of memory adding tensor %s", name);
    sd->t = grown;
    pnp_tensor *t = &sd->t[sd->count++];
    memset(t, 0, sizeof *t);
    t->name = pnp_strdup(name);
    t->ndim = ndim;
    for (int d = 0; d < ndim; ++d) t->shape[d] = shape[d];
    const int64_t n = pnp_tensor_numel(t);
    t->data = pnp_calloc((size_t)n, sizeof(float));
    if (data) memcpy(t->data, data, sizeof(float) * (size_t)n);
    return t;
}
