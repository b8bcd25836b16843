/* cmd_export.c - `pnp export RESULT.h5 OUT.{png,tif,fits,npy}`: a result's
 * reconstruction in the user's format (include/pnp/imgfile.h writers, chosen
 * by the extension; read through the result file's own reader). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/cli.h"
#include "pnp/imgfile.h"
#include "pnp/result.h"

static const char *USAGE =
    "usage: pnp export RESULT.h5 OUT.{png,tif,tiff,fits,npy} [--bits 8|16|32] [--extended | --iteration K]\n"
    "\n"
    "Write the reconstruction of a `pnp run` result (/reconstruction, the measured\n"
    "region, [C,H,W]; with --extended the whole estimate of a boundary-pad run,\n"
    "/reconstruction_extended; with --iteration K the estimate after iteration K,\n"
    "/iterates/K, which runs with save_every keep) as an image file, the format\n"
    "told by OUT's extension:\n"
    "  .png          16-bit (default) or --bits 8; values clamped to [0,1] and rounded\n"
    "  .tif, .tiff   float32 (default, values as they are) or --bits 8 / 16 as PNG\n"
    "  .fits, .fit   float32 ([H,W] for one channel, a [3,H,W] cube for colour)\n"
    "  .npy          float32 [C,H,W]\n"
    "Grey results give grey files. The file is written under a temporary name\n"
    "and renamed when complete.\n"
    "\n"
    "options:\n"
    "  --bits N      8 or 16 (PNG, TIFF) or 32 (TIFF float)\n"
    "  --extended    the extended estimate of a boundary-pad run\n"
    "  --iteration K the saved estimate after iteration K (save_every)\n"
    "  -h, --help    this text\n"
    "Exit status: 0 done, 2 bad usage or input (unreadable result, unknown format).\n";

int pnp_cmd_export(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int bits = 0, extended = 0, iteration = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(USAGE, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--bits") && i + 1 < argc) {
            char *end;
            bits = (int)strtol(argv[++i], &end, 10);
            if (*end || (bits != 8 && bits != 16 && bits != 32)) {
                fprintf(stderr, "pnp: export: --bits takes 8, 16 or 32, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--extended")) {
            extended = 1;
        } else if (!strcmp(argv[i], "--iteration") && i + 1 < argc) {
            char *end;
            iteration = (int)strtol(argv[++i], &end, 10);
            if (*end || iteration < 1) {
                fprintf(stderr, "pnp: export: --iteration takes an iteration number >= 1, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "pnp: export: unknown option '%s'\n\n%s", argv[i], USAGE);
            return 2;
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            fprintf(stderr, "pnp: export: one result and one output file, not '%s' too\n\n%s", argv[i], USAGE);
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "pnp: export: needs RESULT.h5 and OUT\n\n%s", USAGE);
        return 2;
    }
    if (extended && iteration) {
        fprintf(stderr, "pnp: export: --extended or --iteration, not both (saved iterates are the measured region)\n");
        return 2;
    }
    char err[4400];
    if (iteration) {
        pnp_image im = {0, 0, 0, NULL};
        int rc = pnp_result_read_iterate(in, iteration, &im.c, &im.h, &im.w, &im.data, err, sizeof err) ||
                 pnp_image_file_write(out, &im, bits, err, sizeof err);
        if (rc) fprintf(stderr, "pnp: export: %s\n", err);
        else printf("wrote %s: /iterates/%d [%d,%d,%d] of %s\n", out, iteration, im.c, im.h, im.w, in);
        free(im.data);
        return rc ? 2 : 0;
    }
    pnp_result r;
    int rc = 0;
    if (pnp_result_read(in, PNP_RESULT_READ_IMAGE, &r, err, sizeof err)) {
        rc = 2;
    } else if (extended && !r.extended) {
        snprintf(err, sizeof err, "%s: no /reconstruction_extended (only boundary-pad runs have one)", in);
        rc = 2;
    } else {
        const pnp_image im = {(int)r.channels, extended ? r.ext_height : r.height, extended ? r.ext_width : r.width,
                              extended ? r.extended : r.reconstruction};
        if (pnp_image_file_write(out, &im, bits, err, sizeof err)) rc = 2;
        else printf("wrote %s: %s [%d,%d,%d] of %s\n", out, extended ? "/reconstruction_extended" : "/reconstruction",
                    im.c, im.h, im.w, in);
    }
    if (rc) fprintf(stderr, "pnp: export: %s\n", err);
    pnp_result_free(&r);
    return rc;
}
