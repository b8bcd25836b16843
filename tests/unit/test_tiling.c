/* test_tiling.c - the denoiser's windows (include/pnp/tiling.h) and the CPU
 * backend's gather/scatter of them:
 *  - window starts of the reference image (2048x1366, patch 448, overlap 32):
 *    rows 0,448,896,1344,1600 and columns 0,448,896,918;
 *  - for many sizes, patches and overlaps (patch larger than the image too),
 *    every output pixel has exactly one owner, inside its window's interior;
 *  - slabs: contiguous, cover every window once, for more ranks than windows;
 *  - gather = reflect padding (checked against an explicit reflect formula),
 *    and gather + scatter of the identity rebuilds the image exactly. */
#include <string.h>

#include "check.h"
#include "pnp/backend.h"
#include "pnp/error.h"
#include "pnp/tiling.h"

static int same(const int *a, const int *b, int n)
{
    for (int i = 0; i < n; ++i)
        if (a[i] != b[i]) return 0;
    return 1;
}

static void reference_starts(void)
{
    pnp_tiling t;
    char err[256];
    CHECK(pnp_tiling_plan(2048, 1366, 448, 32, &t, err, sizeof err) == 0, "plan 2048x1366 448/32");
    const int rows[] = {0, 448, 896, 1344, 1600}, cols[] = {0, 448, 896, 918};
    CHECK(t.rows.n == 5 && same(t.rows.start, rows, 5), "2048 rows: starts 0,448,896,1344,1600 (got %d: %d,%d,%d,%d,%d)",
          t.rows.n, t.rows.start[0], t.rows.n > 1 ? t.rows.start[1] : -1, t.rows.n > 2 ? t.rows.start[2] : -1,
          t.rows.n > 3 ? t.rows.start[3] : -1, t.rows.n > 4 ? t.rows.start[4] : -1);
    CHECK(t.cols.n == 4 && same(t.cols.start, cols, 4), "1366 columns: starts 0,448,896,918");
    CHECK(t.win_h == 512 && t.win_w == 512 && t.count == 20, "20 windows of 512x512");
    pnp_tiling_free(&t);
}

/* Every pixel owned exactly once, and by a window whose interior (halo cropped) contains it. */
static int ownership_ok(int h, int w, int patch, int overlap, char *why, size_t len)
{
    pnp_tiling t;
    char err[100];
    if (pnp_tiling_plan(h, w, patch, overlap, &t, err, sizeof err)) {
        snprintf(why, len, "plan failed: %.100s", err);
        return 0;
    }
    int *owner = pnp_calloc((size_t)h * w, sizeof(int)), ok = 1;
    for (int j = 0; j < t.count && ok; ++j) {
        int y0, x0, sy, sx, dy, dx, nr, nc;
        pnp_tiling_window(&t, j, &y0, &x0, &sy, &sx, &dy, &dx, &nr, &nc);
        if (sy < overlap && dy > 0) ok = 0, snprintf(why, len, "window %d owns rows in its top halo", j);
        if (sy + nr > t.win_h - overlap && dy + nr < h) ok = 0, snprintf(why, len, "window %d owns its bottom halo", j);
        if (sx < overlap && dx > 0) ok = 0, snprintf(why, len, "window %d owns columns in its left halo", j);
        if (sx + nc > t.win_w - overlap && dx + nc < w) ok = 0, snprintf(why, len, "window %d owns its right halo", j);
        if (y0 + sy != dy + overlap || x0 + sx != dx + overlap) ok = 0, snprintf(why, len, "window %d offsets", j);
        for (int r = 0; r < nr; ++r)
            for (int q = 0; q < nc; ++q) owner[(size_t)(dy + r) * w + dx + q]++;
    }
    for (size_t i = 0; ok && i < (size_t)h * w; ++i)
        if (owner[i] != 1) ok = 0, snprintf(why, len, "pixel (%zu,%zu) has %d owners", i / w, i % w, owner[i]);
    free(owner);
    pnp_tiling_free(&t);
    return ok;
}

static void every_pixel_one_owner(void)
{
    const int sizes[][2] = {{2048, 1366}, {96, 64}, {100, 37}, {33, 200}, {17, 17}, {1, 1}, {8, 300}};
    const int tilings[][2] = {{448, 32}, {32, 8}, {16, 0}, {24, 5}, {8, 3}, {512, 16}, {1, 0}};
    int cases = 0, bad = 0;
    char why[512] = "";
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; ++s)
        for (size_t k = 0; k < sizeof tilings / sizeof *tilings; ++k) {
            const int h = sizes[s][0], w = sizes[s][1], patch = tilings[k][0], ov = tilings[k][1];
            if (ov >= h || ov >= w) continue;
            if ((long)h * w / ((long)patch * patch) > 200000) continue;
            ++cases;
            char one[160];
            if (!ownership_ok(h, w, patch, ov, one, sizeof one)) {
                if (!bad) snprintf(why, sizeof why, "%dx%d %d/%d: %s", h, w, patch, ov, one);
                ++bad;
            }
        }
    CHECK(bad == 0, "every pixel has exactly one owner inside a window interior (%d size/tiling cases) %s", cases,
          why);
    pnp_tiling t;
    char err[256];
    CHECK(pnp_tiling_plan(40, 30, 448, 8, &t, err, sizeof err) == 0 && t.count == 1 && t.win_h == 56 &&
              t.win_w == 46,
          "patch larger than the image: one window, the whole padded image (56x46)");
    pnp_tiling_free(&t);
    CHECK(pnp_tiling_plan(40, 30, 16, 30, &t, err, sizeof err) == -1 && strstr(err, "overlap"),
          "overlap not smaller than the image is refused: %s", err);
}

