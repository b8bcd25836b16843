# test_cuda_emu.sh - the CUDA backend run on the CPU through the CUDA EMULATION
# (tests/cuda_emu/README.md; build-emu/ from `make cuda-emu`). A pass means the
# host logic, index math, synchronisation, buffer extents and API contracts of
# src/backends/cuda, kernels/ and src/comm/comm_nccl.c are right; not that real
# cuDNN accepts a configuration, nor anything about speed. Every check line
# says EMULATED. It runs:
#  - the CUDA parity suite (tests/unit/test_cuda_parity.c) with the emulated
#    libraries as they come (TF32 operands rounded to nearest, fused calls
#    accepted); with TF32 truncation (the tf32 checks); with every fused call
#    refused and Winograd refused at call time (tf32, bf16: one rounding per
#    layer still, unfused layers counted); with a fused call that needs more
#    workspace than its query says (tf32: no layer may fall back for that);
#  - pnp run (PnP on the default scene, tests/configs/scene_pnp.yml) on the
#    emulated cuda backend against the cpu backend of the same
#    binary, strict fp32 (PNP_CUDA_TF32=0: the emulation then sums exactly, so
#    1e-5): whole image; tiled with partial batches (12 windows in batches of
#    5); 2 ranks sharing the emulated GPU (MPI on host buffers; the denoised
#    slabs' all-gather once per iteration, and per batch: comm_overlap true)
#    and 2 and 3 ranks with a GPU each (PNP_EMU_DEVICES: NCCL, emulated on
#    MPI; the all-gather as grouped broadcasts on a second stream, per batch
#    by default, once per iteration with comm_overlap false), tiled in
#    batches of 4 + 2 (3 + 1 on 3 ranks); the result file's layout (peak <= planned memory on the
#    cuda backend); every device byte the emulation saw at its high-water mark
#    counted by the backend's peak, nothing left allocated at exit; the root
#    attribute unfused_convolutions (0, and > 0 with fused calls refused);
#    PnP with step_size null, the Wiener start and a relaxation, and DPIR
#    (blur_solve, SSIM) on 1 rank and on 2 ranks with a GPU each;
#  - failures attributed where they happen: a failing cudaStreamDestroy at
#    teardown and a failing kernel launch each end the run with a message
#    naming that call;
#  - tests/cli/test_run_reference.sh's cuda half (the golden run: TF32,
#    strict, bf16, 2 ranks) on the emulated pnp.
# Without the CUDA toolkit's headers nothing is built and it prints one skip line.
. "$(dirname "$0")/../cli/lib.sh"
MPI="mpirun --allow-run-as-root --oversubscribe"
EMU=build-emu
missing=$(make -s --no-print-directory cuda-emu-missing 2>/dev/null)
if [ -n "$missing" ]; then
    echo "skip - CUDA emulation: the CUDA toolkit's headers are missing ($missing)"
    exit 0
fi
if [ ! -x $EMU/pnp ] || [ ! -x $EMU/tests/test_cuda_parity ]; then
    echo "not ok - CUDA emulation: $EMU/pnp or $EMU/tests/test_cuda_parity not built (make cuda-emu)"
    exit 1
fi
echo "# EMULATION: the CUDA backend on CPU stand-ins for the CUDA runtime, cuFFT, cuDNN and NCCL."
echo "# A pass checks host logic, index math, synchronisation, buffer extents and API contracts,"
echo "# not what real cuDNN accepts, nor speed."
export PNP_CUDA_EMU=1 PNP_EMU_QUIET=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

# ---------------------------------------------------------------- parity suite
parity() { # parity WHAT ENV...: the parity test under the options, its lines marked EMULATED
    local what=$1
    shift
    env "$@" timeout 600 $EMU/tests/test_cuda_parity >"$TMP/parity.log" 2>&1
    local rc=$?
    sed -E "s/^(ok|not ok|skip) - /\1 - EMULATED cuda ($what): /" "$TMP/parity.log" | grep -E '^(ok|not ok|skip) - '
    grep -E '^(pnp|#)' "$TMP/parity.log" | grep -v '^pnp: cuda: .*refused the fused\|convolution plans ran unfused' |
        sed 's/^/# /' | head -20
    [ $rc -eq 0 ] || { echo "not ok - EMULATED cuda ($what): test_cuda_parity exited with status $rc"; status=1; }
}
parity "TF32 rounded" PNP_EMU_TF32=rna
parity "TF32 truncated" PNP_EMU_TF32=trunc PNP_PARITY_MODES=tf32
parity "fused calls and Winograd refused" PNP_EMU_REFUSE_FUSED=1 PNP_EMU_REFUSE_ALGO=winograd,winograd_nonfused \
    PNP_PARITY_MODES=tf32,bf16
parity "fused call needing more workspace than its query" PNP_EMU_FUSED_WORKSPACE_EXTRA=4096 PNP_PARITY_MODES=tf32

