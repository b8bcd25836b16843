/* data_term.c - the data-fidelity term over this rank's operators
 * (include/pnp/data_term.h), on the backend's blur ops and window ops.
 *
 * Buffers (backend memory): the blur operators on the domain of x [c, xh, xw]
 * (spectra, and for circular S and B), b [c, xh, xw] = sum_i A_i^T y_i (for the
 * value; pad also subtracts it in the gradient), and for pad two scratch
 * images of A_i / A_i^T, one on each domain: ext [c, xh, xw] and crop [c, h, w]. */
#include "pnp/data_term.h"

#include <stdlib.h>
#include <string.h>

#include "pnp/error.h"

struct pnp_data_term {
    pnp_backend *be;
    pnp_comm *comm;       /* NULL: this rank's sum only */
    pnp_data_geometry g;
    int n;                /* operators */
    pnp_blur *blur;       /* n operators on [c, xh, xw] (NULL when n = 0) */
    float *b;             /* [c, xh, xw] sum_i A_i^T y_i: this rank's until ready(), then every rank's */
    double half_ysq;      /* 1/2 sum_i ||y_i||^2, likewise */
    float *ext, *crop;    /* pad scratch: [c, xh, xw], [c, h, w] */
    bool ready;
};

const char *pnp_boundary_name(pnp_boundary b) { return b == PNP_BOUNDARY_PAD ? "pad" : "circular"; }

int pnp_boundary_parse(const char *name, pnp_boundary *b)
{
    if (!strcmp(name, "pad")) *b = PNP_BOUNDARY_PAD;
    else if (!strcmp(name, "circular")) *b = PNP_BOUNDARY_CIRCULAR;
    else return -1;
    return 0;
}

pnp_data_geometry pnp_data_geometry_of(pnp_boundary boundary, int c, int h, int w, int kc, int kh, int kw)
{
    pnp_data_geometry g = {boundary, c, h, w, kc, kh, kw, h, w, 0, 0};
    if (boundary == PNP_BOUNDARY_PAD) {
        g.xh = h + kh - 1;
        g.xw = w + kw - 1;
        g.oy = kh - 1 - kh / 2;
        g.ox = kw - 1 - kw / 2;
    }
    return g;
}

int pnp_data_term_owned(bool distributed, int rank, int size, int n_ops, int *ids)
{
    int k = 0;
    for (int i = 0; i < n_ops; ++i)
        if (!distributed || i % size == rank) ids[k++] = i;
    return k;
}

static size_t x_numel(const pnp_data_term *dt) { return (size_t)dt->g.c * dt->g.xh * dt->g.xw; }
static size_t y_numel(const pnp_data_term *dt) { return (size_t)dt->g.c * dt->g.h * dt->g.w; }

pnp_data_term *pnp_data_term_create(pnp_backend *be, pnp_comm *comm, const pnp_data_geometry *g, int n,
                                    const float *kernels)
{
    if (!be->ops->blur_gradient || !be->ops->blur_normal_window || !be->ops->gather_windows || !be->ops->dot)
        pnp_fatal("backend '%s' has no data-term operations yet", be->ops->name);
    if (g->kc != 1 && g->kc != g->c) pnp_fatal("data term: %d PSFs per operator for %d channels", g->kc, g->c);
    pnp_data_term *dt = pnp_calloc(1, sizeof *dt);
    dt->be = be;
    dt->comm = comm;
    dt->g = *g;
    dt->n = n;
    if (n > 0) dt->blur = be->ops->blur_create(be, g->c, g->xh, g->xw, n, g->kc, g->kh, g->kw, kernels);
    dt->b = be->ops->alloc(be, sizeof(float) * x_numel(dt));
    if (g->boundary == PNP_BOUNDARY_PAD) {
        dt->ext = be->ops->alloc(be, sizeof(float) * x_numel(dt));
        dt->crop = be->ops->alloc(be, sizeof(float) * y_numel(dt));
    }
    return dt;
}

void pnp_data_term_destroy(pnp_data_term *dt)
{
    if (!dt) return;
    pnp_backend *be = dt->be;
    if (dt->blur) be->ops->blur_destroy(dt->blur);
    be->ops->free(be, dt->b);
    be->ops->free(be, dt->ext);
    be->ops->free(be, dt->crop);
    free(dt);
}

void pnp_data_term_crop(pnp_data_term *dt, const float *img, float *crop)
{
    const pnp_data_geometry *g = &dt->g;
    dt->be->ops->gather_windows(dt->be, img, g->c, g->xh, g->xw, 0, g->h, g->w, 1, &g->oy, &g->ox, crop);
}

