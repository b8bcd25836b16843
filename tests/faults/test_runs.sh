# test_runs.sh - faults of a running job (issue 20), on tiny problems:
#  - an unusable --out is found at setup (exit 2), not after the run;
#  - --max-memory is enforced at setup in every mode (exit 2, sizes named);
#  - a diverging iterate (weights x 1e6: NaN) stops the run, exit 1, the file
#    says why (status "failed", its reason, PSNR NaN), pnp inspect shows it; the
#    same on the cuda backend's clamp kernel (on the CUDA emulation, when built);
#  - ranks started with different options (mpirun A : B) are refused at setup
#    naming the difference (exit 2, no hang, no crash); rank 0's configuration
#    text is the one every rank runs;
#  - TERM, INT and USR1 during setup stop it at once (exit 3, nothing written;
#    under mpirun the run's own status is in $PNP_STATUS_FILE);
#  - kill -9 of one rank ends the whole job within 10 s;
#  - USR1 after an iteration: checkpoint (exit 3), --resume finishes it equal
#    to the uninterrupted run;
#  - two runs writing one result file: both succeed, the file is whole, no
#    temporary is left.
. "$(dirname "$0")/lib.sh"

# ------------------------------------------------------------------- --out
: >"$TMP/afile"
fault "--out under a file" 2 "--out .*/afile/sub: .*/afile: cannot create a folder there: a file of that name exists" \
    "$PNP" run --force "${T[@]}" --set max_iter=50 --out "$TMP/afile/sub"
check "--out under a file: refused at setup (no iteration ran)" bash -c "! grep -q '^iter' '$TMP/--out under a file.log'"
mkdir -p "$TMP/dset.h5"
fault "pnp dataset --out naming a folder" 2 "--out: .*/dset.h5: is a folder, not a file name" \
    "$PNP" dataset "${T[@]}" --out "$TMP/dset.h5"

# ------------------------------------------------------------- --max-memory
guard "$TMP/o_cap"
fault "--max-memory 1M, whole-image denoiser" 2 \
    "--max-memory 1.0 MiB: this rank holds .* MiB .* and the denoiser on the whole 128x85 image needs .* MiB more" \
    "$PNP" run --force "${T[@]}" --set image_size=128 --max-memory 1M --out "$TMP/o_cap"
fault "--max-memory 1K, tiled denoiser: the cap shown as 1.0 KiB" 2 \
    "--max-memory 1.0 KiB: this rank holds .* (KiB|MiB) .* one 48x48 window needs .* MiB more" \
    "$PNP" run --force "${T[@]}" "${DIST[@]}" --max-memory 1K --out "$TMP/o_cap"
fault "--max-memory 1K on 2 ranks: agreed, every rank leaves" 2 "--max-memory 1.0 KiB: this rank holds" \
    $MPIRUN -n 2 "$PNP" run --force "${T[@]}" "${DIST[@]}" --max-memory 1K --out "$TMP/o_cap"
untouched "--max-memory" "$TMP/o_cap"

# ---------------------------------------------------------------- divergence
"$PNP" weights generate drunet:8,16,32,64:1 "$TMP/g.h5" >/dev/null
$PY -c "
import h5py, sys
with h5py.File(sys.argv[1], 'r+') as f:
    for k in f: f[k][...] = f[k][...] * 1e6" "$TMP/g.h5"
fault "a diverging denoiser (weights x 1e6)" 1 "iteration 1 turned the iterate non-finite .*: the step \(step_size\) or the denoiser" \
    "$PNP" run --force "${T[@]}" --set max_iter=5 --set denoiser=drunet --set weights="$TMP/g.h5" --out "$TMP/o_div"
