# lib.sh - helpers shared by the benchmark scripts (sourced, not run):
# reading the key=value result lines of build/bench/denoiser_forward and
# bench/torch_drunet_forward.py, byte counts as MB, and the provenance lines
# every results file starts with.

# bench_kv LINE KEY: the value of KEY=value in LINE (empty when absent).
bench_kv() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }

# bench_mb BYTES [MINUS_BYTES]: (BYTES - MINUS_BYTES) / 10^6 with one decimal.
bench_mb() { awk -v a="$1" -v b="${2:-0}" 'BEGIN {printf "%.1f", (a - b) / 1e6}'; }

# bench_ratio A B [FORMAT]: A / B ("-" when either is missing or B is 0).
bench_ratio() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {if (a == "" || b == "" || b == 0) print "-"; else printf f, a / b}'; }

# bench_load: the load averages over 1, 5 and 15 minutes (the machine is shared).
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_cmdline SCRIPT ARGS...: the command line as it was typed (quoted).
bench_cmdline() { local s=$1; shift; printf 'bash %s' "$s"; [ $# -eq 0 ] || printf ' %q' "$@"; }

# bench_block TITLE LINE...: a titled markdown code block of the lines
# (commands, raw output), as every results file ends.
bench_block() {
    printf '%s:\n\n```\n' "$1"
    shift
    [ $# -eq 0 ] || printf '%s\n' "$@"
    printf '```\n'
}

# bench_provenance THREADS SCRIPT_CMDLINE: markdown list items for date,
# machine, git commit (marked when the tree has uncommitted changes), script,
# and the environment variables that change what the libraries do (pnp's
# convolution algorithm and micro-kernel, malloc,
# oneDNN, OpenMP, PyTorch, cuDNN, CUDA) when any is set.
bench_provenance() {
    echo "- date: $(date -u '+%F %T UTC')"
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible, $1 threads used by each side$(
        command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 &&
            echo ", GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)")"
    echo "- git commit: $(git rev-parse HEAD)$(git diff --quiet HEAD || echo ' (uncommitted changes)')"
    echo "- script: \`$2\`"
    local env
    env=$(env | grep -E '^(PNP_CONV_|MALLOC_|GLIBC_TUNABLES|ONEDNN_|DNNL_|OMP_|KMP_|GOMP_|TORCH_|PYTORCH_|CUDNN_|CUBLAS_|CUDA_)' | sort | tr '\n' ' ')
    [ -z "$env" ] || echo "- environment: \`${env% }\`"
}
