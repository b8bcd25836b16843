/* conv_cpu.c - single convolution layers on the CPU: pnp's CPU backend
 * (conv_create / conv_forward from build/libpnp.a) against oneDNN (Debian's
 * libdnnl, C API), on DRUNet's and DnCNN's layer shapes. Driven by
 * bench/conv_cpu.sh; results in bench/results/.
 *
 *   conv_cpu [--ours-only] [--reps N] [--only SUBSTRING] [--batch N] [--cpu-time]
 *            [--algos] [--precision fp32|bf16] [--drunet HxW]
 *
 * Per layer and batch: one untimed call, then N (default 7) timed calls; the
 * median time and GFLOP/s (2 n cout oh ow cin k k / t, the same count for the
 * transposed convolution) are printed as one markdown table row for
 *   ours        pnp's conv_forward, NCHW in and out (no ReLU, no residual);
 *   dnnl nchw   oneDNN with src/dst NCHW (plain, like ours);
 *   dnnl blk    oneDNN with src/dst in the layout it prefers (format "any",
 *               e.g. nChw16c), reorders excluded: the best it can do when a
 *               whole network stays in its layout;
 *   dnnl blk+r  the same plus the reorders NCHW -> blocked -> NCHW (what one
 *               layer costs when the rest of the engine speaks NCHW).
 * Weights are reordered once at setup for every variant (as pnp packs them at
 * conv_create). The last columns give oneDNN's implementation names and the
 * max relative difference between ours and dnnl nchw (a check that both
 * compute the same convolution). --cpu-time times with the process's CPU clock
 * instead of the wall clock: on a shared machine, with OMP_NUM_THREADS=1, it
 * counts the work of each variant whatever else runs (with more threads it
 * would also count OpenMP's spin-waiting). Without -DHAVE_DNNL (or with --ours-only) only
 * pnp is timed, which also works with an older build/libpnp.a.
 *
 * --algos times pnp's own algorithms side by side instead (no oneDNN): the
 * direct path and Winograd F(2x2,3x3) and F(4x4,3x3) (PNP_CONV_ALGO=direct,
 * winograd2, winograd4 at conv_create), on the 3x3 stride-1 layers (the
 * others run direct whatever is asked: "-"). Columns per algorithm: median
 * ms and GFLOP/s-equivalent (the direct method's count over the time), then
 * each Winograd's speed-up over direct and its max |y - y_direct| / max
 * |y_direct|. --precision bf16 runs the bf16 backend (AVX512_BF16);
 * --drunet HxW puts DRUNet's layers at an input of HxW (level k at H/2^k x
 * W/2^k) instead of 256x256. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include "pnp/backend.h"
#include "pnp/error.h"

typedef struct {
    const char *name;
    int cin, cout, h, w, k, stride, pad; /* h, w: input size */
    bool transposed;
    int net, count; /* network (0 DRUNet 256x256, 1 DnCNN 481x321) and how many such layers it has */
} layer;

static const layer layers[] = {
    {"drunet 3x3 64@256", 64, 64, 256, 256, 3, 1, 1, false, 0, 16},
    {"drunet 3x3 128@128", 128, 128, 128, 128, 3, 1, 1, false, 0, 16},
    {"drunet 3x3 256@64", 256, 256, 64, 64, 3, 1, 1, false, 0, 16},
    {"drunet 3x3 512@32", 512, 512, 32, 32, 3, 1, 1, false, 0, 8},
    {"drunet down 64->128 2x2s2 @256", 64, 128, 256, 256, 2, 2, 0, false, 0, 1},
    {"drunet down 128->256 2x2s2 @128", 128, 256, 128, 128, 2, 2, 0, false, 0, 1},
    {"drunet down 256->512 2x2s2 @64", 256, 512, 64, 64, 2, 2, 0, false, 0, 1},
    {"drunet up 512->256 T2x2s2 @32", 512, 256, 32, 32, 2, 2, 0, true, 0, 1},
    {"drunet up 256->128 T2x2s2 @64", 256, 128, 64, 64, 2, 2, 0, true, 0, 1},
    {"drunet up 128->64 T2x2s2 @128", 128, 64, 128, 128, 2, 2, 0, true, 0, 1},
    {"drunet head 4->64 @256", 4, 64, 256, 256, 3, 1, 1, false, 0, 1},
    {"drunet tail 64->3 @256", 64, 3, 256, 256, 3, 1, 1, false, 0, 1},
    {"dncnn 3x3 64@481x321", 64, 64, 321, 481, 3, 1, 1, false, 1, 18},
    {"dncnn head 3->64 @481x321", 3, 64, 321, 481, 3, 1, 1, false, 1, 1},
    {"dncnn tail 64->3 @481x321", 64, 3, 321, 481, 3, 1, 1, false, 1, 1},
};
static int batches[] = {1, 4}; /* --batch N: N alone */

