/* h5io.h - writing (and reading back) pnp's HDF5 files.
 *
 * A file is created under a temporary name beside its final name and renamed
 * only when complete (include/pnp/files.h), so a crash (or pnp_fatal, which
 * deletes the temporary) never leaves a half file under the final name. Strings
 * are variable-length UTF-8 (h5py reads them as str); images are chunked and
 * deflate-compressed. HDF5's own error printing is off (pnp_h5_init): a failure
 * is reported once, by pnp, with HDF5's innermost error. */
#ifndef PNP_H5IO_H
#define PNP_H5IO_H

#include <hdf5.h>
#include <stddef.h>

#include "pnp/config.h"
#include "pnp/error.h"
#include "pnp/files.h"

/* HDF5: a negative return value (herr_t/hid_t) is fatal (pnp_fatal); the
 * message quotes the call and HDF5's innermost error ("... errno = 28, error
 * message = 'No space left on device' ..."). */
#define H5_CHECK(call)                                                         \
    do {                                                                       \
        if ((long long)(call) < 0) pnp_h5_fail(__FILE__, __LINE__, #call);     \
    } while (0)
PNP_NORETURN void pnp_h5_fail(const char *file, int line, const char *call);

/* Turn HDF5's automatic error printing off for good (the program calls it
 * first thing): pnp reports the first error itself. */
void pnp_h5_init(void);
/* The innermost error of HDF5's current error stack as one line ("" if none). */
const char *pnp_h5_error(char *buf, size_t len);

typedef struct {
    hid_t file;
    char final_path[4096];
    char tmp_path[4400];
} pnp_h5;

/* Create FINAL.tmp-HOST-PID (making the parent folder if needed; see
 * pnp_temp_path). 0, or -1 and err. */
int pnp_h5_create(pnp_h5 *h, const char *final_path, char *err, size_t errlen);
/* Flush, close, rename onto the final name. 0, or -1 and err (the temporary is removed). */
int pnp_h5_commit(pnp_h5 *h, char *err, size_t errlen);

hid_t pnp_h5_group(hid_t loc, const char *name);
void pnp_h5_attr_str(hid_t loc, const char *name, const char *value);
void pnp_h5_attr_int(hid_t loc, const char *name, long long value);
void pnp_h5_attr_double(hid_t loc, const char *name, double value);
void pnp_h5_attr_doubles(hid_t loc, const char *name, const double *v, size_t n);

/* float32 dataset of the given shape, chunked (last two dims up to 256) and compressed. */
void pnp_h5_write_f32(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data);
/* The same, created empty; fill it one leading index at a time with
 * pnp_h5_write_f32_at (data: one [dims[1], ..., dims[rank-1]] block). Close with H5Dclose. */
hid_t pnp_h5_create_f32(hid_t loc, const char *name, int rank, const hsize_t *dims);
void pnp_h5_write_f32_at(hid_t dataset, hsize_t index, const float *data);
/* A variable-length UTF-8 string dataset (e.g. /config/yaml). */
void pnp_h5_write_str(hid_t loc, const char *name, const char *text);

/* Readers for pnp's own files (a checkpoint to resume, `pnp inspect`). NAME is
 * an attribute of loc or a dataset path relative to loc. Each returns 0; 1
 * when NAME does not exist; -1 when it exists but is not what was asked or
 * cannot be read. They never abort (HDF5's error printing is off meanwhile);
 * on 1 and -1, err holds "FILE: OBJECT: what", e.g.
 * "r.h5: /traces/psnr: not found" or "r.h5: root attribute 'status': not a string"
 * (callers for which NAME is optional take 1 as "absent"). */
/* A string (variable or fixed length) as a malloc'd copy (NULL unless 0). */
int pnp_h5_read_attr_str(hid_t loc, const char *name, char **out, char *err, size_t errlen);
int pnp_h5_read_attr_int(hid_t loc, const char *name, long long *out, char *err, size_t errlen); /* integer class only */
int pnp_h5_read_attr_double(hid_t loc, const char *name, double *out, char *err, size_t errlen);
/* A numeric dataset as float64 (or float32 with _f32) when it has exactly `count` elements. */
int pnp_h5_read_f64(hid_t loc, const char *name, double *out, size_t count, char *err, size_t errlen);
int pnp_h5_read_f32(hid_t loc, const char *name, float *out, size_t count, char *err, size_t errlen);
/* A numeric dataset of ndims dimensions, whatever their sizes (in dims), as a
 * malloc'd float64 array (NULL unless 0). */
int pnp_h5_read_f64_any(hid_t loc, const char *name, int ndims, hsize_t *dims, double **out, char *err,
                        size_t errlen);

/* Root provenance attributes: version, git commit, UTC time, host, Slurm job id,
 * ranks, backend, library versions, and the resolved grid row (as one string
 * "grid_row" and one attribute per parameter under /config/row). */
void pnp_h5_provenance(hid_t file, const pnp_config *cfg, const pnp_row *row, const char *backend, int ranks,
                       const char *hosts);

#endif
