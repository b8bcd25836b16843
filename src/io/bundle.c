/* bundle.c - the dataset bundle's writer and reader (layout in
 * include/pnp/bundle.h). The writer goes through h5io's checked helpers; the
 * reader returns messages naming the file and the dataset, never aborts. */
#include "pnp/bundle.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pnp/error.h"

int pnp_bundle_create(pnp_bundle_file *bf, const char *path, const pnp_config *cfg, const pnp_row *row,
                      const char *backend, const pnp_bundle *b, char *err, size_t errlen)
{
    memset(bf, 0, sizeof *bf);
    if (pnp_h5_create(&bf->h5, path, err, errlen)) return -1;
    const hid_t f = bf->h5.file;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    pnp_h5_provenance(f, cfg, row, backend, 1, host);
    pnp_h5_attr_str(f, "content", "dataset");
    pnp_h5_attr_str(f, "source", b->source);
    if (b->boundary) pnp_h5_attr_str(f, "boundary", b->boundary);

    if (b->ground_truth) {
        hsize_t gt_dims[3] = {(hsize_t)b->c, (hsize_t)b->h, (hsize_t)b->w};
        hid_t gt = pnp_h5_create_f32(f, "ground_truth", 3, gt_dims);
        H5_CHECK(H5Dwrite(gt, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b->ground_truth));
        pnp_h5_attr_str(gt, "layout", "CHW");
        pnp_h5_attr_str(gt, "source", b->source);
        H5_CHECK(H5Dclose(gt));
    }

    hsize_t k_dims[4] = {(hsize_t)b->n, (hsize_t)b->kc, (hsize_t)b->kh, (hsize_t)b->kw};
    const int per_channel = b->kc > 1;
    if (!per_channel) k_dims[1] = (hsize_t)b->kh, k_dims[2] = (hsize_t)b->kw;
    hid_t kd = pnp_h5_create_f32(f, "kernels", per_channel ? 4 : 3, k_dims);
    H5_CHECK(H5Dwrite(kd, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b->kernels));
    pnp_h5_attr_str(kd, "layout", per_channel ? "NCHW (rows, columns); centred at (h/2, w/2); sum 1 per channel"
                                              : "NHW (rows, columns); centred at (h/2, w/2); sum 1");
    if (b->angles) {
        pnp_h5_attr_doubles(kd, "angles_deg", b->angles, (size_t)b->n);
        pnp_h5_attr_double(kd, "sigma_row", b->sigma_row);
        pnp_h5_attr_double(kd, "sigma_col", b->sigma_col);
    }
    H5_CHECK(H5Dclose(kd));

    hsize_t m_dims[4] = {(hsize_t)b->n, (hsize_t)b->c, (hsize_t)b->h, (hsize_t)b->w};
    bf->measurements = pnp_h5_create_f32(f, "measurements", 4, m_dims);
    pnp_h5_attr_str(bf->measurements, "layout", "NCHW");
    pnp_h5_attr_double(bf->measurements, "noise_level", b->noise_level);
    if (b->angles) pnp_h5_attr_int(bf->measurements, "seed", b->seed);
    return 0;
}

void pnp_bundle_add_measurement(pnp_bundle_file *bf, int i, const float *y)
{
    pnp_h5_write_f32_at(bf->measurements, (hsize_t)i, y);
}

int pnp_bundle_commit(pnp_bundle_file *bf, char *err, size_t errlen)
{
    H5_CHECK(H5Dclose(bf->measurements));
    return pnp_h5_commit(&bf->h5, err, errlen);
}

/* ------------------------------------------------------------- reading */

static int load(hid_t f, const char *path, pnp_file_role role, int first, int count, pnp_file_info *info, float *out,
                char *err, size_t errlen)
{
    const char *name = role == PNP_ROLE_MEASUREMENTS ? "measurements" : role == PNP_ROLE_PSFS ? "kernels"
                                                                                               : "ground_truth";
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        snprintf(err, errlen, "%s: /%s: not found (a pnp dataset bundle holds /measurements, /kernels and, with a "
                 "ground truth, /ground_truth)", path, name);
        return -1;
    }
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t s = d >= 0 ? H5Dget_space(d) : -1, t = d >= 0 ? H5Dget_type(d) : -1;
    hsize_t dims[4] = {0, 0, 0, 0};
    const int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    int rc = 0;
    if (d < 0 || s < 0 || t < 0 || nd < 2 || nd > 4 || H5Tget_class(t) != H5T_FLOAT) {
        snprintf(err, errlen, "%s: /%s: not a float dataset of 2 to 4 dimensions", path, name);
        rc = -1;
    } else {
        H5Sget_simple_extent_dims(s, dims, NULL);
        long long nchw[4] = {1, 1, 1, 1};
        for (int k = 0; k < nd; ++k) nchw[4 - nd + k] = (long long)dims[k];
        if (role == PNP_ROLE_PSFS && nd == 3) nchw[0] = nchw[1], nchw[1] = 1; /* [n, kh, kw] */
        *info = (pnp_file_info){(int)nchw[0], (int)nchw[1], (int)nchw[2], (int)nchw[3], nd, "", "HDF5"};
        snprintf(info->type, sizeof info->type, "%s", H5Tget_size(t) == 8 ? "float64" : "float32");
        if (count > 0 && (first < 0 || first + count > info->n)) {
            snprintf(err, errlen, "%s: /%s: images %d..%d asked, it holds %d", path, name, first, first + count - 1,
                     info->n);
            rc = -1;
        } else if (count > 0) { /* images first .. first + count - 1: along the first axis when it counts them */
            const int stacked = nd == 4 || (role == PNP_ROLE_PSFS && nd == 3);
            hsize_t fstart[4] = {0, 0, 0, 0}, fcount[4], len = (hsize_t)count * info->c * info->h * info->w;
            for (int k = 0; k < nd; ++k) fcount[k] = dims[k];
            if (stacked) fstart[0] = (hsize_t)first, fcount[0] = (hsize_t)count;
            hid_t mem = H5Screate_simple(1, &len, NULL);
            if (H5Sselect_hyperslab(s, H5S_SELECT_SET, fstart, NULL, fcount, NULL) < 0 ||
                H5Dread(d, H5T_NATIVE_FLOAT, mem, s, H5P_DEFAULT, out) < 0) {
                snprintf(err, errlen, "%s: /%s: read error (truncated or corrupt file?)", path, name);
                rc = -1;
            }
            H5Sclose(mem);
        }
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    return rc;
}

int pnp_bundle_load(const char *path, pnp_file_role role, int first, int count, pnp_file_info *info, float *out,
                    char *err, size_t errlen)
{
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages instead of HDF5's stack dumps */
    int rc = 0;
    const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(err, errlen, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
        rc = -1;
    } else {
        rc = load(f, path, role, first, count, info, out, err, errlen);
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc;
}
