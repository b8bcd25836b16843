#!/usr/bin/env bash
# demo.sh - the main job on the embedded default (configs/default.yml): no data
# files needed. Runs the PnP reconstruction on one rank (two when mpirun can
# start them: the same result, split over ranks) and writes results/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
./build/pnp config
./build/pnp run --out results --force
echo
echo "inspect it with:  h5dump -H results/default_row0.h5"
echo "              or: python3 -c \"import h5py; f = h5py.File('results/default_row0.h5'); print(f.attrs['final_psnr'], f['traces/psnr'][:])\""
echo "on 2 ranks:       mpirun -n 2 build/pnp run --set distribute_physics=true --set distribute_denoiser=true --set patch_size=64 --set overlap=16"
