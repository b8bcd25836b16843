/* denoiser.h - the denoisers of the PnP prior, built from the backend's layer
 * engine (so the same graph runs on CPU and GPU):
 *   drunet  deepinv/KAIR DRUNet: 4 levels of widths (w0..w3), nb residual blocks
 *           per level, 2x2 stride-2 conv down, 2x2 transposed conv up, skips added,
 *           no biases; input RGB + a constant sigma channel.
 *   dncnn   KAIR DnCNN: conv+ReLU stack with biases, output x - net(x) (blind).
 *   ffdnet  KAIR FFDNet: 2x2 pixel-unshuffle, + sigma channel, conv+ReLU stack
 *           with biases, pixel-shuffle back.
 * Sizes that are not multiples of the network's factor (8 for DRUNet, 2 for
 * FFDNet) are padded by replicating the last row/column at the bottom/right,
 * and the output is cropped back (as deepinv's test_pad / KAIR's FFDNet do). */
#ifndef PNP_DENOISER_H
#define PNP_DENOISER_H

#include "pnp/backend.h"
#include "pnp/config.h"
#include "pnp/weights.h"

typedef struct pnp_denoiser pnp_denoiser;

/* Zero-filled weights of an architecture, in PyTorch's state_dict order.
 * spec (pnp_denoiser_spec_parse, include/pnp/config.h): "drunet" (64,128,256,512,
 * nb 4), "drunet:W0,W1,W2,W3" or "drunet:W0,W1,W2,W3:NB", "dncnn" (64 features,
 * 20 layers), "ffdnet" (96, 12). Returns 0, or -1 with a message in err. */
int pnp_denoiser_skeleton(const char *spec, pnp_state_dict *sd, char *arch, size_t archlen, char *err,
                          size_t errlen);

/* Build from weights (shapes checked; widths and depth read from the weights).
 * arch: "drunet", "dncnn" or "ffdnet". Returns NULL with a message naming the
 * missing key or wrong shape in err. */
pnp_denoiser *pnp_denoiser_create(pnp_backend *be, const char *arch, const pnp_state_dict *sd, char *err,
                                  size_t errlen);
void pnp_denoiser_destroy(pnp_denoiser *dn);

/* out_dev [n,3,h,w] = D(img_dev [n,3,h,w], sigma); both NCHW float32 on the backend. */
void pnp_denoiser_forward(pnp_denoiser *dn, const float *img_dev, int n, int h, int w, float sigma, float *out_dev);

/* Bytes of activations the forward pass of an [n,3,h,w] input holds at its peak
 * (planned before the first forward; buffers are reused across layers). */
size_t pnp_denoiser_activation_bytes(const pnp_denoiser *dn, int n, int h, int w);
/* Bytes of weights held on the backend. */
size_t pnp_denoiser_weight_bytes(const pnp_denoiser *dn);
/* One line describing the network (architecture, widths, parameters). */
const char *pnp_denoiser_describe(const pnp_denoiser *dn);

#endif
