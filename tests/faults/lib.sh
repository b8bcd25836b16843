# lib.sh - helpers of the fault suite (tests/faults/test_*.sh): bad inputs and
# faults, each case asserting the exit status, that the message names the
# culprit, that no file or temporary is left, and that an existing result is
# not changed. Sourced after tests/cli/lib.sh (check, $PNP, $PY, $TMP).
. "$(dirname "$0")/../cli/lib.sh"
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
# tiny problems: every case runs in about a second
T=(--set image_size=64 --set max_iter=2 --set denoiser=drunet:8,16,32,64:1 --set backend=cpu)
DIST=(--set distribute_physics=true --set distribute_denoiser=true --set patch_size=32 --set overlap=8)
R=default_row0.h5

# fault NAME STATUS PATTERN COMMAND...: run COMMAND (at most 60 s; output in
# $TMP/NAME.log) and check its exit status and that the log matches PATTERN
# (grep -E), which names the culprit (a file, a key, a rank, a size).
fault() {
    local name=$1 want=$2 pattern=$3
    shift 3
    timeout 60 "$@" >"$TMP/$name.log" 2>&1
    local rc=$?
    check "$name: exit $want (got $rc), the message names the culprit" \
        bash -c '[ "$1" -eq "$2" ] && grep -qE -- "$3" "$4"' _ "$rc" "$want" "$pattern" "$TMP/$name.log" ||
        tail -5 "$TMP/$name.log" | sed 's/^/#   /'
}

# A finished result to stand in the way of failing runs (made once).
base_result() {
    [ -s "$TMP/base/$R" ] || "$PNP" run "${T[@]}" --out "$TMP/base" >"$TMP/base.log" 2>&1
    echo "$TMP/base/$R"
}

# guard DIR [NAME]: DIR/NAME (default default_row0.h5) becomes a copy of an
# existing result, whose checksum untouched() compares afterwards.
guard() {
    local dir=$1 name=${2:-$R}
    mkdir -p "$dir"
    cp "$(base_result)" "$dir/$name"
    md5sum "$dir/$name" >"$dir.md5"
}

# untouched NAME DIR: the guarded result in DIR is unchanged and DIR holds no
# temporary (*.tmp-*) nor any file but the guarded one.
untouched() {
    local name=$1 dir=$2
    check "$name: the existing result is unchanged, nothing else written, no temporary left" bash -c \
        'md5sum -c --quiet "$1.md5" >/dev/null 2>&1 && [ "$(ls -A "$1" | wc -l)" -eq 1 ] &&
         [ -z "$(find "$1" -name "*.tmp-*")" ]' _ "$dir" ||
        ls -la "$dir" | sed 's/^/#   /'
}

# nothing_left NAME DIR: DIR does not exist or is empty.
nothing_left() {
    check "$2 holds nothing after $1" bash -c '[ ! -e "$1" ] || [ -z "$(ls -A "$1")" ]' _ "$2"
}

attr() { $PY -c "import h5py, sys; print(h5py.File(sys.argv[1], 'r').attrs[sys.argv[2]])" "$1" "$2"; }
export -f attr
export PY

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (at most 60 s)
wait_for() {
    local i=0
    while ! grep -qE "$2" "$1" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
}
