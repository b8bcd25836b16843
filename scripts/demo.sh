#!/usr/bin/env bash
# demo.sh - the main job on the embedded default (configs/default.yml): no data
# files needed. Reconstructs the default scene on one rank by DPIR with pnp's
# own trained DRUNet, writes DIR/default_row0.h5 and, with `pnp report`, the
# picture DIR/report/preview_default_row0.png (ground truth | measurement |
# reconstruction) and DIR/report/index.html.
#
#     bash scripts/demo.sh [DIR]      (default: results)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results}
mkdir -p "$out"
./build/pnp config
./build/pnp run --out "$out" --force
./build/pnp report "$out/default_row0.h5" --out "$out/report"
root=""
[ "$(id -u)" -eq 0 ] && root=" --allow-run-as-root" # Open MPI refuses root without it
echo
echo "picture:          $out/report/preview_default_row0.png (truth | measurement | reconstruction)"
echo "inspect it with:  build/pnp inspect $out/default_row0.h5   (or h5dump -H, h5py)"
echo "on 2 ranks:       mpirun$root -n 2 build/pnp run --out $out --force --set distribute_physics=true --set distribute_denoiser=true --set patch_size=64 --set overlap=16"
