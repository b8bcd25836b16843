/* drunet_forward.c - time and memory of one DRUNet forward pass on pnp's
 * backend, for bench/drunet_forward.sh (which runs PyTorch beside it).
 *
 * Builds the full-width DRUNet (64,128,256,512, 4 blocks; or --spec) with
 * pnp's deterministic random weights (timing does not depend on the values),
 * denoises a batch [N,3,S,S] of the synthetic scene once to warm up (buffers
 * planned and allocated), then R more times, and prints one line of
 * key=value pairs:
 *   size, batch, threads, repeats, median_s, min_s (of the R timed passes),
 *   act_bytes     activations the forward pass plans (pnp_denoiser_activation_bytes),
 *   weight_bytes  weights held by the network,
 *   peak_bytes    the backend's allocation high-water mark (activations + the
 *                 input and output images),
 *   rss_base_bytes  resident memory (VmRSS) once network and input exist,
 *   rss_peak_bytes  peak resident memory during the passes (VmHWM, reset to the
 *                   current RSS just before the warm-up via /proc/self/clear_refs:
 *                   building the network briefly holds the weights twice, a
 *                   high-water mark that would otherwise hide the forward pass),
 *   rss_max_bytes   the process's lifetime max RSS (getrusage ru_maxrss, read
 *                   before the reset, which clears it too, and at the end).
 * The forward pass's memory is rss_peak_bytes - rss_base_bytes.
 *
 *   build/bench/drunet_forward [--size S] [--batch N] [--repeats R] [--threads T]
 *                              [--spec drunet:W0,W1,W2,W3:NB] [--backend cpu|cuda]
 *                              [--precision fp32|bf16] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "pnp/backend.h"
#include "pnp/denoiser.h"
#include "pnp/error.h"
#include "pnp/image.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static size_t max_rss_bytes(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (size_t)u.ru_maxrss * 1024; /* Linux: KiB */
}

/* A "Vm...:  N kB" line of /proc/self/status, in bytes (0 if absent). */
static size_t proc_status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0, n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') kb = strtoull(line + n + 1, NULL, 10);
    if (f) fclose(f);
    return kb * 1024;
}

/* Reset VmHWM to the current RSS (Linux >= 4.0); dies if that is not possible. */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f || fputs("5", f) < 0 || fclose(f) != 0) pnp_fatal("cannot reset the peak RSS via /proc/self/clear_refs");
}

/* ru_maxrss and VmHWM come from counters the kernel syncs lazily: take the largest. */
static size_t max3(size_t a, size_t b, size_t c)
{
    const size_t ab = a > b ? a : b;
    return ab > c ? ab : c;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int positive(const char *opt, const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 1 || v > 100000) {
        fprintf(stderr, "drunet_forward: %s: expected a positive integer, got '%s'\n", opt, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int size = 256, batch = 1, repeats = 3, threads = 0;
    const char *spec = "drunet", *backend = "cpu", *precision = "fp32";
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "drunet_forward: %s: missing value (see the header of bench/drunet_forward.c)\n", a);
            return 2;
        }
        ++i;
        if (!strcmp(a, "--size")) size = positive(a, v);
        else if (!strcmp(a, "--batch")) batch = positive(a, v);
        else if (!strcmp(a, "--repeats")) repeats = positive(a, v);
        else if (!strcmp(a, "--threads")) threads = positive(a, v);
        else if (!strcmp(a, "--spec")) spec = v;
        else if (!strcmp(a, "--backend")) backend = v;
        else if (!strcmp(a, "--precision")) precision = v;
        else {
            fprintf(stderr, "drunet_forward: unknown option '%s'\n", a);
            return 2;
        }
    }

    pnp_backend *be = pnp_backend_create(backend, precision, threads, 0);
    pnp_state_dict sd;
    char arch[32], err[512];
    if (pnp_denoiser_skeleton(spec, &sd, arch, sizeof arch, err, sizeof err)) {
        fprintf(stderr, "drunet_forward: %s\n", err);
        return 2;
    }
    pnp_weights_randomize(&sd, 0);
    pnp_denoiser *dn = pnp_denoiser_create(be, arch, &sd, err, sizeof err);
    if (!dn) pnp_fatal("%s", err);
    pnp_weights_free(&sd);

    /* input [batch, 3, size, size]: the synthetic scene in every slot */
    pnp_image scene = pnp_synthetic_scene(size, size, 1);
    const size_t numel = pnp_image_numel(&scene), bytes = numel * sizeof(float) * (size_t)batch;
    float *host = pnp_malloc(bytes);
    for (int b = 0; b < batch; ++b) memcpy(host + (size_t)b * numel, scene.data, numel * sizeof(float));
    pnp_image_free(&scene);
    float *x_dev = be->ops->alloc(be, bytes), *y_dev = be->ops->alloc(be, bytes);
    be->ops->upload(be, x_dev, host, bytes);
    const size_t rss_max_build = max_rss_bytes();
    reset_peak_rss();
    const size_t rss_base = proc_status_bytes("VmRSS");

    pnp_denoiser_forward(dn, x_dev, batch, size, size, 0.05f, y_dev); /* warm-up */
    double *t = pnp_malloc(sizeof(double) * (size_t)repeats);
    for (int r = 0; r < repeats; ++r) {
        const double t0 = now_s();
        pnp_denoiser_forward(dn, x_dev, batch, size, size, 0.05f, y_dev);
        be->ops->download(be, host, y_dev, bytes); /* also waits for a device to finish */
        t[r] = now_s() - t0;
    }
    const size_t rss_peak = proc_status_bytes("VmHWM"), rss_max_end = max_rss_bytes();
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    const double median = repeats % 2 ? t[repeats / 2] : 0.5 * (t[repeats / 2 - 1] + t[repeats / 2]);

    printf("size=%d batch=%d threads=%d repeats=%d median_s=%.4f min_s=%.4f act_bytes=%zu weight_bytes=%zu "
           "peak_bytes=%zu rss_base_bytes=%zu rss_peak_bytes=%zu rss_max_bytes=%zu net=\"%s\"\n",
           size, batch, omp_get_max_threads(), repeats, median, t[0],
           pnp_denoiser_activation_bytes(dn, batch, size, size), pnp_denoiser_weight_bytes(dn),
           be->ops->peak_bytes(be), rss_base, rss_peak, max3(rss_max_build, rss_max_end, rss_peak),
           pnp_denoiser_describe(dn));

    free(t);
    free(host);
    be->ops->free(be, x_dev);
    be->ops->free(be, y_dev);
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
    return 0;
}
