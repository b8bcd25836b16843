/* test_pth.c - the PyTorch checkpoint reader (src/nets/pth.c):
 *  - golden checkpoints tests/golden/pth_{zip,legacy,proto4,bigendian}.pth (one
 *    state_dict saved four ways by tests/golden/make_golden_pth.py: zip, legacy,
 *    zip with pickle protocol 4, zip as a big-endian machine writes it; holding
 *    transposed, sliced, storage-sharing, stride-0, 0-d, empty, 5-d,
 *    float16/bfloat16/float64 tensors) read back bit-equal to pth_values.h5,
 *    with names, shapes and order;
 *  - the real KAIR checkpoints (legacy format) in $PNP_SHARED/data/weights/
 *    kair-small equal their .h5 copies bit for bit (24 and 40 tensors);
 *  - failures return -1 with a message naming the file: every truncation of
 *    the golden files, a text file, an HDF5 file, a bare pickle, an empty or
 *    missing file, an int64 tensor (unsupported dtype); thousands of
 *    byte-corrupted copies never crash. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "golden.h"
#include "pnp/pth.h"

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = pnp_malloc(n > 0 ? (size_t)n : 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static char tmp_path[4096];

/* write bytes to a fresh temporary file (tmp_path) */
static void write_tmp(const void *b, size_t n)
{
    const char *dir = getenv("TMPDIR");
    snprintf(tmp_path, sizeof tmp_path, "%s/pnp_test_pth_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp_path);
    if (fd < 0) pnp_fatal("cannot create a temporary file %s", tmp_path);
    FILE *f = fdopen(fd, "wb");
    if (n && fwrite(b, 1, n, f) != n) pnp_fatal("cannot write %s", tmp_path);
    fclose(f);
}

static int same_shape(const pnp_tensor *t, int rank, const hsize_t *dims)
{
    if (t->ndim != rank) return 0;
    for (int d = 0; d < rank; ++d)
        if (t->shape[d] != (int64_t)dims[d]) return 0;
    return 1;
}

/* every tensor of sd equals the float32 dataset of the same name in h5, bit for
 * bit, with the same shape; the file holds no other dataset */
static void compare_h5(const char *label, const pnp_state_dict *sd, hid_t h5)
{
    int bad_shape = 0, bad_value = 0, missing = 0;
    char first_bad[512] = "";
    for (int i = 0; i < sd->count; ++i) {
        const pnp_tensor *t = &sd->t[i];
        if (H5Lexists(h5, t->name, H5P_DEFAULT) <= 0) {
            if (!missing++) snprintf(first_bad, sizeof first_bad, "%s not in the HDF5 file", t->name);
            continue;
        }
        int rank;
        hsize_t dims[8];
        float *want = golden_read(h5, t->name, H5T_NATIVE_FLOAT, &rank, dims);
        if (!same_shape(t, rank, dims)) {
            if (!bad_shape++ && !*first_bad) snprintf(first_bad, sizeof first_bad, "%s: shape differs", t->name);
        } else if (memcmp(want, t->data, sizeof(float) * (size_t)pnp_tensor_numel(t))) {
            if (!bad_value++ && !*first_bad)
                snprintf(first_bad, sizeof first_bad, "%s: values differ (max abs %.3g)", t->name,
                         max_abs_diff(want, t->data, (size_t)pnp_tensor_numel(t)));
        }
        free(want);
    }
    H5G_info_t gi;
    H5_CHECK(H5Gget_info(h5, &gi));
    CHECK(!missing && !bad_shape && !bad_value && gi.nlinks == (hsize_t)sd->count,
          "%s: %d tensors, all bit-equal to the HDF5 copy (%llu datasets) with the same shapes%s%s", label, sd->count,
          (unsigned long long)gi.nlinks, *first_bad ? ": " : "", first_bad);
}

static void golden_file(const char *name, hid_t h5, char **keys, int nkeys)
{
    char err[1024];
    pnp_state_dict sd;
    const char *path = golden_path(name);
    int rc = pnp_pth_read(path, &sd, err, sizeof err);
    CHECK(rc == 0, "%s reads: %s", name, rc ? err : "ok");
    if (rc) return;
    int order = sd.count == nkeys;
    for (int i = 0; order && i < nkeys; ++i) order = !strcmp(sd.t[i].name, keys[i]);
    CHECK(order, "%s: %d keys in the file's order (%s, %s, ..., %s)", name, sd.count, sd.count ? sd.t[0].name : "-",
          sd.count > 1 ? sd.t[1].name : "-", sd.count ? sd.t[sd.count - 1].name : "-");
    compare_h5(name, &sd, h5);

    const pnp_tensor *tr = pnp_weights_find(&sd, "transposed"), *sc = pnp_weights_find(&sd, "scalar"),
                     *em = pnp_weights_find(&sd, "empty"), *ex = pnp_weights_find(&sd, "expanded"),
                     *r5 = pnp_weights_find(&sd, "rank5");
    CHECK(tr && tr->ndim == 2 && tr->shape[0] == 6 && tr->shape[1] == 5 && sc && sc->ndim == 0 && sc->data[0] == 3.25f &&
              em && em->ndim == 2 && em->shape[0] == 0 && em->shape[1] == 3 && r5 && r5->ndim == 5,
          "%s: transposed [6,5], 0-d scalar 3.25, empty [0,3], 5-d tensor", name);
    int rows_const = ex && ex->ndim == 2 && ex->shape[0] == 3 && ex->shape[1] == 4;
    for (int r = 0; rows_const && r < 3; ++r)
        for (int k = 1; k < 4; ++k) rows_const &= ex->data[r * 4 + k] == ex->data[r * 4];
    CHECK(rows_const, "%s: stride-0 expanded tensor [3,4] repeats each row value", name);
    CHECK(!pnp_weights_find(&sd, "no.such.key"), "%s: find of a missing key gives NULL", name);
    pnp_weights_free(&sd);
    CHECK(sd.count == 0 && sd.t == NULL, "%s: free empties the state_dict", name);
}

/* every proper prefix of the file is refused cleanly, naming the file */
static void truncations(const char *name)
{
    size_t len;
    unsigned char *b = slurp(golden_path(name), &len);
    if (!b) {
        CHECK(0, "%s: cannot read", name);
        return;
    }
    char err[1024], half_err[1024] = "";
    int refused = 0, named = 0, said_truncated = 0;
    for (size_t n = 0; n < len; ++n) {
        write_tmp(b, n);
        pnp_state_dict sd;
        int rc = pnp_pth_read(tmp_path, &sd, err, sizeof err);
        refused += rc == -1 && sd.count == 0 && sd.t == NULL;
        named += rc == -1 && strstr(err, tmp_path) != NULL;
        said_truncated += rc == -1 && (strstr(err, "truncated") || strstr(err, "empty file"));
        if (n == len / 2) snprintf(half_err, sizeof half_err, "%s", err);
        if (rc == 0) pnp_weights_free(&sd);
        unlink(tmp_path);
    }
    CHECK(refused == (int)len && named == (int)len, "%s: all %zu truncated copies give -1 and name the file", name, len);
    CHECK(said_truncated == (int)len, "%s: every truncation is reported as such (%d of %zu); first half: \"%s\"", name,
          said_truncated, len, half_err);
    free(b);
}

/* random byte corruptions: never a crash; any success still yields sane tensors */
static void corruptions(const char *name, int copies)
{
    size_t len;
    unsigned char *b = slurp(golden_path(name), &len);
    if (!b) {
        CHECK(0, "%s: cannot read", name);
        return;
    }
    unsigned char *c = pnp_malloc(len);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int refused = 0, sane = 1;
    char err[1024];
    for (int k = 0; k < copies; ++k) {
        memcpy(c, b, len);
        int flips = 1 + k % 4;
        for (int f = 0; f < flips; ++f) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % len;
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            c[at] = (k & 1) ? (unsigned char)(s >> 56) : c[at] ^ (unsigned char)(1u << ((s >> 40) & 7));
        }
        write_tmp(c, len);
        pnp_state_dict sd;
        if (pnp_pth_read(tmp_path, &sd, err, sizeof err)) {
            refused++;
            sane &= strstr(err, tmp_path) != NULL;
        } else {
            for (int i = 0; i < sd.count; ++i) sane &= sd.t[i].name && sd.t[i].ndim >= 0 && sd.t[i].ndim <= 8;
            pnp_weights_free(&sd);
        }
        unlink(tmp_path);
    }
    CHECK(sane, "%s: %d byte-corrupted copies read without a crash (%d refused, with the file named)", name, copies,
          refused);
    free(c);
    free(b);
}

