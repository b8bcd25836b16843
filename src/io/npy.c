/* npy.c - NumPy .npy files (format versions 1, 2 and 3): the reader of
 * include/pnp/imgfile.h (float32, float64, uint8, uint16, either byte order,
 * C order; [H,W], [C,H,W] or [N,C,H,W]) and the float32 writer of `pnp export`.
 * The header is the Python dict literal numpy writes, e.g.
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 64, 96), } */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pnp/error.h"
#include "pnp/files.h"
#include "pnp/imgfile.h"

typedef struct {
    char kind;        /* 'f' or 'u' */
    int size;         /* bytes per element: 1, 2, 4, 8 */
    bool swap;        /* stored big-endian (this host is little-endian) */
    int ndim;
    long long shape[8];
    long offset;      /* of the data */
} npy_header;

static int header_fail(char *err, size_t errlen, const char *path, const char *what)
{
    snprintf(err, errlen, "%s: %s", path, what);
    return -1;
}

/* The value of 'key' in the header dict text: a pointer just after "key':". */
static const char *dict_value(const char *text, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(text, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') ++p;
    return p;
}

static int read_header(FILE *f, const char *path, npy_header *h, char *err, size_t errlen)
{
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return header_fail(err, errlen, path, "not a NumPy .npy file (no \\x93NUMPY magic)");
    const int major = pre[6];
    size_t hlen;
    long start;
    if (major == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) return header_fail(err, errlen, path, "truncated .npy header");
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        start = 12;
    } else {
        snprintf(err, errlen, "%s: .npy format version %d is not supported (1, 2 or 3)", path, major);
        return -1;
    }
    if (hlen > 1 << 20) return header_fail(err, errlen, path, "implausible .npy header length (corrupt file?)");
    char *text = pnp_calloc(hlen + 1, 1);
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        return header_fail(err, errlen, path, "truncated .npy header");
    }
    int rc = 0;
    const char *d = dict_value(text, "descr"), *fo = dict_value(text, "fortran_order"), *sh = dict_value(text, "shape");
    char descr[32] = "";
    if (!d || !fo || !sh || *d != '\'' || sscanf(d + 1, "%31[^']", descr) != 1) {
        rc = header_fail(err, errlen, path, "malformed .npy header (no descr, fortran_order or shape)");
    } else if (!strncmp(fo, "True", 4)) {
        rc = header_fail(err, errlen, path,
                         "Fortran-ordered array; save it in C order (numpy.ascontiguousarray) for pnp");
    } else {
        /* descr: byte order ('<' '>' '|' '='), kind, size */
        const char order = descr[0];
        h->kind = descr[1];
        h->size = atoi(descr + 2);
        h->swap = order == '>' && h->size > 1;
        const bool ok = strchr("<>|=", order) && descr[1] &&
                        ((h->kind == 'f' && (h->size == 4 || h->size == 8)) ||
                         (h->kind == 'u' && (h->size == 1 || h->size == 2)));
        if (!ok) {
            snprintf(err, errlen, "%s: unsupported pixel type '%s' (pnp reads float32, float64, uint8 and uint16)",
                     path, descr);
            rc = -1;
        }
    }
    if (!rc) { /* shape: (a, b, ...) */
        h->ndim = 0;
        const char *p = sh;
        if (*p != '(') rc = header_fail(err, errlen, path, "malformed .npy shape");
        for (++p; !rc && *p && *p != ')';) {
            while (*p == ' ' || *p == ',') ++p;
            if (*p == ')') break;
            char *end;
            const long long v = strtoll(p, &end, 10);
            if (end == p || v < 0 || h->ndim == 8) {
                rc = header_fail(err, errlen, path, "malformed .npy shape");
                break;
            }
            h->shape[h->ndim++] = v;
            p = end;
        }
    }
    free(text);
    h->offset = start + (long)hlen;
    return rc;
}

static const char *type_name(const npy_header *h)
{
    return h->kind == 'u' ? (h->size == 1 ? "uint8" : "uint16") : (h->size == 4 ? "float32" : "float64");
}

