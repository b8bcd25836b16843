/* golden.h - read the committed golden tensors (tests/golden/ *.h5, made by
 * tests/golden/make_golden.py with deepinv/PyTorch) from the C tests. */
#ifndef PNP_TEST_GOLDEN_H
#define PNP_TEST_GOLDEN_H

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/h5io.h"

/* Path of a golden file: $PNP_GOLDEN_DIR or tests/golden. */
static inline const char *golden_path(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("PNP_GOLDEN_DIR");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/golden", name);
    return buf;
}

/* A file under the shared data folder: $PNP_SHARED/data (default ../shared/data). */
static inline const char *shared_path(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("PNP_SHARED");
    snprintf(buf, sizeof buf, "%s/data/%s", dir ? dir : "../shared", rel);
    return buf;
}

static inline hid_t golden_open(const char *name)
{
    hid_t f = H5Fopen(golden_path(name), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) pnp_fatal("cannot open golden file %s", golden_path(name));
    return f;
}

/* Read a whole dataset as float (or int with H5T_NATIVE_INT); dims may be NULL. */
static inline void *golden_read(hid_t loc, const char *name, hid_t mem_type, int *rank, hsize_t *dims)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) pnp_fatal("golden dataset %s missing", name);
    hid_t s = H5Dget_space(d);
    hsize_t local[8];
    int r = H5Sget_simple_extent_dims(s, dims ? dims : local, NULL);
    hsize_t n = 1;
    for (int i = 0; i < r; ++i) n *= (dims ? dims : local)[i];
    void *buf = pnp_malloc(n * H5Tget_size(mem_type));
    H5_CHECK(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
    H5Sclose(s);
    H5Dclose(d);
    if (rank) *rank = r;
    return buf;
}

static inline double golden_attr_double(hid_t loc, const char *obj, const char *name)
{
    double v = 0;
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) pnp_fatal("golden attribute %s/%s missing", obj, name);
    H5_CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &v));
    H5Aclose(a);
    return v;
}

/* A string attribute (fixed or variable length) into buf. */
static inline void golden_attr_str(hid_t loc, const char *obj, const char *name, char *buf, size_t len)
{
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) pnp_fatal("golden attribute %s/%s missing", obj, name);
    hid_t t = H5Aget_type(a);
    if (H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        H5_CHECK(H5Aread(a, mt, &s));
        snprintf(buf, len, "%s", s);
        H5free_memory(s);
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(t);
        char *tmp = pnp_calloc(n + 1, 1);
        H5_CHECK(H5Aread(a, t, tmp));
        snprintf(buf, len, "%s", tmp);
        free(tmp);
    }
    H5Tclose(t);
    H5Aclose(a);
}

#endif
