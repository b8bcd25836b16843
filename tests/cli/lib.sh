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
