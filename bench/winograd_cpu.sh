#!/usr/bin/env bash
# winograd_cpu.sh - the CPU backend's Winograd convolutions (issue 21) against
# its direct path and against PyTorch, in one run:
#  1. every DRUNet layer shape, direct vs Winograd F(2x2,3x3) vs F(4x4,3x3)
#     (build/bench/conv_cpu --algos: median ms, GFLOP/s-equivalent = the direct
#     method's FLOP count over the time, speed-up, max rel diff to direct), in
#     fp32 and bf16, at the two shapes the PnP benchmark runs: the 1-rank
#     problem at 512 px (DRUNet input 344x512, batch 1, --threads threads) and
#     a 2-rank window batch (10 windows of 128x128, the 448/32 tiling scaled
#     to 512 px: 112 + 2 x 8, one thread);
#  2. the whole DRUNet forward at 512 px (1x344x512: the 512x341 problem
#     padded to a multiple of 8), pnp with PNP_CONV_ALGO=direct, auto (the
#     default) and, in fp32, winograd4 (F(4,3) on every layer, the fastest
#     and largest), fp32 and bf16, beside deepinv's DRUNet (PyTorch, fp32):
#     median time, CPU time, util, pnp's weights, backend peak and max RSS;
#  3. PnP with a trained prior on a real photo, direct against Winograd: `pnp
#     run` on bus_2048.png at 512 px (the reference problem's blurs and noise),
#     FFDNet (kair-small, sigma 0.02), 10 iterations, PNP_CONV_ALGO=direct and
#     auto, fp32 and bf16: PSNR per iteration and time per iteration.
# The machine is shared: the load average is printed before every section,
# and each pnp line carries util (CPU time over wall time x threads).
#
#   bash bench/winograd_cpu.sh [--reps 7] [--forward-repeats 3] [--threads 2] [--no-torch]
#                              [--results FILE]
# Runs `make bench` first. PYTHON (default python3) must have torch + deepinv.
# Results: bench/results/<date>-winograd-cpu.md (or --results FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
PYTHON="${PYTHON:-python3}"
REPS=7 FREPS=3 THREADS=2 TORCH=1
RESULTS="bench/results/$(date +%F)-winograd-cpu.md"
CMDLINE=$(bench_cmdline bench/winograd_cpu.sh "$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --forward-repeats) FREPS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --no-torch) TORCH=0; shift ;;
    --results) RESULTS=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "winograd_cpu.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
make -s bench >/dev/null
cmds=() out=()
say() { out+=("$@"); printf '%s\n' "$@" >&2; }

say "## 1. Per layer: direct vs Winograd" ""
say "GFLOP = 2 n cout oh ow cin k k (the direct method's count); Winograd's GF/s-eq is that count over its"
say "time. \"-\": the layer is not 3x3 stride 1 (it runs direct whatever is asked). max rel diff:"
say "max |y - y_direct| / max |y_direct| (bf16: against bf16 direct, which is itself ~2^-8 off)." ""
for prec in fp32 bf16; do
    for shape in "344x512 1 $THREADS" "128x128 10 1"; do
        set -- $shape
        cmd="build/bench/conv_cpu --algos --precision $prec --reps $REPS --batch $2 --only drunet --drunet $1"
        say "### $prec, DRUNet input $2 x $1, $3 thread(s)" "" "load before: $(bench_load)" ""
        cmds+=("OMP_NUM_THREADS=$3 $cmd")
        say "$(OMP_NUM_THREADS=$3 $cmd)" ""
    done
done

say "## 2. DRUNet forward, 1x344x512 (512 px), $THREADS threads" ""
say "Median of $FREPS passes after one warm-up; cpu s: the process's CPU time per pass; util: cpu s over"
say "(wall x threads), about 1 when the threads had their cores. MB = 10^6 bytes." ""
say "| side | precision | PNP_CONV_ALGO | s | cpu s | util | PyTorch / this | weights held MB | backend peak MB | max RSS MB | load before |"
say "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
t_torch=""
if [ "$TORCH" = 1 ]; then
    tcmd="$PYTHON bench/torch_drunet_forward.py --shapes 1x344x512 --repeats $FREPS --threads $THREADS"
    load=$(bench_load)
    theirs=$(OMP_NUM_THREADS=$THREADS $tcmd)
    cmds+=("OMP_NUM_THREADS=$THREADS $tcmd")
    raw=("PyTorch: $theirs")
    t_torch=$(bench_kv "$theirs" median_s)
    say "| deepinv (PyTorch) | fp32 | - | $t_torch | $(bench_kv "$theirs" cpu_s) | $(bench_kv "$theirs" util) | 1.00 | - | - | $(bench_mb "$(bench_kv "$theirs" rss_max_bytes)") | $load |"