check "diverged: the file says why (status failed, reason, 1 iteration, PSNR NaN)" bash -c \
    "[ \"\$(attr '$TMP/o_div/$R' status)\" = failed ] && attr '$TMP/o_div/$R' failure | grep -q 'non-finite' &&
     [ \$(attr '$TMP/o_div/$R' iterations) = 1 ] && [ \"\$(attr '$TMP/o_div/$R' final_psnr)\" = nan ]"
"$PNP" inspect "$TMP/o_div/$R" >"$TMP/inspect_div.log" 2>&1
check "diverged: pnp inspect shows the status and the reason" bash -c \
    "grep -q 'status *failed' '$TMP/inspect_div.log' && grep -q 'failure *iteration 1 turned' '$TMP/inspect_div.log'"
if [ -x build-emu/pnp ]; then # the CUDA backend's clamp kernel, on the CUDA emulation (tests/cuda_emu)
    PNP_EMU_QUIET=1 fault "diverged on the cuda backend (emulated): exit 1, status failed" 1 "turned the iterate non-finite" \
        build-emu/pnp run "${T[@]}" --set backend=cuda --set max_iter=5 --set denoiser=drunet --set weights="$TMP/g.h5" \
        --out "$TMP/o_div_cuda"
    check "diverged on cuda: the file says so" bash -c "[ \"\$(attr '$TMP/o_div_cuda/$R' status)\" = failed ]"
else
    echo "skip - diverged on the cuda backend (emulated): build-emu/pnp not built (make cuda-emu)"
fi
fault "diverged on 2 tiled ranks: agreed, exit 1" 1 "turned the iterate non-finite" \
    $MPIRUN -n 2 "$PNP" run --force "${T[@]}" "${DIST[@]}" --set max_iter=5 --set denoiser=drunet --set weights="$TMP/g.h5" \
    --out "$TMP/o_div2"

# ------------------------------------------------------------ ranks disagree
A=(--set image_size=64 --set denoiser=drunet:8,16,32,64:1 --set backend=cpu "${DIST[@]}")
guard "$TMP/o_mpmd"
fault "ranks with different max_iter (mpirun A : B)" 2 "\[rank 1\] this rank runs max_iter=6 where rank 0 runs max_iter=3" \
    $MPIRUN -n 1 "$PNP" run --force "${A[@]}" --set max_iter=3 --out "$TMP/o_mpmd" : -n 1 "$PNP" run --force "${A[@]}" --set max_iter=6 --out "$TMP/o_mpmd"
check "different max_iter: rank 0 names the rank that differs" \
    grep -q "\[rank 0\] rank 1 runs another grid row or problem than rank 0" "$TMP/ranks with different max_iter (mpirun A : B).log"
fault "ranks with different image sizes (was a double free)" 2 "\[rank 1\] this rank runs image_size=96 where rank 0 runs image_size=64" \
    $MPIRUN -n 1 "$PNP" run --force "${A[@]}" --out "$TMP/o_mpmd" : -n 1 "$PNP" run --force "${A[@]}" --set image_size=96 --out "$TMP/o_mpmd"
untouched "ranks that disagree" "$TMP/o_mpmd"
printf 'dataset: [highres_color_image]\nsolver:\n  - PnP: {max_iter: 2}\n' >"$TMP/a.yml"
printf 'dataset: [highres_color_image]\nsolver:\n  - PnP: {max_iter: 5}\n' >"$TMP/b.yml"
fault "rank 0 reads the configuration for all (rank 1 named another file)" 0 "wrote .*/a_row0.h5: .* after 2 iterations" \
    $MPIRUN -n 1 "$PNP" run --force "$TMP/a.yml" "${A[@]}" --out "$TMP/o_bcast" : -n 1 "$PNP" run --force "$TMP/b.yml" "${A[@]}" --out "$TMP/o_bcast"

# ----------------------------------------------------------- signals in setup
slow=(--set image_size=64 --set num_operators=4000 --set denoiser=drunet:8,16,32,64:1 --set backend=cpu)
for sig in TERM INT USR1; do
    guard "$TMP/o_sig$sig"
    start=$(date +%s%N)
    "$PNP" run --force "${slow[@]}" --out "$TMP/o_sig$sig" >"$TMP/sig$sig.log" 2>&1 &
    pid=$!
    wait_for "$TMP/sig$sig.log" "^  1 rank"
    sleep 0.5
    kill -s $sig $pid
    wait $pid
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    check "$sig during setup (4000 operators, 40 s of setup): exit 3 after ${ms} ms, says nothing was written" \
        bash -c "[ $rc -eq 3 ] && [ $ms -lt 20000 ] && grep -q 'interrupted by signal $sig during setup: nothing written' '$TMP/sig$sig.log'"
    untouched "$sig during setup" "$TMP/o_sig$sig"
done
guard "$TMP/o_sigmpi"
PNP_STATUS_FILE="$TMP/status" $MPIRUN -n 2 "$PNP" run --force "${slow[@]}" --out "$TMP/o_sigmpi" >"$TMP/sigmpi.log" 2>&1 &
pid=$!
wait_for "$TMP/sigmpi.log" "^  2 ranks"
sleep 0.5
kill -TERM $pid
wait $pid
rc=$?
check "TERM to mpirun during setup: mpirun says $rc, the run's own status (PNP_STATUS_FILE) is 3" bash -c \
    "[ \"\$(cat '$TMP/status' 2>/dev/null)\" = 3 ] && grep -q 'during setup: nothing written' '$TMP/sigmpi.log'"
untouched "TERM to mpirun during setup" "$TMP/o_sigmpi"

# ------------------------------------------------------------- kill -9 a rank
long=(--set image_size=64 --set max_iter=100000 --set denoiser=drunet:8,16,32,64:1 --set backend=cpu)
guard "$TMP/o_k9"
$MPIRUN -n 2 "$PNP" run --force "${long[@]}" "${DIST[@]}" --out "$TMP/o_k9" >"$TMP/k9.log" 2>&1 &
pid=$!
wait_for "$TMP/k9.log" "^iter   2/"
victim=$(pgrep -P $pid -f 'pnp run' | tail -1)
start=$(date +%s%N)
kill -9 "$victim"
for _ in $(seq 150); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
ms=$((($(date +%s%N) - start) / 1000000))
kill -9 $pid 2>/dev/null
wait $pid
check "kill -9 of rank 1: the whole job ends within 10 s (${ms} ms)" bash -c "[ $ms -lt 10000 ] && [ -n '$victim' ]"
untouched "kill -9 of a rank" "$TMP/o_k9"

# ------------------------------------------------------ USR1: checkpoint, resume
mid=(--set image_size=96 --set max_iter=150 --set denoiser=drunet:8,16,32,64:1 --set backend=cpu)
"$PNP" run --force "${mid[@]}" --out "$TMP/o_full" >/dev/null 2>&1
"$PNP" run --force "${mid[@]}" --out "$TMP/o_usr1" >"$TMP/usr1.log" 2>&1 &
pid=$!
wait_for "$TMP/usr1.log" "^iter   2/"
kill -USR1 $pid
wait $pid
rc=$?
check "USR1 after an iteration: exit 3, status interrupted, fewer than 150 iterations" bash -c \
    "[ $rc -eq 3 ] && [ \"\$(attr '$TMP/o_usr1/$R' status)\" = interrupted ] && [ \$(attr '$TMP/o_usr1/$R' iterations) -lt 150 ]"
fault "--resume the checkpoint" 0 "resuming .* after iteration" "$PNP" run --force "${mid[@]}" --out "$TMP/o_usr1" --resume "$TMP/o_usr1/$R"
$PY tests/cli/check_run.py same "$TMP/o_full/$R" "$TMP/o_usr1/$R" 1e-6 "USR1 + resume = the uninterrupted run" || status=1

# ------------------------------------------------------ two writers, one file
"$PNP" run --force "${T[@]}" --set seed=1 --out "$TMP/o_two" >"$TMP/two1.log" 2>&1 &
p1=$!
"$PNP" run --force "${T[@]}" --set seed=2 --out "$TMP/o_two" >"$TMP/two2.log" 2>&1 &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
check "two runs writing one result file: both exit 0, the file is one of them whole, no temporary left" bash -c \
    "[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ -z \"\$(find '$TMP/o_two' -name '*.tmp-*')\" ] &&
     $PY -c \"import h5py, sys; f = h5py.File(sys.argv[1], 'r'); assert f.attrs['status'] == 'finished' and f.attrs['iterations'] == 2 and f['reconstruction'].shape[0] == 3 and f['config/row'].attrs['seed'] in (1, 2)\" '$TMP/o_two/$R'"

check "no HDF5 diagnostics in any log" bash -c "! grep -l 'HDF5-DIAG' '$TMP'/*.log"
exit $status