static void refuse(const char *what, const void *bytes, size_t n, const char *want)
{
    char err[1024] = "";
    pnp_state_dict sd;
    write_tmp(bytes, n);
    int rc = pnp_pth_read(tmp_path, &sd, err, sizeof err);
    CHECK(rc == -1 && sd.count == 0 && strstr(err, tmp_path) && strstr(err, want), "%s gives -1: \"%s\"", what, err);
    if (rc == 0) pnp_weights_free(&sd);
    unlink(tmp_path);
}

static void kair(const char *base, int want_count)
{
    char rel[256], relh5[256], err[1024];
    snprintf(rel, sizeof rel, "weights/kair-small/%s.pth", base);
    snprintf(relh5, sizeof relh5, "weights/kair-small/%s.h5", base);
    char pth[4096], h5[4096];
    snprintf(pth, sizeof pth, "%s", shared_path(rel));
    snprintf(h5, sizeof h5, "%s", shared_path(relh5));
    if (access(pth, R_OK) || access(h5, R_OK)) {
        SKIP("%s: %s or its .h5 copy not found (set PNP_SHARED to the shared folder)", base, pth);
        return;
    }
    pnp_state_dict sd;
    int rc = pnp_pth_read(pth, &sd, err, sizeof err);
    CHECK(rc == 0, "%s.pth (legacy format) reads: %s", base, rc ? err : "ok");
    if (rc) return;
    /* KAIR's Sequential: model.0, model.2, ... each weight then bias */
    int order = sd.count == want_count;
    for (int i = 0; order && i < sd.count; ++i) {
        char want[64];
        snprintf(want, sizeof want, "model.%d.%s", 2 * (i / 2), i % 2 ? "bias" : "weight");
        order = !strcmp(sd.t[i].name, want) && sd.t[i].ndim == (i % 2 ? 1 : 4);
    }
    CHECK(order, "%s: %d tensors (want %d) in the file's order model.0.weight, model.0.bias, ..., %s", base, sd.count,
          want_count, sd.count ? sd.t[sd.count - 1].name : "-");
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) pnp_fatal("cannot open %s", h5);
    char label[300];
    snprintf(label, sizeof label, "%s.pth", base);
    compare_h5(label, &sd, f);
    H5Fclose(f);
    pnp_weights_free(&sd);
}

