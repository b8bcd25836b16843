/* test_denoisers.c - the layer engine's denoisers against PyTorch
 * (tests/golden/denoisers.h5, made by tests/golden/make_golden_denoisers.py):
 *  - DRUNet = deepinv's DRUNet on pnp's deterministic random weights: full widths
 *    on 32x32, reduced widths on larger images, batch 2, several sigmas;
 *    max |ours - ref| <= 1e-5 * max |ref|;
 *  - DnCNN and FFDNet (trained kair-small weights from ../shared) = PyTorch:
 *    2e-5 * max |ref| (20 biased layers; DnCNN's output x - net(x) cancels);
 *  - the pad-and-crop rule for sizes that are not multiples of 8;
 *  - the planned activation bytes equal what the forward pass allocated (past
 *    the convolutions' per-thread scratch, which peak_bytes also counts, as it
 *    counts the packed weights: about the float32 weights on the direct path,
 *    more with Winograd's transformed ones, at most 4x those of a 3x3 layer);
 *    workspace_bytes, asked before the first pass, covers that scratch;
 *  - Winograd (the default on AVX-512 CPUs, conv_cpu.c) against the direct
 *    path (PNP_CONV_ALGO=direct) on a noisy 96x96 CBSD68 crop (sigma 25/255):
 *    the trained DnCNN and FFDNet (kair-small) and DRUNet drunet:16,32,64,128:1
 *    (random weights), fp32 with auto (F(4,3)) and F(2,3) forced: max |y -
 *    y_direct| <= 2e-5 max |y_direct| (per layer F(4,3) stays within about
 *    3e-5 of the largest output, test_conv_cpu.c, and the networks do not
 *    amplify it: the golden checks above, on Winograd, hold at their 1e-5 /
 *    2e-5) and, for the trained ones, PSNR against the clean crop within
 *    0.01 dB of direct; bf16 auto against bf16 direct: PSNR at most 0.01 dB
 *    lower (auto runs the shallower 3x3 layers in fp32 F(4,3), which gains
 *    up to a few hundredths of a dB over bf16 direct);
 *  - missing keys and wrong shapes are reported by name;
 *  - precision bf16 (CPU, avx512bf16; skipped without avx512_bf16) against fp32
 *    on a real image: a 96x96 crop of CBSD68 101085 with Gaussian noise (sigma
 *    25/255, clamped) denoised by DRUNet drunet:16,32,64,128:1 (random weights:
 *    no trained DRUNet in shared) and by the trained DnCNN (kair-small): PSNR
 *    against the clean crop within 0.05 dB of fp32's (DESIGN's bf16 criterion). */
#include <string.h>

#include "check.h"
#include "golden.h"
#include "backends/cpu/backend_cpu.h"
#include "random_net.h"
#include "pnp/backend.h"
#include "pnp/denoiser.h"
#include "pnp/error.h"
#include "pnp/image.h"

static void compare(pnp_denoiser *dn, hid_t grp, const char *name, float sigma, double tol)
{
    hsize_t d[4];
    float *x = golden_read(grp, "x", H5T_NATIVE_FLOAT, NULL, d);
    float *y = golden_read(grp, "y", H5T_NATIVE_FLOAT, NULL, NULL);
    const size_t numel = d[0] * d[1] * d[2] * d[3];
    float *out = pnp_malloc(numel * sizeof(float));
    pnp_denoiser_forward(dn, x, (int)d[0], (int)d[2], (int)d[3], sigma, out);
    const double diff = max_abs_diff(out, y, numel), ref = max_abs(y, numel);
    CHECK(diff <= tol * ref, "%s (%s) on [%d,3,%d,%d], sigma %g: max abs diff %.3g, relative %.3g", name,
          pnp_denoiser_describe(dn), (int)d[0], (int)d[2], (int)d[3], sigma, diff, diff / ref);
    free(x), free(y), free(out);
}

