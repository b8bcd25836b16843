/* test_ssim.c - the backend's SSIM (op ssim, CPU) against deepinv.metric.SSIM
 * (tests/golden/ssim.h5, made by tests/golden/make_golden_ssim.py with
 * torchmetrics underneath, float32 on CPU):
 *  - random colour and grey pairs (noisy, nearly equal, unrelated, the
 *    smallest 6 x 6 that reflect padding allows): |pnp - deepinv| <= 1e-5;
 *  - real photos from ../shared against a deterministic degradation made the
 *    same way on both sides: |pnp - deepinv| <= 1e-5 (skipped without ../shared);
 *  - SSIM(x, x) = 1 (1e-12), and NaN for an image of 5 rows (too small to pad);
 *  - the same value with 1 and 2 threads (the strips are summed in order). */
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "golden.h"
#include "pnp/backend.h"
#include "pnp/image.h"

static void golden_pair(pnp_backend *be, hid_t f, const char *name)
{
    hsize_t d[3];
    hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
    float *x = golden_read(g, "x", H5T_NATIVE_FLOAT, NULL, d);
    float *y = golden_read(g, "y", H5T_NATIVE_FLOAT, NULL, NULL);
    const double want = golden_attr_double(f, name, "ssim");
    const double got = be->ops->ssim(be, x, y, (int)d[0], (int)d[1], (int)d[2]);
    CHECK(fabs(got - want) <= 1e-5, "%s [%d,%d,%d]: SSIM %.9f, deepinv %.9f (diff %.2g)", name, (int)d[0], (int)d[1],
          (int)d[2], got, want, fabs(got - want));
    if (!strcmp(name, "rgb_noisy")) {
        const double self = be->ops->ssim(be, x, x, (int)d[0], (int)d[1], (int)d[2]);
        CHECK(fabs(self - 1) <= 1e-12, "SSIM(x, x) = 1 (got %.15f)", self);
        const double tiny = be->ops->ssim(be, x, y, 1, 5, (int)d[2]);
        CHECK(isnan(tiny), "an image of 5 rows: NaN (reflect padding by 5 needs 6), got %g", tiny);
        pnp_backend *one = pnp_backend_cpu_create(1, false);
        const double single = one->ops->ssim(one, x, y, (int)d[0], (int)d[1], (int)d[2]);
        CHECK(single == got, "the same SSIM with 1 and 2 threads (%.17g, %.17g)", single, got);
        pnp_backend_destroy(one);
    }
    free(x), free(y);
    H5Gclose(g);
}

static void photo(pnp_backend *be, hid_t f, const char *rel)
{
    const char *path = shared_path(rel);
    if (access(path, R_OK) != 0) {
        SKIP("SSIM of %s: not found (set PNP_SHARED)", path);
        return;
    }
    pnp_image im;
    char err[1024];
    if (pnp_png_read(path, &im, err, sizeof err)) {
        CHECK(0, "read %s: %s", path, err);
        return;
    }
    float *y = pnp_malloc(sizeof(float) * pnp_image_numel(&im));
    for (int c = 0; c < im.c; ++c)
        for (int i = 0; i < im.h; ++i)
            for (int j = 0; j < im.w; ++j) {
                const size_t e = ((size_t)c * im.h + i) * im.w + j;
                const double v = 0.8 * (double)im.data[e] + 0.1 + 0.05 * sin(0.37 * i + 0.91 * j + c);
                y[e] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
            }
    const double want = golden_attr_double(f, "photos", rel);
    const double got = be->ops->ssim(be, im.data, y, im.c, im.h, im.w);
    CHECK(fabs(got - want) <= 1e-5, "%s [%d,%d,%d] against its degradation: SSIM %.9f, deepinv %.9f (diff %.2g)", rel,
          im.c, im.h, im.w, got, want, fabs(got - want));
    free(y);
    pnp_image_free(&im);
}

int main(void)
{
    pnp_backend *be = pnp_backend_cpu_create(2, false);
    hid_t f = golden_open("ssim.h5");
    const char *cases[] = {"rgb_noisy", "rgb_close", "rgb_unrelated", "gray_noisy", "smallest"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) golden_pair(be, f, cases[i]);
    photo(be, f, "images/CBSD68/101085.png");
    photo(be, f, "images/CBSD68/108005.png");
    H5Fclose(f);
    pnp_backend_destroy(be);
    return check_failures ? 1 : 0;
}