/* Element e of a raw buffer as float (scaled for integers). */
static float element(const npy_header *h, const unsigned char *raw, size_t e)
{
    unsigned char b[8];
    memcpy(b, raw + e * h->size, (size_t)h->size);
    if (h->swap)
        for (int i = 0; i < h->size / 2; ++i) {
            const unsigned char t = b[i];
            b[i] = b[h->size - 1 - i], b[h->size - 1 - i] = t;
        }
    if (h->kind == 'u' && h->size == 1) return (float)b[0] / 255.0f;
    if (h->kind == 'u') {
        uint16_t v;
        memcpy(&v, b, 2);
        return (float)v / 65535.0f;
    }
    if (h->size == 4) {
        float v;
        memcpy(&v, b, 4);
        return v;
    }
    double v;
    memcpy(&v, b, 8);
    return (float)v;
}

int pnp_npy_load(const char *path, int first, int count, pnp_file_info *info, float *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    npy_header h;
    if (read_header(f, path, &h, err, errlen)) {
        fclose(f);
        return -1;
    }
    long long dims[4] = {1, 1, 1, 1}; /* [N, C, H, W] */
    if (h.ndim < 2 || h.ndim > 4) {
        snprintf(err, errlen, "%s: a %d-D array; pnp reads [H,W], [C,H,W] or [N,C,H,W]", path, h.ndim);
        fclose(f);
        return -1;
    }
    for (int d = 0; d < h.ndim; ++d) dims[4 - h.ndim + d] = h.shape[d];
    for (int d = 0; d < 4; ++d)
        if (dims[d] < 1 || dims[d] > (1 << 30)) {
            snprintf(err, errlen, "%s: shape with an empty or huge dimension", path);
            fclose(f);
            return -1;
        }
    *info = (pnp_file_info){(int)dims[0], (int)dims[1], (int)dims[2], (int)dims[3], h.ndim, "", "NumPy"};
    snprintf(info->type, sizeof info->type, "%s", type_name(&h));
    const size_t per = (size_t)dims[1] * dims[2] * dims[3];
    struct stat st;
    const size_t need = (size_t)h.offset + per * (size_t)dims[0] * (size_t)h.size;
    if (fstat(fileno(f), &st) == 0 && (size_t)st.st_size < need) {
        snprintf(err, errlen, "%s: truncated: %lld bytes, the header's shape needs %zu", path, (long long)st.st_size,
                 need);
        fclose(f);
        return -1;
    }
    int rc = 0;
    if (count > 0) {
        if (first < 0 || first + count > info->n) {
            snprintf(err, errlen, "%s: images %d..%d asked, the file holds %d", path, first, first + count - 1,
                     info->n);
            rc = -1;
        } else {
            unsigned char *raw = pnp_malloc(per * (size_t)count * h.size);
            if (fseek(f, h.offset + (long)(per * (size_t)first * h.size), SEEK_SET) != 0 ||
                fread(raw, (size_t)h.size, per * count, f) != per * count) {
                snprintf(err, errlen, "%s: read error (truncated?)", path);
                rc = -1;
            } else {
                for (size_t e = 0; e < per * count; ++e) out[e] = element(&h, raw, e);
            }
            free(raw);
        }
    }
    fclose(f);
    return rc;
}

int pnp_npy_write(const char *path, const pnp_image *im, char *err, size_t errlen)
{
    char tmp[4400], head[256];
    if (pnp_output_begin(path, tmp, sizeof tmp, err, errlen)) return -1;
    int n = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d), }", im->c,
                     im->h, im->w);
    while ((10 + n + 1) % 64) head[n++] = ' '; /* numpy pads the header to a multiple of 64 */
    head[n++] = '\n';
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL;
    if (ok) {
        const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xff),
                                       (unsigned char)(n >> 8)};
        const size_t numel = pnp_image_numel(im);
        ok = fwrite(pre, 1, 10, f) == 10 && fwrite(head, 1, (size_t)n, f) == (size_t)n &&
             fwrite(im->data, sizeof(float), numel, f) == numel; /* float32 little-endian: this host's order */
        ok = (fclose(f) == 0) && ok;
    }
    if (!ok) snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
    return pnp_output_commit(tmp, path, ok, err, errlen);
}
