#!/usr/bin/env bash
# drunet_memory_curve.sh - DRUNet forward memory and time against image width,
# pnp beside PyTorch (deepinv), for issue 8's memory curve: the public
# benchmark saw DRUNet's memory jump from ~1.3 GB to ~4 GB between widths 1280
# and 1296 at height 2048 (GPU). On the CPU the height is scaled down 16x
# (128) so a point takes seconds; widths 1024..2048 in steps of 8 (129 points).
#
# Each side sweeps every width in ONE process (pnp: build/bench/denoiser_forward,
# PyTorch: bench/torch_drunet_forward.py; their headers say how memory is
# read), one timed pass per width, one warm-up pass at the first width only
# (--warmup first), full-width DRUNet on random weights, batch 1, both sides on
# the same thread count. Memory per point: the forward pass's share of the
# resident memory (VmHWM over the pass minus VmRSS before it, the high-water
# mark reset per point through /proc/self/clear_refs, malloc_trim(0) before
# each point); for pnp also its planned activations and the backend's peak;
# on --device cuda PyTorch's caching-allocator counters too.
#
#   bash bench/drunet_memory_curve.sh [--height 128] [--widths 1024:2048:8]
#       [--threads 2] [--spec drunet:64,128,256,512:4] [--backend cpu|cuda]
#       [--device cpu|cuda] [--no-ours] [--no-torch] [--torch-args "..."]
#       [--out PREFIX]
#
# --widths A:B:STEP (inclusive); --backend is pnp's backend, --device
# PyTorch's (pnp may refuse cuda while its CUDA layer engine is unfinished:
# the error is reported and PyTorch still runs); --torch-args passes extra
# options to torch_drunet_forward.py (e.g. "--no-mkldnn" for a controlled
# experiment). Outputs (PREFIX default bench/results/<date>-drunet-memory-curve-<kind>,
# kind cpu, or cuda when either side is on cuda):
#   PREFIX.tsv  one row per point and side, appended as each point finishes
#               (a run cut short keeps its rows),
#   PREFIX.png  bench/plot_memory_curve.py's two panels (memory, time vs width),
#   PREFIX.md   date, machine, commit, commands, the fit of pnp's memory to a
#               line, PyTorch's largest steps, a table at a few widths.
# Hold the machine's benchmark lock: flock /tmp/pnp-bench.lock bash bench/drunet_memory_curve.sh
# Runs `make bench` first (CUDA=0/1 in the environment passes through).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
PYTHON="${PYTHON:-python3}" PLOT_PYTHON="${PLOT_PYTHON:-/usr/bin/python3}"
HEIGHT=128 WIDTHS=1024:2048:8 THREADS=2 SPEC=drunet:64,128,256,512:4 BACKEND=cpu DEVICE=cpu
OURS=1 TORCH=1 TORCH_ARGS="" OUT=""
CMDLINE=$(bench_cmdline bench/drunet_memory_curve.sh "$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --height) HEIGHT=$2; shift 2 ;;
    --widths) WIDTHS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --spec) SPEC=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --no-ours) OURS=0; shift ;;
    --no-torch) TORCH=0; shift ;;
    --torch-args) TORCH_ARGS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "drunet_memory_curve.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
IFS=: read -r W0 W1 WSTEP <<<"$WIDTHS"
[[ "$W0" =~ ^[0-9]+$ && "$W1" =~ ^[0-9]+$ && "$WSTEP" =~ ^[1-9][0-9]*$ && "$HEIGHT" =~ ^[1-9][0-9]*$ ]] ||
    { echo "drunet_memory_curve.sh: --widths A:B:STEP and --height H take positive integers" >&2; exit 2; }
KIND=cpu
[ "$BACKEND" = cuda ] || [ "$DEVICE" = cuda ] && KIND=cuda
OUT=${OUT:-bench/results/$(date +%F)-drunet-memory-curve-$KIND}
SHAPES=$(for w in $(seq "$W0" "$WSTEP" "$W1"); do printf '1x%sx%s ' "$HEIGHT" "$w"; done)
SHAPES=${SHAPES% }
make -s bench >/dev/null
LOAD_START=$(bench_load)
export OMP_NUM_THREADS=$THREADS
mkdir -p "$(dirname "$OUT")"

