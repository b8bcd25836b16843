/* pth.h - read PyTorch checkpoints (a state_dict saved by torch.save) in plain
 * C, without Python: both the zip format (torch >= 1.6, the default) and the
 * legacy format (magic-number pickle stream, torch < 1.6 or
 * _use_new_zipfile_serialization=False). A small pickle machine rebuilds the
 * state_dict; every tensor comes back as its own contiguous row-major float32
 * copy (float16, bfloat16 and float64 are converted exactly as torch's
 * .float() does), whatever its storage offset, strides or storage sharing in
 * the file. Tensors keep the order of the file.
 *
 * The result is the pnp_state_dict of pnp/state_dict.h (name, ndim <= 8, shape in
 * PyTorch order, data [shape...] row-major float32). */
#ifndef PNP_PTH_H
#define PNP_PTH_H

#include <stddef.h>

#include "pnp/state_dict.h"

/* Read the state_dict in a torch.save file: a flat dict (OrderedDict or dict)
 * of key -> tensor. Returns 0, or -1 with a message naming the file and what is
 * wrong (truncated file, not a checkpoint, unsupported dtype, missing storage,
 * an entry that is not a tensor, ...) in err; *sd is then empty. Malformed
 * input never crashes it. Free with pnp_weights_free. */
int pnp_pth_read(const char *path, pnp_state_dict *sd, char *err, size_t errlen);



#endif
