/* denoiser.h - the denoisers of the PnP prior, built from the backend's layer
 * engine (so the same graph runs on CPU and GPU):
 *   drunet  deepinv/KAIR DRUNet: 4 levels of widths (w0..w3), nb residual blocks
 *           per level, 2x2 stride-2 conv down, 2x2 transposed conv up, skips added,
 *           no biases; input the image + a constant sigma channel.
 *   dncnn   KAIR DnCNN: conv+ReLU stack with biases, output x - net(x) (blind).
 *   ffdnet  KAIR FFDNet: 2x2 pixel-unshuffle, + sigma channel, conv+ReLU stack
 *           with biases, pixel-shuffle back.
 * Each in colour (3 channels) or grey (1), as its weights say (DRUNet grey: 2
 * input channels, image + noise map; DnCNN grey: 1; FFDNet grey: 5).
 * A colour network on a grey image replicates the channel into its three
 * inputs and averages its three outputs: both are linear, so they are folded
 * into the first and last layers' weights (first layer: the three image
 * channels' filters summed; last layer: the three outputs' filters and biases
 * averaged), which computes exactly that at the grey network's cost. A grey
 * network on a colour image denoises each channel as its own image (the
 * batch of n colour images is a batch of 3n grey ones).
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
 * 20 layers), "ffdnet" (96, 12); grey versions (KAIR's grey sizes):
 * "drunet_gray[:W0,W1,W2,W3[:NB]]", "dncnn_gray" (64, 17), "ffdnet_gray" (64, 15).
 * Returns 0, or -1 with a message in err. */
int pnp_denoiser_skeleton(const char *spec, pnp_state_dict *sd, char *arch, size_t archlen, char *err,
                          size_t errlen);

/* Build from weights (shapes checked; widths and depth read from the weights).
 * arch: "drunet", "dncnn" or "ffdnet". Returns NULL with a message naming the
 * missing key or wrong shape in err. */
pnp_denoiser *pnp_denoiser_create(pnp_backend *be, const char *arch, const pnp_state_dict *sd, char *err,
                                  size_t errlen);
/* The same for images of `channels` (1 or 3; 0: the network's own). When they
 * differ from the network's, note (when not NULL) says how it is bridged. */
pnp_denoiser *pnp_denoiser_create_for(pnp_backend *be, const char *arch, const pnp_state_dict *sd, int channels,
                                      char *note, size_t notelen, char *err, size_t errlen);
void pnp_denoiser_destroy(pnp_denoiser *dn);
/* The channels of the images it takes and returns (c below). */
int pnp_denoiser_channels(const pnp_denoiser *dn);

/* out_dev [n,c,h,w] = D(img_dev [n,c,h,w], sigma); both NCHW float32 on the backend. */
void pnp_denoiser_forward(pnp_denoiser *dn, const float *img_dev, int n, int h, int w, float sigma, float *out_dev);

/* Bytes of activations the forward pass of an [n,c,h,w] input holds at its peak
 * (planned before the first forward; buffers are reused across layers). */
size_t pnp_denoiser_activation_bytes(const pnp_denoiser *dn, int n, int h, int w);
/* Bytes of weights held on the backend. */
size_t pnp_denoiser_weight_bytes(const pnp_denoiser *dn);
/* One line describing the network (architecture, widths, parameters). */
const char *pnp_denoiser_describe(const pnp_denoiser *dn);

#endif
