/* random_net.h - a denoiser with deterministic random weights for the unit
 * tests: the skeleton of spec ("drunet:16,32,64,128:1", "dncnn", ...) filled
 * by pnp_weights_randomize(seed), built on backend be; dies on a bad spec. */
#ifndef PNP_TEST_RANDOM_NET_H
#define PNP_TEST_RANDOM_NET_H

#include "pnp/denoiser.h"
#include "pnp/error.h"
#include "pnp/weights.h"

static inline pnp_denoiser *random_net(pnp_backend *be, const char *spec, uint64_t seed)
{
    pnp_state_dict sd;
    char arch[32], err[512];
    if (pnp_denoiser_skeleton(spec, &sd, arch, sizeof arch, err, sizeof err)) pnp_fatal("%s", err);
    pnp_weights_randomize(&sd, seed);
    pnp_denoiser *dn = pnp_denoiser_create(be, arch, &sd, err, sizeof err);
    if (!dn) pnp_fatal("%s", err);
    pnp_weights_free(&sd);
    return dn;
}

#endif