/* img [c, xh, xw] = crop [c, h, w] in the measured region, zero elsewhere. */
static void embed_region(pnp_data_term *dt, const float *crop, float *img)
{
    const pnp_data_geometry *g = &dt->g;
    dt->be->ops->zero(dt->be, img, sizeof(float) * x_numel(dt));
    dt->be->ops->unpack_windows(dt->be, crop, g->c, 1, &g->oy, &g->ox, &g->h, &g->w, img, g->xh, g->xw);
}

void pnp_data_term_apply(pnp_data_term *dt, int l, const float *x, float *y, bool adjoint)
{
    if (l < 0 || l >= dt->n) pnp_fatal("data term: operator %d out of range [0, %d)", l, dt->n);
    const pnp_backend_ops *o = dt->be->ops;
    if (dt->g.boundary == PNP_BOUNDARY_CIRCULAR) {
        o->blur_apply(dt->blur, l, x, y, adjoint);
    } else if (!adjoint) {
        o->blur_apply(dt->blur, l, x, dt->ext, false);
        pnp_data_term_crop(dt, dt->ext, y);
    } else {
        embed_region(dt, x, dt->ext);
        o->blur_apply(dt->blur, l, dt->ext, y, true);
    }
}

void pnp_data_term_add(pnp_data_term *dt, int l, const float *y)
{
    if (dt->ready) pnp_fatal("data term: measurement added after pnp_data_term_ready");
    if (l < 0 || l >= dt->n) pnp_fatal("data term: operator %d out of range [0, %d)", l, dt->n);
    pnp_backend *be = dt->be;
    dt->half_ysq += 0.5 * be->ops->dot(be, y, y, y_numel(dt));
    if (dt->g.boundary == PNP_BOUNDARY_CIRCULAR) {
        be->ops->blur_add_data(dt->blur, l, y);
    } else { /* b += A_l^T y (into ext, the adjoint's own scratch) */
        pnp_data_term_apply(dt, l, y, dt->ext, true);
        be->ops->add_scaled(be, dt->b, dt->b, 1.0f, dt->ext, x_numel(dt));
    }
}

void pnp_data_term_ready(pnp_data_term *dt)
{
    pnp_backend *be = dt->be;
    const size_t n = x_numel(dt);
    if (dt->g.boundary == PNP_BOUNDARY_CIRCULAR && dt->blur) {
        /* b = A^T y = -grad f(0): the gradient of the zero image, negated */
        be->ops->zero(be, dt->b, sizeof(float) * n);
        be->ops->blur_gradient(dt->blur, dt->b, dt->b);
        be->ops->add_scaled(be, dt->b, dt->b, -2.0f, dt->b, n); /* b - 2b = -b, exact */
    }
    if (dt->comm) {
        dt->comm->ops->allreduce_sum(dt->comm, dt->b, n);
        /* the double as two floats (high part and remainder), summed over the ranks */
        float part[2] = {(float)dt->half_ysq, 0};
        part[1] = (float)(dt->half_ysq - (double)part[0]);
        float *dev = be->ops->alloc(be, sizeof part);
        be->ops->upload(be, dev, part, sizeof part);
        dt->comm->ops->allreduce_sum(dt->comm, dev, 2);
        be->ops->download(be, part, dev, sizeof part);
        be->ops->free(be, dev);
        dt->half_ysq = (double)part[0] + (double)part[1];
    }
    dt->ready = true;
}

void pnp_data_term_gradient(pnp_data_term *dt, const float *x, float *g)
{
    if (!dt->ready) pnp_fatal("data term: gradient before pnp_data_term_ready");
    pnp_backend *be = dt->be;
    const pnp_backend_ops *o = be->ops;
    const size_t n = x_numel(dt);
    if (dt->g.boundary == PNP_BOUNDARY_CIRCULAR) {
        if (dt->blur) o->blur_gradient(dt->blur, x, g);
        else o->zero(be, g, sizeof(float) * n);
        if (dt->comm) dt->comm->ops->allreduce_sum(dt->comm, g, n);
        return;
    }
    /* pad: sum_i A_i^T A_i x (the backend's masked normal operator: one FFT pair
     * per operator) over the ranks, minus b (already every rank's) */
    const pnp_data_geometry *geo = &dt->g;
    if (dt->blur) o->blur_normal_window(dt->blur, x, g, geo->oy, geo->ox, geo->h, geo->w);
    else o->zero(be, g, sizeof(float) * n);
    if (dt->comm) dt->comm->ops->allreduce_sum(dt->comm, g, n);
    o->add_scaled(be, g, g, -1.0f, dt->b, n);
}

double pnp_data_term_value(pnp_data_term *dt, const float *x, const float *g)
{
    if (!dt->ready) pnp_fatal("data term: value before pnp_data_term_ready");
    pnp_backend *be = dt->be;
    const size_t n = x_numel(dt);
    return 0.5 * (be->ops->dot(be, x, g, n) - be->ops->dot(be, x, dt->b, n)) + dt->half_ysq;
}
