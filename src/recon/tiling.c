/* tiling.c - window starts, ownership and slabs (include/pnp/tiling.h). */
#include "pnp/tiling.h"

#include <stdio.h>
#include <stdlib.h>

#include "pnp/error.h"

/* One axis of length n padded by o on each side, windows of `win` advancing by patch. */
static void plan_axis(int n, int patch, int o, int win, pnp_axis_tiles *a)
{
    const int padded = n + 2 * o;
    a->n = (n + patch - 1) / patch;
    if (win >= padded) a->n = 1;
    a->start = pnp_malloc(sizeof(int) * a->n);
    a->own0 = pnp_malloc(sizeof(int) * a->n);
    a->own1 = pnp_malloc(sizeof(int) * a->n);
    int owned = 0;
    for (int k = 0; k < a->n; ++k) {
        int s = k * patch;
        if (s + win > padded) s = padded - win;
        a->start[k] = s;
        /* interior in image coordinates: [s, s + win - 2o) (padded s + o is image s);
         * the last window's interior ends at n because its start is clamped */
        const int end = s + win - 2 * o < n ? s + win - 2 * o : n;
        a->own0[k] = owned;
        a->own1[k] = end;
        owned = end;
    }
}

int pnp_tiling_plan(int h, int w, int patch, int overlap, pnp_tiling *t, char *err, unsigned long errlen)
{
    *t = (pnp_tiling){0};
    if (patch < 1) {
        snprintf(err, errlen, "patch_size %d: must be at least 1", patch);
        return -1;
    }
    if (overlap < 0 || overlap >= h || overlap >= w) {
        snprintf(err, errlen, "overlap %d: must be >= 0 and smaller than the image (%dx%d) for reflect padding",
                 overlap, h, w);
        return -1;
    }
    t->h = h, t->w = w, t->patch = patch, t->overlap = overlap;
    const int win = patch + 2 * overlap;
    t->win_h = win < h + 2 * overlap ? win : h + 2 * overlap;
    t->win_w = win < w + 2 * overlap ? win : w + 2 * overlap;
    plan_axis(h, patch, overlap, t->win_h, &t->rows);
    plan_axis(w, patch, overlap, t->win_w, &t->cols);
    t->count = t->rows.n * t->cols.n;
    return 0;
}

void pnp_tiling_free(pnp_tiling *t)
{
    free(t->rows.start), free(t->rows.own0), free(t->rows.own1);
    free(t->cols.start), free(t->cols.own0), free(t->cols.own1);
    *t = (pnp_tiling){0};
}

void pnp_tiling_slab(const pnp_tiling *t, int rank, int ranks, int *first, int *count)
{
    const long long T = t->count;
    const long long a = T * rank / ranks, b = T * (rank + 1) / ranks;
    *first = (int)a;
    *count = (int)(b - a);
}

int pnp_tiling_auto_patch(int h, int w, int overlap, int ranks, int max_patch)
{
    /* past the longer side every patch gives the same single window */
    const int longest = h > w ? h : w, top = (longest + 7) / 8 * 8;
    const int last = max_patch < top ? max_patch / 8 * 8 : top;
    int best = 0;
    double best_work = 0;
    char err[256];
    for (int patch = last; patch >= 8; patch -= 8) {
        pnp_tiling t;
        if (pnp_tiling_plan(h, w, patch, overlap, &t, err, sizeof err)) pnp_fatal("patch_size auto: %s", err);
        const double work = (double)((t.count + ranks - 1) / ranks) * t.win_h * t.win_w;
        pnp_tiling_free(&t);
        if (!best || work < best_work) best = patch, best_work = work;
    }
    return best;
}

void pnp_tiling_window(const pnp_tiling *t, int j, int *y0, int *x0, int *sy, int *sx, int *dy, int *dx, int *rows,
                       int *cols)
{
    const int r = j / t->cols.n, c = j % t->cols.n;
    *y0 = t->rows.start[r];
    *x0 = t->cols.start[c];
    *dy = t->rows.own0[r];
    *dx = t->cols.own0[c];
    *rows = t->rows.own1[r] - t->rows.own0[r];
    *cols = t->cols.own1[c] - t->cols.own0[c];
    /* window pixel q sits at padded start + q, i.e. image start + q - overlap */
    *sy = *dy - (*y0 - t->overlap);
    *sx = *dx - (*x0 - t->overlap);
}
