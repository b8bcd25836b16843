#!/usr/bin/env bash
# observed.sh - a large observed run (issue 16): N blurred, noisy 16-bit PNG
# observations of a natural photo (bench/make_observed.py: the photo's central
# region, 2048x1536 by default, blurred by N PSFs of k x k, noise 0.01) with
# .npy PSFs and the region as reference, reconstructed with `pnp run` (dataset
# observed, boundary pad, the trained FFDNet of kair-small) on 1 rank (all
# threads) and 2 ranks (distributed physics and tiles, one thread each), and
# for comparison boundary circular on 1 rank. Per run: setup time (reading and
# checking the files, the operators), per iteration the gradient, denoiser and
# communication time (slowest rank; median over iterations 2..N), peak memory
# per rank, PSNR and data residual; the machine's load before and after (it is
# shared).
#
#   bash bench/observed.sh [--photo PNG] [--size WxH] [--n 8] [--psf 31] [--iters 3]
#                          [--results FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SHARED=${PNP_SHARED:-../shared}
photo=$SHARED/data/images/yarema_4096.png size=2048x1536 n=8 psf=31 iters=3 results=""
while [ $# -gt 0 ]; do
    case $1 in
        --photo) photo=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --n) n=$2; shift 2 ;;
        --psf) psf=$2; shift 2 ;;
        --iters) iters=$2; shift 2 ;;
        --results) results=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "observed.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
cmdline=$(bench_cmdline bench/observed.sh "$@")
weights=$SHARED/data/weights/kair-small/ffdnet_color.h5
[ -r "$photo" ] && [ -r "$weights" ] || { echo "observed.sh: need $photo and $weights (set PNP_SHARED)" >&2; exit 2; }
make -j2 >/dev/null
PNP=$PWD/build/pnp
PY=${PY:-/usr/bin/python3}
work=$(mktemp -d /tmp/pnp-observed-XXXXXX)
trap 'rm -rf "$work"' EXIT
results=${results:-bench/results/$(date -u +%F)-observed-${size%%x*}-cpu.md}

$PY bench/make_observed.py "$photo" "$work/data" --size "$size" --n "$n" --psf "$psf" >"$work/make.log"
cat >"$work/observed.yml" <<EOF
dataset:
  - observed:
      measurements: $work/data/blurred_*.png
      psfs: $work/data/psf_*.npy
      reference: $work/data/reference.png
      boundary: pad
solver:
  - PnP:
      denoiser: ffdnet
      weights: $weights
      denoiser_sigma: 0.02
      step_size: 0.12
      max_iter: $iters
EOF
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to none"
dist="--set distribute_physics=true --set distribute_denoiser=true --set patch_size=512 --set overlap=16"
runs=("1|pad|$PNP run $work/observed.yml --out $work/pad1 --threads 2"
      "2|pad|$MPI -n 2 $PNP run $work/observed.yml --out $work/pad2 --threads 1 $dist"
      "1|circular|$PNP run $work/observed.yml --out $work/circ1 --threads 2 --set boundary=circular")
rows=() raw=() cmds=()
for r in "${runs[@]}"; do
    IFS='|' read -r ranks boundary cmd <<<"$r"
    before=$(bench_load)
    out=$(eval "$cmd" 2>&1)
    after=$(bench_load)
    file=$(sed -n 's/^wrote \([^:]*\.h5\):.*/\1/p' <<<"$out")
    cmds+=("$cmd")
    raw+=("\$ $cmd" "$out")
    row=$($PY - "$file" "$ranks" "$boundary" "$before" "$after" <<'EOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1]); t = f["traces"]
med = lambda k: float(np.median(t[k][1:].max(axis=1))) if t[k].shape[0] > 1 else float(t[k][0].max())
el = t["elapsed"][...]
it = float(np.median(np.diff(el))) if len(el) > 1 else float(el[0])
peak = " / ".join(f"{v / 2**20:.0f}" for v in t["peak_memory"][...].max(axis=0))
x = f["reconstruction_extended"].shape if "reconstruction_extended" in f else f["reconstruction"].shape
print(f"| {sys.argv[2]} | {sys.argv[3]} | {x[1]}x{x[2]} | {f.attrs['setup_time']:.1f} | {med('gradient_time'):.2f} | "
      f"{med('denoise_time'):.2f} | {med('comm_time'):.2f} | {it:.2f} | {f.attrs['total_time']:.1f} | {peak} | "
      f"{f.attrs['final_psnr']:.2f} | {f.attrs['final_data_residual']:.6g} | {sys.argv[4]} -> {sys.argv[5]} |")
EOF
)
    rows+=("$row")
    echo "$row"
done

{
    echo "# Observed data, ${size} px, $n PSFs of ${psf}x${psf}: pnp run on CPU, 1 and 2 ranks"
    echo
    bench_provenance 2 "$cmdline"
    echo "- ranks x threads: 1 x 2 (1-rank rows), 2 x 1 (2-rank row)"
    echo "- data: bench/make_observed.py on $(basename "$photo"): its central region as the scene, $n observations of"
    echo "  ${size} (16-bit PNG, noise 0.01) by PSFs of ${psf}x${psf} (rotated Gaussians and motion streaks, .npy),"
    echo "  the measured region as reference (PNG 16-bit)"
    echo "- solver: FFDNet (kair-small ffdnet_color.h5), sigma 0.02, step 0.12, x_0 = 0, $iters iterations; 2 ranks:"
    echo "  distributed physics (4 PSFs each) and tiles (patch 512, overlap 16)"
    echo "- times: seconds; per iteration the slowest rank, median over iterations 2..$iters (one run each; the"
    echo "  machine is shared: the load averages before -> after each run are in the last column)"
    echo
    echo "| ranks | boundary | x (H x W) | setup s | gradient s | denoiser s | comm s | iteration s | total s | peak MiB per rank | PSNR dB | data residual | load (1, 5, 15 min) |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    bench_block "Commands (the data and config in a temporary folder written by the script)" "${cmds[@]}"
    echo
    bench_block "Raw output" "$(cat "$work/make.log")" "${raw[@]}"
} >"$results"
echo "wrote $results"
