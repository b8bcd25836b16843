# test_inputs.sh - bad inputs (issue 20): each is refused before any work with
# exit status 2 and a message naming the culprit (file, line, key, tensor,
# size), by every command that reads it (`pnp config`, `pnp grid`, `pnp run`,
# `pnp dataset`), leaving no file and no existing result changed:
#  - configurations: bad YAML, a folder, a missing file, an unknown denoiser,
#    rows naming missing or folder weights and images;
#  - images: truncated, corrupt, a header claiming 100000x100000; a 12000x12000
#    PNG read for a 64-pixel problem holds little memory (row by row);
#  - weights: truncated and corrupt .h5 and .pth, a zip bomb, NaN and Inf
#    values (the tensor named), a tensor of 9e10 elements;
#  - sizes: image_size 100000, num_operators 2e9 (the key named), --threads
#    past the CPUs this process may use; taskset limits the default;
#  - no HDF5 diagnostics and no MPI/ORTE banners around pnp's one-line message.
. "$(dirname "$0")/lib.sh"
kair="$PNP_SHARED/data/weights/kair-small"
photo="$PNP_SHARED/data/images/CBSD68/101085.png"

# ------------------------------------------------------------ configurations
fault "bad YAML (config)" 2 "bad_syntax.yml:[0-9]+:[0-9]+: YAML syntax error" "$PNP" config tests/configs/bad_syntax.yml
guard "$TMP/o_yaml" bad_syntax_row0.h5
fault "bad YAML (run)" 2 "bad_syntax.yml:[0-9]+:[0-9]+: YAML syntax error" \
    "$PNP" run --force tests/configs/bad_syntax.yml "${T[@]}" --out "$TMP/o_yaml"
untouched "bad YAML (run)" "$TMP/o_yaml"
mkdir -p "$TMP/conf.yml"
fault "a folder as configuration" 2 "conf.yml: is a folder, not a configuration file" "$PNP" config "$TMP/conf.yml"
fault "a folder as configuration (run)" 2 "conf.yml: is a folder, not a configuration file" \
    "$PNP" run --force "$TMP/conf.yml" --out "$TMP/o_dir"
nothing_left "a folder as configuration (run)" "$TMP/o_dir"
fault "a missing configuration" 2 "nope.yml: no such file" "$PNP" grid "$TMP/nope.yml" --out "$TMP/o_nope"
nothing_left "a missing configuration (grid)" "$TMP/o_nope"

for cmd in config grid run dataset; do
    out=(--out "$TMP/o_dn_$cmd")
    [ $cmd = config ] && out=()
    fault "unknown denoiser ($cmd)" 2 "row 0: unknown denoiser 'unet' \(known: drunet" \
        "$PNP" $cmd "${T[@]}" --set denoiser=unet "${out[@]}"
    nothing_left "unknown denoiser ($cmd)" "$TMP/o_dn_$cmd"
    fault "missing weights ($cmd)" 2 "row 0: weights: .*/missing.h5: no such file" \
        "$PNP" $cmd "${T[@]}" --set weights="$TMP/missing.h5" "${out[@]}"
    fault "missing image ($cmd)" 2 "row 0: image: .*/missing.png: no such file" \
        "$PNP" $cmd "${T[@]}" --set image="$TMP/missing.png" "${out[@]}"
    nothing_left "missing weights and image ($cmd)" "$TMP/o_dn_$cmd"
done
fault "missing weights (grid --local: nothing runs)" 2 "row 0: weights: .*/missing.h5: no such file" \
    "$PNP" grid --local "${T[@]}" --set weights="$TMP/missing.h5" --out "$TMP/o_local"
nothing_left "grid --local with missing weights" "$TMP/o_local"
fault "a folder as weights" 2 "weights: .*/conf.yml: is a folder, not a weights file" \
    "$PNP" run --force "${T[@]}" --set weights="$TMP/conf.yml" --out "$TMP/o_wdir"

