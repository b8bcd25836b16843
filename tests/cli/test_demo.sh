# test_demo.sh - the main job as `make demo` runs it (scripts/demo.sh into a
# temporary folder): the embedded default (DPIR with pnp's trained DRUNet on
# the default scene) must end at least 3 dB above the best measurement, as the
# README states (19.03 dB against 15.93 dB when it was written: the bound
# leaves room for another CPU's rounding, not for another result), the log
# must say so, and the report must hold the truth | measurement |
# reconstruction picture as a valid PNG.
. "$(dirname "$0")/lib.sh"

timeout 300 bash scripts/demo.sh "$TMP/demo" >"$TMP/demo.log" 2>&1
rc=$?
check "scripts/demo.sh DIR: exit 0" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/#   /' "$TMP/demo.log" | tail -20
gain=$(sed -n 's/.*the reconstruction is \([0-9.]*\) dB above it.*/\1/p' "$TMP/demo.log") # "below it" fails
check "the log: the reconstruction is ${gain:-?} dB above the best measurement, at least 3 dB" \
    awk -v g="${gain:-x}" 'BEGIN {exit !(g + 0 >= 3 && g ~ /^[0-9.]+$/)}'
check "the embedded default runs DPIR with the trained DRUNet" \
    $PY -c "import h5py, sys; f = h5py.File(sys.argv[1]); sys.exit(int(f.attrs['solver'] != 'DPIR' or 'drunet_small.h5' not in f.attrs['denoiser']))" \
    "$TMP/demo/default_row0.h5"
png="$TMP/demo/report/preview_default_row0.png"
check "the picture truth | measurement | reconstruction: three panels side by side in a valid PNG (wider than 1.5 x its height)" \
    $PY -c "
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n'
w, h = struct.unpack('>II', d[16:24])
sys.exit(int(not (w > 1.5 * h)))" "$png"
check "the demo's last lines say where the picture is and how to run on 2 ranks" \
    bash -c "grep -q 'picture: .*preview_default_row0.png' '$TMP/demo.log' && grep -q 'on 2 ranks: *mpirun' '$TMP/demo.log'"
exit $status