static clockid_t clock_used = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(clock_used, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int out_size(const layer *l, int in, int *o)
{
    *o = l->transposed ? in * l->k : (in + 2 * l->pad - l->k) / l->stride + 1;
    return *o;
}

typedef void (*run_fn)(void *ctx);
enum { NVAR = 4, MAXREPS = 64 }; /* ours, dnnl nchw, dnnl blk, dnnl blk+r (or --algos: direct, F(2,3), F(4,3)) */
static const char *const ALGOS[3] = {"direct", "winograd2", "winograd4"};

/* Median seconds of each of the nv variants over reps rounds after one
 * warm-up round; the variants take turns within a round, so a change in the
 * machine's load (it is shared) falls on all of them alike. */
static void time_all(int nv, run_fn f[], void *ctx[], int reps, double med[])
{
    static double t[NVAR][MAXREPS];
    for (int v = 0; v < nv; ++v) f[v](ctx[v]);
    for (int r = 0; r < reps; ++r)
        for (int v = 0; v < nv; ++v) {
            const double t0 = now();
            f[v](ctx[v]);
            t[v][r] = now() - t0;
        }
    for (int v = 0; v < nv; ++v) {
        qsort(t[v], reps, sizeof t[v][0], cmp_double);
        med[v] = t[v][reps / 2];
    }
}

/* ---------------------------------------------------------------- pnp */

typedef struct {
    pnp_backend *be;
    pnp_conv *cv;
    pnp_act x, y;
} ours_ctx;

static void ours_run(void *p)
{
    ours_ctx *c = p;
    c->be->ops->conv_forward(c->cv, &c->x, &c->y, false, NULL);
}

/* ---------------------------------------------------------------- oneDNN */

#ifdef HAVE_DNNL
#define DN(call)                                                                                                     \
    do {                                                                                                             \
        dnnl_status_t st_ = (call);                                                                                  \
        if (st_ != dnnl_success) pnp_fatal("oneDNN: %s failed with status %d", #call, (int)st_);                   \
    } while (0)

typedef struct {
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_primitive_t conv, r_in, r_out; /* r_*: NCHW <-> the conv's layout (NULL when plain) */
    dnnl_memory_t src, wei, dst, src_nchw, dst_nchw;
    char impl[128];
} dnnl_ctx;

static dnnl_primitive_t make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to)
{
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    DN(dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL));
    DN(dnnl_primitive_create(&p, pd));
    dnnl_primitive_desc_destroy(pd);
    return p;
}

static void exec2(dnnl_primitive_t p, dnnl_stream_t st, dnnl_memory_t from, dnnl_memory_t to)
{
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DN(dnnl_primitive_execute(p, st, 2, a));
}

