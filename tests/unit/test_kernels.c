/* test_kernels.c - our Gaussian kernels against deepinv's gaussian_blur
 * (tests/golden/kernels.h5). Tolerance: max abs 1e-6, and 1e-5 relative to the peak. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "golden.h"
#include "pnp/blur.h"

static herr_t visit(hid_t loc, const char *name, const H5L_info_t *info, void *user)
{
    (void)info;
    (void)user;
    int rank;
    hsize_t dims[2];
    float *want = golden_read(loc, name, H5T_NATIVE_FLOAT, &rank, dims);
    double sr = golden_attr_double(loc, name, "sigma_row"), sc = golden_attr_double(loc, name, "sigma_col");
    double angle = golden_attr_double(loc, name, "angle_deg");
    int k = pnp_gaussian_kernel_side(sr, sc);
    CHECK(rank == 2 && dims[0] == (hsize_t)k && dims[1] == (hsize_t)k, "%s: side %d equals deepinv's %llu", name, k,
          (unsigned long long)dims[0]);
    if ((hsize_t)k == dims[0]) {
        float *got = pnp_malloc(sizeof(float) * k * k);
        pnp_gaussian_kernel(sr, sc, angle, k, got);
        double d = max_abs_diff(got, want, (size_t)k * k), peak = max_abs(want, (size_t)k * k);
        CHECK(d <= 1e-6 && d <= 1e-5 * peak, "%s: sigma (%g, %g) angle %g: max abs diff %.3g (peak %.3g)", name, sr,
              sc, angle, d, peak);
        free(got);
    }
    /* benchmark cases: the benchmark's sigma/angle rule gives the same parameters */
    int size, n, i;
    if (sscanf(name, "bench_%d_%d_%d", &size, &n, &i) == 3) {
        double r, c, a;
        pnp_benchmark_blur_params(size, n, i, &r, &c, &a);
        CHECK(fabs(r - sr) < 1e-12 && fabs(c - sc) < 1e-12 && fabs(a - angle) < 1e-9,
              "%s: benchmark parameters (%g, %g, %g deg)", name, r, c, a);
    }
    free(want);
    return 0;
}

int main(void)
{
    hid_t f = golden_open("kernels.h5");
    H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, visit, NULL);
    H5Fclose(f);
    CHECK(pnp_gaussian_kernel_side(20.48, 10.24) == 139, "2048-px benchmark kernel side is 139");
    CHECK_DONE();
}
