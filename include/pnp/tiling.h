/* tiling.h - the denoiser's tiling of an image into overlapping windows, and
 * which rank runs which windows (DESIGN section 3). Pure host arithmetic: the
 * copying is done by the backend's gather_windows / pack_windows / unpack_windows.
 *
 * The image [c, H, W] is reflect-padded by `overlap` on every side, giving
 * [c, H + 2o, W + 2o]. Windows are win x win with win = patch + 2o (cut to the
 * padded size when the image is smaller). Along each axis the window starts
 * (padded coordinates) advance by `patch` and the last one is clamped to the
 * padded edge: for H = 2048, patch 448, overlap 32 the row starts are
 * 0, 448, 896, 1344, 1600. A window's interior (the halo of `overlap` cropped)
 * covers image rows [start, start + win - 2o); each window OWNS the part of its
 * interior that the previous window along the axis did not already own, so
 * every output pixel has exactly one owner and nothing is averaged.
 * Windows are numbered row-major; rank r of P runs the contiguous slab
 * [r*T/P, (r+1)*T/P) of the T windows. Every window has the same pixel count
 * (the last start is clamped, never cut), so this is also the assignment by
 * cost: the slabs' costs differ by at most one window, the least possible.
 *
 * patch_size auto: pnp_tiling_auto_patch picks, among the multiples of 8 that
 * fit the memory plan, the patch whose busiest rank has the least to denoise:
 * ceil(T/P) windows of win_h x win_w pixels (so every rank gets the same work
 * within one window, and no rank is left without a window where a smaller
 * patch avoids it), the largest such patch on a tie. */
#ifndef PNP_TILING_H
#define PNP_TILING_H

#include "pnp/backend_util.h" /* pnp_reflect_index: the padding of the windows */

typedef struct {
    int n;        /* windows along the axis */
    int *start;   /* [n] window start, padded coordinates */
    int *own0;    /* [n] first image index the window owns */
    int *own1;    /* [n] one past the last image index it owns */
} pnp_axis_tiles;

typedef struct {
    int h, w, patch, overlap;
    int win_h, win_w;       /* window size (patch + 2 overlap, cut to the padded image) */
    pnp_axis_tiles rows, cols;
    int count;              /* rows.n * cols.n */
} pnp_tiling;

/* Plan the tiling of an h x w image. Returns 0, or -1 with a message in err
 * (patch < 1, overlap < 0, or overlap >= h or w: reflect padding needs overlap
 * smaller than the image). */
int pnp_tiling_plan(int h, int w, int patch, int overlap, pnp_tiling *t, char *err, unsigned long errlen);
void pnp_tiling_free(pnp_tiling *t);

/* The slab of windows of rank `rank` among `ranks`: [*first, *first + *count). */
void pnp_tiling_slab(const pnp_tiling *t, int rank, int ranks, int *first, int *count);

/* patch_size auto for an h x w image tiled with `overlap` over `ranks` ranks:
 * the multiple of 8 in [8, max_patch] (max_patch: the largest one whose window
 * fits in memory; larger than the image: one window) that minimises
 * ceil(T/ranks) * win_h * win_w, the largest on a tie; 0 when max_patch < 8.
 * overlap must be valid for the image (pnp_tiling_plan). */
int pnp_tiling_auto_patch(int h, int w, int overlap, int ranks, int max_patch);

/* Window j (row-major) as the backend's gather/scatter arguments: its padded
 * start (y0, x0) and the rectangle it owns: source offset in the window
 * (sy, sx), destination in the image (dy, dx), size rows x cols. */
void pnp_tiling_window(const pnp_tiling *t, int j, int *y0, int *x0, int *sy, int *sx, int *dy, int *dx, int *rows,
                       int *cols);

#endif
