/* denoiser_forward.c - time and memory of denoiser forward passes on pnp's
 * backend, one line per input shape, many shapes in one process: the C side
 * of bench/drunet_forward.sh, bench/drunet_memory_curve.sh and
 * bench/batch_sweep.sh (which run PyTorch beside it), and the end-to-end
 * numbers of bench/conv_cpu.sh.
 *
 *   build/bench/denoiser_forward [--net SPEC|WEIGHTS] [--shapes "NxHxW ..."]
 *       [--repeats R] [--warmup each|first|none] [--threads T] [--backend cpu|cuda]
 *       [--precision fp32|bf16]
 *   build/bench/denoiser_forward --count-windows HxW:PATCH:OVERLAP
 *
 * --net: a skeleton spec ("drunet" = 64,128,256,512 with 4 blocks,
 * "drunet:W0,W1,W2,W3[:NB]", "dncnn", "ffdnet") with pnp's deterministic
 * random weights (timing does not depend on the values), or a weights file
 * (pnp_weights_load: HDF5 or .pth; any argument with a '/' or ending in .h5 or
 * .pth). Default "drunet".
 * --shapes: input shapes [N,3,H,W], separated by spaces or commas (default
 * "1x256x256"). The input is pnp's synthetic scene of size HxW in every slot.
 * --warmup: one untimed pass before the timed ones at every shape (each,
 * default), only at the first shape (first), or never (none); --repeats: timed
 * passes per shape (default 3; median and min are printed).
 * --count-windows: print the number of windows of pnp's denoiser tiling of an
 * HxW image (include/pnp/tiling.h, pnp_tiling_plan) as "windows=K" and exit.
 *
 * Each shape gets a fresh backend and network built from the same weights, so
 * nothing of an earlier shape stays allocated and the backend's high-water
 * mark is this shape's own. Per shape, after malloc_trim(0) (glibc hands freed
 * heap memory back) and the input's allocation, the kernel's RSS high-water
 * mark is reset (writing "5" to /proc/self/clear_refs, Linux >= 4.0), the
 * passes run, and one line of key=value pairs is printed and flushed (a sweep
 * cut short keeps the lines it printed):
 *   n, h, w, threads, repeats, warmup (untimed passes at this shape),
 *   median_s, min_s  over the timed passes (median: mean of the middle two for
 *                    an even count, as Python's statistics.median),
 *   cpu_s          the process's CPU time (user + system, all threads) per
 *                  timed pass, mean over the passes,
 *   util           cpu_s / (mean wall time x threads): about 1 when the
 *                  threads had their cores to themselves (OpenMP threads spin
 *                  while they wait), well below 1 when other processes took
 *                  turns on the cores (the machine is shared): a flag for
 *                  timings that contention stretched,
 *   act_bytes      activations the pass plans (pnp_denoiser_activation_bytes),
 *   weight_bytes   weights held by the network (float32 count),
 *   held_bytes     what the backend holds once the network is built, before
 *                  any image: its packed weights (the CPU backend's Winograd
 *                  layers hold transformed ones, larger),
 *   peak_bytes     the backend's allocation high-water mark (activations plus
 *                  input and output images; device memory on cuda),
 *   rss_base_bytes resident memory (VmRSS) once network and input exist,
 *   rss_peak_bytes peak resident memory over this shape's passes (VmHWM),
 *   fwd_bytes      rss_peak_bytes - rss_base_bytes: the forward pass's share,
 *   rss_max_bytes  the process's max RSS so far (getrusage ru_maxrss and the
 *                  VmHWM readings: the reset clears ru_maxrss too),
 *   checksum       sum of the last output (a check that the passes ran),
 *   net            the network's description.
 * After a warm-up at the same shape the timed passes reuse the planned
 * buffers; without one (--warmup first beyond the first shape, or none) the
 * first timed pass also allocates and first-touches its activation buffers,
 * as every PyTorch pass allocates its tensors. */
#include <malloc.h>
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
#include "pnp/tiling.h"
#include "pnp/weights.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU time of the whole process (all threads), user + system, in seconds. */
static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
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

/* Reset VmHWM (and ru_maxrss) to the current RSS; dies if that is not possible. */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f || fputs("5", f) < 0 || fclose(f) != 0) pnp_fatal("cannot reset the peak RSS via /proc/self/clear_refs");
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_sorted(const double *t, int n) { return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]); }

