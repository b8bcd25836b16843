/* h5io.c - HDF5 helpers (include/pnp/h5io.h). Every HDF5 call of the writers
 * goes through H5_CHECK, the library's single error path; the readers return
 * their failures as messages instead. */
#include "pnp/h5io.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pnp/error.h"
#include "pnp/version.h"

void pnp_h5_init(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct {
    char *buf;
    size_t len;
} first_error;

static herr_t take_first(unsigned n, const H5E_error2_t *e, void *user)
{
    first_error *f = user;
    if (n == 0) snprintf(f->buf, f->len, "%s", e->desc ? e->desc : "");
    return 0;
}

const char *pnp_h5_error(char *buf, size_t len)
{
    buf[0] = '\0';
    first_error f = {buf, len};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, &f); /* upward: the innermost error first */
    /* a failed system call: "file write failed: time = ..., errno = 28, error message = 'No space
     * left on device', ..." becomes "file write failed: No space left on device (errno 28)" */
    const char *msg = strstr(buf, "error message = '"), *no = strstr(buf, "errno = ");
    const char *colon = strchr(buf, ':');
    if (msg && colon && colon < msg) {
        char what[512];
        const int errnum = no ? atoi(no + 8) : 0;
        msg += strlen("error message = '");
        snprintf(what, sizeof what, "%.*s: %.*s (errno %d)", (int)(colon - buf), buf, (int)strcspn(msg, "'"), msg,
                 errnum);
        snprintf(buf, len, "%s", what);
    }
    for (char *p = buf; *p; ++p)
        if (*p == '\n') *p = ' ';
    return buf;
}

void pnp_h5_fail(const char *file, int line, const char *call)
{
    char why[1024];
    pnp_h5_error(why, sizeof why);
    pnp_fatal_at(file, line, "HDF5 call failed: %s%s%s", call, why[0] ? ": " : "", why);
}

