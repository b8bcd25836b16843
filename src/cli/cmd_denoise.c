/* cmd_denoise.c - `pnp denoise`: run one denoiser (DRUNet, DnCNN or FFDNet)
 * over PNG images, optionally after adding Gaussian noise to them, and report
 * PSNR against the clean input: the published denoising protocol (KAIR's
 * main_test_dncnn/ffdnet: unclipped noise, output rounded to 8 bits, PSNR over
 * all RGB values with peak 255, no border shaved).
 *
 * Image i of the command line (0-based) gets noise
 *   noisy[e] = clean[e] + S * N(seed, stream i, element e),   e < 3*H*W (CHW order),
 * from include/pnp/philox.h, so a run is reproducible on any backend and any
 * thread count, and one image's noise does not depend on which others are given. */
#include <errno.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pnp/backend.h"
#include "pnp/cli.h"
#include "pnp/denoiser.h"
#include "pnp/h5io.h"
#include "pnp/error.h"
#include "pnp/image.h"
#include "pnp/philox.h"
#include "pnp/weights.h"

static const char *USAGE =
    "usage: pnp denoise --weights FILE [options] IN.png... (--out OUT.png | --out-dir DIR | --report)\n"
    "\n"
    "Denoise PNG images with a DRUNet, DnCNN or FFDNet. With --add-noise S each\n"
    "input is taken as the clean image: Gaussian noise of standard deviation S\n"
    "(on the [0,1] scale, not clipped) is added before denoising, image i drawing\n"
    "stream i of pnp's counter-based generator, and --report prints the PSNR of\n"
    "the noisy and the denoised image against the clean one (the denoised image\n"
    "rounded to 8 bits, as written).\n"
    "\n"
    "options:\n"
    "  --weights FILE     pnp HDF5 weights or a PyTorch .pth (zip or legacy)\n"
    "  --arch A           drunet, dncnn or ffdnet (default: recognised from the weights)\n"
    "  --sigma S          noise level in [0,1] given to the non-blind nets (drunet,\n"
    "                     ffdnet); default the --add-noise level; dncnn is blind\n"
    "  --add-noise S      add Gaussian noise of std S in [0,1] (25/255 = 0.098039)\n"
    "  --seed N           noise seed (default 0)\n"
    "  --backend B        cpu (default) or cuda\n"
    "  --precision P      fp32 (default) or bf16 (bfloat16 weights and conv inputs,\n"
    "                     float32 sums; cuda, or cpu with avx512_bf16)\n"
    "  --threads N        CPU threads (default: the CPUs this process may use)\n"
    "  --out FILE         output PNG (one input only)\n"
    "  --out-dir DIR      write each result as DIR/<input file name> (DIR is created)\n"
    "  --report           per-image PSNR of noisy and denoised vs clean, and the mean\n"
    "                     (needs --add-noise); outputs are optional then\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure (e.g. cannot create DIR), 2 bad usage,\n"
    "unreadable image or unusable weights.\n";

typedef struct {
    const char *weights, *arch, *backend, *precision, *out, *out_dir;
    double sigma, noise; /* < 0: not given */
    unsigned long long seed;
    int threads, report;
    const char **inputs;
    int n_inputs;
} denoise_opts;

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "pnp: denoise: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", USAGE);
    exit(2);
}

/* A number in [0, 1] (noise levels). */
static double parse_level(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end || errno || !(v >= 0.0 && v <= 1.0))
        usage_error("%s: expected a number in [0, 1] (25/255 = 0.098039)", opt);
    return v;
}

static unsigned long long parse_count(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10); /* decimal: "010" is ten, not eight */
    if (*s == '\0' || *s == '-' || *end || errno) usage_error("%s: expected a non-negative integer", opt);
    return v;
}