static int positive(const char *opt, const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 1 || v > 100000) {
        fprintf(stderr, "denoiser_forward: %s: expected a positive integer, got '%s'\n", opt, s);
        exit(2);
    }
    return (int)v;
}

typedef struct {
    int n, h, w;
} shape;

/* "1x128x1024 1x128x1032,4x512x512" -> shapes; exits 2 on a malformed entry. */
static int parse_shapes(const char *list, shape **out)
{
    char *copy = pnp_strdup(list), *save = NULL;
    int count = 0, cap = 16;
    shape *s = pnp_malloc(sizeof *s * (size_t)cap);
    for (char *tok = strtok_r(copy, " ,\t\n", &save); tok; tok = strtok_r(NULL, " ,\t\n", &save)) {
        shape v;
        char tail;
        if (sscanf(tok, "%dx%dx%d%c", &v.n, &v.h, &v.w, &tail) != 3 || v.n < 1 || v.h < 1 || v.w < 1) {
            fprintf(stderr, "denoiser_forward: --shapes: expected NxHxW, got '%s'\n", tok);
            exit(2);
        }
        if (count == cap) {
            shape *grown = pnp_malloc(sizeof *s * (size_t)(cap *= 2));
            memcpy(grown, s, sizeof *s * (size_t)count);
            free(s);
            s = grown;
        }
        s[count++] = v;
    }
    free(copy);
    if (!count) {
        fprintf(stderr, "denoiser_forward: --shapes: no shape given\n");
        exit(2);
    }
    *out = s;
    return count;
}

static int count_windows(const char *arg)
{
    int h, w, patch, overlap;
    char tail, err[256];
    pnp_tiling t;
    if (sscanf(arg, "%dx%d:%d:%d%c", &h, &w, &patch, &overlap, &tail) != 4) {
        fprintf(stderr, "denoiser_forward: --count-windows: expected HxW:PATCH:OVERLAP, got '%s'\n", arg);
        return 2;
    }
    if (pnp_tiling_plan(h, w, patch, overlap, &t, err, sizeof err)) {
        fprintf(stderr, "denoiser_forward: --count-windows: %s\n", err);
        return 2;
    }
    printf("windows=%d rows=%d cols=%d window=%dx%d\n", t.count, t.rows.n, t.cols.n, t.win_h, t.win_w);
    pnp_tiling_free(&t);
    return 0;
}

