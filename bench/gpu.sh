#!/usr/bin/env bash
# gpu.sh - everything a lent GPU session should run, in one device call of at
# most 9 minutes (bench/README.md): build with CUDA, the CUDA parity tests,
# the GPU checks of the golden PnP run, then the reference problem timed.
#
#   1. preflight: nvcc, cuDNN and NCCL (the toolkit's, else the pip wheels'
#      nvidia/cudnn and nvidia/nccl beside python3's torch), MPI, pkg-config
#      and pnp's libraries; where MPI or a library is missing and .gpu-carry/debs
#      was carried (bench/gpu_prepare.sh), those Debian packages are unpacked
#      into /tmp/pnp-sysroot and used from there;
#   2. make BUILD=build-gpu (CUDA=1, sm_90), and build-gpu/bench/denoiser_forward;
#   3. build-gpu/tests/test_cuda_parity (every layer op, DRUNet, DnCNN, FFDNet
#      in TF32, bf16 and strict fp32 against the CPU backend; the summary says
#      how the tensor cores round TF32 operands and how many convolutions cuDNN
#      would not fuse: the two things the CUDA emulation, tests/cuda_emu/,
#      cannot tell);
#   4. tests/cli/test_run_reference.sh on build-gpu/pnp (the golden run on the
#      cuda backend against the cpu one, TF32 / strict / bf16 / 2 ranks);
#   5. the reference problem (configs/highres_imaging.yml: 2048x1366 synthetic
#      scene, 8 blurs, full-width DRUNet with generated weights) for 10
#      iterations on the cuda backend, fp32 and bf16, row 0 (1 rank) and row 1
#      (2 ranks sharing the GPU: distributed physics, 448/32 tiles, MPI on host
#      buffers), read back with `pnp inspect --json`: per-iteration time,
#      gradient / denoiser / communication time, peak and planned memory per rank;
#   6. one DRUNet forward pass (full widths, 1024 and 2048 px) fp32 and bf16:
#      median time and TFLOP/s at 4.24 MFLOP per pixel;
#   7. bench/pnp_vs_deepinv.py: pnp (cuda fp32, bf16) against deepinv's PnP
#      (torch on the same GPU), 1 and 2 ranks, per-phase medians.
# Every step has its own timeout, cut to what is left of GPU_BUDGET_S (520 s);
# a failing step is recorded and the next one runs. Results: $OUT (the device
# tool's folder; bench/out when unset): summary.md (the tables), build.log,
# parity.log, cli.log, runs.log, inspect.json, forward.log.
#
#   bash bench/gpu.sh                    (device tool: carry [".gpu-carry"] if prepared)
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
BUDGET=${GPU_BUDGET_S:-520}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
WORK=$(mktemp -d /tmp/pnp-gpu.XXXXXX)
: >"$SUMMARY"

left() { echo $((BUDGET - ($(date +%s) - START))); }
note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME SECONDS LOG CMD...: CMD under a timeout of SECONDS (cut to the time
# left), its output appended to LOG, one line in the summary; returns CMD's status.
step() {
    local name=$1 want=$2 log=$3
    shift 3
    local t
    t=$(($(left) - 15))
    if [ "$t" -lt 20 ]; then
        note "- $name: not run, $(left) s of the budget left"
        return 99
    fi
    if [ "$want" -lt "$t" ]; then t=$want; fi
    local s rc=0
    s=$(date +%s)
    echo "### $name (timeout ${t} s): $*" >>"$log"
    timeout --kill-after=10 "$t" "$@" >>"$log" 2>&1 || rc=$?
    note "- $name: status $rc$([ $rc -eq 124 ] && echo ' (timed out)'), $(($(date +%s) - s)) s"
    return $rc
}

note "# pnp on a GPU, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
note ""
note "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 ||
    echo 'no nvidia-smi')," \
    "$(nproc) CPU cores; commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo 'unknown (no .git sent)')"

