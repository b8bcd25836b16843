/* state_dict.h - named float32 tensors in file order (a PyTorch state_dict):
 * what every weights reader fills (weights.h: HDF5 and generated; pth.h:
 * PyTorch checkpoints) and what the denoisers are built from. */
#ifndef PNP_STATE_DICT_H
#define PNP_STATE_DICT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;
    int ndim;
    int64_t shape[8];
    float *data; /* contiguous, row-major */
} pnp_tensor;

typedef struct {
    int count;
    pnp_tensor *t;
} pnp_state_dict;

static inline int64_t pnp_tensor_numel(const pnp_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; ++d) n *= t->shape[d];
    return n;
}

const pnp_tensor *pnp_weights_find(const pnp_state_dict *sd, const char *name);
void pnp_weights_free(pnp_state_dict *sd);
/* Append a tensor (copies name, shape and data when data != NULL, else zero-filled). */
pnp_tensor *pnp_weights_add(pnp_state_dict *sd, const char *name, int ndim, const int64_t *shape, const float *data);

#endif
