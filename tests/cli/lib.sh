# lib.sh - helpers for the command-line tests: ok/not ok lines as the unit tests print.
PNP="${PNP_BIN:-build/pnp}"
PY="${PY:-/usr/bin/python3}" # Debian's python3 with python3-h5py and python3-numpy (PY=... elsewhere)
export PNP_SHARED="${PNP_SHARED:-../shared}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
status=0
check() { # check "description" command...
    local what=$1
    shift
    if "$@"; then echo "ok - $what"; else echo "not ok - $what"; status=1; fi
}
# run_pnp NAME RANKS ARGS...: `pnp run ARGS --out $TMP/NAME` on RANKS ranks
# (mpirun past 1) with its log in $TMP/NAME.log, whose tail is shown when it
# fails; the program is $RUN_PNP (default $PNP); 300 s at most.
run_pnp() {
    local name=$1 np=$2 bin=${RUN_PNP:-$PNP}
    shift 2
    if [ "$np" -eq 1 ]; then
        timeout 300 "$bin" run "$@" --out "$TMP/$name" >"$TMP/$name.log" 2>&1
    else
        timeout 300 mpirun --allow-run-as-root --oversubscribe -n "$np" "$bin" run "$@" --out "$TMP/$name" \
            >"$TMP/$name.log" 2>&1
    fi
    local rc=$?
    [ $rc -eq 0 ] || { echo "# $name failed ($rc):"; sed 's/^/#   /' "$TMP/$name.log" | tail -20; }
    return $rc
}