static void drunet_golden(pnp_backend *be, hid_t f)
{
    const char *groups[] = {"drunet0_0", "drunet1_0", "drunet1_1", "drunet2_0"};
    for (int i = 0; i < 4; ++i) {
        hid_t g = H5Gopen2(f, groups[i], H5P_DEFAULT);
        char spec[64];
        golden_attr_str(f, groups[i], "spec", spec, sizeof spec);
        pnp_denoiser *dn = random_net(be, spec, (uint64_t)golden_attr_double(f, groups[i], "seed"));
        compare(dn, g, groups[i], (float)golden_attr_double(f, groups[i], "sigma"), 1e-5);
        pnp_denoiser_destroy(dn);
        H5Gclose(g);
    }
}

static void kair_golden(pnp_backend *be, hid_t f)
{
    const char *names[] = {"dncnn", "ffdnet"};
    const char *files[] = {"weights/kair-small/dncnn_color_blind.h5", "weights/kair-small/ffdnet_color.h5"};
    for (int i = 0; i < 2; ++i) {
        pnp_state_dict sd;
        char err[512];
        if (pnp_weights_read_h5(shared_path(files[i]), &sd, err, sizeof err)) {
            SKIP("%s: %s (set PNP_SHARED)", names[i], err);
            continue;
        }
        pnp_denoiser *dn = pnp_denoiser_create(be, names[i], &sd, err, sizeof err);
        CHECK(dn != NULL, "%s builds from %s: %s", names[i], files[i], dn ? pnp_denoiser_describe(dn) : err);
        if (dn) {
            hid_t g = H5Gopen2(f, names[i], H5P_DEFAULT);
            float sigma = i == 1 ? (float)golden_attr_double(f, names[i], "sigma") : 0.f;
            compare(dn, g, names[i], sigma, 2e-5);
            H5Gclose(g);
            pnp_denoiser_destroy(dn);
        }
        pnp_weights_free(&sd);
    }
}

/* D(x) on a 37x45 image equals D(replicate-pad(x) to 40x48) cropped back. */
static void pad_rule(pnp_backend *be)
{
    pnp_denoiser *dn = random_net(be, "drunet:8,16,32,64:1", 9);
    const int h = 37, w = 45, H = 40, W = 48;
    float *x = pnp_malloc(sizeof(float) * 3 * h * w), *xp = pnp_malloc(sizeof(float) * 3 * H * W);
    float *y = pnp_malloc(sizeof(float) * 3 * h * w), *yp = pnp_malloc(sizeof(float) * 3 * H * W);
    for (int i = 0; i < 3 * h * w; ++i) x[i] = (float)((i * 37 % 101) / 100.0);
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < H; ++i)
            for (int j = 0; j < W; ++j)
                xp[(c * H + i) * W + j] = x[(c * h + (i < h ? i : h - 1)) * w + (j < w ? j : w - 1)];
    pnp_denoiser_forward(dn, x, 1, h, w, 0.1f, y);
    pnp_denoiser_forward(dn, xp, 1, H, W, 0.1f, yp);
    double worst = 0;
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < h; ++i)
            for (int j = 0; j < w; ++j) worst = fmax(worst, fabs(y[(c * h + i) * w + j] - yp[(c * H + i) * W + j]));
    CHECK(worst == 0, "37x45 input = replicate-padded 40x48 input cropped (max diff %.3g)", worst);
    free(x), free(xp), free(y), free(yp);
    pnp_denoiser_destroy(dn);
}

/* Bytes peak_bytes counts once a network is built (its packed weights), with PNP_CONV_ALGO=algo. */
static size_t packed_bytes(const char *algo, size_t *weights)
{
    setenv("PNP_CONV_ALGO", algo, 1);
    pnp_backend *be = pnp_backend_cpu_create(0, false);
    pnp_denoiser *dn = random_net(be, "drunet:16,32,64,128:2", 3);
    const size_t packed = be->ops->peak_bytes(be);
    *weights = pnp_denoiser_weight_bytes(dn);
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
    unsetenv("PNP_CONV_ALGO");
    return packed;
}

