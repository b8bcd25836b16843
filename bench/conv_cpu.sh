#!/usr/bin/env bash
# conv_cpu.sh - run the CPU convolution benchmarks: build/bench/conv_cpu
# (bench/conv_cpu.c: single layers, pnp's CPU backend against oneDNN) and
# build/bench/denoiser_forward (bench/denoiser_forward.c: one DnCNN forward on
# 481x321, one DRUNet forward on 256x256), both built by `make bench` from this
# checkout. Prints markdown to stdout with the machine, date, commit and load;
# bench/results/2026-11-21-conv-cpu.md keeps a run.
#
#   bash bench/conv_cpu.sh [--ours-only] [--reps N] [--only SUBSTRING] [--batch N] [--cpu-time]
#
# Environment: OMP_NUM_THREADS (default 2), PNP_SHARED (default ../shared, for
# the DnCNN weights), SKIP_E2E=1 to time the layers only, CUDA=0/1 passes
# through to make. oneDNN comes from Debian's libdnnl-dev (apt-get install -y
# libdnnl-dev; the Makefile links it into conv_cpu when its header exists);
# without it only pnp is timed. To time an older commit, run that commit's
# script in a worktree of it.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
export PNP_SHARED="${PNP_SHARED:-$(cd .. && pwd)/shared}"
REPS=7
args=("$@")
for ((i = 0; i < ${#args[@]}; ++i)); do [ "${args[i]}" = --reps ] && REPS="${args[i + 1]}"; done
[ -f /usr/include/oneapi/dnnl/dnnl.h ] ||
    echo "conv_cpu.sh: oneDNN not installed (apt-get install -y libdnnl-dev): timing pnp only" >&2
make -s bench >&2

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD || echo -dirty)"
echo "command: OMP_NUM_THREADS=$OMP_NUM_THREADS bash bench/conv_cpu.sh$(printf ' %q' "$@")"
echo
echo "load before: $(uptime)"
echo
build/bench/conv_cpu "$@"
echo
echo "load after layers: $(uptime)"
if [ "${SKIP_E2E:-0}" != 1 ]; then
    echo
    echo '```'
    build/bench/denoiser_forward --net "$PNP_SHARED/data/weights/kair-small/dncnn_color_blind.h5" \
        --shapes 1x321x481 --repeats "$REPS" --threads "$OMP_NUM_THREADS"
    build/bench/denoiser_forward --net drunet --shapes 1x256x256 --repeats "$REPS" --threads "$OMP_NUM_THREADS"
    echo '```'
    echo
    echo "load after end-to-end: $(uptime)"
fi
