/* weights.h - where a state_dict (include/pnp/state_dict.h) comes from: the
 * project's HDF5 weights format (one float32 dataset per state_dict key,
 * PyTorch shapes; root attribute "architecture"), a PyTorch checkpoint
 * (include/pnp/pth.h), or deterministic random weights for any widths (for
 * tests and benchmarks: timing does not depend on values). */
#ifndef PNP_WEIGHTS_H
#define PNP_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "pnp/state_dict.h"

/* HDF5 weights: 0, or -1 with a message naming the file (and dataset) in err. */
int pnp_weights_read_h5(const char *path, pnp_state_dict *sd, char *err, size_t errlen);
int pnp_weights_write_h5(const char *path, const pnp_state_dict *sd, const char *architecture, char *err,
                         size_t errlen);

/* Any weights file: the project's HDF5 format or a PyTorch checkpoint (zip or
 * legacy .pth), told apart by their first bytes. arch receives "drunet",
 * "dncnn" or "ffdnet" (colour or grey), recognised from the keys and shapes.
 * Refused, naming the file (and the tensor): no such file, a folder, a damaged
 * file, a tensor larger than the free memory (before it is allocated), a NaN or
 * infinite value.
 * 0, or -1 and err. */
int pnp_weights_load(const char *path, pnp_state_dict *sd, char *arch, size_t archlen, char *err, size_t errlen);

/* Fill every tensor of sd with deterministic values: element e of tensor number
 * t is (2u - 1) / sqrt(fan_in), u = Philox4x32-10(counter (e, e >> 32, t, "weig"),
 * key seed) / 2^32, fan_in = shape[1] * prod(shape[2:]) (1 for 1-D tensors).
 * tests/golden/make_golden_drunet.py reproduces it in numpy. */
void pnp_weights_randomize(pnp_state_dict *sd, uint64_t seed);

#endif
