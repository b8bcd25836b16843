#!/usr/bin/env bash
# demo.sh - the main job on the embedded default (configs/default.yml): no data
# files needed. Writes results/ under the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results
./build/pnp config
./build/pnp dataset --out results/default_dataset.h5
echo
echo "inspect it with:  h5dump -H results/default_dataset.h5"
echo "              or: python3 -c \"import h5py; f = h5py.File('results/default_dataset.h5'); print(dict(f.attrs))\""
