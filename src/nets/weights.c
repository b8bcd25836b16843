/* weights.c - where named tensors come from: HDF5 weights files, PyTorch
 * checkpoints (through pth.c), deterministic random weights (include/pnp/weights.h). */
#include "pnp/weights.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/error.h"
#include "pnp/files.h"
#include "pnp/h5io.h"
#include "pnp/host.h"
#include "pnp/philox.h"
#include "pnp/pth.h"

/* ---------------------------------------------------------------- HDF5 */

typedef struct {
    pnp_state_dict *sd;
    const char *path;
    char *err;
    size_t errlen;
    int failed;
} h5_visit_ctx;

static herr_t read_one(hid_t loc, const char *name, const H5O_info_t *info, void *user)
{
    h5_visit_ctx *c = user;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    hid_t t = d >= 0 ? H5Dget_type(d) : -1;
    hsize_t dims[8];
    int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (d < 0 || s < 0 || t < 0 || nd < 0 || nd > 8 || H5Tget_class(t) != H5T_FLOAT) {
        snprintf(c->err, c->errlen, "%s: dataset '%s' is not a float tensor of at most 8 dimensions", c->path, name);
        c->failed = 1;
    } else {
        H5Sget_simple_extent_dims(s, dims, NULL);
        int64_t shape[8];
        double bytes = sizeof(float); /* what the tensor takes in memory, before it is allocated */
        for (int i = 0; i < nd; ++i) shape[i] = (int64_t)dims[i], bytes *= (double)dims[i];
        const double room = (double)pnp_host_free_bytes();
        if (bytes > room) {
            char a[32], b[32];
            snprintf(c->err, c->errlen, "%s: dataset '%s' holds %.3g elements (%s as float32), more than the %s of "
                     "free memory", c->path, name, bytes / sizeof(float), pnp_format_bytes(bytes, a, sizeof a),
                     pnp_format_bytes(room, b, sizeof b));
            c->failed = 1;
            H5Tclose(t), H5Sclose(s), H5Dclose(d);
            return 1;
        }
        pnp_tensor *tn = pnp_weights_add(c->sd, name, nd, shape, NULL);
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tn->data) < 0) {
            snprintf(c->err, c->errlen, "%s: cannot read dataset '%s' (truncated or corrupt file?)", c->path, name);
            c->failed = 1;
        }
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    return c->failed ? 1 : 0;
}

int pnp_weights_read_h5(const char *path, pnp_state_dict *sd, char *err, size_t errlen)
{
    memset(sd, 0, sizeof *sd);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        snprintf(err, errlen, "%s: %s", path, is < 0 ? "cannot open weights file" : "not an HDF5 file");
        return -1;
    }
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages instead of HDF5's stack dumps */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = 0;
    if (f < 0) {
        snprintf(err, errlen, "%s: cannot open HDF5 weights file (truncated?)", path);
        rc = -1;
    } else {
        h5_visit_ctx c = {sd, path, err, errlen, 0};
        /* visited in name order: deterministic whatever order the writer used */
        if (H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, read_one, &c) < 0 && !c.failed) {
            snprintf(err, errlen, "%s: cannot list the datasets (truncated or corrupt file?)", path);
            c.failed = 1;
        }
        if (!c.failed && sd->count == 0) {
            snprintf(err, errlen, "%s: no tensors in this file", path);
            c.failed = 1;
        }
        rc = c.failed ? -1 : 0;
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    if (rc) pnp_weights_free(sd);
    return rc;
}