/* x: [n, cin, h, w] NCHW; w: PyTorch layout. blocked: let oneDNN choose src/dst layouts. */
static void dnnl_setup(dnnl_ctx *c, const layer *l, int n, const float *x, const float *w, bool blocked)
{
    memset(c, 0, sizeof *c);
    DN(dnnl_engine_create(&c->eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&c->st, c->eng, dnnl_stream_default_flags));
    int oh, ow;
    out_size(l, l->h, &oh), out_size(l, l->w, &ow);
    dnnl_dims_t sd = {n, l->cin, l->h, l->w}, dd = {n, l->cout, oh, ow}, wd = {l->cout, l->cin, l->k, l->k};
    dnnl_dims_t strides = {l->stride, l->stride}, pad = {l->pad, l->pad};
    dnnl_memory_desc_t src_plain, dst_plain, w_user, src_any, dst_any, w_any;
    DN(dnnl_memory_desc_init_by_tag(&src_plain, 4, sd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&dst_plain, 4, dd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&w_user, 4, wd, dnnl_f32, l->transposed ? dnnl_iohw : dnnl_oihw));
    DN(dnnl_memory_desc_init_by_tag(&src_any, 4, sd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&dst_any, 4, dd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
    const dnnl_memory_desc_t *s_md = blocked ? &src_any : &src_plain, *d_md = blocked ? &dst_any : &dst_plain;
    dnnl_primitive_desc_t pd;
    if (l->transposed) {
        dnnl_deconvolution_desc_t dc;
        DN(dnnl_deconvolution_forward_desc_init(&dc, dnnl_forward_inference, dnnl_deconvolution_direct, s_md, &w_any,
                                                NULL, d_md, strides, pad, pad));
        DN(dnnl_primitive_desc_create(&pd, &dc, NULL, c->eng, NULL));
    } else {
        dnnl_convolution_desc_t cd;
        DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, s_md, &w_any, NULL,
                                              d_md, strides, pad, pad));
        DN(dnnl_primitive_desc_create(&pd, &cd, NULL, c->eng, NULL));
    }
    const char *impl = NULL;
    DN(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    snprintf(c->impl, sizeof c->impl, "%s", impl);
    const dnnl_memory_desc_t *s_real = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *d_real = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *w_real = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    DN(dnnl_primitive_create(&c->conv, pd));

    /* weights: user layout -> the primitive's, once */
    dnnl_memory_t wu;
    DN(dnnl_memory_create(&wu, &w_user, c->eng, (void *)w));
    DN(dnnl_memory_create(&c->wei, w_real, c->eng, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_t rw = make_reorder(c->eng, &w_user, w_real);
    exec2(rw, c->st, wu, c->wei);
    DN(dnnl_stream_wait(c->st));
    dnnl_primitive_destroy(rw);
    dnnl_memory_destroy(wu);

    DN(dnnl_memory_create(&c->src_nchw, &src_plain, c->eng, DNNL_MEMORY_ALLOCATE));
    DN(dnnl_memory_create(&c->dst_nchw, &dst_plain, c->eng, DNNL_MEMORY_ALLOCATE));
    void *h;
    DN(dnnl_memory_get_data_handle(c->src_nchw, &h));
    memcpy(h, x, dnnl_memory_desc_get_size(&src_plain));
    if (dnnl_memory_desc_equal(s_real, &src_plain)) {
        c->src = c->src_nchw;
    } else {
        DN(dnnl_memory_create(&c->src, s_real, c->eng, DNNL_MEMORY_ALLOCATE));
        c->r_in = make_reorder(c->eng, &src_plain, s_real);
        exec2(c->r_in, c->st, c->src_nchw, c->src);
    }
    if (dnnl_memory_desc_equal(d_real, &dst_plain)) {
        c->dst = c->dst_nchw;
    } else {
        DN(dnnl_memory_create(&c->dst, d_real, c->eng, DNNL_MEMORY_ALLOCATE));
        c->r_out = make_reorder(c->eng, d_real, &dst_plain);
    }
    DN(dnnl_stream_wait(c->st));
    dnnl_primitive_desc_destroy(pd);
}

static void dnnl_conv_only(void *p)
{
    dnnl_ctx *c = p;
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, c->wei}, {DNNL_ARG_DST, c->dst}};
    DN(dnnl_primitive_execute(c->conv, c->st, 3, a));
    DN(dnnl_stream_wait(c->st));
}

static void dnnl_with_reorders(void *p)
{
    dnnl_ctx *c = p;
    if (c->r_in) exec2(c->r_in, c->st, c->src_nchw, c->src);
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, c->wei}, {DNNL_ARG_DST, c->dst}};
    DN(dnnl_primitive_execute(c->conv, c->st, 3, a));
    if (c->r_out) exec2(c->r_out, c->st, c->dst, c->dst_nchw);
    DN(dnnl_stream_wait(c->st));
}

static void dnnl_teardown(dnnl_ctx *c)
{
    if (c->r_in) dnnl_primitive_destroy(c->r_in), dnnl_memory_destroy(c->src);
    if (c->r_out) dnnl_primitive_destroy(c->r_out), dnnl_memory_destroy(c->dst);
    dnnl_primitive_destroy(c->conv);
    dnnl_memory_destroy(c->wei);
    dnnl_memory_destroy(c->src_nchw);
    dnnl_memory_destroy(c->dst_nchw);
    dnnl_stream_destroy(c->st);
    dnnl_engine_destroy(c->eng);
}
#endif

/* ---------------------------------------------------------------- main */

static void cell(double t, double flop)
{
    printf(" %.2f | %.1f |", 1e3 * t, flop / t * 1e-9);
}