# ---------------------------------------------------------------- pnp run: cuda against cpu
small="tests/configs/scene_pnp.yml --set image_size=64 --set denoiser=drunet:8,16,32,64:1 --set max_iter=3"
tiles="--set distribute_denoiser=true --set patch_size=16 --set overlap=8"
run() { RUN_PNP=$EMU/pnp run_pnp "$@"; } # run NAME RANKS ARGS...: the emulated pnp (tests/cli/lib.sh)
close() { # close REF NAME WHAT: strict fp32 on the emulation against the cpu backend
    $PY tests/cli/check_run.py close "$TMP/$1/scene_pnp_row0.h5" "$TMP/$2/scene_pnp_row0.h5" 1e-5 1e-5 \
        "EMULATED cuda: $3" || status=1
}
attr() { # attr NAME KEY: a root attribute of NAME's result file
    $PY -c "import h5py, sys; print(h5py.File(sys.argv[1])['/'].attrs[sys.argv[2]])" "$TMP/$1/scene_pnp_row0.h5" "$2"
}
stats="$TMP/emu-stats"
export PNP_CUDA_TF32=0

check "EMULATED cpu reference, whole image" run cpu 1 $small --set backend=cpu
export PNP_EMU_STATS="$stats"
check "EMULATED cuda, whole image" run whole 1 $small --set backend=cuda
unset PNP_EMU_STATS
close cpu whole "whole image, 3 iterations = cpu"
$PY tests/cli/check_run.py layout "$TMP/whole/scene_pnp_row0.h5" 3 1 | sed 's/^\(ok\|not ok\) - /\1 - EMULATED cuda: /'
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
check "EMULATED cuda: the device memory the emulation saw at its high-water mark is within the backend's peak" \
    $PY -c "
import h5py, re, sys
seen = int(re.search(r'device_peak_bytes=(\d+)', open(sys.argv[1]).read()).group(1))
counted = h5py.File(sys.argv[2])['traces/peak_memory'][...].max()
print(f'# emulated device high-water mark {seen} B, backend peak {counted:.0f} B')
sys.exit(0 if seen <= counted else 1)" "$stats" "$TMP/whole/scene_pnp_row0.h5"
check "EMULATED cuda: nothing left allocated, queued or undestroyed at exit" \
    grep -q 'live_device_bytes=0 live_allocations=0 live_pinned=0 live_streams=0 live_events=0 pending_ops=0 .*live_cudnn_objects=0 live_cufft_plans=0' "$stats"
check "EMULATED cuda: unfused_convolutions = 0 when cuDNN takes the fused call" test "$(attr whole unfused_convolutions)" = 0

check "EMULATED cpu reference, tiled 16/8, batches of 5" run cpu_t 1 $small $tiles --set max_batch_size=5 --set backend=cpu
check "EMULATED cuda, tiled 16/8, batches of 5" run tiled 1 $small $tiles --set max_batch_size=5 --set backend=cuda
check "EMULATED cuda: 12 windows in batches of 5 (5 + 5 + 2)" grep -q "tiles: 12 windows of 32x32 (patch 16, overlap 8), batches of 5 on rank 0" "$TMP/tiled.log"
close cpu_t tiled "tiled, partial batches = cpu"

dist="$tiles --set distribute_physics=true --set max_batch_size=4"
check "EMULATED cpu reference, 2 ranks, tiled, batches of 4" run cpu_2 2 $small $dist --set backend=cpu
check "EMULATED cuda, 2 ranks sharing one GPU" run shared 2 $small $dist --set backend=cuda
close cpu_2 shared "2 ranks sharing the GPU (MPI on host buffers), batches 4 + 2 = cpu"
check "EMULATED cuda: ranks sharing a GPU reduce through MPI, one all-gather per iteration (auto: no overlap)" \
    test "$(attr shared communication) $(attr shared comm_overlap)" = "mpi 0"
check "EMULATED cuda, 2 ranks sharing one GPU, comm_overlap true" run shared_ov 2 $small $dist --set backend=cuda \
    --set comm_overlap=true
close cpu_2 shared_ov "2 ranks sharing the GPU, an all-gather per batch staged through the host = cpu"
export PNP_EMU_DEVICES=2
check "EMULATED cuda, 2 ranks with a GPU each" run nccl 2 $small $dist --set backend=cuda
check "EMULATED cuda, 2 ranks with a GPU each, comm_overlap false" run nccl_1 2 $small $dist --set backend=cuda \
    --set comm_overlap=false
export PNP_EMU_DEVICES=3
check "EMULATED cuda, 3 ranks with a GPU each, batches 3 + 1" run nccl_3 3 $small $dist --set backend=cuda \
    --set max_batch_size=3
