# test_run.sh - `pnp run` of the PnP solver (tests/configs/scene_pnp.yml: the
# default scene) over 1 to 4 MPI ranks (CPU backend, small images):
#  - tiled and distributed runs on 2, 3, 4 ranks equal the 1-rank run with the
#    same tiling (max abs 1e-6, same PSNR trace); the baseline row (no flags)
#    on 2 ranks equals 1 rank;
#  - more ranks than operators, more ranks than windows, a patch larger than
#    the image, batches of 1 window;
#  - the result file's layout (tests/cli/check_run.py);
#  - a bad input on one rank only ends every rank quickly with the message,
#    and no result file is left; bad rows (overlap, denoiser, bf16 on a cpu
#    without avx512_bf16 - faked by PNP_CPU_NO_BF16=1 -, cuda without a GPU)
#    exit 2 naming the row; backend auto without a GPU runs on the cpu and says so;
#  - --max-memory just under the uncapped run's peak: smaller batches, the
#    same result, every rank's peak under the cap; a cap that cannot hold one
#    window ends the run at setup with the sizes, leaving no file;
#  - precision bf16 on the cpu backend (where the CPU has avx512_bf16): the
#    PSNR trace within 0.05 dB of fp32's, reconstruction within 0.05.
. "$(dirname "$0")/lib.sh"
MPI="mpirun --allow-run-as-root --oversubscribe"
small="tests/configs/scene_pnp.yml --set image_size=96 --set denoiser=drunet:8,16,32,64:1 --set max_iter=3"
tiles="--set distribute_denoiser=true --set patch_size=32 --set overlap=8"
dist="--set distribute_physics=true $tiles"

run() { run_pnp "$@"; } # run NAME RANKS ARGS... (tests/cli/lib.sh)
same() { # same REF NAME TOL WHAT
    $PY tests/cli/check_run.py same "$TMP/$1/scene_pnp_row0.h5" "$TMP/$2/scene_pnp_row0.h5" "$3" "$4" || status=1
}

check "1 rank, tiled 32/8 denoiser" run t1 1 $small $dist
$PY tests/cli/check_run.py layout "$TMP/t1/scene_pnp_row0.h5" 3 1 || status=1
check "progress: one line per iteration with PSNR, SSIM, data residual, relative change, times, peak memory and ETA" \
    bash -c "[ \$(grep -cE '^iter +[0-9]+/3 +PSNR .* dB +SSIM [0-9.]+ +residual [0-9.e+-]+ +change [0-9.e+-]+ +[0-9.]+ s = grad [0-9.]+ \+ denoise [0-9.]+ \+ wait [0-9.]+ \+ transfer [0-9.]+ s +peak .* MiB .* ETA' '$TMP/t1.log') -eq 3 ]"
for np in 2 3 4; do
    if run t$np $np $small $dist; then
        same t1 t$np 1e-6 "$np ranks, distributed physics and tiles = 1 rank"
    else
        check "$np ranks run" false
    fi
done
$PY tests/cli/check_run.py layout "$TMP/t4/scene_pnp_row0.h5" 3 4 || status=1

run b1 1 $small && run b2 2 $small && same b1 b2 0 "baseline row (no distribution) on 2 ranks = 1 rank exactly" ||
    check "baseline runs" false

ops2="--set num_operators=2"
run o1 1 $small $ops2 && run o3 3 $small $ops2 --set distribute_physics=true &&
    same o1 o3 1e-6 "3 ranks, 2 operators (a rank owns none) = 1 rank" || check "more ranks than operators" false

big="--set distribute_denoiser=true --set patch_size=64 --set overlap=8" # 96x64 image: 2 windows
run w1 1 $small $big && run w3 3 $small $big --set distribute_physics=true &&
    same w1 w3 1e-6 "3 ranks, 2 windows (a rank runs none) = 1 rank" || check "more ranks than windows" false
