# test_resume.sh - checkpoint and resume of `pnp run` (PnP on the default scene,
# tests/configs/scene_pnp.yml):
#  - stopped after iteration 2 (PNP_STOP_AFTER, the deterministic stand-in for a
#    signal): exit 3, a result file with status "interrupted"; --resume FILE
#    finishes it (status "resumed") equal to the uninterrupted run (max abs 1e-6),
#    on 1 rank and on 2 ranks with distributed physics and tiles;
#  - a real SIGUSR1 to mpirun (Slurm's --signal) and a real SIGTERM to a single
#    process stop the run at an iteration boundary, and the resumed run equals
#    the uninterrupted one;
#  - refusals: a finished file, another grid row, another rank count, a
#    checkpoint without a trace (exit 2, the file and the dataset named).
. "$(dirname "$0")/lib.sh"
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
MPI="timeout 120 $MPIRUN" # a hang fails the check instead of the suite
a="tests/configs/scene_pnp.yml --set image_size=96 --set denoiser=drunet:8,16,32,64:1 --set max_iter=6"
dist="--set distribute_physics=true --set distribute_denoiser=true --set patch_size=32 --set overlap=8"
R=scene_pnp_row0.h5
attr() { $PY -c "import h5py; print(h5py.File('$1', 'r').attrs['$2'])"; }
export -f attr
export PY
same() { $PY tests/cli/check_run.py same "$1" "$2" 1e-6 "$3" || status=1; }

"$PNP" run $a --out "$TMP/full" >/dev/null 2>&1
PNP_STOP_AFTER=2 "$PNP" run $a --out "$TMP/one" >"$TMP/one.log" 2>&1
rc=$?
check "stopped after iteration 2: exit 3, status interrupted, 2 iterations" \
    bash -c "[ $rc -eq 3 ] && [ \"\$(attr $TMP/one/$R status)\" = interrupted ] && [ \$(attr $TMP/one/$R iterations) -eq 2 ]"
check "the message says how to continue" grep -q -- "--resume $TMP/one/$R" "$TMP/one.log"
"$PNP" run $a --out "$TMP/one" --resume "$TMP/one/$R" >"$TMP/one2.log" 2>&1
check "resume: exit 0, status resumed, 6 iterations" \
    bash -c "[ $? -eq 0 ] && [ \"\$(attr $TMP/one/$R status)\" = resumed ] && [ \$(attr $TMP/one/$R iterations) -eq 6 ]"
same "$TMP/full/$R" "$TMP/one/$R" "1 rank: interrupted + resumed = uninterrupted"

PNP_STOP_AFTER=3 $MPI -n 2 "$PNP" run $a $dist --out "$TMP/two" >"$TMP/two.log" 2>&1
check "2 ranks stopped after iteration 3: status interrupted" \
    bash -c "[ \"\$(attr $TMP/two/$R status)\" = interrupted ] && [ \$(attr $TMP/two/$R iterations) -eq 3 ]"
$MPI -n 2 "$PNP" run $a $dist --out "$TMP/two" --resume "$TMP/two/$R" >"$TMP/two2.log" 2>&1
"$PNP" run $a $dist --out "$TMP/full1" >/dev/null 2>&1
same "$TMP/full1/$R" "$TMP/two/$R" "2 ranks distributed: interrupted + resumed = uninterrupted 1-rank run"

# real signals at an iteration boundary
long="tests/configs/scene_pnp.yml --set image_size=96 --set denoiser=drunet:8,16,32,64:1 --set max_iter=300"
"$PNP" run $long --out "$TMP/long" >/dev/null 2>&1
signal_run() { # signal_run NAME SIGNAL COMMAND...: start, wait for iteration 2, signal, wait
    local name=$1 sig=$2
    shift 2
    "$@" --out "$TMP/$name" >"$TMP/$name.log" 2>&1 &
    local pid=$! i=0
    while ! grep -q "^iter   2/" "$TMP/$name.log" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    kill -s "$sig" $pid
    wait $pid
}
signal_run usr1 USR1 $MPIRUN -n 2 "$PNP" run $long $dist
check "SIGUSR1 to mpirun: the run stops early with status interrupted" \
    bash -c "[ \"\$(attr $TMP/usr1/$R status)\" = interrupted ] && [ \$(attr $TMP/usr1/$R iterations) -lt 300 ]"
check "it says which signal" grep -q "interrupted by signal USR1" "$TMP/usr1.log"
$MPI -n 2 "$PNP" run $long $dist --out "$TMP/usr1" --resume "$TMP/usr1/$R" >"$TMP/usr1b.log" 2>&1
"$PNP" run $long $dist --out "$TMP/long1" >/dev/null 2>&1
same "$TMP/long1/$R" "$TMP/usr1/$R" "SIGUSR1 + resume = uninterrupted"
signal_run term TERM "$PNP" run $long
check "SIGTERM: status interrupted, exit message" \
    bash -c "[ \"\$(attr $TMP/term/$R status)\" = interrupted ] && grep -q 'interrupted by signal TERM' '$TMP/term.log'"
"$PNP" run $long --out "$TMP/term" --resume "$TMP/term/$R" >/dev/null 2>&1
same "$TMP/long/$R" "$TMP/term/$R" "SIGTERM + resume = uninterrupted"

"$PNP" run $a --out "$TMP/x" --resume "$TMP/full/$R" >"$TMP/e1.log" 2>&1
check "resuming a finished run: exit 2, 'nothing to resume'" bash -c "[ $? -eq 2 ] && grep -q 'nothing to resume' '$TMP/e1.log'"
PNP_STOP_AFTER=2 "$PNP" run $a --out "$TMP/y" >/dev/null 2>&1
"$PNP" run $a --set step_size=0.2 --out "$TMP/y" --resume "$TMP/y/$R" >"$TMP/e2.log" 2>&1
check "resuming with another grid row: exit 2, both rows shown" \
    bash -c "[ $? -eq 2 ] && grep -q 'different grid row' '$TMP/e2.log' && grep -q 'step_size=0.2' '$TMP/e2.log'"
$MPI -n 2 "$PNP" run $a --out "$TMP/y" --resume "$TMP/y/$R" >"$TMP/e3.log" 2>&1
check "resuming on another rank count: exit non-zero, message" \
    bash -c "[ $? -ne 0 ] && grep -q 'the run had 1 ranks; resume it on 1 ranks' '$TMP/e3.log'"
check "a refused resume leaves the checkpoint as it was" bash -c "[ \"\$(attr $TMP/y/$R status)\" = interrupted ]"
cp "$TMP/y/$R" "$TMP/nopsnr.h5"
$PY -c "import h5py, sys; del h5py.File(sys.argv[1], 'r+')['traces/psnr']" "$TMP/nopsnr.h5"
"$PNP" run $a --out "$TMP/z" --resume "$TMP/nopsnr.h5" >"$TMP/e4.log" 2>&1
check "resuming a checkpoint without /traces/psnr: exit 2, the file and the dataset named" \
    bash -c "[ $? -eq 2 ] && grep -q -- '--resume $TMP/nopsnr.h5: /traces/psnr: not found' '$TMP/e4.log'"
exit $status
