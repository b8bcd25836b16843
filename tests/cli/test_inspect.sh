# test_inspect.sh - `pnp inspect` and `pnp report` on result files this test
# makes (64 px, 3 iterations: the embedded default, DPIR, on 1 rank; PnP on
# its scene, tests/configs/scene_pnp.yml, on 2 ranks with distributed physics and
# tiles, and on 1 rank; a copy of the first marked "interrupted"):
#  - the text output has a table per file and a row per file across files;
#  - --json parses and its numbers equal those recomputed from the files with
#    h5py (tests/cli/check_inspect.py): the time per iteration split into
#    gradient + denoiser + wait + transfer (+ other), each rank's split and
#    bytes, the slowest rank's times, the tiling and pixels per rank;
#  - a file of an earlier version (no wait_time, bytes, pixels_owned) still
#    reads, with its communication undivided;
#  - the report's PNGs are valid and index.html shows them with the table and
#    the speed-up table (the PnP files on 1 and 2 ranks are one problem, the
#    DPIR files, on 1 rank only, none);
#  - a missing file, a file that is not HDF5, an HDF5 file without /traces or
#    without one trace or attribute, an attribute of the wrong type: exit 2
#    naming the file and the item.
. "$(dirname "$0")/lib.sh"
MPI="mpirun --allow-run-as-root --oversubscribe"
small="--set image_size=64 --set denoiser=drunet:8,16,32,64:1 --set max_iter=3"
dist="--set distribute_physics=true --set distribute_denoiser=true --set patch_size=32 --set overlap=8"
one="$TMP/one/default_row0.h5" two="$TMP/two/scene_pnp_row0.h5" intr="$TMP/intr/default_row0.h5"

timeout 120 "$PNP" run $small --out "$TMP/one" >"$TMP/one.log" 2>&1
check "a 1-rank result to inspect" test -s "$one"
timeout 120 $MPI -n 2 "$PNP" run tests/configs/scene_pnp.yml $small $dist --out "$TMP/two" >"$TMP/two.log" 2>&1
check "a 2-rank distributed result to inspect" test -s "$two"
pnp1="$TMP/pnp1/scene_pnp_row0.h5" # the same problem on 1 rank, for the report's speed-up table
timeout 120 "$PNP" run tests/configs/scene_pnp.yml $small --out "$TMP/pnp1" >"$TMP/pnp1.log" 2>&1
check "the 2-rank problem on 1 rank" test -s "$pnp1"
mkdir -p "$TMP/intr" && cp "$one" "$intr"
$PY -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); del f.attrs['status']; f.attrs['status'] = 'interrupted'" \
    "$intr"

"$PNP" inspect "$one" "$two" "$intr" >"$TMP/inspect.txt" 2>"$TMP/inspect.err"
check "inspect three files: exit 0" test $? -eq 0
for f in "$one" "$two" "$intr"; do
    n=$(grep -c "^$f " "$TMP/inspect.txt")
    check "a table row for $(basename "$(dirname "$f")") across files (found $n)" test "$n" -eq 1
done
check "a table per file: status, time per iteration split, peak memory per rank" bash -c "
    [ \$(grep -cE '^  status +(finished|interrupted)$' '$TMP/inspect.txt') -eq 3 ] &&
    [ \$(grep -cE '^  time / iteration .* wall = gradient .* \+ denoiser .* \+ wait .* \+ transfer ' '$TMP/inspect.txt') -eq 3 ] &&
    grep -qE '^  peak memory +rank 0 .* MiB \| rank 1 .* MiB$' '$TMP/inspect.txt'"
check "status read from the file: interrupted" grep -qE "^$intr .* interrupted " "$TMP/inspect.txt"
check "the 2-rank row: PnP, 2 ranks, cpu, 3 iterations" grep -qE "^$two +0 +PnP +2 cpu +finished +3 " "$TMP/inspect.txt"

cp "$two" "$TMP/older.h5"
$PY -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); [f['traces'].pop(k) for k in
    ('wait_time', 'bytes_sent', 'bytes_received', 'pixels_owned')]" "$TMP/older.h5"
check "a file without wait_time, bytes and pixels (an earlier version) reads, communication undivided" bash -c "
    '$PNP' inspect '$TMP/older.h5' | grep -qE '^  time / iteration .* wall; slowest rank: gradient .* communication '"

"$PNP" inspect "$one" "$two" --json >"$TMP/inspect.json" 2>&1
check "inspect --json: exit 0" test $? -eq 0
$PY tests/cli/check_inspect.py json "$TMP/inspect.json" "$one" "$two" || status=1

