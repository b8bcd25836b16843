#!/usr/bin/env bash
# deps.sh - install (as root) or name (otherwise) the Debian 12 packages pnp
# needs to build, run and test. Does nothing when all are present.
# The CUDA toolkit is optional and not installed here: with nvcc on PATH the
# Makefile also builds the CUDA backend.
set -euo pipefail
PACKAGES=(
    build-essential pkg-config git      # compiler, make, build metadata
    libopenmpi-dev openmpi-bin          # MPI (mpicc, mpirun)
    libyaml-dev                         # configuration files
    libpng-dev                          # image input
    libfftw3-dev                        # CPU FFTs (single precision)
    libhdf5-dev hdf5-tools              # results, weights; h5dump
    python3 python3-h5py python3-numpy  # the tests read results back as users do
    python3-matplotlib                  # pnp report (scripts/pnp-report): figures
    slurm-wlm munge                     # a real Slurm for tests/cli/test_grid.sh (tests/slurm/harness.sh
                                        # starts private daemons during that test only)
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PACKAGES[@]} Debian packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: as root, run: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
