#!/usr/bin/env bash
# demo_sweep.sh - how the embedded default (configs/default.yml, the demo) was
# chosen: the default scene (256 px, the benchmark's 8 blurs and noise 0.1)
# reconstructed with pnp's trained DRUNet (weights/drunet_small.h5) by the PnP
# solver over its step, denoiser sigma, start and relaxation, and by DPIR over
# its lambda, first denoiser level and iterations. Each run is a plain
# `pnp run` of the default with --set overrides; the table gives the final
# PSNR and its gain over the best measurement. One run takes about a second.
#
#     bash bench/demo_sweep.sh [OUT.md]      (default: stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
out=${1:-/dev/stdout}
cmdline=$(bench_cmdline bench/demo_sweep.sh "$@")
PNP=build/pnp
[ -x "$PNP" ] || { echo "demo_sweep.sh: build pnp first (make)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The default's dataset (everything above its solver: list) with each solver.
sed '/^solver:/,$d' configs/default.yml >"$tmp/dataset.yml"
grep -q '^dataset:' "$tmp/dataset.yml" || { echo "demo_sweep.sh: no dataset: before solver: in configs/default.yml" >&2; exit 1; }
for solver in PnP DPIR; do
    { cat "$tmp/dataset.yml"; printf 'solver:\n  - %s:\n      denoiser: drunet\n      backend: cpu\n' "$solver"; } >"$tmp/$solver.yml"
done

# run SOLVER KEY=VALUE...: one table row (the run's own closing lines give both PSNRs).
run() {
    local solver=$1 args=() kv log
    shift
    for kv in "$@"; do args+=(--set "$kv"); done
    log=$("$PNP" run "$tmp/$solver.yml" --out "$tmp" --force --threads 2 "${args[@]}" 2>&1) ||
        { echo "demo_sweep.sh: pnp run failed for $solver $*:" >&2; echo "$log" >&2; exit 1; }
    local psnr gain
    psnr=$(sed -n 's/^wrote .*: PSNR \([-0-9.]*\) dB.*/\1/p' <<<"$log")
    gain=$(sed -n 's/.*the reconstruction is \([-+0-9.]*\) dB.*/\1/p' <<<"$log")
    echo "| $solver | $* | $psnr | $gain |"
}

{
    echo "# The demo's solver and parameters, swept on the default scene"
    echo
    bench_provenance 2 "$cmdline"
    echo
    echo "| solver | parameters (--set) | PSNR dB | over the best measurement dB |"
    echo "| --- | --- | --- | --- |"
    for ds in 0.005 0.02 0.03 0.06; do
        run PnP max_iter=10 step_size=0.1 denoiser_sigma=$ds init_method=zeros
        run PnP max_iter=30 step_size=null denoiser_sigma=$ds init_method=wiener
    done
    for rl in 0.5 0.8; do
        run PnP max_iter=20 step_size=null denoiser_sigma=0.06 init_method=wiener denoiser_lambda_relaxation=$rl
    done
    for it in 8 16; do
        for lam in 0.05 0.08 0.1 0.14 0.23 0.4; do
            for ss in 0.19215686274509805 0.3; do
                run DPIR max_iter=$it lambda=$lam sigma_start=$ss
            done
        done
    done
} >"$out"
