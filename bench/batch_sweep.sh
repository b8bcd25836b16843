#!/usr/bin/env bash
# batch_sweep.sh - DRUNet on 448/32 tiles against the batch size, pnp beside
# PyTorch (deepinv), for issue 8's batch-size sweep: time per tile and the
# forward pass's peak memory for batches of windows of the reference problem.
#
# A 448/32 tile is a window of patch 448 + 2 x overlap 32 = 512 x 512 pixels
# (include/pnp/tiling.h). Batches 1 2 4 8 16 and "all" = every window of the
# reference problem (2048 x 1366, patch 448, overlap 32), counted by pnp's own
# tiling (build/bench/denoiser_forward --count-windows, pnp_tiling_plan: 5 x 4
# = 20; --window PX replaces the window side, for quick checks). Full-width
# DRUNet on random weights, both sides on the same thread count. Small
# batches (<= --small, default 4) take the median of 3 timed passes, larger
# ones one pass (--repeats-small / --repeats-large). Each side
# runs two processes (small batches, then large), every shape after malloc_trim
# on a fresh pnp network (pnp) or the same model (PyTorch), with one warm-up
# pass at the first batch of each process (--warmup first): the other batches'
# timed passes include the allocation of their activations on both sides
# (pnp once per batch, PyTorch on every pass as always). Memory per batch: the
# forward pass's share of the resident memory (VmHWM over the passes minus
# VmRSS before), and pnp's planned activations and backend peak.
#
#   bash bench/batch_sweep.sh [--batches "1 2 4 8 16 all"] [--threads 2]
#       [--spec drunet:64,128,256,512:4] [--repeats-small 3] [--repeats-large 1]
#       [--small 4] [--problem 2048x1366:448:32] [--window PX] [--no-torch]
#       [--results FILE]
#
# Results: bench/results/<date>-batch-sweep-cpu.md (or --results FILE), with
# the raw lines. Hold the machine's benchmark lock:
#   flock /tmp/pnp-bench.lock bash bench/batch_sweep.sh
# Runs `make bench` first (CUDA=0/1 in the environment passes through).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
PYTHON="${PYTHON:-python3}"
BATCHES="1 2 4 8 16 all" THREADS=2 SPEC=drunet:64,128,256,512:4 REPS_SMALL=3 REPS_LARGE=1 SMALL=4
WINDOW="" PROBLEM=2048x1366:448:32 TORCH=1
RESULTS="bench/results/$(date +%F)-batch-sweep-cpu.md"
CMDLINE=$(bench_cmdline bench/batch_sweep.sh "$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --batches) BATCHES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --spec) SPEC=$2; shift 2 ;;
    --repeats-small) REPS_SMALL=$2; shift 2 ;;
    --repeats-large) REPS_LARGE=$2; shift 2 ;;
    --small) SMALL=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --problem) PROBLEM=$2; shift 2 ;;
    --no-torch) TORCH=0; shift ;;
    --results) RESULTS=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "batch_sweep.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
make -s bench >/dev/null
LOAD_START=$(bench_load)
OURS=build/bench/denoiser_forward
export OMP_NUM_THREADS=$THREADS
tiles=$($OURS --count-windows "$PROBLEM")
ALL=$(bench_kv "$tiles" windows)
WINDOW=${WINDOW:-$(bench_kv "$tiles" window | cut -dx -f1)}
echo "reference problem $PROBLEM: $tiles"

small=() large=()
for b in $BATCHES; do
    [ "$b" = all ] && b=$ALL
    if [ "$b" -le "$SMALL" ]; then small+=("${b}x${WINDOW}x${WINDOW}"); else large+=("${b}x${WINDOW}x${WINDOW}"); fi
done