static void memory_plan(void)
{
    size_t weights;
    const size_t direct = packed_bytes("direct", &weights), wino = packed_bytes("auto", &weights);
    CHECK(direct >= weights && direct < weights + weights / 4,
          "peak_bytes counts the packed weights: %zu B for %zu B of float32 weights (rows rounded up to MR)", direct,
          weights);
    CHECK(wino >= direct && wino < 4 * weights + weights / 4,
          "... and Winograd's transformed ones: %zu B (%.2fx the direct path's; at most 4x, F(4,3)'s 36 of 9)", wino,
          (double)wino / direct);
    pnp_backend *be = pnp_backend_cpu_create(0, false);
    pnp_denoiser *dn = random_net(be, "drunet:16,32,64,128:2", 3);
    const int n = 2, h = 45, w = 61;
    size_t predicted = pnp_denoiser_activation_bytes(dn, n, h, w), before = be->ops->peak_bytes(be);
    const size_t reserved = be->ops->workspace_bytes(be);
    float *x = pnp_calloc((size_t)n * 3 * h * w, sizeof(float)), *y = pnp_malloc(sizeof(float) * n * 3 * h * w);
    pnp_denoiser_forward(dn, x, n, h, w, 0.05f, y);
    pnp_denoiser_forward(dn, x, n, h, w, 0.05f, y); /* same shape: nothing new */
    const size_t scratch = cpu_scratch_bytes(be), used = be->ops->peak_bytes(be) - before - scratch;
    CHECK(used == predicted && predicted > 0 && scratch > 0,
          "planned activation bytes %zu = allocated %zu (past %zu bytes of conv scratch) for [%d,3,%d,%d]", predicted,
          used, scratch, n, h, w);
    CHECK(scratch <= reserved && be->ops->workspace_bytes(be) <= reserved - scratch,
          "workspace_bytes before the first pass (%zu B) covers the conv scratch it took (%zu B)", reserved, scratch);
    free(x), free(y);
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
}

/* One denoiser ("drunet:..." random, or "dncnn" / "ffdnet" trained, from
 * kair-small) on backend be; NULL when the weights are missing. */
static pnp_denoiser *make_named(pnp_backend *be, const char *which)
{
    const bool dncnn = !strcmp(which, "dncnn");
    if (!dncnn && strcmp(which, "ffdnet")) return random_net(be, which, 5);
    pnp_state_dict sd;
    char err[512];
    if (pnp_weights_read_h5(shared_path(dncnn ? "weights/kair-small/dncnn_color_blind.h5"
                                              : "weights/kair-small/ffdnet_color.h5"),
                            &sd, err, sizeof err))
        return NULL;
    pnp_denoiser *dn = pnp_denoiser_create(be, which, &sd, err, sizeof err);
    if (!dn) pnp_fatal("%s", err);
    pnp_weights_free(&sd);
    return dn;
}