# ------------------------------------------------------------------- images
head -c 2000 "$photo" >"$TMP/trunc.png"
guard "$TMP/o_png"
fault "truncated PNG" 2 "trunc.png: corrupt or truncated PNG" "$PNP" run --force "${T[@]}" --set image="$TMP/trunc.png" --out "$TMP/o_png"
untouched "truncated PNG" "$TMP/o_png"
cp "$photo" "$TMP/corrupt.png"
printf 'garbage garbage garbage garbage' | dd of="$TMP/corrupt.png" bs=1 seek=3000 conv=notrunc 2>/dev/null
fault "corrupt PNG" 2 "corrupt.png: corrupt or truncated PNG" \
    "$PNP" dataset "${T[@]}" --set image="$TMP/corrupt.png" --out "$TMP/o_png/x.h5"
untouched "corrupt PNG" "$TMP/o_png"
$PY - "$TMP" <<'EOF'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
def png(path, w, h, rows):
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", rows) + chunk(b"IEND", b""))
d = sys.argv[1]
png(d + "/huge_header.png", 100000, 100000, zlib.compress(b"\0" * 301))  # claims 100000x100000, holds 1 row of 100
z = zlib.compressobj(9)
row = b"\0" + b"\x80" * (12000 * 3)
png(d + "/big.png", 12000, 12000, b"".join(z.compress(row) for _ in range(12000)) + z.flush())
EOF
fault "PNG header claiming 100000x100000, read whole" 2 \
    "huge_header.png: reading this 100000x100000 PNG needs .* GiB \(decoded whole\), more than the .* of free memory" \
    "$PNP" run --force "${T[@]}" --set image="$TMP/huge_header.png" --set image_size=100000 --out "$TMP/o_huge"
fault "PNG header claiming 100000x100000, read to 64 px" 2 "huge_header.png: corrupt or truncated PNG" \
    "$PNP" run --force "${T[@]}" --set image="$TMP/huge_header.png" --out "$TMP/o_huge"
nothing_left "a PNG header claiming 100000x100000" "$TMP/o_huge"
# 12000x12000 (432 MB of pixels, 1.7 GB as floats) for a 64-pixel problem: decoded row by row into the resize
rss=$($PY -c "
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)" \
    "$PNP" dataset "${T[@]}" --set image="$TMP/big.png" --out "$TMP/big.h5")
check "a 12000x12000 PNG for a 64-pixel problem: read row by row, peak memory ${rss#* } MiB (< 300; whole: 2 GB)" \
    bash -c "[ '${rss% *}' = 0 ] && [ ${rss#* } -lt 300 ]"

# ------------------------------------------------------------------ weights
"$PNP" weights generate drunet:8,16,32,64:1 "$TMP/g.h5" >/dev/null
W=(--set denoiser=drunet --set weights)
head -c 3000 "$TMP/g.h5" >"$TMP/trunc.h5"
guard "$TMP/o_w"
fault "truncated .h5 weights" 2 "trunc.h5: cannot open HDF5 weights file" "$PNP" run --force "${T[@]}" "${W[@]}=$TMP/trunc.h5" --out "$TMP/o_w"
untouched "truncated .h5 weights" "$TMP/o_w"
cp "$TMP/g.h5" "$TMP/corrupt.h5"
head -c 300 /dev/zero | tr '\0' '\377' | dd of="$TMP/corrupt.h5" bs=1 seek=400 conv=notrunc 2>/dev/null # in the metadata
fault "corrupt .h5 weights" 2 "corrupt.h5: cannot list the datasets \(truncated or corrupt file\?\)" \
    "$PNP" run --force "${T[@]}" "${W[@]}=$TMP/corrupt.h5" --out "$TMP/o_w"
untouched "corrupt .h5 weights" "$TMP/o_w"
head -c 50000 "$kair/dncnn_color_blind.pth" >"$TMP/trunc.pth"
fault "truncated .pth weights" 2 "trunc.pth: .*truncated" "$PNP" run --force "${T[@]}" --set denoiser=dncnn --set weights="$TMP/trunc.pth" --out "$TMP/o_w"
cp "$kair/dncnn_color_blind.pth" "$TMP/corrupt.pth"
dd if=/dev/urandom of="$TMP/corrupt.pth" bs=1 seek=100 count=400 conv=notrunc 2>/dev/null
fault "corrupt .pth weights" 2 "corrupt.pth: " "$PNP" run --force "${T[@]}" --set denoiser=dncnn --set weights="$TMP/corrupt.pth" --out "$TMP/o_w"
$PY - "$TMP/bomb.pth" <<'EOF'
import sys, zipfile  # 200 MB of zeros deflated into a few hundred KB
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with z.open("archive/data/0", "w") as f:
        for _ in range(200):
            f.write(b"\0" * (1 << 20))
