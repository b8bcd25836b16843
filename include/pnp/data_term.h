/* data_term.h - the data-fidelity term of a run, f(x) = 1/2 sum_i ||A_i x - y_i||^2,
 * over the operators this rank owns: their measurements, the gradient, the
 * value, and the operators A_i / A_i^T themselves. The solver calls only this
 * (never the blur ops), so the boundary model and the sum over ranks live here.
 *
 * Shapes: the measurements y_i are [c, h, w]; the estimate x is [c, xh, xw].
 * PSFs are [n, kc, kh, kw] (kc 1: one for every channel; kc c: one per
 * channel), any size, centred at (kh/2, kw/2) (integer division: the middle of
 * an odd side, the pixel after the middle of an even side):
 *   (k * x)[p] = sum_{a,b} k[a, b] x[p - (a - kh/2, b - kw/2)]   (true convolution),
 * so a PSF whose only non-zero tap is at (kh/2 + dy, kw/2 + dx) shifts the
 * image by (dy, dx).
 *
 * Boundaries:
 *   circular  xh x xw = h x w; A_i x = k_i * x with indices modulo the image
 *             (FFT). The gradient is the backend's one-FFT-pair sum of squares
 *             irfft(S rfft(x) - B), S = sum_i |H_i|^2, B = sum_i conj(H_i) rfft(y_i)
 *             (blur_add_data / blur_gradient), whatever the operator count: the
 *             fast path (on one rank bit for bit the solver's path before this layer existed).
 *   pad       x lives on the domain extended by the PSF support, xh = h + kh - 1,
 *             xw = w + kw - 1, and A_i = crop to the measured region after a
 *             circular convolution there. The region is rows oy .. oy + h - 1 and
 *             columns ox .. ox + w - 1 with oy = kh - 1 - kh/2, ox = kw - 1 - kw/2:
 *             every tap of a measured pixel stays inside the extended domain, so
 *             wrap-around never touches the data (A_i is the "valid" part of a
 *             linear convolution of x). A_i^T = the circular adjoint of the
 *             zero-embedded image (backend blur_apply; the crop and embedding by
 *             gather_windows / unpack_windows). The gradient
 *             sum_i A_i^T A_i x - b, b = sum_i A_i^T y_i, is the backend's masked
 *             normal operator blur_normal_window: one forward and one inverse
 *             FFT per owned operator (and one pair for x).
 *
 * Ranks: made with a communicator, pnp_data_term_gradient returns the gradient
 * of the WHOLE sum over every rank's operators (circular: from S and B summed
 * once at ready(); pad: an all-reduce per call, collective); without one, of
 * this rank's operators only. The value needs no
 * communication: f(x) = 1/2 <x, g - b> + c with g the gradient at x (as
 * returned), b = sum_i A_i^T y_i and c = 1/2 sum_i ||y_i||^2, both summed over
 * the ranks once by pnp_data_term_ready. Its absolute error is about 1e-7 of
 * 1/2 sum_i ||y_i||^2 (the float32 gradient and b; tests/unit/test_data_term.c):
 * plenty for a trace of the residual, not for residuals far below that.
 *
 * Circular boundaries need no communication after ready(): each rank's S and
 * B are summed over the ranks there once, so every rank computes the whole
 * gradient (one FFT pair), the exact data step and L itself. Boundary pad
 * sums over the ranks per call: its gradient, the power method's and
 * conjugate gradients' normal operator sum_i A_i^T A_i x (the backend's
 * blur_normal_window). */
#ifndef PNP_DATA_TERM_H
#define PNP_DATA_TERM_H

#include <stdbool.h>

#include "pnp/backend.h"
#include "pnp/comm.h"

typedef enum { PNP_BOUNDARY_CIRCULAR, PNP_BOUNDARY_PAD } pnp_boundary;

/* "circular" / "pad"; pnp_boundary_parse returns -1 for anything else. */
const char *pnp_boundary_name(pnp_boundary b);
int pnp_boundary_parse(const char *name, pnp_boundary *b);

/* Where x and the measurements lie. */
typedef struct {
    pnp_boundary boundary;
    int c, h, w;    /* measurements [c, h, w] */
    int kc, kh, kw; /* PSFs [kc, kh, kw] per operator */
    int xh, xw;     /* x: [c, xh, xw] */
    int oy, ox;     /* the measured region's top-left corner in x (0, 0 for circular) */
} pnp_data_geometry;