static void slabs(void)
{
    pnp_tiling t;
    char err[256];
    pnp_tiling_plan(96, 64, 32, 8, &t, err, sizeof err); /* 3 x 2 windows */
    int ok = 1;
    for (int ranks = 1; ranks <= 9; ++ranks) {
        int next = 0;
        for (int r = 0; r < ranks; ++r) {
            int first, count;
            pnp_tiling_slab(&t, r, ranks, &first, &count);
            if (first != next || count < 0 || count > (t.count + ranks - 1) / ranks) ok = 0;
            next = first + count;
        }
        if (next != t.count) ok = 0;
    }
    CHECK(ok, "slabs are contiguous, balanced and cover the %d windows once for 1..9 ranks", t.count);
    pnp_tiling_free(&t);
}

static float pixel(int c, int y, int x) { return (float)(c * 10000 + y * 100 + x); }

static void gather_scatter(int h, int w, int patch, int ov)
{
    pnp_backend *be = pnp_backend_cpu_create(0, false);
    pnp_tiling t;
    char err[256];
    pnp_tiling_plan(h, w, patch, ov, &t, err, sizeof err);
    const size_t n = (size_t)3 * h * w, wn = (size_t)3 * t.win_h * t.win_w;
    float *img = pnp_malloc(n * 4), *back = pnp_calloc(n, 4), *win = pnp_malloc(wn * 4 * t.count);
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) img[((size_t)c * h + y) * w + x] = pixel(c, y, x);
    int *v = pnp_malloc(sizeof(int) * 8 * t.count);
    int *y0 = v, *x0 = v + t.count, *sy = v + 2 * t.count, *sx = v + 3 * t.count, *dy = v + 4 * t.count,
        *dx = v + 5 * t.count, *nr = v + 6 * t.count, *nc = v + 7 * t.count;
    for (int j = 0; j < t.count; ++j)
        pnp_tiling_window(&t, j, &y0[j], &x0[j], &sy[j], &sx[j], &dy[j], &dx[j], &nr[j], &nc[j]);
    be->ops->gather_windows(be, img, 3, h, w, ov, t.win_h, t.win_w, t.count, y0, x0, win);
    int bad = 0;
    for (int j = 0; j < t.count; ++j)
        for (int c = 0; c < 3; ++c)
            for (int r = 0; r < t.win_h; ++r)
                for (int q = 0; q < t.win_w; ++q) {
                    int iy = y0[j] + r - ov, ix = x0[j] + q - ov; /* reflect, edge not repeated */
                    iy = iy < 0 ? -iy : (iy >= h ? 2 * h - 2 - iy : iy);
                    ix = ix < 0 ? -ix : (ix >= w ? 2 * w - 2 - ix : ix);
                    bad += win[(((size_t)j * 3 + c) * t.win_h + r) * t.win_w + q] != pixel(c, iy, ix);
                }
    CHECK(bad == 0, "gather %dx%d %d/%d: %d windows equal the reflect-padded image (%d wrong)", h, w, patch, ov,
          t.count, bad);
    /* packed: each window's owned pixels, [3, rows, cols] one after another; their sum is the image */
    float *packed = pnp_malloc(n * 4);
    be->ops->pack_windows(be, win, 3, t.win_h, t.win_w, t.count, sy, sx, nr, nc, packed);
    size_t o = 0;
    bad = 0;
    for (int j = 0; j < t.count; ++j)
        for (int c = 0; c < 3; ++c)
            for (int r = 0; r < nr[j]; ++r)
                for (int q = 0; q < nc[j]; ++q) bad += packed[o++] != pixel(c, dy[j] + r, dx[j] + q);
    CHECK(bad == 0 && o == n, "pack %dx%d %d/%d: the owned pixels of every window in order, %zu of %zu (%d wrong)", h,
          w, patch, ov, o, n, bad);
    be->ops->unpack_windows(be, packed, 3, t.count, dy, dx, nr, nc, back, h, w);
    CHECK(memcmp(back, img, n * 4) == 0, "unpack of the packed windows rebuilds the %dx%d image exactly", h, w);
    free(img), free(back), free(win), free(v), free(packed);
    pnp_tiling_free(&t);
    pnp_backend_destroy(be);
}

int main(void)
{
    reference_starts();
    every_pixel_one_owner();
    slabs();
    gather_scatter(96, 64, 32, 8);
    gather_scatter(37, 50, 16, 5);
    gather_scatter(20, 12, 448, 4);
    CHECK_DONE();
}