# key=value lines (denoiser_forward / torch_drunet_forward.py) -> TSV rows, one per line as it comes
COLS="w h n median_s cpu_s util fwd_bytes rss_base_bytes rss_peak_bytes act_bytes peak_bytes dev_base_bytes dev_peak_bytes dev_reserved_bytes fwd_dev_bytes"
to_tsv() {
    awk -v side="$1" -v cols="$COLS" 'BEGIN { nc = split(cols, c, " ") }
        { delete v; for (i = 1; i <= NF; ++i) if (split($i, kv, "=") == 2) v[kv[1]] = kv[2]
          row = side; for (j = 1; j <= nc; ++j) row = row "\t" ((c[j] in v) ? v[c[j]] : "-")
          print row; fflush() }'
}
printf 'side\t%s\n' "${COLS// /$'\t'}" >"$OUT.tsv"

cmds=("SHAPES=\"\$(for w in \$(seq $W0 $WSTEP $W1); do printf '1x${HEIGHT}x%s ' \$w; done)\"") notes=() nets=()
run_side() { # run_side SIDE CMD...: output to the terminal, its result lines as TSV rows to $OUT.tsv
    local side=$1 log st
    shift
    log=$(mktemp)
    cmds+=("OMP_NUM_THREADS=$THREADS $(printf '%q ' "${@:1:$#-1}")\"\$SHAPES\"") # the last argument is $SHAPES
    echo "== ${cmds[-1]}"
    set +e
    "$@" 2>&1 | tee -a /dev/stderr "$log" | grep --line-buffered '^n=' | to_tsv "$side" >>"$OUT.tsv"
    st=${PIPESTATUS[0]}
    set -e
    nets+=("$side: $(grep -m1 -o 'net="[^"]*"' "$log" || echo "no result line")")
    [ "$st" = 0 ] || notes+=("$side exited with status $st: $(grep -v '^n=' "$log" | tail -3 | tr '\n' ' ')")
    rm -f "$log"
}
if [ "$OURS" = 1 ]; then
    run_side pnp build/bench/denoiser_forward --net "$SPEC" --backend "$BACKEND" --threads "$THREADS" \
        --repeats 1 --warmup first --shapes "$SHAPES"
fi
if [ "$TORCH" = 1 ]; then
    # shellcheck disable=SC2086
    run_side PyTorch "$PYTHON" bench/torch_drunet_forward.py --spec "$SPEC" --device "$DEVICE" \
        --threads "$THREADS" --repeats 1 --warmup first $TORCH_ARGS --shapes "$SHAPES"
fi

analysis=$("$PLOT_PYTHON" bench/plot_memory_curve.py "$OUT.tsv" "$OUT.png" \
    --title "DRUNet $SPEC forward, height $HEIGHT, batch 1, $THREADS threads ($KIND)")
{
    echo "# DRUNet forward memory and time against width: pnp vs PyTorch (deepinv), $KIND"
    echo
    bench_provenance "$THREADS" "$CMDLINE"
    echo "- load average (1, 5, 15 min; the machine is shared) at start: $LOAD_START; at end: $(bench_load)"
    echo "- shapes: [1,3,$HEIGHT,W], W = $W0..$W1 step $WSTEP; pnp backend $BACKEND, PyTorch device $DEVICE;"
    echo "  one timed pass per width, one warm-up pass at the first width only; data: \`$OUT.tsv\`"
    printf -- '- %s\n' "${nets[@]}"
    [ ${#notes[@]} -eq 0 ] || printf -- '- NOTE: %s\n' "${notes[@]}"
    echo
    echo "![memory and time against width]($(basename "$OUT").png)"
    echo
    echo "$analysis"
    echo
    bench_block Commands "${cmds[@]}"
} >"$OUT.md"
echo "wrote $OUT.md, $OUT.tsv, $OUT.png"
