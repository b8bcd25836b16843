#!/usr/bin/env bash
# demo.sh - the main job on the embedded default (configs/default.yml): no data
# files needed. Runs the PnP reconstruction on one rank with pnp's own trained
# DRUNet, writes results/default_row0.h5 and, with `pnp report`, the picture
# results/report/preview_default_row0.png (ground truth | measurement |
# reconstruction) and results/report/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
./build/pnp config
./build/pnp run --out results --force
./build/pnp report results/default_row0.h5 --out results/report
root=""
[ "$(id -u)" -eq 0 ] && root=" --allow-run-as-root" # Open MPI refuses root without it
echo
echo "picture:          results/report/preview_default_row0.png (truth | measurement | reconstruction)"
echo "inspect it with:  build/pnp inspect results/default_row0.h5   (or h5dump -H, h5py)"
echo "on 2 ranks:       mpirun$root -n 2 build/pnp run --force --set distribute_physics=true --set distribute_denoiser=true --set patch_size=64 --set overlap=16"
