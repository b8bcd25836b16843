#!/usr/bin/env bash
# drunet_forward.sh - DRUNet forward pass, pnp against PyTorch (deepinv) in the
# same run, on the CPU: time (median of R passes after one warm-up) and memory,
# for each image size x batch size. Both sides get the same thread count
# (OMP_NUM_THREADS, pnp --threads, torch.set_num_threads) and each
# configuration runs in a fresh process (so max RSS belongs to it alone).
#
#   pnp:     build/bench/denoiser_forward (bench/denoiser_forward.c): full-width
#            DRUNet 64,128,256,512 / 4 blocks on pnp's generated random weights
#   PyTorch: bench/torch_drunet_forward.py: deepinv DRUNet(in_channels=3,
#            out_channels=3, pretrained=None)
#   memory:  pnp's planned activation bytes, weight bytes and the backend's
#            allocation peak; for both, the process's lifetime max RSS
#            (getrusage) and the forward pass's own share: peak RSS over the
#            passes (VmHWM, reset just before the warm-up) minus the RSS once
#            network and input exist (tracemalloc cannot see torch's
#            allocator, so PyTorch is measured through RSS only)
#
#   bash bench/drunet_forward.sh [--sizes "256 512"] [--batches "1 4"] [--repeats 3]
#                                [--threads 2] [--no-torch] [--results FILE]
#                                [--spec drunet:W0,W1,W2,W3:NB]  (default 64,128,256,512:4)
# Runs `make bench` first so build/bench/denoiser_forward is current (the
# environment's CUDA=0/1 passes through to make).
# Results: bench/results/<date>-drunet-forward-cpu.md (or --results FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
PYTHON="${PYTHON:-python3}"
SIZES="256 512" BATCHES="1 4" REPEATS=3 THREADS=2 TORCH=1 SPEC=drunet:64,128,256,512:4
RESULTS="bench/results/$(date +%F)-drunet-forward-cpu.md"
CMDLINE=$(bench_cmdline bench/drunet_forward.sh "$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --no-torch) TORCH=0; shift ;;
    --results) RESULTS=$2; shift 2 ;;
    --spec) SPEC=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "drunet_forward.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
make -s bench >/dev/null
OURS=build/bench/denoiser_forward
export OMP_NUM_THREADS=$THREADS


rows=() raw=() cmds=()
for s in $SIZES; do
    for b in $BATCHES; do
        cmd="$OURS --shapes ${b}x${s}x${s} --repeats $REPEATS --threads $THREADS --net $SPEC"
        echo "== $cmd"
        ours=$($cmd)
        echo "$ours"
        raw+=("pnp:     $ours") cmds+=("OMP_NUM_THREADS=$THREADS $cmd")
        t_ours=$(bench_kv "$ours" median_s)
        t_torch="-" ratio="-" torch_rss="-"
        if [ "$TORCH" = 1 ]; then
            tcmd="$PYTHON bench/torch_drunet_forward.py --shapes ${b}x${s}x${s} --repeats $REPEATS --threads $THREADS --spec $SPEC"
            echo "== $tcmd"
            theirs=$($tcmd)
            echo "$theirs"
            raw+=("PyTorch: $theirs") cmds+=("OMP_NUM_THREADS=$THREADS $tcmd")
            t_torch=$(bench_kv "$theirs" median_s)
            ratio=$(bench_ratio "$t_torch" "$t_ours")
            torch_rss="$(bench_mb "$(bench_kv "$theirs" rss_max_bytes)") ($(bench_mb "$(bench_kv "$theirs" rss_peak_bytes)" "$(bench_kv "$theirs" rss_base_bytes)"))"
        fi
        rows+=("| $s | $b | $t_ours | $t_torch | $ratio | $(bench_mb "$(bench_kv "$ours" act_bytes)") | $(bench_mb "$(bench_kv "$ours" weight_bytes)") | $(bench_mb "$(bench_kv "$ours" peak_bytes)") | $(bench_mb "$(bench_kv "$ours" rss_max_bytes)") ($(bench_mb "$(bench_kv "$ours" rss_peak_bytes)" "$(bench_kv "$ours" rss_base_bytes)")) | $torch_rss |")
    done
done

mkdir -p "$(dirname "$RESULTS")"
{
    echo "# DRUNet forward pass on CPU: pnp vs PyTorch (deepinv)"
    echo
    bench_provenance "$THREADS" "$CMDLINE"
    echo "- network: DRUNet $SPEC (widths, blocks per level), input [N,3,S,S], sigma 0.05;"
    echo "  time: median of $REPEATS passes after one warm-up (seconds)"
    echo "- memory (MB = 10^6 bytes): planned activations, weights and backend peak are pnp's own"
    echo "  accounting; max RSS is the process's lifetime maximum (getrusage); in brackets the"
    echo "  forward pass's share: peak RSS over the passes (VmHWM, reset through"
    echo "  /proc/self/clear_refs just before the warm-up) minus the RSS once network and input"
    echo "  exist. PyTorch's allocator is invisible to tracemalloc, hence RSS on both sides."
    echo
    echo "| size | batch | pnp s | PyTorch s | PyTorch / pnp | pnp activations planned MB | pnp weights MB | pnp backend peak MB | pnp max RSS MB (forward) | PyTorch max RSS MB (forward) |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    bench_block Commands "${cmds[@]}"
    echo
    bench_block "Raw output" "${raw[@]}"
} >"$RESULTS"
echo "wrote $RESULTS"
printf '%s\n' "${rows[@]}"