check "windows: 2 windows reported" grep -q "tiles: 2 windows of 80x80" "$TMP/w1.log"
check "fewer windows than ranks: a warning names the idle rank, the one whose windows_owned is 0" \
    bash -c "grep -q 'warning: 2 windows for 3 ranks: rank 0 denoises nothing and waits' '$TMP/w3.log' &&
             $PY -c \"import h5py, sys; sys.exit(int(list(h5py.File('$TMP/w3/scene_pnp_row0.h5')['traces/windows_owned'][...]) != [0, 1, 1]))\""

huge="--set distribute_denoiser=true --set patch_size=256 --set overlap=8"
run p1 1 $small $huge && run p2 2 $small $huge &&
    same p1 p2 1e-6 "patch larger than the image (one window), 2 ranks = 1 rank" || check "patch larger than the image" false
check "patch larger than the image: one window of the padded image" grep -q "tiles: 1 windows of 112x80" "$TMP/p1.log"

run m1 1 $small $dist --set max_batch_size=1 && same t1 m1 1e-6 "batches of 1 window = one batch of all" ||
    check "max_batch_size 1" false

peak=$($PY -c "import h5py, sys; print(int(h5py.File(sys.argv[1])['traces/peak_memory'][...].max()))" \
    "$TMP/t1/scene_pnp_row0.h5")
if run cap 1 $small $dist --max-memory $((peak - 1)); then
    $PY tests/cli/check_run.py capped "$TMP/t1/scene_pnp_row0.h5" "$TMP/cap/scene_pnp_row0.h5" $((peak - 1)) \
        "--max-memory just under the uncapped peak" || status=1
    check "--max-memory: the log says the batch was split" grep -q "note: a batch of 6 windows .* what --max-memory leaves" \
        "$TMP/cap.log"
else
    check "--max-memory just under the peak runs" false
