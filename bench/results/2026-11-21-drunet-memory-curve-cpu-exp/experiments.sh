#!/usr/bin/env bash
# experiments.sh - the controlled experiments behind the explanation of
# PyTorch's CPU memory curve in ../2026-11-21-drunet-memory-curve-cpu.md,
# exactly as they were run (from the repository root, under the benchmark
# lock: flock /tmp/pnp-bench.lock bash bench/results/2026-11-21-drunet-memory-curve-cpu-exp/experiments.sh).
# PyTorch side only, deepinv DRUNet 64,128,256,512:4, height 128, 2 threads:
#   mmap128k.*   the sweep at widths 1024..2048 step 32 with glibc's mmap
#                threshold fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_=131072:
#                every block above it is mmap'ed and unmapped when freed, and
#                setting it turns off glibc's dynamic threshold), against the
#                default run at the same widths;
#   nomkldnn.*   the sweep at widths 1024..2048 step 256 with
#                torch.backends.mkldnn.enabled = False (ATen's own im2col
#                convolution instead of oneDNN);
#   repeat.txt   the widths around the largest step of the default run, each
#                4 times in one process, default and with the fixed threshold:
#                does the same width give the same memory twice?
#   onednn.txt   which oneDNN implementations run at those two widths
#                (ONEDNN_VERBOSE=1; counts of primitive kind, implementation).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. bench/lib.sh
D=bench/results/2026-11-21-drunet-memory-curve-cpu-exp
A=${A:-1848} B=${B:-1856}
T="python3 bench/torch_drunet_forward.py --threads 2 --repeats 1 --warmup first"
export OMP_NUM_THREADS=2

MALLOC_MMAP_THRESHOLD_=131072 bash bench/drunet_memory_curve.sh --no-ours --widths 1024:2048:32 --out $D/mmap128k
bash bench/drunet_memory_curve.sh --no-ours --widths 1024:2048:256 --torch-args --no-mkldnn --out $D/nomkldnn

shapes="1x128x$A 1x128x$A 1x128x$A 1x128x$A 1x128x$B 1x128x$B 1x128x$B 1x128x$B"
{
    echo "# the same width 4 times in one process, PyTorch, default malloc and MALLOC_MMAP_THRESHOLD_=131072"
    bench_provenance 2 "bash $D/experiments.sh"
    echo "- command: $T --shapes \"$shapes\" (then the same with MALLOC_MMAP_THRESHOLD_=131072)"
    echo
    echo "default:"
    $T --shapes "$shapes" | cut -d' ' -f3,7,10,12-14
    echo "MALLOC_MMAP_THRESHOLD_=131072:"
    MALLOC_MMAP_THRESHOLD_=131072 $T --shapes "$shapes" | cut -d' ' -f3,7,10,12-14
} >$D/repeat.txt

{
    echo "# oneDNN primitives executed in one forward pass at widths $A and $B (count, kind, implementation)"
    bench_provenance 2 "bash $D/experiments.sh"
    for w in $A $B; do
        echo "- command: ONEDNN_VERBOSE=1 $T --shapes 1x128x$w --warmup none"
        echo
        ONEDNN_VERBOSE=1 $T --shapes 1x128x$w --warmup none | grep '^onednn_verbose,v1,primitive,exec' |
            cut -d, -f6,7 | sort | uniq -c
        echo
    done
} >$D/onednn.txt