int pnp_weights_write_h5(const char *path, const pnp_state_dict *sd, const char *architecture, char *err,
                         size_t errlen)
{
    pnp_h5 h;
    if (pnp_h5_create(&h, path, err, errlen)) return -1;
    pnp_h5_attr_str(h.file, "architecture", architecture);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5_CHECK(lcpl);
    H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1));
    for (int i = 0; i < sd->count; ++i) {
        const pnp_tensor *t = &sd->t[i];
        hsize_t dims[8];
        for (int d = 0; d < t->ndim; ++d) dims[d] = (hsize_t)t->shape[d];
        hid_t s = t->ndim ? H5Screate_simple(t->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
        H5_CHECK(s);
        /* names like "m_down1.0.res.0.weight" contain no '/', so they stay flat */
        hid_t d = H5Dcreate2(h.file, t->name, H5T_IEEE_F32LE, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        H5_CHECK(d);
        H5_CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data));
        H5_CHECK(H5Dclose(d));
        H5_CHECK(H5Sclose(s));
    }
    H5_CHECK(H5Pclose(lcpl));
    return pnp_h5_commit(&h, err, errlen);
}

/* -------------------------------------------------------------- random */

void pnp_weights_randomize(pnp_state_dict *sd, uint64_t seed)
{
    for (int ti = 0; ti < sd->count; ++ti) {
        pnp_tensor *t = &sd->t[ti];
        int64_t fan_in = 1;
        if (t->ndim >= 2) {
            fan_in = t->shape[1];
            for (int d = 2; d < t->ndim; ++d) fan_in *= t->shape[d];
        }
        const float bound = (float)(1.0 / sqrt((double)fan_in));
        const int64_t n = pnp_tensor_numel(t);
        for (int64_t e = 0; e < n; ++e) {
            pnp_philox_ctr c = {{(uint32_t)e, (uint32_t)((uint64_t)e >> 32), (uint32_t)ti, 0x77656967u}};
            c = pnp_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
            const float u = (float)((double)c.v[0] / 4294967296.0);
            t->data[e] = (2.0f * u - 1.0f) * bound;
        }
    }
}

/* ---------------------------------------------------------------- any */

/* Every value finite: a NaN or an infinity in the weights makes every output NaN. */
static int check_finite(const char *path, pnp_state_dict *sd, char *err, size_t errlen)
{
    for (int i = 0; i < sd->count; ++i) {
        const pnp_tensor *t = &sd->t[i];
        const int64_t n = pnp_tensor_numel(t);
        int64_t bad = 0, first = -1;
        for (int64_t e = 0; e < n; ++e)
            if (!isfinite(t->data[e]) && bad++ == 0) first = e;
        if (bad) {
            snprintf(err, errlen, "%s: tensor '%s' holds %lld non-finite value%s (%s at element %lld): refused", path,
                     t->name, (long long)bad, bad == 1 ? "" : "s", isnan(t->data[first]) ? "NaN" : "Inf",
                     (long long)first);
            return -1;
        }
    }
    return 0;
}

int pnp_weights_load(const char *path, pnp_state_dict *sd, char *arch, size_t archlen, char *err, size_t errlen)
{
    memset(sd, 0, sizeof *sd);
    unsigned char head[8] = {0};
    if (pnp_input_check(path, "weights file", err, errlen)) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open weights file", path);
        return -1;
    }
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    int rc = got == 8 && !memcmp(head, hdf5_sig, 8) ? pnp_weights_read_h5(path, sd, err, errlen)
                                                    : pnp_pth_read(path, sd, err, errlen);
    if (rc) return rc;
    if (check_finite(path, sd, err, errlen)) {
        pnp_weights_free(sd);
        return -1;
    }
    const pnp_tensor *first = pnp_weights_find(sd, "model.0.weight");
    if (pnp_weights_find(sd, "m_head.weight")) snprintf(arch, archlen, "drunet");
    else if (first && first->ndim == 4 && (first->shape[1] == 13 || first->shape[1] == 5)) /* colour, grey */
        snprintf(arch, archlen, "ffdnet");
    else if (first && first->ndim == 4 && (first->shape[1] == 3 || first->shape[1] == 1))
        snprintf(arch, archlen, "dncnn");
    else {
        snprintf(err, errlen, "%s: not DRUNet (m_head.weight), DnCNN or FFDNet (model.0.weight) weights", path);
        pnp_weights_free(sd);
        return -1;
    }
    return 0;
}