/* The geometry of a problem: xh, xw, oy, ox from the rest. */
pnp_data_geometry pnp_data_geometry_of(pnp_boundary boundary, int c, int h, int w, int kc, int kh, int kw);

typedef struct pnp_data_term pnp_data_term;

/* The operators rank `rank` of `size` owns: {i : i mod size == rank} when the
 * physics is distributed, else all of them. Returns the count; ids [n_ops]. */
int pnp_data_term_owned(bool distributed, int rank, int size, int n_ops, int *ids);

/* n operators (this rank's) with kernels [n, kc, kh, kw] (host; each should sum
 * to 1). comm: sum the gradient over the ranks (collective calls), or NULL. */
pnp_data_term *pnp_data_term_create(pnp_backend *be, pnp_comm *comm, const pnp_data_geometry *g, int n,
                                    const float *kernels);
void pnp_data_term_destroy(pnp_data_term *dt);

/* y_dev [c, h, w]: the measurement of operator l (< n); it may be freed afterwards. */
void pnp_data_term_add(pnp_data_term *dt, int l, const float *y_dev);
/* After the last add, before anything else: sums b and c over the ranks, and for circular S and B
 * (collective with a comm). */
void pnp_data_term_ready(pnp_data_term *dt);

/* g_dev [c, xh, xw] = grad f(x_dev) (g may alias x). Collective with a comm for pad. */
void pnp_data_term_gradient(pnp_data_term *dt, const float *x_dev, float *g_dev);
/* f(x) = 1/2 sum_i ||A_i x - y_i||^2 (every rank's operators with a comm), from x
 * and g = the gradient at x as pnp_data_term_gradient returned it. No communication. */
double pnp_data_term_value(pnp_data_term *dt, const float *x_dev, const float *g_dev);

/* b = sum_i A_i^T y_i [c, xh, xw] over every rank's operators (valid after ready;
 * the data term's own buffer): deepinv's A_adjoint(y) of the stacked operators. */
const float *pnp_data_term_adjoint_y(const pnp_data_term *dt);

/* L = ||sum_i A_i^T A_i|| (its largest eigenvalue), every rank's operators.
 * circular: exactly max over frequencies and channels of S (no communication,
 * *iterations = 0). pad: the power method from a fixed pseudo-random start,
 * stopped when the estimate changes by at most PNP_POWER_TOL relative between
 * two iterations (or after PNP_POWER_MAX_ITER); *iterations says how many
 * (collective with a comm). */
#define PNP_POWER_TOL 1e-6
#define PNP_POWER_MAX_ITER 1000
double pnp_data_term_lipschitz(pnp_data_term *dt, int *iterations);

/* x = argmin_x f(x) + rho/2 ||x - z||^2 = (sum_i A_i^T A_i + rho I)^-1 (b + rho z)
 * (z NULL: z = 0, the Tikhonov / Wiener solution with eps = rho; x may alias z;
 * rho > 0). circular: exact per frequency, (B + rho Z) / (S + rho), no
 * communication; returns 0. pad: conjugate gradients from x = z until
 * ||residual|| <= PNP_CG_TOL ||b + rho z|| (at most PNP_CG_MAX_ITER); returns
 * the iterations (collective with a comm). */
#define PNP_CG_TOL 1e-6
#define PNP_CG_MAX_ITER 500
int pnp_data_term_solve(pnp_data_term *dt, const float *z_dev, float rho, float *x_dev);
/* Allocates now what pnp_data_term_solve holds once called (pad: its three
 * work images [c, xh, xw]; circular: nothing), so that a memory plan made
 * after this call counts them. */
void pnp_data_term_prepare_solve(pnp_data_term *dt);

/* crop_dev [c, h, w] = the measured region of img_dev [c, xh, xw] (a copy for circular). */
void pnp_data_term_crop(pnp_data_term *dt, const float *img_dev, float *crop_dev);

/* y = A_l x ([c, xh, xw] -> [c, h, w]) or, adjoint, y = A_l^T x ([c, h, w] -> [c, xh, xw]).
 * y must not alias x for pad. */
void pnp_data_term_apply(pnp_data_term *dt, int l, const float *x_dev, float *y_dev, bool adjoint);

#endif