/* Returns 1 when --help was asked. Exits 2 on bad usage. */
static int parse(int argc, char **argv, denoise_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sigma = o->noise = -1.0;
    o->backend = "cpu";
    o->precision = "fp32";
    o->inputs = pnp_calloc((size_t)argc, sizeof *o->inputs);
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return 1;
        }
        if (!strcmp(a, "--report")) {
            o->report = 1;
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            o->inputs[o->n_inputs++] = a;
            continue;
        }
        static const char *with_value[] = {"--weights", "--arch", "--sigma", "--add-noise", "--seed",
                                           "--backend", "--precision", "--threads", "--out", "--out-dir"};
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; ++k) known |= !strcmp(a, with_value[k]);
        if (!known) usage_error("unknown option '%s'", a);
        if (!v) usage_error("%s needs a value", a);
        ++i;
        if (!strcmp(a, "--weights")) o->weights = v;
        else if (!strcmp(a, "--arch")) o->arch = v;
        else if (!strcmp(a, "--sigma")) o->sigma = parse_level(a, v);
        else if (!strcmp(a, "--add-noise")) o->noise = parse_level(a, v);
        else if (!strcmp(a, "--seed")) o->seed = parse_count(a, v);
        else if (!strcmp(a, "--backend")) o->backend = v;
        else if (!strcmp(a, "--precision")) o->precision = v;
        else if (!strcmp(a, "--threads")) {
            char err[512];
            const unsigned long long t = parse_count(a, v);
            if (t > 4096 || (o->threads = pnp_cli_threads((int)t, 1, err, sizeof err)) < 0) {
                fprintf(stderr, "pnp: %s\n", t > 4096 ? "--threads: at most 4096" : err);
                exit(2);
            }
        }
        else if (!strcmp(a, "--out")) o->out = v;
        else o->out_dir = v;
    }
    if (!o->weights) usage_error("%s", "--weights FILE is required");
    if (o->n_inputs == 0) usage_error("%s", "no input image given");
    if (o->out && o->out_dir) usage_error("%s", "give --out or --out-dir, not both");
    if (o->out && o->n_inputs > 1) usage_error("%s", "--out takes one input image; use --out-dir for several");
    if (!o->out && !o->out_dir && !o->report) usage_error("%s", "nothing to do: give --out, --out-dir or --report");
    if (o->report && o->noise < 0) usage_error("%s", "--report measures against the clean input: give --add-noise S");
    if (o->arch && strcmp(o->arch, "drunet") && strcmp(o->arch, "dncnn") && strcmp(o->arch, "ffdnet"))
        usage_error("--arch '%s': expected drunet, dncnn or ffdnet", o->arch);
    char why[256];
    if (pnp_backend_check(o->backend, o->precision, why, sizeof why)) usage_error("--backend/--precision: %s", why);
    return 0;
}

/* Every input opens (checked before any work, so a typo fails fast). */
static int check_inputs(const denoise_opts *o)
{
    for (int i = 0; i < o->n_inputs; ++i) {
        FILE *f = fopen(o->inputs[i], "rb");
        if (!f) {
            fprintf(stderr, "pnp: %s: cannot open image file: %s\n", o->inputs[i], strerror(errno));
            return -1;
        }
        fclose(f);
    }
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* x [n] += level * N(seed, stream, e): the unclipped Gaussian noise, on
 * threads threads (0: all cores), as --threads asks of the backend. */
static void add_noise(float *x, size_t n, double level, uint64_t seed, uint32_t stream, int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads > 0 ? threads : omp_get_max_threads())
    for (size_t e = 0; e < n; ++e) x[e] = (float)((double)x[e] + level * pnp_normal(seed, stream, e));
}

/* Image i: read, add noise, denoise, write, report. psnr[0..1] += noisy and
 * denoised PSNR. Returns 0, 2 (unreadable image) or 1 (write failure). */
static int denoise_one(const denoise_opts *o, pnp_backend *be, pnp_denoiser *dn, double sigma, int i, double psnr[2])
{
    const char *in = o->inputs[i];
    char err[1024];
    pnp_image clean;
    if (pnp_png_read(in, &clean, err, sizeof err)) {
        fprintf(stderr, "pnp: %s\n", err);
        return 2;
    }
    const int H = clean.h, W = clean.w;
    const size_t numel = pnp_image_numel(&clean), bytes = numel * sizeof(float);
    pnp_image y = pnp_image_alloc(3, H, W); /* [3,H,W]: noisy, then denoised */
    memcpy(y.data, clean.data, bytes);
    if (o->noise >= 0) add_noise(y.data, numel, o->noise, o->seed, (uint32_t)i, o->threads);
    const double psnr_noisy = pnp_psnr(y.data, clean.data, numel);

    const double t0 = now_s();
    float *x_dev = be->ops->alloc(be, bytes), *y_dev = be->ops->alloc(be, bytes);
    be->ops->upload(be, x_dev, y.data, bytes);
    pnp_denoiser_forward(dn, x_dev, 1, H, W, (float)sigma, y_dev);
    be->ops->download(be, y.data, y_dev, bytes);
    be->ops->free(be, x_dev);
    be->ops->free(be, y_dev);
    const double secs = now_s() - t0;
    pnp_quantize8(y.data, numel); /* as written, and as KAIR measures */

    int rc = 0;
    char path[4096] = "";
    if (o->out) snprintf(path, sizeof path, "%s", o->out);
    else if (o->out_dir) snprintf(path, sizeof path, "%s/%s", o->out_dir, base_name(in));
    if (path[0] && pnp_png_write(path, &y, err, sizeof err)) {
        fprintf(stderr, "pnp: %s\n", err);
        rc = 1;
    }
    if (o->report) {
        const double psnr_out = pnp_psnr(y.data, clean.data, numel);
        psnr[0] += psnr_noisy;
        psnr[1] += psnr_out;
        printf("[%d/%d] %s %dx%d: noisy %.3f dB, denoised %.3f dB (%+.3f), %.2f s\n", i + 1, o->n_inputs,
               base_name(in), H, W, psnr_noisy, psnr_out, psnr_out - psnr_noisy, secs);
    } else if (rc == 0) {
        printf("[%d/%d] %s %dx%d -> %s, %.2f s\n", i + 1, o->n_inputs, base_name(in), H, W, path, secs);
    }
    fflush(stdout);
    pnp_image_free(&clean);
    pnp_image_free(&y);
    return rc;
}

