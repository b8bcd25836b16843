/* observed.c - the `observed` dataset (include/pnp/problem.h): measurements,
 * PSFs and an optional reference read from the user's files (the formats of
 * include/pnp/imgfile.h), checked before anything runs.
 *
 * Checks (the headers' in pnp_observed_files_open, include/pnp/imgfile.h),
 * each a message naming the file and what is wrong: no file matches a
 * pattern; shapes or channel counts differ; measurements of other than 1 or 3
 * channels; as many PSFs as measurements; PSFs of 1 channel or one per
 * channel, no larger than the measurements, finite, non-negative, not all
 * zero; finite measurements and reference, within [-1, 2] (a little outside
 * [0,1] is a note); the reference of the measurements' shape. PSFs are
 * normalised to sum 1 (per channel), with a note when they were not. Every
 * rank reads every header, all PSFs and the reference, and the pixels of its
 * own measurements only. */
#include "observed.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/error.h"
#include "pnp/imgfile.h"

/* Append a line to the problem's notes. */
static void note(pnp_problem *p, const char *fmt, ...) PNP_PRINTF(2, 3);
static void note(pnp_problem *p, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const size_t used = p->notes ? strlen(p->notes) : 0;
    p->notes = realloc(p->notes, used + strlen(line) + 12);
    if (!p->notes) pnp_fatal("out of memory");
    snprintf(p->notes + used, strlen(line) + 12, "  note: %s\n", line);
}

/* Check and normalise PSF k ([kc, kh, kw] in kernel); 0 or -1 with err. */
static int check_psf(const pnp_image_set *s, int k, float *kernel, pnp_problem *p, char *err, size_t errlen)
{
    char name[4200];
    pnp_image_set_name(s, k, name, sizeof name);
    const size_t plane = (size_t)p->kh * p->kw;
    for (int ch = 0; ch < p->kc; ++ch) {
        float *t = kernel + plane * ch;
        double sum = 0;
        for (size_t e = 0; e < plane; ++e) {
            if (t[e] < 0) {
                snprintf(err, errlen, "%s: PSF value %g < 0 at (channel %d, row %zu, column %zu); a PSF must be "
                         "non-negative", name, t[e], ch, e / p->kw, e % p->kw);
                return -1;
            }
            sum += t[e];
        }
        if (!(sum > 0)) {
            snprintf(err, errlen, "%s: PSF%s is all zero", name, p->kc > 1 ? " channel" : "");
            return -1;
        }
        char which[32] = "";
        if (p->kc > 1) snprintf(which, sizeof which, " (channel %d)", ch);
        if (fabs(sum - 1) > 1e-5) note(p, "PSF %s%s sums to %.6g, not 1: normalised to sum 1", name, which, sum);
        for (size_t e = 0; e < plane; ++e) t[e] = (float)(t[e] / sum);
    }
    return 0;
}

/* Values that leave [0,1]: a little (noise around dark or bright pixels) is a
 * note; far (beyond [-1, 2]: data in counts or 8-bit units) is an error, since
 * the denoisers and the clamp of x assume [0,1]. 0, or -1 with err. */
static int range_check(pnp_problem *p, const pnp_image_set *s, int k, const float *img, size_t n, const char *what,
                       char *err, size_t errlen)
{
    float lo = img[0], hi = img[0];
    for (size_t e = 1; e < n; ++e) lo = img[e] < lo ? img[e] : lo, hi = img[e] > hi ? img[e] : hi;
    if (lo >= -1e-3f && hi <= 1.001f) return 0;
    char name[4200];
    pnp_image_set_name(s, k, name, sizeof name);
    if (lo < -1 || hi > 2) {
        snprintf(err, errlen, "%s %s has values in [%g, %g], far outside [0, 1] where pnp's denoisers work: scale "
                 "the data to [0, 1] (e.g. divide by the detector's full scale or by %g)", what, name, lo, hi, hi);
        return -1;
    }
    note(p, "%s %s has values in [%g, %g], a little outside [0, 1] (noise is fine; pnp's denoisers and the clamp "
         "of x work in [0, 1])", what, name, lo, hi);
    return 0;
}

/* p->kernels [n_ops, kc, kh, kw] <- every PSF of the set, checked and normalised; 0 or -1 with err. */
static int read_psfs(const pnp_image_set *ps, pnp_problem *p, char *err, size_t errlen)
{
    const size_t kk = (size_t)p->kc * p->kh * p->kw;
    p->kernels = pnp_malloc(sizeof(float) * kk * p->n_ops);
    for (int k = 0; k < p->n_ops; ++k)
        if (pnp_image_set_read(ps, k, p->kernels + kk * k, err, errlen) ||
            check_psf(ps, k, p->kernels + kk * k, p, err, errlen))
            return -1;
    return 0;
}

int pnp_observed_check(const pnp_row *row, char *err, size_t errlen)
{
    pnp_image_set ms, ps, rs;
    if (pnp_observed_files_open(row->measurements, row->psfs, row->reference, &ms, &ps, &rs, err, errlen)) return -1;
    pnp_problem p = {.n_ops = ms.n, .kc = ps.c, .kh = ps.h, .kw = ps.w};
    const int rc = read_psfs(&ps, &p, err, errlen);
    free(p.kernels), free(p.notes);
    pnp_image_set_free(&ms), pnp_image_set_free(&ps), pnp_image_set_free(&rs);
    return rc;
}

int pnp_observed_build(const pnp_row *row, int rank, int size, pnp_problem *p, char *err, size_t errlen)
{
    pnp_image_set ms = {0}, ps = {0}, rs = {0};
    int rc = -1;
    p->observed = true;
    if (pnp_boundary_parse(row->boundary, &p->boundary)) {
        snprintf(err, errlen, "boundary '%s': expected pad or circular", row->boundary);
        return -1;
    }
    if (pnp_observed_files_open(row->measurements, row->psfs, row->reference, &ms, &ps, &rs, err, errlen))
        return -1;
    p->c = ms.c, p->h = ms.h, p->w = ms.w;
    p->n_ops = ms.n, p->kc = ps.c, p->kh = ps.h, p->kw = ps.w;
    snprintf(p->source, sizeof p->source, "observed %s (%d image%s, %s %s)", row->measurements, ms.n,
             ms.n == 1 ? "" : "s", ms.info[0].format, ms.info[0].type);

    const size_t numel = (size_t)p->c * p->h * p->w;
    if (read_psfs(&ps, p, err, errlen)) goto done;

    if (row->reference[0]) {
        p->truth = pnp_image_alloc(p->c, p->h, p->w);
        if (pnp_image_set_read(&rs, 0, p->truth.data, err, errlen)) goto done;
        if (range_check(p, &rs, 0, p->truth.data, numel, "the reference", err, errlen)) goto done;
    }

    int *ids = pnp_malloc(sizeof(int) * p->n_ops);
    p->n_own = pnp_data_term_owned(row->distribute_physics, rank, size, p->n_ops, ids);
    p->measured = pnp_malloc(sizeof(float) * numel * (p->n_own > 0 ? p->n_own : 1));
    rc = 0;
    for (int l = 0; l < p->n_own && !rc; ++l) {
        rc = pnp_image_set_read(&ms, ids[l], p->measured + numel * l, err, errlen);
        if (!rc) rc = range_check(p, &ms, ids[l], p->measured + numel * l, numel, "measurement", err, errlen);
    }
    free(ids);
done:
    pnp_image_set_free(&ms);
    pnp_image_set_free(&ps);
    pnp_image_set_free(&rs);
    return rc;
}
