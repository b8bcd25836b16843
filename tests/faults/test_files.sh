# test_files.sh - output files under faults (issue 20):
#  - a full disk: `pnp dataset` past a file size limit (ulimit -f) and `pnp run`
#    on a full file system (a small tmpfs, as root) end with exit 1 and one line
#    naming HDF5's reason (no HDF5 stack dump, no crash in libhdf5's exit
#    handlers, no MPI/ORTE banner for a single rank), the temporary removed and
#    the existing result unchanged;
#  - TERM during `pnp dataset`: the temporary goes with the process;
#  - temporaries left by killed processes (this host, PID gone) are removed by
#    the next writer of the same file, and it says so; others are kept;
#  - launchers report the run's own status: `pnp grid --local` sent TERM
#    forwards it, the rank checkpoints and grid says "status 3 (interrupted ...)"
#    and exits 3 (mpirun alone says 1); an sbatch script exits with the status
#    pnp run wrote to $PNP_STATUS_FILE, saying what it means.
. "$(dirname "$0")/lib.sh"
trap 'mountpoint -q "$TMP/full" 2>/dev/null && umount "$TMP/full"; rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------- full disk
guard "$TMP/o_fsize" x.h5
(
    trap '' XFSZ # as a shell or a batch system may have it; pnp ignores it anyway
    ulimit -f 64 # 64 KiB: the dataset (64 x 42, 8 measurements) needs more
    exec "$PNP" dataset "${T[@]}" --set image_size=256 --out "$TMP/o_fsize/x.h5"
) >"$TMP/fsize.log" 2>&1
rc=$?
check "pnp dataset past a file size limit: exit 1 (got $rc), one line with HDF5's reason" bash -c \
    "[ $rc -eq 1 ] && grep -qE '^pnp: .*HDF5 call failed: .*File too large \(errno 27\)' '$TMP/fsize.log' &&
     [ \$(grep -c '^pnp: ' '$TMP/fsize.log') -eq 1 ] && ! grep -q 'HDF5-DIAG' '$TMP/fsize.log'" ||
    tail -3 "$TMP/fsize.log" | sed 's/^/#   /'
untouched "pnp dataset past a file size limit" "$TMP/o_fsize"

mkdir -p "$TMP/full"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=256k tmpfs "$TMP/full" 2>/dev/null; then
    cp "$(base_result)" "$TMP/full/$R" # about 130 KiB: the 128-pixel result will not fit beside it
    md5sum "$TMP/full/$R" >"$TMP/full.md5"
    fault "pnp run on a full file system" 1 "^pnp: .*HDF5 call failed: .*No space left on device \(errno 28\)" \
        "$PNP" run --force "${T[@]}" --set image_size=128 --out "$TMP/full"
    untouched "pnp run on a full file system" "$TMP/full"
    check "a full disk on one rank: no ORTE or MPI abort banner, no HDF5 diagnostics" bash -c \
        "! grep -qE 'ORTE|MPI_ABORT|HDF5-DIAG' '$TMP/pnp run on a full file system.log'"
    umount "$TMP/full"
else
    echo "skip - pnp run on a full file system: mounting a small tmpfs needs root"
fi

# -------------------------------------------------------------- temporaries
guard "$TMP/o_term" x.h5
"$PNP" dataset "${T[@]}" --set image_size=1024 --set num_operators=64 --out "$TMP/o_term/x.h5" >"$TMP/term.log" 2>&1 &
pid=$!
wait_for "$TMP/term.log" "measurement 1/"
kill -TERM $pid
wait $pid
rc=$?
check "TERM during pnp dataset: it dies of the signal (status $rc)" test $rc -eq 143
untouched "TERM during pnp dataset" "$TMP/o_term"

true &
gone=$!
wait $gone
host=$(hostname)
guard "$TMP/o_stale" x.h5
touch "$TMP/o_stale/x.h5.tmp-$host-$gone" "$TMP/o_stale/x.h5.tmp-elsewhere-$gone" "$TMP/o_stale/x.h5.tmp-$host-$$"
fault "stale temporaries" 0 "removed .*/x.h5.tmp-$host-$gone, left by process $gone, which ended" \
    "$PNP" dataset "${T[@]}" --out "$TMP/o_stale/x.h5"
check "stale temporaries: a dead process's removed; a live one's and another host's kept" bash -c \
    "[ ! -e '$TMP/o_stale/x.h5.tmp-$host-$gone' ] && [ -e '$TMP/o_stale/x.h5.tmp-elsewhere-$gone' ] &&
     [ -e '$TMP/o_stale/x.h5.tmp-$host-$$' ]"

# ------------------------------------------------------ the run's own status
long=(--set image_size=64 --set max_iter=100000 --set denoiser=drunet:8,16,32,64:1 --set backend=cpu)
"$PNP" grid --local "${long[@]}" --out "$TMP/o_grid" >"$TMP/grid.log" 2>&1 &
pid=$!
wait_for "$TMP/grid.log" "^iter   2/"
kill -TERM $pid
wait $pid
rc=$?
check "pnp grid --local sent TERM: forwarded, the rank checkpoints, grid reports its status 3 and exits 3 (got $rc)" bash -c \
    "[ $rc -eq 3 ] && grep -q 'row 0 of .* failed: pnp run exited with status 3 (interrupted by a signal' '$TMP/grid.log' &&
     [ \"\$(attr '$TMP/o_grid/$R' status)\" = interrupted ]" ||
    grep -v "^iter" "$TMP/grid.log" | tail -8 | sed "s/^/#   /"

"$PNP" grid --dry-run "${T[@]}" --out "$TMP/o_sbatch" >/dev/null 2>&1
mkdir -p "$TMP/fake"
cat >"$TMP/fake/srun" <<'EOF'
#!/bin/bash
echo 3 >"$PNP_STATUS_FILE" # as pnp run does, before srun reports a status of its own
exit 1
EOF
chmod +x "$TMP/fake/srun"
PATH="$TMP/fake:$PATH" bash "$TMP/o_sbatch/slurm/default_row0.sbatch" >"$TMP/sbatch.log" 2>&1
rc=$?
check "an sbatch script exits with pnp run's own status (3, srun said 1) and says what it means" bash -c \
    "[ $rc -eq 3 ] && grep -q 'pnp run exited with status 3: interrupted by a signal' '$TMP/sbatch.log' &&
     [ -z \"\$(ls '$TMP/o_sbatch/slurm' | grep status)\" ]"
exit $status