static void bf16_vs_fp32(void)
{
    if (!pnp_backend_cpu_bf16()) {
        SKIP("bf16 denoisers: skipped: no avx512_bf16");
        return;
    }
    pnp_image im;
    char err[512];
    if (pnp_png_read(shared_path("images/CBSD68/101085.png"), &im, err, sizeof err)) {
        SKIP("bf16 denoisers: %s (set PNP_SHARED)", err);
        return;
    }
    enum { S = 96, Y0 = 100, X0 = 150 };
    const size_t n = 3 * S * S;
    float *clean = pnp_malloc(n * sizeof(float)), *noisy = pnp_malloc(n * sizeof(float));
    float *o32 = pnp_malloc(n * sizeof(float)), *o16 = pnp_malloc(n * sizeof(float));
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < S; ++i)
            memcpy(clean + (c * S + i) * S, im.data + ((size_t)c * im.h + Y0 + i) * im.w + X0, S * sizeof(float));
    pnp_image_free(&im);
    pnp_backend *be32 = pnp_backend_cpu_create(0, false), *be16 = pnp_backend_cpu_create(0, true);
    const float sigma = 25.f / 255.f;
    memcpy(noisy, clean, n * sizeof(float));
    be32->ops->add_noise_clamp(be32, noisy, n, 7, 0, 0, sigma);
    const char *nets[] = {"drunet:16,32,64,128:1", "dncnn"};
    for (int i = 0; i < 2; ++i) {
        pnp_denoiser *d32 = make_named(be32, nets[i]), *d16 = make_named(be16, nets[i]);
        if (!d32 || !d16) {
            SKIP("bf16 %s: no weights in shared (set PNP_SHARED)", nets[i]);
            pnp_denoiser_destroy(d32), pnp_denoiser_destroy(d16);
            continue;
        }
        pnp_denoiser_forward(d32, noisy, 1, S, S, sigma, o32);
        pnp_denoiser_forward(d16, noisy, 1, S, S, sigma, o16);
        const double p32 = pnp_psnr(o32, clean, n), p16 = pnp_psnr(o16, clean, n);
        CHECK(fabs(p16 - p32) <= 0.05,
              "%s on a noisy %dx%d CBSD68 crop (%.2f dB): PSNR fp32 %.3f, bf16 %.3f dB (diff %+.4f; bf16 output vs "
              "fp32 output %.1f dB)",
              nets[i], S, S, pnp_psnr(noisy, clean, n), p32, p16, p16 - p32, pnp_psnr(o16, o32, n));
        pnp_denoiser_destroy(d32), pnp_denoiser_destroy(d16);
    }
    pnp_backend_destroy(be32), pnp_backend_destroy(be16);
    free(clean), free(noisy), free(o32), free(o16);
}

/* Channels bridged (include/pnp/denoiser.h): a colour network made for grey
 * images (first and last layers folded) equals the colour network on the
 * channel replicated three times, its three outputs averaged; a grey network on
 * a colour image equals it on each channel alone; grey skeletons have KAIR's
 * grey input sizes. Random weights (random_net.h's), CPU, abs 2e-5. */
static void channel_bridges(pnp_backend *be)
{
    const char *specs[] = {"drunet:8,16,32,64:1", "dncnn", "ffdnet"};
    const int h = 20, w = 26, n = 2; /* not multiples of 8: the padding too */
    const size_t plane = (size_t)h * w;
    float *grey = pnp_malloc(sizeof(float) * n * plane), *rgb = pnp_malloc(sizeof(float) * n * 3 * plane);
    float *out1 = pnp_malloc(sizeof(float) * n * plane), *out3 = pnp_malloc(sizeof(float) * n * 3 * plane);
    for (size_t e = 0; e < n * plane; ++e) grey[e] = (float)((e * 7919 % 1000) / 1000.0);
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < 3; ++c) memcpy(rgb + (i * 3 + c) * plane, grey + i * plane, sizeof(float) * plane);
    for (int k = 0; k < 3; ++k) {
        pnp_state_dict sd;
        char arch[32], err[512], note[512];
        pnp_denoiser_skeleton(specs[k], &sd, arch, sizeof arch, err, sizeof err);
        pnp_weights_randomize(&sd, 5);
        pnp_denoiser *colour = pnp_denoiser_create(be, arch, &sd, err, sizeof err);
        pnp_denoiser *folded = pnp_denoiser_create_for(be, arch, &sd, 1, note, sizeof note, err, sizeof err);
        pnp_weights_free(&sd);
        pnp_denoiser_forward(colour, rgb, n, h, w, 0.1f, out3);
        pnp_denoiser_forward(folded, grey, n, h, w, 0.1f, out1);
        double worst = 0;
        for (int i = 0; i < n; ++i)
            for (size_t e = 0; e < plane; ++e) {
                const float *o = out3 + (size_t)i * 3 * plane + e;
                const double mean = ((double)o[0] + o[plane] + o[2 * plane]) / 3;
                worst = fmax(worst, fabs(out1[i * plane + e] - mean));
            }
        CHECK(pnp_denoiser_channels(folded) == 1 && worst <= 2e-5 && strstr(note, "replicated"),
              "%s colour net on grey images = replicate, denoise, average (max abs diff %.2g; note: %s)", specs[k],
              worst, note);
        pnp_denoiser_destroy(colour), pnp_denoiser_destroy(folded);
    }
    const char *grey_specs[] = {"drunet_gray:8,16,32,64:1", "dncnn_gray", "ffdnet_gray"};
    const int first_cin[] = {2, 1, 5};
    for (int k = 0; k < 3; ++k) {
        pnp_state_dict sd;
        char arch[32], err[512], note[512];
        pnp_denoiser_skeleton(grey_specs[k], &sd, arch, sizeof arch, err, sizeof err);
        pnp_weights_randomize(&sd, 6);
        const int cin = (int)sd.t[0].shape[1];
        pnp_denoiser *g = pnp_denoiser_create(be, arch, &sd, err, sizeof err);
        pnp_denoiser *g3 = pnp_denoiser_create_for(be, arch, &sd, 3, note, sizeof note, err, sizeof err);
        pnp_weights_free(&sd);
        pnp_denoiser_forward(g3, rgb, n, h, w, 0.1f, out3); /* [n,3] as [3n,1] */
        double worst = 0;
        for (int i = 0; i < n; ++i) {
            pnp_denoiser_forward(g, grey + i * plane, 1, h, w, 0.1f, out1);
            for (int c = 0; c < 3; ++c)
                for (size_t e = 0; e < plane; ++e)
                    worst = fmax(worst, fabs(out3[(i * 3 + c) * plane + e] - out1[e]));
        }
        CHECK(cin == first_cin[k] && pnp_denoiser_channels(g) == 1 && pnp_denoiser_channels(g3) == 3 && worst <= 1e-6,
              "%s: %d input channels; on a colour image each channel denoised alone (max abs diff %.2g)",
              grey_specs[k], cin, worst);
        pnp_denoiser_destroy(g), pnp_denoiser_destroy(g3);
    }
    free(grey), free(rgb), free(out1), free(out3);
}

