/* cmd_dataset.c - `pnp dataset`: build one grid row's problem and write it to
 * the dataset bundle (include/pnp/bundle.h: measurements, PSFs, ground truth
 * when known, provenance). The synthetic benchmark's measurements are
 * generated; an `observed` row's are read and checked (the same checks as
 * `pnp run`'s setup), so a folder of files becomes one HDF5 file that the
 * observed dataset reads back.
 * Written under a temporary name (include/pnp/files.h): an error, a full disk
 * or a signal leaves no file behind; whether OUT can be written is checked
 * before the problem is built. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pnp/backend.h"
#include "pnp/bundle.h"
#include "pnp/cli.h"
#include "pnp/error.h"
#include "pnp/problem.h"

static const char *USAGE =
    "usage: pnp dataset [CONFIG] [--row K] [--set KEY=VALUE ...] [--out FILE] [--threads N]\n"
    "\n"
    "Build the problem of one grid row and write it to an HDF5 bundle\n"
    "(/measurements, /kernels, /ground_truth when known). For the synthetic\n"
    "highres_color_image: the ground truth (the row's `image` PNG resized\n"
    "bicubically so its longer side is image_size, or a synthetic scene), the\n"
    "num_operators rotated Gaussian blur kernels, and the measurements\n"
    "y_i = clamp(A_i x + noise_level * n_i, 0, 1). For an `observed` row: its\n"
    "measurements, PSFs (normalised) and reference, read and checked; the\n"
    "bundle is then a valid measurements/psfs/reference for `observed`.\n"
    "\n"
    "options:\n"
    "  --row K           grid row to build (default 0)\n"
    "  --set KEY=VALUE   override a parameter, e.g. --set image=photo.png\n"
    "  --out FILE        output file (default results/dataset_row<K>.h5)\n"
    "  --threads N       CPU threads (default: the CPUs this process may use)\n"
    "  -h, --help        this text\n";

int pnp_cmd_dataset(int argc, char **argv)
{
    pnp_cli_opts o;
    if (pnp_cli_parse(argc, argv, USAGE, &o)) return 0;
    if (o.row < 0) o.row = 0;
    pnp_config cfg;
    pnp_cli_load_config(&o, &cfg);
    const pnp_row *row = &cfg.rows[o.row];

    char err[2048], out[4096];
    if (o.out) snprintf(out, sizeof out, "%s", o.out);
    else snprintf(out, sizeof out, "results/dataset_row%d.h5", row->index);
    /* before any work: the threads, that the output can be written, the problem */
    const int threads = pnp_cli_threads(o.threads, 1, err, sizeof err);
    const int bad_out = threads >= 0 && pnp_output_check(out, err, sizeof err);
    pnp_problem p;
    if (threads < 0 || bad_out || pnp_problem_build(row, 0, 1, &p, err, sizeof err)) { /* every check first */
        fprintf(stderr, "pnp: %s%s\n", bad_out ? "--out: " : "", err);
        pnp_config_free(&cfg);
        return 2;
    }
    const int n = p.n_ops;
    printf("pnp dataset: row %d, %s, %d channel%s %dx%d, %d operator%s (PSF %dx%d%s)", row->index, p.source, p.c,
           p.c == 1 ? "" : "s", p.h, p.w, n, n == 1 ? "" : "s", p.kh, p.kw, p.kc > 1 ? " per channel" : "");
    if (!p.observed) printf(", noise %g, seed %lld", row->noise_level, row->seed);
    printf("\n%s", p.notes ? p.notes : "");

    pnp_backend *be = pnp_backend_create(row->backend, "fp32", threads, 0); /* no layers: precision unused */
    const size_t numel = (size_t)p.c * p.h * p.w, bytes = numel * sizeof(float);
    float *x_dev = NULL, *y_dev = be->ops->alloc(be, bytes);
    float *y = pnp_malloc(bytes);
    const pnp_data_geometry geo = pnp_problem_geometry(&p);
    pnp_data_term *dt = pnp_data_term_create(be, NULL, &geo, n, p.kernels);
    if (p.truth.data && !p.observed) {
        x_dev = be->ops->alloc(be, bytes);
        be->ops->upload(be, x_dev, p.truth.data, bytes);
    }

    const pnp_bundle b = {.n = n, .c = p.c, .h = p.h, .w = p.w, .kc = p.kc, .kh = p.kh, .kw = p.kw,
                          .kernels = p.kernels, .ground_truth = p.truth.data, .source = p.source,
                          .boundary = p.observed ? pnp_boundary_name(p.boundary) : NULL,
                          .noise_level = row->noise_level, .seed = row->seed, .angles = p.angles,
                          .sigma_row = p.sigma_row, .sigma_col = p.sigma_col};
    pnp_bundle_file bf;
    if (pnp_bundle_create(&bf, out, &cfg, row, be->ops->name, &b, err, sizeof err)) pnp_fatal("%s", err);
    for (int i = 0; i < n; ++i) {
        pnp_problem_measurement(&p, row, be, dt, i, i, x_dev, y_dev);
        be->ops->download(be, y, y_dev, bytes);
        pnp_bundle_add_measurement(&bf, i, y);
        printf("  measurement %d/%d", i + 1, n);
        if (p.angles) printf(": angle %.2f deg", p.angles[i]);
        if (p.truth.data) printf(", PSNR vs %s %.2f dB", p.observed ? "reference" : "truth",
                                 pnp_psnr(y, p.truth.data, numel));
        printf("\n");
        fflush(stdout);
    }
    if (pnp_bundle_commit(&bf, err, sizeof err)) pnp_fatal("%s", err);
    printf("wrote %s\n", out);

    pnp_data_term_destroy(dt);
    be->ops->free(be, x_dev);
    be->ops->free(be, y_dev);
    pnp_backend_destroy(be);
    free(y);
    pnp_problem_free(&p);
    pnp_config_free(&cfg);
    return 0;
}