int main(void)
{
    /* the golden state_dict, saved three ways */
    hid_t h5 = golden_open("pth_values.h5");
    char keybuf[4096];
    golden_attr_str(h5, ".", "keys", keybuf, sizeof keybuf);
    char *keys[64];
    int nkeys = 0;
    for (char *s = strtok(keybuf, "\n"); s && nkeys < 64; s = strtok(NULL, "\n")) keys[nkeys++] = s;
    golden_file("pth_zip.pth", h5, keys, nkeys);
    golden_file("pth_legacy.pth", h5, keys, nkeys);
    golden_file("pth_proto4.pth", h5, keys, nkeys);
    golden_file("pth_bigendian.pth", h5, keys, nkeys);
    H5Fclose(h5);

    /* the real KAIR checkpoints */
    kair("ffdnet_color", 24);
    kair("dncnn_color_blind", 40);

    /* refusals */
    truncations("pth_zip.pth");
    truncations("pth_legacy.pth");
    {
        size_t len;
        unsigned char *b = slurp(golden_path("pth_int64.pth"), &len);
        refuse("an int64 tensor (BatchNorm's num_batches_tracked)", b, b ? len : 0, "unsupported dtype int64");
        free(b);
        b = slurp(golden_path("pth_values.h5"), &len);
        refuse("an HDF5 file", b, b ? len : 0, "not a PyTorch checkpoint");
        free(b);
    }
    const char text[] = "hello, this is not a checkpoint\n";
    refuse("a text file", text, sizeof text - 1, "not a PyTorch checkpoint");
    refuse("an empty file", "", 0, "empty file");
    const unsigned char list_pickle[] = {0x80, 0x02, ']', 'q', 0x00, '.'}; /* pickle.dumps([], 2) */
    refuse("a plain pickle of a list", list_pickle, sizeof list_pickle, "not a PyTorch checkpoint");
    {
        char err[1024] = "";
        pnp_state_dict sd;
        const char *missing = "/nonexistent/dir/model.pth";
        int rc = pnp_pth_read(missing, &sd, err, sizeof err);
        CHECK(rc == -1 && strstr(err, missing) && strstr(err, "cannot open"), "a missing file gives -1: \"%s\"", err);
    }
    corruptions("pth_zip.pth", 3000);
    corruptions("pth_legacy.pth", 3000);
    corruptions("pth_proto4.pth", 1000);
    corruptions("pth_bigendian.pth", 1000);
    CHECK_DONE();
}
