/* cmd_weights.c - `pnp weights`: inspect, convert and generate denoiser weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnp/backend.h"
#include "pnp/denoiser.h"
#include "pnp/weights.h"

static const char *USAGE =
    "usage: pnp weights info FILE [--size HxW] [--batch N]\n"
    "       pnp weights convert IN OUT.h5\n"
    "       pnp weights generate SPEC OUT.h5 [--seed S]\n"
    "\n"
    "info      read weights (pnp HDF5, or a PyTorch .pth: zip or legacy), check them\n"
    "          against their architecture, print parameters and the memory a forward\n"
    "          pass of a [N,3,H,W] input plans (default 512x512, batch 1)\n"
    "convert   read IN (.pth or .h5), check it, write pnp's HDF5 weights format:\n"
    "          one float32 dataset per state_dict key, attribute 'architecture'\n"
    "generate  deterministic random weights: SPEC is drunet, drunet:W0,W1,W2,W3[:NB],\n"
    "          dncnn or ffdnet (seed default 0)\n";

static int load_checked(const char *path, pnp_state_dict *sd, char *arch, pnp_backend *be, pnp_denoiser **dn)
{
    char err[1024];
    if (pnp_weights_load(path, sd, arch, 32, err, sizeof err)) {
        fprintf(stderr, "pnp: %s\n", err);
        return -1;
    }
    *dn = pnp_denoiser_create(be, arch, sd, err, sizeof err);
    if (!*dn) {
        fprintf(stderr, "pnp: %s: %s\n", path, err);
        pnp_weights_free(sd);
        return -1;
    }
    return 0;
}

int pnp_cmd_weights(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    int h = 512, w = 512, batch = 1;
    unsigned long long seed = 0;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 2; i < argc; ++i) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &h, &w) != 2 || h < 1 || w < 1) {
                fprintf(stderr, "pnp: --size: expected HxW, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            batch = atoi(argv[++i]);
            if (batch < 1) {
                fprintf(stderr, "pnp: --batch: expected a positive count\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 0);
        } else if (argv[i][0] == '-' || npos == 2) {
            fprintf(stderr, "pnp: weights: unexpected argument '%s'\n\n%s", argv[i], USAGE);
            return 2;
        } else {
            pos[npos++] = argv[i];
        }
    }
    pnp_backend *be = pnp_backend_cpu_create(1, false);
    pnp_state_dict sd = {0}; /* empty again after any failed load */
    pnp_denoiser *dn = NULL;
    char arch[32], err[1024];
    int rc = 0;
    if (!strcmp(verb, "info") && npos == 1) {
        if (load_checked(pos[0], &sd, arch, be, &dn)) rc = 2;
        else {
            printf("%s: %s, %d tensors\n", pos[0], pnp_denoiser_describe(dn), sd.count);
            printf("weights: %.1f MB; activations for [%d,3,%d,%d]: %.1f MB\n", pnp_denoiser_weight_bytes(dn) / 1e6,
                   batch, h, w, pnp_denoiser_activation_bytes(dn, batch, h, w) / 1e6);
        }
    } else if (!strcmp(verb, "convert") && npos == 2) {
        if (load_checked(pos[0], &sd, arch, be, &dn)) rc = 2;
        else if (pnp_weights_write_h5(pos[1], &sd, arch, err, sizeof err)) {
            fprintf(stderr, "pnp: %s\n", err);
            rc = 1;
        } else
            printf("wrote %s: %s\n", pos[1], pnp_denoiser_describe(dn));
    } else if (!strcmp(verb, "generate") && npos == 2) {
        if (pnp_denoiser_skeleton(pos[0], &sd, arch, sizeof arch, err, sizeof err)) {
            fprintf(stderr, "pnp: %s\n", err);
            rc = 2;
        } else {
            pnp_weights_randomize(&sd, seed);
            if (pnp_weights_write_h5(pos[1], &sd, arch, err, sizeof err)) {
                fprintf(stderr, "pnp: %s\n", err);
                rc = 1;
            } else
                printf("wrote %s: %s weights, seed %llu\n", pos[1], pos[0], seed);
        }
    } else {
        fprintf(stderr, "pnp: weights: bad arguments\n\n%s", USAGE);
        rc = 2;
    }
    if (dn) pnp_denoiser_destroy(dn);
    pnp_weights_free(&sd);
    pnp_backend_destroy(be);
    return rc;
}