start=$(date +%s)
timeout 120 "$PNP" report "$one" "$two" "$intr" "$pnp1" --out "$TMP/report" >"$TMP/report.log" 2>&1
rc=$?
check "pnp report: exit 0 ($(($(date +%s) - start)) s)" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/#   /' "$TMP/report.log" | tail -20
$PY tests/cli/check_inspect.py report "$TMP/report" "$one" "$two" "$intr" "$pnp1" || status=1
echo mine >"$TMP/report/notes.txt"
"$PNP" report "$one" --out "$TMP/report" >/dev/null 2>&1
check "a second report into the folder: only its own previews, the earlier report's files gone, other files kept" \
    bash -c "[ \$(ls '$TMP/report' | grep -c '^preview_') -eq 1 ] && [ -f '$TMP/report/notes.txt' ] &&
             [ \$(grep -c preview_ '$TMP/report/index.html') -ge 1 ]"

# errors: exit 2, the file and what is missing named, nothing on stdout
expect_error() { # expect_error WHAT PATTERN FILES...
    local what=$1 pattern=$2
    shift 2
    "$PNP" inspect "$@" >"$TMP/err.out" 2>"$TMP/err.log"
    local rc=$?
    check "$what: exit 2 ($rc), message names it" bash -c "
        [ $rc -eq 2 ] && [ ! -s '$TMP/err.out' ] && grep -qE -- '$pattern' '$TMP/err.log'"
    [ $rc -eq 2 ] || sed 's/^/#   /' "$TMP/err.log"
}
expect_error "a missing file" "missing\.h5: no such file" "$one" "$TMP/missing.h5"
echo "not hdf5" >"$TMP/text.h5"
expect_error "a file that is not HDF5" "text\.h5: not an HDF5 file" "$TMP/text.h5"
"$PNP" weights generate drunet:8,16,32,64:1 "$TMP/weights.h5" >/dev/null 2>&1
expect_error "an HDF5 file without /traces" "weights\.h5: not a pnp result: no /traces group" "$TMP/weights.h5"
cp "$two" "$TMP/nocomm.h5"
$PY -c "import h5py, sys; del h5py.File(sys.argv[1], 'r+')['traces/comm_time']" "$TMP/nocomm.h5"
expect_error "a result without /traces/comm_time" "nocomm\.h5: /traces/comm_time: not found \(/traces holds: " \
    "$TMP/nocomm.h5"
cp "$two" "$TMP/nostatus.h5"
$PY -c "import h5py, sys; del h5py.File(sys.argv[1], 'r+').attrs['status']" "$TMP/nostatus.h5"
expect_error "a result without the status attribute" "nostatus\.h5: root attribute .status.: not found" \
    "$TMP/nostatus.h5"
cp "$two" "$TMP/floatranks.h5"
$PY -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); del f.attrs['ranks']; f.attrs['ranks'] = 1.5" \
    "$TMP/floatranks.h5"
expect_error "a result whose 'ranks' is not an integer" "floatranks\.h5: root attribute .ranks.: not an integer" \
    "$TMP/floatranks.h5"
"$PNP" inspect >/dev/null 2>"$TMP/err.log"
check "inspect without a file: exit 2 with usage" bash -c "[ $? -eq 2 ] && grep -q 'usage: pnp inspect' '$TMP/err.log'"

"$PNP" report "$one" "$TMP/text.h5" --out "$TMP/badreport" >/dev/null 2>"$TMP/err.log"
check "report with a file that is not HDF5: exit 2 naming it, no page" bash -c "
    [ $? -eq 2 ] && grep -q 'text.h5: not an HDF5 file' '$TMP/err.log' && [ ! -e '$TMP/badreport/index.html' ]"
PNP_REPORT_SCRIPT="$TMP/nowhere/pnp-report" "$PNP" report "$one" --out "$TMP/r2" >/dev/null 2>"$TMP/err.log"
check "report without its script: a clear error naming the path" bash -c "
    [ $? -ne 0 ] && grep -q 'cannot read the report script .*nowhere/pnp-report' '$TMP/err.log'"

"$PNP" help inspect >"$TMP/help.txt" 2>&1
check "pnp help inspect: the max over ranks, then the mean, is explained" bash -c "
    grep -q 'usage: pnp inspect' '$TMP/help.txt' && grep -q 'max' '$TMP/help.txt' &&
    grep -q 'mean over iterations' '$TMP/help.txt'"
"$PNP" help >"$TMP/help.txt" 2>&1
check "pnp help lists inspect and report" bash -c "
    grep -q '^  inspect' '$TMP/help.txt' && grep -q '^  report' '$TMP/help.txt'"
"$PNP" report --help >"$TMP/help.txt" 2>&1
check "pnp report --help names the figures" bash -c "
    grep -q 'usage: pnp report' '$TMP/help.txt' && grep -q 'time_split.png' '$TMP/help.txt'"
exit $status
