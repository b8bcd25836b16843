/* blur_kernels.c - rotated anisotropic Gaussian kernels (see include/pnp/blur.h). */
#include "pnp/blur.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/error.h"

int pnp_gaussian_kernel_side(double sigma_row, double sigma_col)
{
    const double s = sigma_row > sigma_col ? sigma_row : sigma_col;
    return 2 * (int)(s / 0.3 + 1.0) + 1;
}

void pnp_gaussian_kernel(double sigma_row, double sigma_col, double angle_deg, int k, float *out)
{
    if (!(sigma_row > 0) || !(sigma_col > 0)) pnp_fatal("gaussian kernel: sigmas must be > 0 (%g, %g)", sigma_row, sigma_col);
    const double a = angle_deg * M_PI / 180.0, ca = cos(a), sa = sin(a);
    const double half = (k - 1) / 2.0;
    double *g = pnp_malloc(sizeof(double) * (size_t)k * k), sum = 0.0;
    for (int i = 0; i < k; ++i)
        for (int j = 0; j < k; ++j) {
            const double x = j - half, y = i - half;
            const double xr = ca * x - sa * y, yr = sa * x + ca * y;
            const double v = exp(-0.5 * xr * xr / (sigma_col * sigma_col)) * exp(-0.5 * yr * yr / (sigma_row * sigma_row));
            g[i * k + j] = v;
            sum += v;
        }
    for (int t = 0; t < k * k; ++t) out[t] = (float)(g[t] / sum);
    free(g);
}

void pnp_benchmark_blur_params(int image_size, int n, int i, double *sigma_row, double *sigma_col, double *angle_deg)
{
    *sigma_row = 0.01 * image_size;
    *sigma_col = 0.005 * image_size;
    /* numpy.linspace(0, 180, n): start + i * step, the last point exactly 180 */
    if (n <= 1) *angle_deg = 0.0;
    else if (i == n - 1) *angle_deg = 180.0;
    else *angle_deg = i * (180.0 / (n - 1));
}