int pnp_h5_create(pnp_h5 *h, const char *final_path, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (strlen(final_path) >= sizeof h->final_path) {
        snprintf(err, errlen, "output path too long");
        return -1;
    }
    if (pnp_make_parent_dirs(final_path, err, errlen)) return -1;
    snprintf(h->final_path, sizeof h->final_path, "%s", final_path);
    if (pnp_temp_path(final_path, h->tmp_path, sizeof h->tmp_path)) {
        snprintf(err, errlen, "%s: output path too long", final_path);
        return -1;
    }
    pnp_error_set_tempfile(h->tmp_path); /* before it exists: a signal meanwhile removes it too */
    h->file = H5Fcreate(h->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (h->file < 0) {
        char why[1024];
        snprintf(err, errlen, "%s: cannot create HDF5 file: %s", h->tmp_path, pnp_h5_error(why, sizeof why));
        pnp_error_set_tempfile(NULL);
        return -1;
    }
    return 0;
}

int pnp_h5_commit(pnp_h5 *h, char *err, size_t errlen)
{
    H5_CHECK(H5Fflush(h->file, H5F_SCOPE_GLOBAL));
    H5_CHECK(H5Fclose(h->file));
    h->file = -1;
    if (rename(h->tmp_path, h->final_path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", h->tmp_path, h->final_path, strerror(errno));
        unlink(h->tmp_path);
        pnp_error_set_tempfile(NULL);
        return -1;
    }
    pnp_error_set_tempfile(NULL);
    return 0;
}

hid_t pnp_h5_group(hid_t loc, const char *name)
{
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(g);
    return g;
}

static hid_t vlen_utf8_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5_CHECK(t);
    H5_CHECK(H5Tset_size(t, H5T_VARIABLE));
    H5_CHECK(H5Tset_cset(t, H5T_CSET_UTF8));
    return t;
}

void pnp_h5_attr_str(hid_t loc, const char *name, const char *value)
{
    hid_t t = vlen_utf8_type(), s = H5Screate(H5S_SCALAR);
    H5_CHECK(s);
    hid_t a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(a);
    H5_CHECK(H5Awrite(a, t, &value));
    H5_CHECK(H5Aclose(a));
    H5_CHECK(H5Sclose(s));
    H5_CHECK(H5Tclose(t));
}

static void attr_scalar(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, const void *v)
{
    hid_t s = H5Screate(H5S_SCALAR);
    H5_CHECK(s);
    hid_t a = H5Acreate2(loc, name, file_type, s, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(a);
    H5_CHECK(H5Awrite(a, mem_type, v));
    H5_CHECK(H5Aclose(a));
    H5_CHECK(H5Sclose(s));
}

void pnp_h5_attr_int(hid_t loc, const char *name, long long value)
{
    attr_scalar(loc, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
}

void pnp_h5_attr_double(hid_t loc, const char *name, double value)
{
    attr_scalar(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void pnp_h5_attr_doubles(hid_t loc, const char *name, const double *v, size_t n)
{
    hsize_t dims[1] = {n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    H5_CHECK(s);
    hid_t a = H5Acreate2(loc, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(a);
    H5_CHECK(H5Awrite(a, H5T_NATIVE_DOUBLE, v));
    H5_CHECK(H5Aclose(a));
    H5_CHECK(H5Sclose(s));
}

hid_t pnp_h5_create_f32(hid_t loc, const char *name, int rank, const hsize_t *dims)
{
    hsize_t chunk[8];
    if (rank < 1 || rank > 8) pnp_fatal("HDF5 dataset %s: rank %d not supported", name, rank);
    for (int d = 0; d < rank; ++d) {
        chunk[d] = d >= rank - 2 ? (dims[d] < 256 ? dims[d] : 256) : 1;
        if (chunk[d] == 0) chunk[d] = 1;
    }
    hid_t s = H5Screate_simple(rank, dims, NULL);
    H5_CHECK(s);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    H5_CHECK(pl);
    H5_CHECK(H5Pset_chunk(pl, rank, chunk));
    H5_CHECK(H5Pset_shuffle(pl));
    H5_CHECK(H5Pset_deflate(pl, 4));
    hid_t ds = H5Dcreate2(loc, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5_CHECK(ds);
    H5_CHECK(H5Pclose(pl));
    H5_CHECK(H5Sclose(s));
    return ds;
}

void pnp_h5_write_f32_at(hid_t ds, hsize_t index, const float *data)
{
    hid_t fs = H5Dget_space(ds);
    H5_CHECK(fs);
    hsize_t dims[8], start[8] = {0}, count[8];
    int rank = H5Sget_simple_extent_dims(fs, dims, NULL);
    H5_CHECK(rank);
    if (index >= dims[0]) pnp_fatal("HDF5: index %llu past dimension %llu", (unsigned long long)index, (unsigned long long)dims[0]);
    for (int d = 0; d < rank; ++d) count[d] = dims[d];
    start[0] = index;
    count[0] = 1;
    H5_CHECK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL));
    hid_t ms = H5Screate_simple(rank, count, NULL);
    H5_CHECK(ms);
    H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, data));
    H5_CHECK(H5Sclose(ms));
    H5_CHECK(H5Sclose(fs));
}

void pnp_h5_write_f32(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data)
{
    hid_t ds = pnp_h5_create_f32(loc, name, rank, dims);
    H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
    H5_CHECK(H5Dclose(ds));
}

void pnp_h5_write_str(hid_t loc, const char *name, const char *text)
{
    hid_t t = vlen_utf8_type(), s = H5Screate(H5S_SCALAR);
    H5_CHECK(s);
    hid_t ds = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5_CHECK(ds);
    H5_CHECK(H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text));
    H5_CHECK(H5Dclose(ds));
    H5_CHECK(H5Sclose(s));
    H5_CHECK(H5Tclose(t));
}

/* ------------------------------------------------------------ readers */

/* The readers never abort: HDF5's error printing is off while they run (a
 * missing or damaged object is not worth a stack dump) and every failure is a
 * message naming the file and the object. */
typedef struct {
    H5E_auto2_t fn;
    void *data;
} h5_quiet;

static h5_quiet quiet(void)
{
    h5_quiet q;
    H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static int loud(h5_quiet q, int rc)
{
    H5Eset_auto2(H5E_DEFAULT, q.fn, q.data);
    return rc;
}

/* err = "FILE: OBJECT: what", OBJECT being /path/of/the/dataset, "root
 * attribute 'NAME'" or "attribute 'NAME' of /path"; returns rc. */
static int fail(hid_t loc, const char *name, bool attr, int rc, char *err, size_t errlen, const char *what)
{
    char file[4096], base[4096];
    if (H5Fget_name(loc, file, sizeof file) < 0) snprintf(file, sizeof file, "(unnamed HDF5 file)");
    if (H5Iget_name(loc, base, sizeof base) <= 0) snprintf(base, sizeof base, "/");
    const bool root = !strcmp(base, "/");
    if (attr && root) snprintf(err, errlen, "%s: root attribute '%s': %s", file, name, what);
    else if (attr) snprintf(err, errlen, "%s: attribute '%s' of %s: %s", file, name, base, what);
    else if (name[0] == '/') snprintf(err, errlen, "%s: %s: %s", file, name, what);
    else snprintf(err, errlen, "%s: %s/%s: %s", file, root ? "" : base, name, what);
    return rc;
}

/* Attribute NAME of loc, one element of a class that `ok` accepts (its type in
 * *ft). 0; 1 when absent; -1. Close *a and *ft after a 0. */
static int attr_open(hid_t loc, const char *name, bool (*ok)(H5T_class_t), const char *expected, hid_t *a, hid_t *ft,
                     char *err, size_t errlen)
{
    const htri_t there = H5Aexists(loc, name);
    if (there == 0) return fail(loc, name, true, 1, err, errlen, "not found");
    if (there < 0 || (*a = H5Aopen(loc, name, H5P_DEFAULT)) < 0)
        return fail(loc, name, true, -1, err, errlen, "cannot be opened");
    *ft = H5Aget_type(*a);
    const hid_t sp = H5Aget_space(*a);
    const bool good = *ft >= 0 && sp >= 0 && ok(H5Tget_class(*ft)) && H5Sget_simple_extent_npoints(sp) == 1;
    if (sp >= 0) H5Sclose(sp);
    if (good) return 0;
    if (*ft >= 0) H5Tclose(*ft);
    H5Aclose(*a);
    return fail(loc, name, true, -1, err, errlen, expected);
}

static bool is_string(H5T_class_t c) { return c == H5T_STRING; }
static bool is_integer(H5T_class_t c) { return c == H5T_INTEGER; }
static bool is_number(H5T_class_t c) { return c == H5T_INTEGER || c == H5T_FLOAT; }

int pnp_h5_read_attr_str(hid_t loc, const char *name, char **out, char *err, size_t errlen)
{
    *out = NULL;
    const h5_quiet q = quiet();
    hid_t a, ft;
    const int rc = attr_open(loc, name, is_string, "not a string", &a, &ft, err, errlen);
    if (rc) return loud(q, rc);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mt, H5Tget_cset(ft));
    if (H5Tis_variable_str(ft) > 0) {
        char *v = NULL;
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(a, mt, &v) >= 0) *out = pnp_strdup(v ? v : "");
        H5free_memory(v);
    } else { /* fixed length, not necessarily terminated */
        const size_t n = H5Tget_size(ft);
        char *v = pnp_calloc(n + 1, 1);
        H5Tset_size(mt, n + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        if (H5Aread(a, mt, v) >= 0) *out = v;
        else free(v);
    }
    H5Tclose(mt);
    H5Tclose(ft);
    H5Aclose(a);
    return loud(q, *out ? 0 : fail(loc, name, true, -1, err, errlen, "cannot be read"));
}

static int read_attr_scalar(hid_t loc, const char *name, bool integer, hid_t mem_type, void *out, char *err,
                            size_t errlen)
{
    const h5_quiet q = quiet();
    hid_t a, ft;
    int rc = attr_open(loc, name, integer ? is_integer : is_number, integer ? "not an integer" : "not a number", &a,
                       &ft, err, errlen);
    if (rc) return loud(q, rc);
    if (H5Aread(a, mem_type, out) < 0) rc = fail(loc, name, true, -1, err, errlen, "cannot be read");
    H5Tclose(ft);
    H5Aclose(a);
    return loud(q, rc);
}

int pnp_h5_read_attr_int(hid_t loc, const char *name, long long *out, char *err, size_t errlen)
{
    return read_attr_scalar(loc, name, true, H5T_NATIVE_LLONG, out, err, errlen);
}

int pnp_h5_read_attr_double(hid_t loc, const char *name, double *out, char *err, size_t errlen)
{
    return read_attr_scalar(loc, name, false, H5T_NATIVE_DOUBLE, out, err, errlen);
}

/* Dataset NAME under loc, numeric, of ndims dimensions (any number when 0;
 * dims filled when not NULL): 0 with *d open and its element count; 1 when
 * absent; -1. */
static int dataset_open(hid_t loc, const char *name, int ndims, hsize_t *dims, hid_t *d, size_t *count, char *err,
                        size_t errlen)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return fail(loc, name, false, 1, err, errlen, "not found");
    if ((*d = H5Dopen2(loc, name, H5P_DEFAULT)) < 0) return fail(loc, name, false, -1, err, errlen, "not a dataset");
    const hid_t sp = H5Dget_space(*d), ft = H5Dget_type(*d);
    const int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    const hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    const bool good = ft >= 0 && is_number(H5Tget_class(ft)) && rank >= 0 && n >= 0 && (!ndims || rank == ndims);
    if (good && dims) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    *count = good ? (size_t)n : 0;
    if (good) return 0;
    H5Dclose(*d);
    char what[64];
    if (ndims) snprintf(what, sizeof what, "not a numeric dataset of %d dimension%s", ndims, ndims == 1 ? "" : "s");
    else snprintf(what, sizeof what, "not a numeric dataset");
    return fail(loc, name, false, -1, err, errlen, what);
}

static int dataset_read(hid_t loc, const char *name, hid_t d, hid_t mem_type, void *out, size_t count, char *err,
                        size_t errlen)
{
    const int rc = count && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0
                       ? fail(loc, name, false, -1, err, errlen, "cannot be read (truncated or corrupt file?)")
                       : 0;
    H5Dclose(d);
    return rc;
}

static int read_exact(hid_t loc, const char *name, hid_t mem_type, void *out, size_t count, char *err, size_t errlen)
{
    const h5_quiet q = quiet();
    hid_t d;
    size_t n;
    const int rc = dataset_open(loc, name, 0, NULL, &d, &n, err, errlen);
    if (rc) return loud(q, rc);
    if (n != count) {
        H5Dclose(d);
        char what[128];
        snprintf(what, sizeof what, "has %zu elements, expected %zu", n, count);
        return loud(q, fail(loc, name, false, -1, err, errlen, what));
    }
    return loud(q, dataset_read(loc, name, d, mem_type, out, count, err, errlen));
}

int pnp_h5_read_f64(hid_t loc, const char *name, double *out, size_t count, char *err, size_t errlen)
{
    return read_exact(loc, name, H5T_NATIVE_DOUBLE, out, count, err, errlen);
}

int pnp_h5_read_f32(hid_t loc, const char *name, float *out, size_t count, char *err, size_t errlen)
{
    return read_exact(loc, name, H5T_NATIVE_FLOAT, out, count, err, errlen);
}

int pnp_h5_read_f64_any(hid_t loc, const char *name, int ndims, hsize_t *dims, double **out, char *err, size_t errlen)
{
    *out = NULL;
    const h5_quiet q = quiet();
    hid_t d;
    size_t n;
    int rc = dataset_open(loc, name, ndims, dims, &d, &n, err, errlen);
    if (rc) return loud(q, rc);
    *out = pnp_malloc(sizeof(double) * (n ? n : 1));
    rc = dataset_read(loc, name, d, H5T_NATIVE_DOUBLE, *out, n, err, errlen);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return loud(q, rc);
}

/* ------------------------------------------------------------ provenance */

static void row_attr(void *user, const char *name, const char *type, const char *value)
{
    hid_t g = *(hid_t *)user;
    if (!strcmp(type, "integer")) pnp_h5_attr_int(g, name, atoll(value));
    else if (!strcmp(type, "number")) pnp_h5_attr_double(g, name, strcmp(value, "null") ? atof(value) : NAN);
    else pnp_h5_attr_str(g, name, value); /* strings and booleans ("true"/"false") */
}

void pnp_h5_provenance(hid_t file, const pnp_config *cfg, const pnp_row *row, const char *backend, int ranks,
                       const char *hosts)
{
    char buf[8192];
    pnp_h5_attr_str(file, "pnp_version", PNP_VERSION);
    pnp_h5_attr_str(file, "git_commit", PNP_GIT_COMMIT);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pnp_h5_attr_str(file, "created_utc", buf);
    pnp_h5_attr_str(file, "hosts", hosts);
    const char *job = getenv("SLURM_JOB_ID");
    pnp_h5_attr_str(file, "slurm_job_id", job ? job : "");
    pnp_h5_attr_int(file, "ranks", ranks);
    pnp_h5_attr_str(file, "backend", backend);
    pnp_h5_attr_str(file, "gpu_names", ""); /* filled by the CUDA backend's runs */

    pnp_library_versions(buf, sizeof buf);
    pnp_h5_attr_str(file, "library_versions", buf);

    pnp_h5_attr_str(file, "config_file", cfg->path);
    pnp_h5_attr_int(file, "grid_row_index", row->index);
    pnp_row_format(row, buf, sizeof buf);
    pnp_h5_attr_str(file, "grid_row", buf);

    hid_t g = pnp_h5_group(file, "config");
    pnp_h5_write_str(g, "yaml", cfg->text);
    hid_t r = pnp_h5_group(g, "row");
    pnp_row_visit(row, row_attr, &r);
    H5_CHECK(H5Gclose(r));
    H5_CHECK(H5Gclose(g));
}