# ---------------------------------------------------------------- 1. preflight
make_args=(BUILD=build-gpu CUDA=1)
command -v nvcc >/dev/null || { note "- preflight: no nvcc on PATH: nothing can be built"; exit 1; }
CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc)")")
make_args+=(CUDA_HOME="$CUDA_HOME")
wheel_dir() { # wheel_dir MODULE: the folder of a pip package nvidia.MODULE, or nothing
    python3 -c "import nvidia.$1 as m; print(list(m.__path__)[0])" 2>/dev/null || true
}
if [ ! -e "$CUDA_HOME/include/cudnn.h" ]; then
    d=$(wheel_dir cudnn)
    if [ -n "$d" ] && [ -e "$d/include/cudnn.h" ]; then
        make_args+=(CUDNN_HOME="$d" "CUDNN_LIBS=-L$d/lib -l:libcudnn.so.9 -Wl,-rpath,$d/lib")
        export LD_LIBRARY_PATH="$d/lib:${LD_LIBRARY_PATH:-}" # its sub-libraries are dlopen'ed by name
        note "- cuDNN: the pip wheel's, $d"
    else
        note "- preflight: no cudnn.h in $CUDA_HOME/include nor a pip nvidia-cudnn"
    fi
fi
if [ ! -e "$CUDA_HOME/include/nccl.h" ]; then
    d=$(wheel_dir nccl)
    if [ -n "$d" ] && [ -e "$d/include/nccl.h" ]; then
        make_args+=(NCCL_HOME="$d" "NCCL_LIBS=-L$d/lib -l:libnccl.so.2 -Wl,-rpath,$d/lib")
        export LD_LIBRARY_PATH="$d/lib:${LD_LIBRARY_PATH:-}"
        note "- NCCL: the pip wheel's, $d"
    else
        note "- preflight: no nccl.h in $CUDA_HOME/include nor a pip nvidia-nccl"
    fi