EOF
fault "zip bomb .pth" 2 "bomb.pth: .*compressed" "$PNP" run --force "${T[@]}" --set weights="$TMP/bomb.pth" --out "$TMP/o_w"
untouched "corrupt and bomb .pth weights" "$TMP/o_w"
for bad in nan inf; do
    cp "$TMP/g.h5" "$TMP/$bad.h5"
    $PY -c "import h5py, sys; d = h5py.File(sys.argv[1], 'r+')['m_down2.0.res.2.weight']; a = d[...]; a.flat[7] = float(sys.argv[2]); d[...] = a" \
        "$TMP/$bad.h5" $bad
    fault "$bad in the weights" 2 "$bad.h5: tensor 'm_down2.0.res.2.weight' holds 1 non-finite value \((NaN|Inf) at element 7\)" \
        "$PNP" run --force "${T[@]}" "${W[@]}=$TMP/$bad.h5" --out "$TMP/o_w"
done
fault "NaN weights, pnp weights info" 2 "nan.h5: tensor 'm_down2.0.res.2.weight' holds 1 non-finite" "$PNP" weights info "$TMP/nan.h5"
untouched "non-finite weights" "$TMP/o_w"
cp "$TMP/g.h5" "$TMP/huge.h5"
$PY -c "import h5py, sys; h5py.File(sys.argv[1], 'r+').create_dataset('zz', shape=(90000, 1000000), dtype='f4', chunks=(1, 1000))" "$TMP/huge.h5"
fault "an .h5 tensor of 9e10 elements" 2 "huge.h5: dataset 'zz' holds 9e\+10 elements \(335.* GiB as float32\), more than the .* of free memory" \
    "$PNP" run --force "${T[@]}" "${W[@]}=$TMP/huge.h5" --out "$TMP/o_w"
untouched "an .h5 tensor of 9e10 elements" "$TMP/o_w"

# -------------------------------------------------------------------- sizes
guard "$TMP/o_size"
fault "image_size 100000" 2 "image_size 100000: the ground truth alone, \[3,100000,66735\] float32, takes 7[0-9.]+ GiB, more than" \
    "$PNP" run --force "${T[@]}" --set image_size=100000 --out "$TMP/o_size"
fault "num_operators 2e9" 2 "num_operators 2000000000: the blur kernels alone, \[2000000000,7,7\] float32, take" \
    "$PNP" run --force "${T[@]}" --set num_operators=2000000000 --out "$TMP/o_size"
fault "--threads 100000" 2 "--threads 100000: this process may use [0-9]+ CPUs? \([0-9]+ CPUs? in this process's affinity mask" \
    "$PNP" run --force "${T[@]}" --threads 100000 --out "$TMP/o_size"
fault "--threads 100000 (dataset)" 2 "--threads 100000: this process may use" \
    "$PNP" dataset "${T[@]}" --threads 100000 --out "$TMP/o_size/x.h5"
untouched "sizes nobody can hold" "$TMP/o_size"
if command -v taskset >/dev/null; then
    fault "taskset -c 0: the default threads follow the affinity mask" 0 "1 rank \(1 thread each\)" \
        taskset -c 0 "$PNP" run --force "${T[@]}" --out "$TMP/o_taskset"
    fault "taskset -c 0 --threads 2: refused" 2 "--threads 2: this process may use 1 CPU \(1 CPU in this process's affinity mask" \
        taskset -c 0 "$PNP" run --force "${T[@]}" --threads 2 --out "$TMP/o_taskset2"
fi

# -------------------------------------------------------------------- noise
check "no HDF5 diagnostics in any log (pnp reports the first error itself)" \
    bash -c "! grep -l 'HDF5-DIAG' '$TMP'/*.log"
check "no MPI abort banner nor ORTE message in any log (single-rank runs end quietly)" \
    bash -c "! grep -lE 'MPI_ABORT|ORTE_ERROR_LOG|PMIX ERROR' '$TMP'/*.log"
check "every refusal is one line" bash -c "for f in '$TMP'/*.log; do [ \$(grep -c '^pnp: ' \"\$f\") -le 1 ] || exit 1; done"
exit $status