fi
timeout 120 $MPI -n 2 "$PNP" run $small $dist --max-memory 1M --out "$TMP/cap1" >"$TMP/cap1.log" 2>&1
rc=$?
check "--max-memory 1M: the run stops (status $rc) naming the cap and what one window needs, no file left" \
    bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q -- '--max-memory 1.0 MiB: this rank holds .* MiB .* one 48x48 window needs' \
        '$TMP/cap1.log' && { [ ! -e '$TMP/cap1' ] || [ -z \"\$(ls -A '$TMP/cap1')\" ]; }"

# a bad input on one rank only (MPMD: rank 1 gets unreadable weights)
start=$(date +%s)
timeout 120 $MPI -n 1 "$PNP" run $small $dist --out "$TMP/bad" : -n 1 "$PNP" run $small $dist \
    --set weights="$TMP/missing.h5" --out "$TMP/bad" >"$TMP/bad.log" 2>&1
rc=$?
took=$(($(date +%s) - start))
check "unreadable weights on rank 1 only: every rank ends (status $rc, ${took} s), no hang" \
    bash -c "[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $took -lt 60 ]"
check "the message names the rank and the file" grep -q "\[rank 1\] .*weights: .*missing.h5: no such file" "$TMP/bad.log"
check "no result file (nor temporary) left" bash -c "[ ! -e '$TMP/bad' ] || [ -z \"\$(ls -A '$TMP/bad')\" ]"

"$PNP" run $small --set distribute_denoiser=true --set patch_size=32 --set overlap=64 --out "$TMP/ov" >"$TMP/ov.log" 2>&1
check "overlap larger than the image: exit 2 naming the row and overlap" \
    bash -c "[ $? -eq 2 ] && grep -q 'row 0: overlap 64' '$TMP/ov.log'"
"$PNP" run $small --set denoiser=unet --out "$TMP/dn" >"$TMP/dn.log" 2>&1
check "unknown denoiser: exit 2 with a message" bash -c "[ $? -eq 2 ] && grep -q \"unknown denoiser 'unet'\" '$TMP/dn.log'"
PNP_CPU_NO_BF16=1 "$PNP" run $small --set precision=bf16 --out "$TMP/bf" >"$TMP/bf.log" 2>&1
check "precision bf16 on a cpu without avx512_bf16 (PNP_CPU_NO_BF16=1): exit 2 naming the row and the instructions" \
    bash -c "[ $? -eq 2 ] && grep -q \"row 0: precision 'bf16' on backend 'cpu' needs the AVX512_BF16\" '$TMP/bf.log'"
if grep -qw avx512_bf16 /proc/cpuinfo; then
    if run bf1 1 $small $dist --set precision=bf16; then
        check "precision bf16 on the cpu backend runs, its log says so" grep -q "backend cpu (bf16)," "$TMP/bf1.log"
        $PY tests/cli/check_run.py close "$TMP/t1/scene_pnp_row0.h5" "$TMP/bf1/scene_pnp_row0.h5" 0.05 0.05 \
            "cpu bf16 = cpu fp32 (1 rank, tiled)" || status=1
    else
        check "precision bf16 on the cpu backend runs" false
    fi
else
    echo "skip - precision bf16 on the cpu backend: skipped: no avx512_bf16"
fi
# what the reconstruction has to beat: the best measurement's PSNR (one operator: y_0 itself)
run meas 1 $small --set num_operators=1 &&
    check "measurement_psnr = PSNR(/measurement, /ground_truth) with one operator; the log compares it" bash -c "
        grep -q 'the best measurement has PSNR .* dB: the reconstruction is [0-9.]* dB \(above\|below\) it' '$TMP/meas.log' &&
        $PY -c \"import h5py, numpy as np, sys
f = h5py.File('$TMP/meas/scene_pnp_row0.h5')
mse = np.mean((f['measurement'][...].astype(np.float64) - f['ground_truth'][...]) ** 2)
sys.exit(int(abs(10 * np.log10(1 / mse) - f.attrs['measurement_psnr']) > 1e-6))\"" ||
    check "one-operator run" false

# an existing result is never replaced unasked
before=$(md5sum "$TMP/t1/scene_pnp_row0.h5")
"$PNP" run $small $dist --out "$TMP/t1" >"$TMP/again.log" 2>&1
check "a second run into the same folder: exit 2 at setup, names the file and --force, the result unchanged" \
    bash -c "[ $? -eq 2 ] && grep -q 't1/scene_pnp_row0.h5 exists: .*--force' '$TMP/again.log' &&
             ! grep -q '^iter' '$TMP/again.log' && [ \"\$(md5sum '$TMP/t1/scene_pnp_row0.h5')\" = '$before' ]"
"$PNP" run $small $dist --set max_iter=1 --out "$TMP/t1" --force >"$TMP/forced.log" 2>&1
check "--force replaces it" bash -c "[ $? -eq 0 ] && [ \"\$(md5sum '$TMP/t1/scene_pnp_row0.h5')\" != '$before' ]"

if ! nvidia-smi -L >/dev/null 2>&1; then
    "$PNP" run $small --set backend=cuda --out "$TMP/cu" >"$TMP/cu.log" 2>&1
    check "backend cuda without a GPU: exit 2 naming the row and the backend" \
        bash -c "[ $? -eq 2 ] && grep -q \"row 0: backend 'cuda'\" '$TMP/cu.log'"
    run auto 1 $small --set backend=auto --set slurm_gres=gpu:1 &&
        check "backend auto without a GPU: runs on the cpu backend, says so, records cpu" bash -c "
            grep -q 'backend cpu,' '$TMP/auto.log' && grep -q 'note: the row asks for gpu:1 but runs on the cpu backend' \
                '$TMP/auto.log' && $PY -c \"import h5py, sys; sys.exit(h5py.File('$TMP/auto/scene_pnp_row0.h5').attrs['backend'] != 'cpu')\"" ||
        check "backend auto runs" false
fi
exit $status
