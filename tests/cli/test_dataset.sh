# test_dataset.sh - `pnp dataset` end to end: the HDF5 file read back with h5py
# (tests/cli/check_dataset.py), a real photo as input, determinism across
# thread counts, and failures that leave no file (and never clobber an old one).
. "$(dirname "$0")/lib.sh"

"$PNP" dataset --out "$TMP/default.h5" >"$TMP/log" 2>&1
check "pnp dataset on the embedded default writes a file" test -s "$TMP/default.h5"
check "no temporary file left behind" bash -c "! ls '$TMP' | grep -q tmp"
$PY tests/cli/check_dataset.py "$TMP/default.h5" - 256 170 8 || status=1

photo="$PNP_SHARED/data/images/CBSD68/3096.png"
if [ -r "$photo" ]; then
    cat >"$TMP/photo.yml" <<YML
objective: [psnr]
dataset:
  - highres_color_image: {image_size: 96, num_operators: 3, noise_level: 0.05, image: "$photo"}
solver:
  - PnP
YML
    "$PNP" dataset "$TMP/photo.yml" --out "$TMP/photo.h5" --threads 1 >"$TMP/log" 2>&1
    check "pnp dataset on a CBSD68 photo (321x481 -> 64x96)" test -s "$TMP/photo.h5"
    $PY tests/cli/check_dataset.py "$TMP/photo.h5" "$TMP/photo.yml" 64 96 3 || status=1
    "$PNP" dataset "$TMP/photo.yml" --out "$TMP/photo2.h5" --threads 2 >"$TMP/log" 2>&1
    check "measurements identical with 1 and 2 threads, run to run" $PY -c "
import h5py, numpy as np, sys
a, b = h5py.File('$TMP/photo.h5'), h5py.File('$TMP/photo2.h5')
sys.exit(0 if np.array_equal(a['measurements'][...], b['measurements'][...]) else 1)"
else
    echo "skip - photo input: $photo not found (set PNP_SHARED)"
fi

echo "old result" >"$TMP/keep.h5"
"$PNP" dataset --set image="$TMP/nope.png" --out "$TMP/keep.h5" >"$TMP/log" 2>&1
rc=$?
check "unreadable image: exit 2 and a message naming the file" bash -c "[ $rc -eq 2 ] && grep -q 'image: .*nope.png: no such file' '$TMP/log'"
check "a failed run leaves an existing file under the output name untouched" grep -q "old result" "$TMP/keep.h5"
printf 'not a png' >"$TMP/bad.png"
"$PNP" dataset --set image="$TMP/bad.png" --out "$TMP/bad.h5" >"$TMP/log" 2>&1
check "corrupt image: clear message, no output file" bash -c "[ $? -eq 2 ] && grep -q 'bad.png: not a PNG' '$TMP/log' && [ ! -e '$TMP/bad.h5' ]"
exit $status
