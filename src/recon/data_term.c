/* data_term.c - the data-fidelity term over this rank's operators
 * (include/pnp/data_term.h), on the backend's blur ops and window ops.
 *
 * Buffers (backend memory): the blur operators on the domain of x [c, xh, xw]
 * (spectra, and for circular S and B), b [c, xh, xw] = sum_i A_i^T y_i (for the
 * value; pad also subtracts it in the gradient), and for pad two scratch
 * images of A_i / A_i^T, one on each domain: ext [c, xh, xw] and crop [c, h, w]. */
#include "pnp/data_term.h"

#include <math.h>
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
    float *cg_r, *cg_p, *cg_q; /* pad conjugate gradients / power method: [c, xh, xw] each, on first use */
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
    if (!be->ops->blur_gradient || !be->ops->blur_normal_window || !be->ops->blur_data_buffers ||
        !be->ops->blur_solve || !be->ops->gather_windows || !be->ops->dot)
        pnp_fatal("backend '%s' has no data-term operations yet", be->ops->name);
    if (g->kc != 1 && g->kc != g->c) pnp_fatal("data term: %d PSFs per operator for %d channels", g->kc, g->c);
    pnp_data_term *dt = pnp_calloc(1, sizeof *dt);
    dt->be = be;
    dt->comm = comm;
    dt->g = *g;
    dt->n = n;
    /* circular: even a rank without operators holds S and B (every rank's, after ready) */
    if (n > 0 || g->boundary == PNP_BOUNDARY_CIRCULAR)
        dt->blur = be->ops->blur_create(be, g->c, g->xh, g->xw, n, g->kc, g->kh, g->kw, kernels);
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
    be->ops->free(be, dt->cg_r);
    be->ops->free(be, dt->cg_p);
    be->ops->free(be, dt->cg_q);
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
    if (dt->g.boundary == PNP_BOUNDARY_CIRCULAR) {
        if (dt->comm) { /* S and B of every rank's operators, once */
            float *gram, *data;
            size_t gram_n, data_n;
            be->ops->blur_data_buffers(dt->blur, &gram, &gram_n, &data, &data_n);
            dt->comm->ops->allreduce_sum(dt->comm, gram, gram_n);
            dt->comm->ops->allreduce_sum(dt->comm, data, data_n);
        }
        /* b = A^T y = -grad f(0): the gradient of the zero image, negated */
        be->ops->zero(be, dt->b, sizeof(float) * n);
        be->ops->blur_gradient(dt->blur, dt->b, dt->b);
        be->ops->add_scaled(be, dt->b, dt->b, -2.0f, dt->b, n); /* b - 2b = -b, exact */
    } else if (dt->comm) {
        dt->comm->ops->allreduce_sum(dt->comm, dt->b, n);
    }
    if (dt->comm) {
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

/* out = sum_i A_i^T A_i x over every rank's operators (pad: the backend's
 * masked normal operator, one FFT pair per operator; collective with a comm).
 * out may alias x. */
static void normal_apply(pnp_data_term *dt, const float *x, float *out)
{
    pnp_backend *be = dt->be;
    const pnp_data_geometry *geo = &dt->g;
    const size_t n = x_numel(dt);
    if (dt->blur) be->ops->blur_normal_window(dt->blur, x, out, geo->oy, geo->ox, geo->h, geo->w);
    else be->ops->zero(be, out, sizeof(float) * n);
    if (dt->comm) dt->comm->ops->allreduce_sum(dt->comm, out, n);
}

void pnp_data_term_gradient(pnp_data_term *dt, const float *x, float *g)
{
    if (!dt->ready) pnp_fatal("data term: gradient before pnp_data_term_ready");
    if (dt->g.boundary == PNP_BOUNDARY_CIRCULAR) { /* S and B are every rank's: no communication */
        dt->be->ops->blur_gradient(dt->blur, x, g);
        return;
    }
    /* pad: sum_i A_i^T A_i x over the ranks, minus b (already every rank's) */
    normal_apply(dt, x, g);
    dt->be->ops->add_scaled(dt->be, g, g, -1.0f, dt->b, x_numel(dt));
}

const float *pnp_data_term_adjoint_y(const pnp_data_term *dt)
{
    if (!dt->ready) pnp_fatal("data term: A^T y before pnp_data_term_ready");
    return dt->b;
}

/* The pad scratch of the iterative methods below. */
static void iterative_scratch(pnp_data_term *dt)
{
    if (dt->cg_r) return;
    const size_t bytes = sizeof(float) * x_numel(dt);
    dt->cg_r = dt->be->ops->alloc(dt->be, bytes);
    dt->cg_p = dt->be->ops->alloc(dt->be, bytes);
    dt->cg_q = dt->be->ops->alloc(dt->be, bytes);
}

double pnp_data_term_lipschitz(pnp_data_term *dt, int *iterations)
{
    if (!dt->ready) pnp_fatal("data term: Lipschitz constant before pnp_data_term_ready");
    pnp_backend *be = dt->be;
    const pnp_backend_ops *o = be->ops;
    *iterations = 0;
    if (dt->g.boundary == PNP_BOUNDARY_CIRCULAR) { /* max over frequencies (and channels) of S */
        float *gram, *data;
        size_t gram_n, data_n;
        o->blur_data_buffers(dt->blur, &gram, &gram_n, &data, &data_n);
        float *host = pnp_malloc(sizeof(float) * gram_n);
        o->download(be, host, gram, sizeof(float) * gram_n);
        double top = 0;
        for (size_t t = 0; t < gram_n; ++t)
            if (host[t] > top) top = host[t];
        free(host);
        return top;
    }
    /* pad: the power method from a fixed pseudo-random start (the same on every rank):
     * v = w / |w|, w = N v, estimate <v, w> */
    const size_t n = x_numel(dt);
    iterative_scratch(dt);
    float *v = dt->cg_p, *w = dt->cg_q;
    o->zero(be, w, sizeof(float) * n);
    o->add_noise_clamp(be, w, n, 0x4c495053ull, 0, 0, 1.0f); /* N(0,1) clamped to [0, 1] */
    double lam = 0;
    for (int k = 1; k <= PNP_POWER_MAX_ITER; ++k) {
        const double norm = sqrt(o->dot(be, w, w, n));
        if (norm == 0) break;
        o->zero(be, v, sizeof(float) * n);
        o->add_scaled(be, v, v, (float)(1.0 / norm), w, n);
        normal_apply(dt, v, w);
        const double next = o->dot(be, v, w, n);
        *iterations = k;
        const bool done = k > 1 && fabs(next - lam) <= PNP_POWER_TOL * fabs(next);
        lam = next;
        if (done) break;
    }
    return lam;
}

void pnp_data_term_prepare_solve(pnp_data_term *dt)
{
    if (dt->g.boundary == PNP_BOUNDARY_PAD) iterative_scratch(dt);
}

int pnp_data_term_solve(pnp_data_term *dt, const float *z, float rho, float *x)
{
    if (!dt->ready) pnp_fatal("data term: solve before pnp_data_term_ready");
    if (!(rho > 0)) pnp_fatal("data term: solve with rho %g (must be > 0)", (double)rho);
    pnp_backend *be = dt->be;
    const pnp_backend_ops *o = be->ops;
    if (dt->g.boundary == PNP_BOUNDARY_CIRCULAR) {
        o->blur_solve(dt->blur, z, rho, x);
        return 0;
    }
    /* pad: conjugate gradients on (N + rho I) x = b + rho z from x = z (x = 0 without z) */
    const size_t n = x_numel(dt);
    iterative_scratch(dt);
    float *r = dt->cg_r, *p = dt->cg_p, *q = dt->cg_q;
    if (z && z != x) o->add_scaled(be, x, z, 0.0f, z, n); /* x = z (z + 0 z: a copy on the device) */
    if (!z) o->zero(be, x, sizeof(float) * n);
    /* r = b + rho z - (N + rho) x; |b + rho z| for the stopping test */
    o->add_scaled(be, q, dt->b, rho, x, n); /* with x = z: b + rho z */
    const double rhs = sqrt(o->dot(be, q, q, n));
    normal_apply(dt, x, p);
    o->add_scaled(be, p, p, rho, x, n);
    o->add_scaled(be, r, q, -1.0f, p, n);
    o->add_scaled(be, p, r, 0.0f, r, n);
    double rr = o->dot(be, r, r, n);
    int k = 0;
    while (k < PNP_CG_MAX_ITER && sqrt(rr) > PNP_CG_TOL * rhs) {
        normal_apply(dt, p, q);
        o->add_scaled(be, q, q, rho, p, n); /* q = (N + rho) p */
        const double alpha = rr / o->dot(be, p, q, n);
        o->add_scaled(be, x, x, (float)alpha, p, n);
        o->add_scaled(be, r, r, (float)-alpha, q, n);
        const double next = o->dot(be, r, r, n);
        o->add_scaled(be, p, r, (float)(next / rr), p, n);
        rr = next;
        ++k;
    }
    return k;
}

double pnp_data_term_value(pnp_data_term *dt, const float *x, const float *g)
{
    if (!dt->ready) pnp_fatal("data term: value before pnp_data_term_ready");
    pnp_backend *be = dt->be;
    const size_t n = x_numel(dt);
    return 0.5 * (be->ops->dot(be, x, g, n) - be->ops->dot(be, x, dt->b, n)) + dt->half_ysq;
}