fi
for run in "fp32 direct" "fp32 auto" "fp32 winograd4" "bf16 direct" "bf16 auto"; do
    set -- $run
    cmd="build/bench/denoiser_forward --shapes 1x344x512 --repeats $FREPS --threads $THREADS --precision $1"
    load=$(bench_load)
    ours=$(PNP_CONV_ALGO=$2 OMP_NUM_THREADS=$THREADS $cmd)
    cmds+=("PNP_CONV_ALGO=$2 OMP_NUM_THREADS=$THREADS $cmd")
    raw+=("pnp ($1, $2): $ours")
    t=$(bench_kv "$ours" median_s)
    say "| pnp | $1 | $2 | $t | $(bench_kv "$ours" cpu_s) | $(bench_kv "$ours" util) | $(bench_ratio "$t_torch" "$t") | $(bench_mb "$(bench_kv "$ours" held_bytes)") | $(bench_mb "$(bench_kv "$ours" peak_bytes)") | $(bench_mb "$(bench_kv "$ours" rss_max_bytes)") | $load |"
done
say "" "load after: $(bench_load)" ""

say "## 3. PnP with FFDNet on a real photo: direct vs Winograd" ""
photo="${PNP_SHARED:-$(cd .. && pwd)/shared}/data/images/bus_2048.png"
ffdnet="${PNP_SHARED:-$(cd .. && pwd)/shared}/data/weights/kair-small/ffdnet_color.h5"
tmp=$(mktemp -d)
say "$(basename "$photo") at 512 px, 8 blurs, noise 0.1, FFDNet (kair-small) at sigma 0.02, step 0.1, 10 iterations," \
    "1 rank, $THREADS threads. PSNR after iterations 1, 5, 10 (/traces/psnr); s/iter: the last /traces/elapsed over 10." ""
say "| precision | PNP_CONV_ALGO | PSNR dB (1 / 5 / 10) | final - direct's final dB | s/iter | load before |"
say "| --- | --- | --- | --- | --- | --- |"
for prec in fp32 bf16; do
    first=""
    for algo in direct auto; do
        cmd="build/pnp run --set image=$photo --set image_size=512 --set max_iter=10 --set denoiser=ffdnet --set weights=$ffdnet --set denoiser_sigma=0.02 --set precision=$prec --threads $THREADS --out $tmp/$prec-$algo"
        load=$(bench_load)
        PNP_CONV_ALGO=$algo OMP_NUM_THREADS=$THREADS $cmd >"$tmp/$prec-$algo.log" 2>&1
        cmds+=("PNP_CONV_ALGO=$algo OMP_NUM_THREADS=$THREADS $cmd")
        raw+=("pnp run ($prec, $algo): $(tail -1 "$tmp/$prec-$algo.log")")
        read -r p1 p5 p10 per < <($PYTHON -c "
import h5py, sys
t = h5py.File(sys.argv[1])['traces']
p, e = t['psnr'][...], t['elapsed'][...]
print('%.4f %.4f %.4f %.3f' % (p[0], p[4], p[9], e[-1] / len(e)))" "$tmp/$prec-$algo/default_row0.h5")
        [ -n "$first" ] || first=$p10
        say "| $prec | $algo | $p1 / $p5 / $p10 | $(awk -v a="$p10" -v b="$first" 'BEGIN {printf "%+.4f", a - b}') | $per | $load |"
    done
done
rm -rf "$tmp"
say "" "load after: $(bench_load)"

mkdir -p "$(dirname "$RESULTS")"
{
    echo "# Winograd convolutions on CPU (issue 21): direct vs F(2,3) vs F(4,3), and DRUNet against deepinv"
    echo
    bench_provenance "$THREADS" "$CMDLINE"
    echo "- CPU: $(lscpu | sed -n 's/^CPU family: *//p') family, model $(lscpu | sed -n 's/^Model: *//p'); $(lscpu | sed -n 's/^L2 cache: *//p') L2; flags: $(grep -o -w -E 'avx512f|avx512_bf16|avx512bw' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo
    printf '%s\n' "${out[@]}"
    echo
    bench_block Commands "${cmds[@]}"
    echo
    bench_block "Raw output" "${raw[@]}"
} >"$RESULTS"
echo "wrote $RESULTS" >&2