/* One shape: fresh backend and network, passes, one printed line. */
static void run_shape(const char *backend, const char *precision, int threads, const char *arch, const pnp_state_dict *sd, shape s,
                      int warmup, int repeats, size_t *rss_max)
{
    char err[512];
    malloc_trim(0);
    pnp_backend *be = pnp_backend_create(backend, precision, threads, 0);
    pnp_denoiser *dn = pnp_denoiser_create(be, arch, sd, err, sizeof err);
    if (!dn) pnp_fatal("%s", err);
    const size_t held = be->ops->peak_bytes(be);

    /* x, y: [n, 3, h, w]; the synthetic scene in every slot of x */
    pnp_image scene = pnp_synthetic_scene(s.h, s.w, 1);
    const size_t numel = pnp_image_numel(&scene), bytes = numel * sizeof(float) * (size_t)s.n;
    float *host = pnp_malloc(bytes);
    for (int b = 0; b < s.n; ++b) memcpy(host + (size_t)b * numel, scene.data, numel * sizeof(float));
    pnp_image_free(&scene);
    float *x_dev = be->ops->alloc(be, bytes), *y_dev = be->ops->alloc(be, bytes);
    be->ops->upload(be, x_dev, host, bytes);
    *rss_max = max_sz(*rss_max, max_rss_bytes());
    reset_peak_rss();
    const size_t rss_base = proc_status_bytes("VmRSS");

    for (int r = 0; r < warmup; ++r) pnp_denoiser_forward(dn, x_dev, s.n, s.h, s.w, 0.05f, y_dev);
    be->ops->sync(be);
    double *t = pnp_malloc(sizeof(double) * (size_t)repeats), wall = 0;
    const double cpu0 = cpu_s();
    for (int r = 0; r < repeats; ++r) {
        const double t0 = now_s();
        pnp_denoiser_forward(dn, x_dev, s.n, s.h, s.w, 0.05f, y_dev);
        be->ops->download(be, host, y_dev, bytes); /* also waits for a device to finish */
        t[r] = now_s() - t0;
        wall += t[r];
    }
    const double cpu = (cpu_s() - cpu0) / repeats;
    const size_t rss_peak = max_sz(proc_status_bytes("VmHWM"), proc_status_bytes("VmRSS"));
    *rss_max = max_sz(*rss_max, max_sz(max_rss_bytes(), rss_peak));
    double sum = 0;
    for (size_t i = 0; i < numel * (size_t)s.n; ++i) sum += host[i];
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);

    printf("n=%d h=%d w=%d threads=%d repeats=%d warmup=%d median_s=%.4f min_s=%.4f cpu_s=%.4f util=%.3f act_bytes=%zu "
           "weight_bytes=%zu held_bytes=%zu peak_bytes=%zu rss_base_bytes=%zu rss_peak_bytes=%zu fwd_bytes=%zu rss_max_bytes=%zu "
           "checksum=%.6g backend=%s precision=%s net=\"%s\"\n",
           s.n, s.h, s.w, omp_get_max_threads(), repeats, warmup, median_sorted(t, repeats), t[0], cpu,
           cpu * repeats / (wall * omp_get_max_threads()),
           pnp_denoiser_activation_bytes(dn, s.n, s.h, s.w), pnp_denoiser_weight_bytes(dn), held, be->ops->peak_bytes(be),
           rss_base, rss_peak, rss_peak - rss_base, *rss_max, sum, backend, precision, pnp_denoiser_describe(dn));
    fflush(stdout);

    free(t);
    free(host);
    be->ops->free(be, x_dev);
    be->ops->free(be, y_dev);
    pnp_denoiser_destroy(dn);
    pnp_backend_destroy(be);
}

int main(int argc, char **argv)
{
    int repeats = 3, threads = 0;
    const char *net = "drunet", *backend = "cpu", *precision = "fp32", *shapes_arg = "1x256x256", *warm = "each";
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "denoiser_forward: %s: missing value (see the header of bench/denoiser_forward.c)\n", a);
            return 2;
        }
        ++i;
        if (!strcmp(a, "--net")) net = v;
        else if (!strcmp(a, "--shapes")) shapes_arg = v;
        else if (!strcmp(a, "--repeats")) repeats = positive(a, v);
        else if (!strcmp(a, "--warmup")) warm = v;
        else if (!strcmp(a, "--threads")) threads = positive(a, v);
        else if (!strcmp(a, "--backend")) backend = v;
        else if (!strcmp(a, "--precision")) precision = v;
        else if (!strcmp(a, "--count-windows")) return count_windows(v);
        else {
            fprintf(stderr, "denoiser_forward: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (strcmp(warm, "each") && strcmp(warm, "first") && strcmp(warm, "none")) {
        fprintf(stderr, "denoiser_forward: --warmup: expected each, first or none, got '%s'\n", warm);
        return 2;
    }
    shape *shapes;
    const int count = parse_shapes(shapes_arg, &shapes);

    pnp_state_dict sd;
    char arch[32], err[512];
    const size_t len = strlen(net);
    const int is_file = strchr(net, '/') || (len > 3 && !strcmp(net + len - 3, ".h5")) ||
                        (len > 4 && !strcmp(net + len - 4, ".pth"));
    if (is_file ? pnp_weights_load(net, &sd, arch, sizeof arch, err, sizeof err)
                : pnp_denoiser_skeleton(net, &sd, arch, sizeof arch, err, sizeof err)) {
        fprintf(stderr, "denoiser_forward: %s\n", err);
        return 2;
    }
    if (!is_file) pnp_weights_randomize(&sd, 0);

    size_t rss_max = 0;
    for (int k = 0; k < count; ++k) {
        const int warmup = !strcmp(warm, "each") || (!strcmp(warm, "first") && k == 0);
        run_shape(backend, precision, threads, arch, &sd, shapes[k], warmup, repeats, &rss_max);
    }
    free(shapes);
    pnp_weights_free(&sd);
    return 0;
}