/* A noisy crop of CBSD68 101085 (sigma 25/255, clamped): clean and noisy
 * [3, S, S], S = 96; false when the image is missing. */
enum { CROP = 96 };
static bool noisy_crop(pnp_backend *be, float *clean, float *noisy)
{
    pnp_image im;
    char err[512];
    if (pnp_png_read(shared_path("images/CBSD68/101085.png"), &im, err, sizeof err)) {
        SKIP("CBSD68 crop: %s (set PNP_SHARED)", err);
        return false;
    }
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < CROP; ++i)
            memcpy(clean + (c * CROP + i) * CROP, im.data + ((size_t)c * im.h + 100 + i) * im.w + 150,
                   CROP * sizeof(float));
    pnp_image_free(&im);
    memcpy(noisy, clean, 3 * CROP * CROP * sizeof(float));
    be->ops->add_noise_clamp(be, noisy, 3 * CROP * CROP, 7, 0, 0, 25.f / 255.f);
    return true;
}

/* Winograd (PNP_CONV_ALGO=algo) against the direct path, same network, same input. */
static void winograd_vs_direct(void)
{
    if (!cpu_conv_isa_runs("avx512")) {
        SKIP("winograd networks: this CPU lacks AVX-512 (every layer runs direct)");
        return;
    }
    const size_t n = 3 * CROP * CROP;
    float *clean = pnp_malloc(n * sizeof(float)), *noisy = pnp_malloc(n * sizeof(float));
    float *yd = pnp_malloc(n * sizeof(float)), *yw = pnp_malloc(n * sizeof(float));
    pnp_backend *probe = pnp_backend_cpu_create(0, false);
    const bool have = noisy_crop(probe, clean, noisy);
    pnp_backend_destroy(probe);
    const char *nets[] = {"dncnn", "ffdnet", "drunet:16,32,64,128:1"};
    const struct {
        bool bf16;
        const char *algo;
    } runs[] = {{false, "auto"}, {false, "winograd2"}, {true, "auto"}};
    for (int r = 0; r < 3 && have; ++r) {
        if (runs[r].bf16 && !pnp_backend_cpu_bf16()) {
            SKIP("winograd bf16 networks: skipped: no avx512_bf16");
            continue;
        }
        for (int i = 0; i < 3; ++i) {
            pnp_denoiser *dn[2];
            pnp_backend *be[2];
            for (int a = 0; a < 2; ++a) { /* 0: direct, 1: Winograd */
                setenv("PNP_CONV_ALGO", a ? runs[r].algo : "direct", 1);
                be[a] = pnp_backend_cpu_create(0, runs[r].bf16);
                dn[a] = make_named(be[a], nets[i]);
            }
            unsetenv("PNP_CONV_ALGO");
            if (!dn[0] || !dn[1]) {
                SKIP("winograd %s: no weights in shared (set PNP_SHARED)", nets[i]);
            } else {
                const float sigma = 25.f / 255.f;
                pnp_denoiser_forward(dn[0], noisy, 1, CROP, CROP, sigma, yd);
                pnp_denoiser_forward(dn[1], noisy, 1, CROP, CROP, sigma, yw);
                const double rel = max_abs_diff(yw, yd, n) / max_abs(yd, n);
                const double dpsnr = pnp_psnr(yw, clean, n) - pnp_psnr(yd, clean, n);
                const bool trained = strncmp(nets[i], "drunet", 6) != 0;
                /* bf16: its shallow layers run fp32 F(4,3), more accurate than bf16 direct: never worse by 0.01 dB */
                const bool psnr_ok = !trained || (runs[r].bf16 ? dpsnr >= -0.01 : fabs(dpsnr) <= 0.01);
                CHECK((runs[r].bf16 || rel <= 2e-5) && psnr_ok,
                      "%s %s, PNP_CONV_ALGO=%s vs direct on a noisy %dx%d CBSD68 crop: max rel diff %.2g, PSNR %+.4f dB",
                      runs[r].bf16 ? "bf16" : "fp32", nets[i], runs[r].algo, CROP, CROP, rel, dpsnr);
            }
            for (int a = 0; a < 2; ++a) pnp_denoiser_destroy(dn[a]), pnp_backend_destroy(be[a]);
        }
    }
    free(clean), free(noisy), free(yd), free(yw);
}