unset PNP_EMU_DEVICES
close cpu_2 nccl "2 ranks with a GPU each (emulated NCCL), all-gathers per batch 4 + 2 overlapping on a second stream = cpu"
close cpu_2 nccl_1 "2 ranks with a GPU each, one grouped-broadcast all-gather per iteration = cpu"
close cpu_2 nccl_3 "3 ranks with a GPU each, all-gathers of batches 3 + 1 overlapping = cpu"
check "EMULATED cuda: ranks with a GPU each reduce through NCCL and overlap by default (auto)" \
    test "$(attr nccl communication) $(attr nccl comm_overlap) $(attr nccl_1 comm_overlap)" = "nccl 1 0"

# the solvers of issue 17: PnP with step_size null, the Wiener start and a
# relaxation (L from S, the exact Tikhonov solve), and DPIR (the exact data
# step each iteration), SSIM traced: 1 rank, and 2 ranks with a GPU each (S
# and B summed once over emulated NCCL)
cat >"$TMP/algo.yml" <<YAML
dataset:
  - highres_color_image: {image_size: 64, num_operators: 8, noise_level: 0.1}
solver:
  - PnP: {denoiser: "drunet:8,16,32,64:1", step_size: null, init_method: wiener, denoiser_lambda_relaxation: 2, max_iter: 3}
  - DPIR: {denoiser: "drunet:8,16,32,64:1", max_iter: 4}
YAML
algo_close() { # algo_close REF NAME WHAT
    for k in 0 1; do
        $PY tests/cli/check_run.py close "$TMP/$1/algo_row$k.h5" "$TMP/$2/algo_row$k.h5" 1e-5 1e-5 \
            "EMULATED cuda: $3, row $k ($([ $k -eq 0 ] && echo PnP || echo DPIR))" || status=1
    done
}
check "EMULATED cpu reference, PnP (step null, wiener, relaxation) and DPIR" run algo_cpu 1 "$TMP/algo.yml" --set backend=cpu
check "EMULATED cuda, PnP (step null, wiener, relaxation) and DPIR" run algo_cuda 1 "$TMP/algo.yml" --set backend=cuda
algo_close algo_cpu algo_cuda "the solvers of issue 17 = cpu"
check "EMULATED cuda: SSIM traced, within 1e-6 of the cpu's" $PY -c "
import h5py, numpy as np, sys
a, b = (h5py.File(f'$TMP/{d}/algo_row1.h5')['traces/ssim'][...] for d in ('algo_cpu', 'algo_cuda'))
sys.exit(0 if a.shape == (4,) and np.max(np.abs(a - b)) <= 1e-6 else 1)"
export PNP_EMU_DEVICES=2
check "EMULATED cuda, the solvers on 2 ranks with a GPU each" run algo_nccl 2 "$TMP/algo.yml" --set backend=cuda \
    --set distribute_physics=true
unset PNP_EMU_DEVICES
algo_close algo_cpu algo_nccl "2 ranks, S and B summed over emulated NCCL"

export PNP_EMU_REFUSE_FUSED=1
check "EMULATED cuda, fused calls refused" run refused 1 $small --set backend=cuda
unset PNP_EMU_REFUSE_FUSED
close cpu refused "fused calls refused = cpu"
n=$(attr refused unfused_convolutions)
check "EMULATED cuda: the result file counts the unfused convolutions ($n)" test "${n:-0}" -gt 0
check "EMULATED cuda: the run log says the fused call was refused" grep -q "convolution plans ran unfused" "$TMP/refused.log"

# ---------------------------------------------------------------- failures named where they happen
for call in cudaStreamDestroy "kernel launch"; do # (each into a folder of its own: a result is never replaced)
    env PNP_EMU_FAIL="$call" $EMU/pnp run $small --set backend=cuda --out "$TMP/fail-${call// /_}" >"$TMP/fail.log" 2>&1
    rc=$?
    case $call in
        cudaStreamDestroy) want="in cudaStreamDestroy" ;;
        *) want="in pnp_launch_" ;;
    esac
    check "EMULATED cuda: a failing $call ends the run (status $rc) with a message naming it" \
        sh -c "[ $rc -ne 0 ] && grep -q '$want' '$TMP/fail.log'"
    [ $rc -ne 0 ] && grep -q "$want" "$TMP/fail.log" || sed 's/^/#   /' "$TMP/fail.log" | tail -5
done
unset PNP_CUDA_TF32

# ---------------------------------------------------------------- the golden run
PNP_BIN=$PWD/$EMU/pnp bash tests/cli/test_run_reference.sh >"$TMP/golden.log" 2>&1 || status=1
grep -E '^(ok|not ok|skip) - .*cuda' "$TMP/golden.log" | sed -E 's/^(ok|not ok|skip) - /\1 - EMULATED: /'
grep -q '^not ok' "$TMP/golden.log" && { grep '^not ok' "$TMP/golden.log"; status=1; }
exit $status
