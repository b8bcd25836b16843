#!/usr/bin/env bash
# gpu_prepare.sh - run HERE (the Debian 12 build machine), before a lent GPU
# session: fills .gpu-carry/ (git-ignored) with what bench/gpu.sh needs there
# and a device call does not send by itself. Then call the device tool with
# carry [".gpu-carry"] (bench/README.md).
#
#   .gpu-carry/shared/data/  the kair-small weights (HDF5) and one CBSD68 photo,
#                            for test_cuda_parity's trained-denoiser checks
#                            (../shared does not travel with the working tree)
#   .gpu-carry/debs/         Debian packages for a GPU image without MPI, HDF5,
#                            FFTW, libyaml or libpng: the -dev packages pnp
#                            builds against and every shared library that pnp,
#                            Open MPI's launcher and its plugins load here (read
#                            off ldd), minus the C/C++ runtime the image has.
#                            gpu.sh unpacks them (dpkg -x) only when its
#                            preflight finds something missing.
#
#   bash bench/gpu_prepare.sh [--data-only]
#
# Needs: apt-get (downloads with the ordinary client, about 25 MB), a built
# build/pnp (make) for ldd. The working tree that travels is capped at 64 MiB:
# the script prints the size at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu-carry
SHARED=${PNP_SHARED:-../shared}
data_only=0
[ "${1:-}" = "--data-only" ] && data_only=1

mkdir -p "$CARRY/shared/data/weights/kair-small" "$CARRY/shared/data/images/CBSD68"
cp "$SHARED"/data/weights/kair-small/*.h5 "$CARRY/shared/data/weights/kair-small/"
cp "$SHARED/data/images/CBSD68/101085.png" "$CARRY/shared/data/images/CBSD68/"

if [ "$data_only" -eq 0 ]; then
    [ -x build/pnp ] || { echo "gpu_prepare: build/pnp missing: run make first" >&2; exit 1; }
    ompi_plugins=$(ls /usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/*.so 2>/dev/null || true)
    libs=$(ldd build/pnp "$(readlink -f /usr/bin/orterun)" /usr/bin/orted $ompi_plugins 2>/dev/null |
        awk '/=> \// {print $3}' | sort -u)
    runtime=$(for f in $libs; do dpkg -S "$(readlink -f "$f")" 2>/dev/null | cut -d: -f1; done | sort -u)
    skip=" libc6 libgcc-s1 libstdc++6 libgomp1 libatomic1 zlib1g libudev1 libuuid1 libcuda1 "
    pkgs="libopenmpi-dev openmpi-bin openmpi-common libhdf5-dev libfftw3-dev libyaml-dev libpng-dev zlib1g-dev"
    for p in $runtime; do
        case "$skip" in *" $p "*) ;; *) pkgs="$pkgs $p" ;; esac
    done
    rm -rf "$CARRY/debs"
    mkdir -p "$CARRY/debs"
    echo "gpu_prepare: downloading: $pkgs"
    (cd "$CARRY/debs" && apt-get download $pkgs)
fi
du -sh "$CARRY"
echo "gpu_prepare: done; call the device tool with carry [\"$CARRY\"] and command: bash bench/gpu.sh"
