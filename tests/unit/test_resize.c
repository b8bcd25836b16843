/* test_resize.c - bicubic resize against torch.nn.functional.interpolate
 * (bicubic, align_corners=False), golden tests/golden/resize.h5:
 *  - random images, every pixel: max abs 1e-6;
 *  - real photos from ../shared/data/images read with our PNG reader:
 *    4096 sampled pixels max abs 1e-5, whole-image sum and sum of squares rel 1e-6. */
#include <string.h>

#include "check.h"
#include "golden.h"
#include "pnp/image.h"

int main(void)
{
    hid_t f = golden_open("resize.h5");
    for (int i = 0; i < 4; ++i) {
        char g[32];
        snprintf(g, sizeof g, "random%d", i);
        hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
        hsize_t xd[3], yd[3];
        float *x = golden_read(grp, "x", H5T_NATIVE_FLOAT, NULL, xd);
        float *y = golden_read(grp, "y", H5T_NATIVE_FLOAT, NULL, yd);
        pnp_image in = {(int)xd[0], (int)xd[1], (int)xd[2], x};
        pnp_image out = pnp_resize_bicubic(&in, (int)yd[1], (int)yd[2]);
        double d = max_abs_diff(out.data, y, pnp_image_numel(&out));
        CHECK(d <= 1e-6, "random %dx%d -> %dx%d: max abs diff %.3g", in.h, in.w, out.h, out.w, d);
        pnp_image_free(&out);
        free(x), free(y);
        H5Gclose(grp);
    }
    for (int i = 0; i < 4; ++i) {
        char g[32], rel[256], err[512];
        snprintf(g, sizeof g, "photo%d", i);
        golden_attr_str(f, g, "path", rel, sizeof rel);
        const char *path = shared_path(rel);
        pnp_image src;
        if (pnp_png_read(path, &src, err, sizeof err)) {
            SKIP("photo %s: %s (set PNP_SHARED to the shared folder)", rel, err);
            continue;
        }
        int longer = (int)golden_attr_double(f, g, "longer"), oh, ow;
        pnp_fit_longer_side(src.h, src.w, longer, &oh, &ow);
        CHECK(oh == (int)golden_attr_double(f, g, "out_h") && ow == (int)golden_attr_double(f, g, "out_w"),
              "%s: size %dx%d -> %dx%d as the benchmark computes it", rel, src.h, src.w, oh, ow);
        pnp_image out = pnp_resize_bicubic(&src, oh, ow);
        hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
        hsize_t nd[2];
        int *idx = golden_read(grp, "index", H5T_NATIVE_INT, NULL, nd);
        float *val = golden_read(grp, "value", H5T_NATIVE_FLOAT, NULL, NULL);
        double worst = 0;
        for (hsize_t s = 0; s < nd[0]; ++s) {
            const int *t = idx + 3 * s;
            double d = fabs(out.data[((size_t)t[0] * oh + t[1]) * ow + t[2]] - val[s]);
            worst = d > worst ? d : worst;
        }
        CHECK(worst <= 1e-5, "%s -> %dx%d: %llu sampled pixels, max abs diff %.3g", rel, oh, ow,
              (unsigned long long)nd[0], worst);
        double sum = 0, sq = 0;
        for (size_t e = 0; e < pnp_image_numel(&out); ++e) sum += out.data[e], sq += (double)out.data[e] * out.data[e];
        double want = golden_attr_double(f, g, "sum"), want_sq = golden_attr_double(f, g, "sum_sq");
        CHECK(fabs(sum - want) <= 1e-6 * fabs(want) && fabs(sq - want_sq) <= 1e-6 * fabs(want_sq),
              "%s: whole-image sum %.9g vs %.9g, sum of squares %.9g vs %.9g", rel, sum, want, sq, want_sq);
        free(idx), free(val);
        H5Gclose(grp);
        pnp_image_free(&out);
        pnp_image_free(&src);
    }
    H5Fclose(f);
    CHECK_DONE();
}