int main(int argc, char **argv)
{
    bool ours_only = false;
    int reps = 7;
    const char *only = NULL;
    int batch = 0; /* 0: batches 1 and 4 */
    bool algos = false, bf16 = false;
    int dh = 256, dw = 256; /* DRUNet's input */
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--ours-only")) ours_only = true;
        else if (!strcmp(argv[i], "--algos")) algos = ours_only = true;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) bf16 = !strcmp(argv[++i], "bf16");
        else if (!strcmp(argv[i], "--drunet") && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &dh, &dw) != 2 || dh % 8 || dw % 8 || dh < 8 || dw < 8)
                pnp_fatal("--drunet HxW: multiples of 8 (got %s)", argv[i]);
        }
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time")) clock_used = CLOCK_PROCESS_CPUTIME_ID;
        else
            pnp_fatal("usage: conv_cpu [--ours-only] [--reps N] [--only SUBSTRING] [--batch N] [--cpu-time] [--algos] "
                      "[--precision fp32|bf16] [--drunet HxW]");
    }
    if (reps < 1 || reps > MAXREPS) pnp_fatal("--reps: 1 to %d", MAXREPS);
#ifndef HAVE_DNNL
    ours_only = true;
#endif
    int nb = sizeof batches / sizeof batches[0];
    if (batch) batches[0] = batch, nb = 1;
    const int nvar = algos ? 3 : ours_only ? 1 : NVAR;
    char drunet_name[64];
    snprintf(drunet_name, sizeof drunet_name, "DRUNet %dx%d", dh, dw);
    const char *netname[2] = {drunet_name, "DnCNN 481x321"};
    double total[2][2][NVAR] = {{{0}}}; /* [net][batch index][variant]: sum of count x median */
    bool complete[2] = {true, true};
    pnp_backend *be = pnp_backend_cpu_create(0, bf16);
    if (algos) {
        printf("| layer | n | GFLOP | direct ms | GF/s | F(2,3) ms | GF/s-eq | F(4,3) ms | GF/s-eq | F(2,3) speed-up | "
               "F(4,3) speed-up | F(2,3) max rel diff | F(4,3) max rel diff |\n");
        printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    } else {
        printf("| layer | n | GFLOP | ours ms | GF/s |%s\n",
               ours_only ? "" : " dnnl nchw ms | GF/s | dnnl blk ms | GF/s | dnnl blk+r ms | GF/s | dnnl impl (nchw / blk) | "
                                "max rel diff |");
        printf("|---|---|---|---|---|%s\n", ours_only ? "" : "---|---|---|---|---|---|---|---|");
    }
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; ++li)
        for (int bi = 0; bi < nb; ++bi) {
            layer ls = layers[li];
            const layer *l = &ls;
            if (l->net == 0) { /* DRUNet: at its level for an input of dh x dw */
                const int level = l->h == 256 ? 0 : l->h == 128 ? 1 : l->h == 64 ? 2 : 3;
                ls.h = dh >> level, ls.w = dw >> level;
                static char names[sizeof layers / sizeof layers[0]][96];
                char *at = strchr(l->name, '@');
                snprintf(names[li], sizeof names[li], "%.*s@%dx%d", (int)(at - l->name), l->name, ls.h, ls.w);
                ls.name = names[li];
            }
            const int n = batches[bi];
            if (only && !strstr(l->name, only)) {
                complete[l->net] = false;
                continue;
            }
            int oh, ow;
            out_size(l, l->h, &oh), out_size(l, l->w, &ow);
            const size_t nx = (size_t)n * l->cin * l->h * l->w, ny = (size_t)n * l->cout * oh * ow;
            const size_t nw = (size_t)l->cin * l->cout * l->k * l->k;
            const double flop = 2.0 * n * l->cin * l->cout * l->k * l->k * (l->transposed ? l->h * l->w : oh * ow);
            float *x = pnp_malloc(nx * sizeof(float)), *w = pnp_malloc(nw * sizeof(float));
            for (size_t i = 0; i < nx; ++i) x[i] = (float)((i * 7919 % 1000) / 1000.0 - 0.5);
            for (size_t i = 0; i < nw; ++i) w[i] = (float)((i * 104729 % 1000) / 1000.0 - 0.5) * 0.05f;

            ours_ctx oc = {be, NULL, {be->ops->alloc(be, nx * sizeof(float)), n, l->cin, l->h, l->w},
                           {be->ops->alloc(be, ny * sizeof(float)), n, l->cout, oh, ow}};
            be->ops->upload(be, oc.x.data, x, nx * sizeof(float));
            ours_ctx alg[3];
            run_fn f[NVAR] = {ours_run};
            void *ctx[NVAR] = {&oc};
            double med[NVAR];
            const bool wino_shape = l->k == 3 && l->stride == 1 && l->pad == 1 && !l->transposed;
            if (algos) /* one layer per algorithm, each with its own output */
                for (int a = 0; a < 3; ++a) {
                    setenv("PNP_CONV_ALGO", ALGOS[a], 1);
                    alg[a] = oc;
                    alg[a].y.data = be->ops->alloc(be, ny * sizeof(float));
                    alg[a].cv = be->ops->conv_create(be, l->cin, l->cout, l->k, l->stride, l->pad, l->transposed, w, NULL);
                    f[a] = ours_run, ctx[a] = &alg[a];
                }
            else
                oc.cv = be->ops->conv_create(be, l->cin, l->cout, l->k, l->stride, l->pad, l->transposed, w, NULL);
#ifdef HAVE_DNNL
            dnnl_ctx plain, blk;
            if (!ours_only) {
                dnnl_setup(&plain, l, n, x, w, false);
                dnnl_setup(&blk, l, n, x, w, true);
                f[1] = dnnl_conv_only, ctx[1] = &plain;
                f[2] = dnnl_conv_only, ctx[2] = &blk;
                f[3] = dnnl_with_reorders, ctx[3] = &blk;
            }
#endif
            time_all(algos && !wino_shape ? 1 : nvar, f, ctx, reps, med);
            printf("| %s | %d | %.2f |", l->name, n, flop * 1e-9);
            for (int v = 0; v < nvar; ++v) {
                if (algos && !wino_shape && v > 0) {
                    printf(" - | - |");
                    med[v] = med[0];
                } else
                    cell(med[v], flop);
                total[l->net][bi][v] += l->count * med[v];
            }
            if (algos) {
                for (int a = 1; a < 3; ++a) printf(wino_shape ? " %.2f |" : " - |", med[0] / med[a]);
                for (int a = 1; a < 3; ++a) {
                    const float *y0 = alg[0].y.data, *ya = alg[a].y.data;
                    double diff = 0, big = 0;
                    for (size_t i = 0; i < ny; ++i) {
                        diff = fmax(diff, fabs((double)ya[i] - y0[i]));
                        big = fmax(big, fabs((double)y0[i]));
                    }
                    printf(wino_shape ? " %.1e |" : " - |", diff / (big > 0 ? big : 1));
                }
                for (int a = 0; a < 3; ++a) be->ops->free(be, alg[a].y.data), be->ops->conv_destroy(alg[a].cv);
                unsetenv("PNP_CONV_ALGO");
            }
#ifdef HAVE_DNNL
            if (!ours_only) {
                void *yd;
                DN(dnnl_memory_get_data_handle(plain.dst_nchw, &yd));
                double diff = 0, big = 0;
                for (size_t i = 0; i < ny; ++i) {
                    const double d = fabs((double)((float *)yd)[i] - ((float *)oc.y.data)[i]);
                    const double m = fabs((double)((float *)yd)[i]);
                    diff = d > diff ? d : diff;
                    big = m > big ? m : big;
                }
                printf(" %s / %s | %.1e |", plain.impl, blk.impl, diff / (big > 0 ? big : 1));
                dnnl_teardown(&plain);
                dnnl_teardown(&blk);
            }
#endif
            printf("\n");
            fflush(stdout);
            be->ops->free(be, oc.x.data), be->ops->free(be, oc.y.data);
            if (oc.cv) be->ops->conv_destroy(oc.cv);
            free(x), free(w);
        }
    /* sums of the layers of each network: its convolutions alone, no other op */
    if (algos)
        printf("\n| network, convolutions only (sum of count x median) | n | direct s | F(2,3) s | F(4,3) s | "
               "F(2,3) speed-up | F(4,3) speed-up |\n|---|---|---|---|---|---|---|\n");
    else {
        printf("\n| network, convolutions only (sum of count x median) | n | ours s |%s\n",
               ours_only ? "" : " dnnl nchw s | dnnl blk s | dnnl blk+r s | best dnnl / ours |");
        printf("|---|---|---|%s\n", ours_only ? "" : "---|---|---|---|");
    }
    for (int net = 0; net < 2; ++net)
        for (int bi = 0; bi < nb && complete[net]; ++bi) {
            const double *t = total[net][bi];
            printf("| %s | %d | %.3f |", netname[net], batches[bi], t[0]);
            if (algos) printf(" %.3f | %.3f | %.2f | %.2f |", t[1], t[2], t[0] / t[1], t[0] / t[2]);
            if (!ours_only) {
                const double best = t[1] < t[2] ? t[1] : t[2];
                printf(" %.3f | %.3f | %.3f | %.2f |", t[1], t[2], t[3], best / t[0]);
            }
            printf("\n");
        }
    pnp_backend_destroy(be);
    return 0;
}