fi
MPIRUN=mpirun
missing=""
command -v mpicc >/dev/null || missing="$missing mpicc"
command -v mpirun >/dev/null || missing="$missing mpirun"
for m in yaml-0.1 libpng fftw3f hdf5; do pkg-config --exists $m 2>/dev/null || missing="$missing $m"; done
if [ -n "$missing" ]; then
    if ! ls .gpu-carry/debs/*.deb >/dev/null 2>&1; then
        note "- preflight: missing:$missing; run bash bench/gpu_prepare.sh on the build machine and carry .gpu-carry"
        exit 1
    fi
    command -v pkg-config >/dev/null || { note "- preflight: no pkg-config either: cannot use .gpu-carry/debs"; exit 1; }
    SYS=/tmp/pnp-sysroot
    mkdir -p "$SYS/pc" "$SYS/wrap"
    for f in .gpu-carry/debs/*.deb; do dpkg -x "$f" "$SYS"; done
    ML=$SYS/usr/lib/x86_64-linux-gnu
    cp "$ML/pkgconfig/hdf5-serial.pc" "$SYS/pc/hdf5.pc" # Debian's hdf5.pc is an alternatives link
    export PKG_CONFIG_PATH="$SYS/pc:$ML/pkgconfig:$SYS/usr/share/pkgconfig"
    export PKG_CONFIG_SYSROOT_DIR="$SYS"
    export OPAL_PREFIX="$SYS/usr" # Open MPI relocated: orterun, orted, plugins, help files
    export LD_LIBRARY_PATH="$ML:$ML/openmpi/lib:$ML/hdf5/serial:${LD_LIBRARY_PATH:-}"
    ln -sf "$SYS/usr/bin/orterun" "$SYS/wrap/mpirun" # mpirun itself is an alternatives link there
    export PATH="$SYS/wrap:$SYS/usr/bin:$PATH"
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    make_args+=("CC=gcc $(pkg-config --cflags ompi-c)" "EXTRA_LDLIBS=$(pkg-config --libs ompi-c)")
    note "- preflight: missing:$missing; using the carried Debian packages in $SYS"
fi
SHARED=""
for d in .gpu-carry/shared ../shared "${PNP_SHARED:-}"; do
    [ -n "$d" ] && [ -d "$d/data" ] && { SHARED=$(cd "$d" && pwd); break; }
done
note "- shared data: ${SHARED:-none (the trained-denoiser checks will skip)}"
MPI=("$MPIRUN")
"$MPIRUN" --version 2>&1 | grep -q "Open MPI" && MPI+=(--allow-run-as-root --oversubscribe)
note "- MPI: $("$MPIRUN" --version 2>&1 | head -1)"

# ---------------------------------------------------------------- 2. build
if ! step "build (make -j$(nproc) ${make_args[*]})" 240 "$OUT/build.log" \
    make -j"$(nproc)" "${make_args[@]}" all build-gpu/bench/denoiser_forward; then
    note ""
    note "Build failed: see build.log (last lines below)."
    tail -25 "$OUT/build.log" | sed 's/^/    /' >>"$SUMMARY"
    exit 1
fi
PNP=$PWD/build-gpu/pnp

# ---------------------------------------------------------------- 3. parity
step "test_cuda_parity" 150 "$OUT/parity.log" env PNP_SHARED="$SHARED" build-gpu/tests/test_cuda_parity || true
note "  $(grep -c '^ok - ' "$OUT/parity.log" || true) ok, $(grep -c '^not ok - ' "$OUT/parity.log" || true) failed," \
    "$(grep -c '^skip - ' "$OUT/parity.log" || true) skipped"
grep '^not ok - ' "$OUT/parity.log" | head -20 | sed 's/^/    /' >>"$SUMMARY" || true
grep '^# ' "$OUT/parity.log" | sed 's/^# /    /' >>"$SUMMARY" || true

# ---------------------------------------------------------------- 4. golden run on the GPU
step "tests/cli/test_run_reference.sh (cuda)" 120 "$OUT/cli.log" \
    env PNP_BIN="$PNP" PNP_SHARED="$SHARED" PY="$(command -v python3)" bash tests/cli/test_run_reference.sh || true
grep -E '^(not ok|ok) - .*cuda' "$OUT/cli.log" | sed 's/^/    /' >>"$SUMMARY" || true

# ---------------------------------------------------------------- 5. the reference problem
note ""
note "## Reference problem: 2048x1366, 8 blurs, DRUNet (64,128,256,512; generated weights), 10 iterations"
files=()
for prec in fp32 bf16; do
    for row in 0 1; do
        np=$((row + 1))
        log_env=()
        [ "$prec$row" = fp320 ] && log_env=(PNP_CUDNN_LOG=1) # the algorithm choices, once
        if step "pnp run row $row ($np rank$([ $np -gt 1 ] && echo s)) $prec" 120 "$OUT/runs.log" \
            env "${log_env[@]}" "${MPI[@]}" -n "$np" "$PNP" run configs/highres_imaging.yml --row "$row" \
            --set max_iter=10 --set denoiser=drunet:64,128,256,512:4 --set backend=cuda --set precision="$prec" \
            --out "$WORK/$prec"; then
            files+=("$WORK/$prec/highres_imaging_row$row.h5")
        fi
    done
done
grep -h 'ran unfused\|refused the fused\|refused its queried workspace' "$OUT/runs.log" | sort -u | head -5 |
    sed 's/^/    /' >>"$SUMMARY" || true
if [ ${#files[@]} -gt 0 ]; then
    "$PNP" inspect --json "${files[@]}" >"$OUT/inspect.json" 2>>"$OUT/runs.log" || true
    if python3 -c 'import json' 2>/dev/null; then
        python3 - "$OUT/inspect.json" >>"$SUMMARY" <<'EOF' || true
import json, re, sys
rows = json.load(open(sys.argv[1]))
print("\n| precision | row | ranks | PSNR dB | s/iter | gradient s | denoiser s | wait s | transfer s | MB received/iter "
      "| peak GiB per rank | planned GiB per rank |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    prec = re.search(r"precision=(\w+)", r["grid_row"]).group(1)
    peak = ", ".join(f"{b / 2**30:.2f}" for b in r["peak_memory"])
    planned = ", ".join(f"{b / 2**30:.2f}" for b in r.get("planned_memory") or [])
    received = max(r["per_rank"]["bytes_received"] or [0]) / 1e6
    print(f"| {prec} | {r['grid_row_index']} | {r['ranks']} | {r['final_psnr']:.3f} | {r['iteration_time']:.4f} "
          f"| {r['gradient_time']:.4f} | {r['denoise_time']:.4f} | {r['wait_time'] or 0:.4f} | {r['comm_time']:.4f} "
          f"| {received:.1f} | {peak} | {planned} |")
print("\nTimes are means over the iterations and ranks (pnp inspect: gradient + denoiser + wait + transfer = s/iter);"
      " MB received: the most any rank received per iteration; generated weights: the PSNR"
      " measures nothing but agreement between runs. Published (deepinv, V100): denoiser memory 1.6 GB on 1 GPU,"
      " 4.3 GB per rank on 2.")
EOF
    else
        "$PNP" inspect "${files[@]}" | sed 's/^/    /' >>"$SUMMARY" || true
    fi
fi

# ---------------------------------------------------------------- 6. one DRUNet forward pass
note ""
note "## DRUNet forward pass (full widths, batch 1, 3 timed passes after a warm-up)"
table="| precision | size | median s | TFLOP/s | peak GiB |
| --- | --- | --- | --- | --- |"
for prec in fp32 bf16; do
    for size in 1024 2048; do
        if step "denoiser_forward $prec $size" 60 "$OUT/forward.log" build-gpu/bench/denoiser_forward --backend cuda \
            --precision "$prec" --shapes "1x${size}x${size}" --repeats 3; then
            line=$(grep "^n=1 h=$size w=$size .*precision=$prec " "$OUT/forward.log" | tail -1)
            med=$(sed -E 's/.*median_s=([0-9.]+).*/\1/' <<<"$line")
            peak=$(sed -E 's/.*peak_bytes=([0-9]+).*/\1/' <<<"$line")
            table="$table