/* The network from --weights (and --arch), its sigma in *sigma, or NULL after
 * printing why (*rc: 2 unusable weights or missing sigma). */
static pnp_denoiser *load_denoiser(const denoise_opts *o, pnp_backend *be, double *sigma, int *blind, int *rc)
{
    pnp_state_dict sd;
    char arch[32], err[1024];
    if (pnp_weights_load(o->weights, &sd, arch, sizeof arch, err, sizeof err)) {
        fprintf(stderr, "pnp: %s\n", err);
        *rc = 2;
        return NULL;
    }
    if (o->arch) snprintf(arch, sizeof arch, "%s", o->arch);
    *blind = !strcmp(arch, "dncnn");
    *sigma = *blind ? 0.0 : (o->sigma >= 0 ? o->sigma : o->noise);
    pnp_denoiser *dn = NULL;
    if (*sigma < 0) {
        fprintf(stderr, "pnp: denoise: %s is not blind: give --sigma S (its noise level in [0,1])\n", arch);
        *rc = 2;
    } else if (!(dn = pnp_denoiser_create(be, arch, &sd, err, sizeof err))) {
        fprintf(stderr, "pnp: %s: %s (as %s)\n", o->weights, err, arch);
        *rc = 2;
    } else if (*blind && o->sigma >= 0) {
        fprintf(stderr, "pnp: note: dncnn is blind, --sigma is ignored\n");
    }
    pnp_weights_free(&sd);
    return dn;
}

int pnp_cmd_denoise(int argc, char **argv)
{
    denoise_opts o;
    int rc = parse(argc, argv, &o) ? -1 : check_inputs(&o) ? 2 : 0;
    if (rc) {
        free(o.inputs);
        return rc < 0 ? 0 : rc;
    }
    pnp_backend *be = pnp_backend_create(o.backend, o.precision, o.threads, 0);
    double sigma = 0;
    int blind = 0;
    pnp_denoiser *dn = load_denoiser(&o, be, &sigma, &blind, &rc);
    char dir[4200], err[4400];
    snprintf(dir, sizeof dir, "%s/", o.out_dir ? o.out_dir : ".");
    if (dn && o.out_dir && pnp_make_parent_dirs(dir, err, sizeof err)) {
        fprintf(stderr, "pnp: %s\n", err);
        rc = 1;
    }
    if (rc == 0) {
        printf("pnp denoise: %s (%s), backend %s, %s", pnp_denoiser_describe(dn), o.weights, o.backend, o.precision);
        if (!blind) printf(", model sigma %.6g", sigma);
        if (o.noise >= 0) printf(", added noise %.6g (seed %llu, unclipped)", o.noise, o.seed);
        printf("\n");
        double psnr[2] = {0, 0}; /* sums: noisy, denoised */
        for (int i = 0; i < o.n_inputs && rc == 0; ++i) rc = denoise_one(&o, be, dn, sigma, i, psnr);
        if (rc == 0 && o.report)
            printf("mean over %d images: noisy %.3f dB, denoised %.3f dB\n", o.n_inputs, psnr[0] / o.n_inputs,
                   psnr[1] / o.n_inputs);
    }
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
    free(o.inputs);
    return rc;
}
