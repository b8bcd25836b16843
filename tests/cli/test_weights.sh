# test_weights.sh - `pnp weights`: generate, info (with the planned memory),
# convert a real PyTorch checkpoint to HDF5 (read back with h5py against the
# reference copy), and clear errors for files that are not weights.
. "$(dirname "$0")/lib.sh"

"$PNP" weights generate drunet:8,16,32,64:1 "$TMP/small.h5" --seed 7 >"$TMP/log" 2>&1
check "generate a reduced DRUNet" test -s "$TMP/small.h5"
"$PNP" weights info "$TMP/small.h5" --size 64x96 --batch 2 >"$TMP/info" 2>&1
check "info reads widths and blocks back, and plans memory" \
    grep -q "drunet widths 8,16,32,64, 1 blocks per level, 144120 parameters" "$TMP/info"
check "info prints the activation plan for [2,3,64,96]" grep -q "activations for \[2,3,64,96\]" "$TMP/info"

kair="$PNP_SHARED/data/weights/kair-small"
if [ -r "$kair/ffdnet_color.pth" ]; then
    "$PNP" weights convert "$kair/ffdnet_color.pth" "$TMP/ffdnet.h5" >"$TMP/log" 2>&1
    check "convert the legacy ffdnet_color.pth to HDF5" test -s "$TMP/ffdnet.h5"
    check "converted tensors equal the reference HDF5 copy exactly (h5py)" $PY -c "
import h5py, numpy as np, sys
a, b = h5py.File('$TMP/ffdnet.h5'), h5py.File('$kair/ffdnet_color.h5')
ok = sorted(a.keys()) == sorted(b.keys()) and all(np.array_equal(a[k][...], b[k][...]) for k in b.keys())
ok = ok and a.attrs['architecture'] == 'ffdnet'
sys.exit(0 if ok else 1)"
else
    echo "skip - convert: $kair not found (set PNP_SHARED)"
fi
head -c 1000 "$TMP/small.h5" >"$TMP/cut.h5"
"$PNP" weights info "$TMP/cut.h5" >"$TMP/log" 2>&1
check "a truncated weights file: exit 2 and the file named" bash -c "[ $? -eq 2 ] && grep -q 'cut.h5' '$TMP/log'"
"$PNP" weights info tests/configs/bad_nodes.yml >"$TMP/log" 2>&1
check "a file that is not weights: exit 2 with a message" bash -c "[ $? -eq 2 ] && grep -q 'not a PyTorch checkpoint' '$TMP/log'"
"$PNP" weights --help >"$TMP/log" 2>&1
check "pnp weights --help prints usage" grep -q "usage: pnp weights info" "$TMP/log"
exit $status