| $prec | $size | $med | $(awk -v s="$size" -v t="$med" 'BEGIN{printf "%.1f", 4.24e6*s*s/t/1e12}') \
| $(awk -v b="$peak" 'BEGIN{printf "%.2f", b/2^30}') |"
        fi
    done
done
note ""
note "$table"

# ---------------------------------------------------------------- 7. deepinv on the same GPU
# bench/pnp_vs_deepinv.py: the same problem through pnp (cuda, fp32 and bf16)
# and deepinv's PnP (torch on the GPU), 1 rank and 2 ranks sharing the GPU.
# Needs python3 with torch, deepinv and h5py (carry deepinv and h5py as wheels).
note ""
if python3 -c 'import torch, deepinv, h5py' 2>/dev/null; then
    for prec in fp32 bf16; do
        step "pnp_vs_deepinv $prec" 150 "$OUT/pnp_vs_deepinv.log" env PNP_SHARED="$SHARED" \
            python3 bench/pnp_vs_deepinv.py --pnp build-gpu/pnp --backend cuda --precision "$prec" \
            --torch-device cuda --size 2048 --ranks "1 2" --iters 10 --threads "$(nproc)" \
            $([ "$prec" = bf16 ] && echo --no-torch) --results "$OUT/pnp-vs-deepinv-$prec.md" || true
    done
else
    note "- deepinv: skipped (python3 here lacks torch, deepinv or h5py; carry deepinv and h5py as wheels, device README)"
fi
note "- total $(($(date +%s) - START)) s of the ${BUDGET} s budget"
rm -rf "$WORK"
