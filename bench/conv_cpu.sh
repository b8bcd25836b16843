#!/usr/bin/env bash
# conv_cpu.sh - build and run the CPU convolution benchmarks: bench/conv_cpu.c
# (single layers, pnp's CPU backend against oneDNN) and bench/denoiser_cpu.c
# (one DnCNN forward on 481x321, one DRUNet forward on 256x256), against
# build/libpnp.a of this checkout. Prints markdown to stdout with the machine,
# date, commit and load; bench/results/2026-11-21-conv-cpu.md keeps a run.
#
#   bash bench/conv_cpu.sh [--ours-only] [--reps N] [--only SUBSTRING] [--batch N] [--cpu-time]
#
# Environment: OMP_NUM_THREADS (default 2), PNP_SHARED (default ../shared, for
# the DnCNN weights), LIBPNP (default build/libpnp.a; point it at an older
# build to time that one: the denoiser bench and conv_cpu --ours-only use only
# the public API), SKIP_E2E=1 to time the layers only. oneDNN comes from
# Debian's libdnnl-dev (apt-get install -y libdnnl-dev); without it only pnp
# is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
export PNP_SHARED="${PNP_SHARED:-$(cd .. && pwd)/shared}"
LIBPNP="${LIBPNP:-build/libpnp.a}"
REPS=7
args=("$@")
for ((i = 0; i < ${#args[@]}; ++i)); do [ "${args[i]}" = --reps ] && REPS="${args[i + 1]}"; done
[ -f "$LIBPNP" ] || make CUDA=0 -j2 build/libpnp.a >&2

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
PKGS="yaml-0.1 libpng fftw3f hdf5"
CFLAGS="-O2 -std=c11 -D_GNU_SOURCE -fopenmp -Iinclude $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lm"
DNNL_CFLAGS="" DNNL_LIBS=""
if [ -f /usr/include/oneapi/dnnl/dnnl.h ]; then
    DNNL_CFLAGS=-DHAVE_DNNL DNNL_LIBS=-ldnnl
else
    echo "conv_cpu.sh: oneDNN not installed (apt-get install -y libdnnl-dev): timing pnp only" >&2
fi
# shellcheck disable=SC2086
mpicc $CFLAGS $DNNL_CFLAGS bench/conv_cpu.c "$LIBPNP" $DNNL_LIBS $LIBS -o "$out/conv_cpu"
# shellcheck disable=SC2086
mpicc $CFLAGS bench/denoiser_cpu.c "$LIBPNP" $LIBS -o "$out/denoiser_cpu"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD || echo -dirty); library $LIBPNP"
echo "command: OMP_NUM_THREADS=$OMP_NUM_THREADS bash bench/conv_cpu.sh$(printf ' %q' "$@")"
echo
echo "load before: $(uptime)"
echo
"$out/conv_cpu" "$@"
echo
echo "load after layers: $(uptime)"
if [ "${SKIP_E2E:-0}" != 1 ]; then
    echo
    echo '```'
    "$out/denoiser_cpu" "$PNP_SHARED/data/weights/kair-small/dncnn_color_blind.h5" 1 321 481 "$REPS"
    "$out/denoiser_cpu" drunet 1 256 256 "$REPS"
    echo '```'
    echo
    echo "load after end-to-end: $(uptime)"
fi