cmds=() ours_lines=() torch_lines=()
run() { # run VAR CMD...: the result lines of CMD appended to array VAR
    local -n into=$1
    shift
    cmds+=("OMP_NUM_THREADS=$THREADS $(printf '%q ' "$@" | sed 's/ $//')")
    echo "== ${cmds[-1]}"
    local line
    while IFS= read -r line; do
        echo "$line"
        [[ "$line" == n=* ]] && into+=("$line")
    done < <("$@")
    wait $! || { echo "batch_sweep.sh: '${cmds[-1]}' failed" >&2; exit 1; }
}
for group in small large; do
    declare -n shapes=$group
    [ ${#shapes[@]} -gt 0 ] || continue
    reps=$REPS_SMALL
    [ $group = large ] && reps=$REPS_LARGE
    run ours_lines $OURS --net "$SPEC" --threads "$THREADS" --repeats "$reps" --warmup first --shapes "${shapes[*]}"
    if [ "$TORCH" = 1 ]; then
        run torch_lines "$PYTHON" bench/torch_drunet_forward.py --spec "$SPEC" --threads "$THREADS" \
            --repeats "$reps" --warmup first --shapes "${shapes[*]}"
    fi
done

rows=()
for ((i = 0; i < ${#ours_lines[@]}; ++i)); do
    o=${ours_lines[i]} t=${torch_lines[i]:-}
    n=$(bench_kv "$o" n)
    o_tile=$(awk -v s="$(bench_kv "$o" median_s)" -v n="$n" 'BEGIN {printf "%.3f", s / n}')
    o_util=$(bench_kv "$o" util) t_util=""
    o_fwd=$(bench_kv "$o" fwd_bytes)
    t_tile="-" t_fwd="" t_mb="-" t_per="-"
    if [ -n "$t" ]; then
        t_tile=$(awk -v s="$(bench_kv "$t" median_s)" -v n="$n" 'BEGIN {printf "%.3f", s / n}')
        t_fwd=$(bench_kv "$t" fwd_bytes) t_util=$(bench_kv "$t" util)
        t_mb=$(bench_mb "$t_fwd") t_per=$(bench_mb "$((t_fwd / n))")
    fi
    rows+=("| $n | $(bench_kv "$o" repeats) | $o_tile | $t_tile | ${o_util:--} / ${t_util:--} | $(bench_ratio "$t_tile" "$o_tile") | $(bench_mb "$(bench_kv "$o" act_bytes)") | $(bench_mb "$(bench_kv "$o" peak_bytes)") | $(bench_mb "$o_fwd") | $t_mb | $(bench_ratio "$t_fwd" "$o_fwd") | $(bench_mb "$((o_fwd / n))") | $t_per |")
done

mkdir -p "$(dirname "$RESULTS")"
{
    echo "# DRUNet on 448/32 tiles against the batch size, CPU: pnp vs PyTorch (deepinv)"
    echo
    bench_provenance "$THREADS" "$CMDLINE"
    echo "- load average (1, 5, 15 min; the machine is shared) at start: $LOAD_START; at end: $(bench_load)"
    echo "- network: DRUNet $SPEC (widths, blocks per level), random weights, sigma 0.05; input"
    echo "  [N,3,$WINDOW,$WINDOW]; the tiling of the reference problem $PROBLEM (H x W:patch:overlap,"
    echo "  pnp_tiling_plan) has windows of $(bench_kv "$tiles" window) and \"all\" = $ALL of them ($tiles)"
    echo "- time per tile = time of one pass / N; median of $REPS_SMALL passes for N <= $SMALL, $REPS_LARGE pass(es)"
    echo "  above; one warm-up pass at the first batch of each process only (batches ${small[*]:-} in one"
    echo "  process, ${large[*]:-} in another, per side), so later batches' timed passes include"
    echo "  allocating their activations (pnp: once per batch, a fresh network per batch; PyTorch: every pass)"
    echo "- memory (MB = 10^6 bytes): forward = the pass's share of resident memory, VmHWM over the"
    echo "  passes (reset per batch through /proc/self/clear_refs) minus VmRSS before them (after"
    echo "  malloc_trim); planned = pnp's own activation plan and backend high-water mark (+ input and output)"
    echo "- util = the process's CPU time / (wall time x threads) over the timed passes: about 1 when"
    echo "  its threads had the cores to themselves, well below 1 when other processes took turns"
    echo
    echo "| batch | timed passes | pnp s/tile | PyTorch s/tile | util pnp / PyTorch | PyTorch / pnp time | pnp activations planned MB | pnp backend peak MB | pnp forward MB | PyTorch forward MB | PyTorch / pnp memory | pnp forward MB per tile | PyTorch forward MB per tile |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    bench_block Commands "${cmds[@]}"
    echo
    bench_block "Raw output" "${ours_lines[@]/#/pnp:     }" "${torch_lines[@]/#/PyTorch: }"
} >"$RESULTS"
echo "wrote $RESULTS"
printf '%s\n' "${rows[@]}"
