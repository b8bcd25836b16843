/* blur.h - the reference problem's blur kernels, built as deepinv builds them.
 *
 * deepinv.physics.functional.gaussian_blur(sigma=(s_row, s_col), angle=deg):
 * side 2*int(max(s)/0.3 + 1) + 1; pixel (i, j) at x = j - c (columns), y = i - c
 * (rows); rotated x' = cos a x - sin a y, y' = sin a x + cos a y;
 * g = exp(-x'^2 / (2 s_col^2)) exp(-y'^2 / (2 s_row^2)), normalised to sum 1. */
#ifndef PNP_BLUR_H
#define PNP_BLUR_H

/* Side of the kernel for these sigmas (odd). */
int pnp_gaussian_kernel_side(double sigma_row, double sigma_col);

/* out: [k, k] row-major, sums to 1. */
void pnp_gaussian_kernel(double sigma_row, double sigma_col, double angle_deg, int k, float *out);

/* The benchmark's operator i of n: sigma = (0.01, 0.005) * image_size,
 * angle = linspace(0, 180, n)[i] degrees (numpy's linspace). */
void pnp_benchmark_blur_params(int image_size, int n, int i, double *sigma_row, double *sigma_col, double *angle_deg);

#endif