static void bad_weights(pnp_backend *be)
{
    pnp_state_dict sd;
    char arch[32], err[512];
    pnp_denoiser_skeleton("drunet:8,16,32,64:1", &sd, arch, sizeof arch, err, sizeof err);
    free(sd.t[2].name);
    sd.t[2].name = pnp_strdup("m_down1.0.res.2.wieght");
    pnp_denoiser *dn = pnp_denoiser_create(be, arch, &sd, err, sizeof err);
    CHECK(!dn && strstr(err, "missing key 'm_down1.0.res.2.weight'"), "missing key named: %s", err);
    pnp_weights_free(&sd);
    pnp_denoiser_skeleton("drunet:8,16,32,64:1", &sd, arch, sizeof arch, err, sizeof err);
    sd.t[1].shape[1] = 9;
    dn = pnp_denoiser_create(be, arch, &sd, err, sizeof err);
    CHECK(!dn && strstr(err, "key 'm_down1.0.res.0.weight' has shape [8,9,3,3], expected [8,8,3,3]"),
          "wrong shape named: %s", err);
    pnp_weights_free(&sd);
    CHECK(pnp_denoiser_skeleton("drunet:8,16", &sd, arch, sizeof arch, err, sizeof err) != 0,
          "bad width list refused: %s", err);
}

int main(void)
{
    pnp_backend *be = pnp_backend_cpu_create(0, false);
    hid_t f = golden_open("denoisers.h5");
    drunet_golden(be, f);
    kair_golden(be, f);
    H5Fclose(f);
    pad_rule(be);
    channel_bridges(be);
    bad_weights(be);
    pnp_backend_destroy(be);
    memory_plan();
    bf16_vs_fp32();
    winograd_vs_direct();
    CHECK_DONE();
}
