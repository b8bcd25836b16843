#!/usr/bin/env bash
# run.sh - the whole test suite: the layering of the code (tests/check_layers.py
# on the objects in build/), every unit test program (build/tests/test_*),
# every command-line test (tests/cli/test_*.sh), the CUDA backend on the CUDA
# emulation (tests/cuda_emu/test_*.sh, build-emu/) and the fault suite
# (tests/faults/test_*.sh: bad inputs, signals, full disks, ranks that
# disagree). Each prints one line per check ("ok - ...", "not ok - ...",
# "skip - ..."); this script counts them, treats a crash or non-zero exit with
# no failed check as a failure, and ends with "N passed, N failed, N skipped".
# Exit status 1 on any failure or when nothing ran.
set -u
cd "$(dirname "$0")/.."
export PNP_BIN="${PNP_BIN:-$PWD/build/pnp}"
export PNP_SHARED="${PNP_SHARED:-$(cd .. && pwd)/shared}"
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in tests/check_layers.py build/tests/test_* tests/cli/test_*.sh tests/cuda_emu/test_*.sh tests/faults/test_*.sh; do
    [ -e "$t" ] || continue
    echo "# $t"
    start=$(date +%s%N)
    case "$t" in
        *.sh) bash "$t" >"$log" 2>&1 ;;
        *.py) python3 "$t" build >"$log" 2>&1 ;;
        *) "$t" >"$log" 2>&1 ;;
    esac
    rc=$?
    cat "$log"
    p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^not ok - ' "$log"); s=$(grep -c '^skip - ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $t exited with status $rc"
        f=1
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    ms=$((($(date +%s%N) - start) / 1000000))
    printf '# %s: %d ok, %d failed, %d skipped (%d.%03d s)\n' "$t" "$p" "$f" "$s" $((ms / 1000)) $((ms % 1000))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
