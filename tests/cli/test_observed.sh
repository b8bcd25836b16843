# test_observed.sh - dataset `observed` (issue 16): the user's own measurements
# and PSFs from files, no ground truth needed, real boundaries.
#  - tests/cli/observed_sets.py builds small sets with a known truth (numpy
#    direct convolution on an extended scene) written by its own PNG, TIFF,
#    FITS, NumPy and HDF5 writers; every format and pixel type read back by pnp
#    (`pnp dataset` on observed writes the bundle) equals the numpy original
#    (exactly; PSFs, which pnp normalises, within 1e-7);
#  - a reconstruction with the trained FFDNet improves the PSNR over the
#    measurement, and with boundary pad the 12-pixel edge band is better than
#    with circular (the margin is printed; >= 0.5 dB asserted);
#  - 1 rank = 2 ranks = 3 ranks (distributed physics and tiles, boundary pad,
#    max abs 1e-6); tolerance stops every rank at the same iteration; an
#    interrupted pad run resumes to the uninterrupted result;
#  - a grey problem with a colour network (note in the log) and with generated
#    grey DRUNet weights; without a reference no PSNR is traced, inspect and
#    report show the residual;
#  - pnp export to PNG (16-bit default, --bits 8), TIFF, FITS, NumPy, read back
#    by independent readers;
#  - on the emulated CUDA backend (build-emu/pnp), per-channel PSFs with both
#    boundaries equal the CPU's (1e-5);
#  - every bad input: exit 2, a message naming the file and what is wrong,
#    nothing written.
# (The forward operator against numpy's direct convolution and the adjoint
# tests, both boundaries, are tests/unit/test_data_term.c.)
. "$(dirname "$0")/lib.sh"
MPI="mpirun --allow-run-as-root --oversubscribe"
D="$TMP/sets"
C=tests/cli/check_observed.py
$PY tests/cli/observed_sets.py sets "$D" || { echo "not ok - observed_sets.py sets"; exit 1; }
$PY tests/cli/observed_sets.py bad "$D/bad" || { echo "not ok - observed_sets.py bad"; exit 1; }
cat >"$TMP/obs.yml" <<EOF
dataset:
  - observed: {measurements: x, psfs: x}
solver:
  - PnP: {denoiser: none, max_iter: 2}
EOF

# ---------------------------------------------------------------- formats read back
readback() { # readback KEY DATASET MEASUREMENTS PSFS [REFERENCE] [TOL]
    local key=$1 ds=$2 out="$TMP/rb_$(echo "$1" | tr -c 'A-Za-z0-9' _).h5"
    local args=(--set "measurements=$3" --set "psfs=$4")
    [ -n "${5:-}" ] && args+=(--set "reference=$5")
    if "$PNP" dataset "$TMP/obs.yml" "${args[@]}" --out "$out" >"$out.log" 2>&1; then
        $PY $C readback "$D/ref.npz" "$key" "$out" "$ds" "${6:-0}" || status=1
    else
        echo "not ok - pnp dataset on $key: $(tail -1 "$out.log")"
        status=1
    fi
}
B=$D/B
readback A/blurred_0.png measurements "$D/A/blurred_0.png" "$D/A/psf_0.npy"       # PNG 8-bit RGB
readback A/truth.png ground_truth "$D/A/blurred_0.png" "$D/A/psf_0.npy" "$D/A/truth.png"
readback A/psfs kernels "$D/A/blurred_*.png" "$D/A/psf_*.npy" "" 1e-7              # NumPy PSFs, normalised
readback B/png16 measurements "$B/png16_*.png" "$B/psfs.npy"                       # PNG 16-bit grey
readback B/stack_f32.tif measurements "$B/stack_f32.tif" "$B/psfs.npy"             # TIFF float32 multi-page
readback B/page_u8 measurements "$B/page_u8_*.tif" "$B/psfs.npy"                   # TIFF uint8, one per file
readback B/cube_f32.fits measurements "$B/cube_f32.fits" "$B/psfs.npy"             # FITS float32 3-D cube
readback B/img_u16 measurements "$B/img_u16_*.fits" "$B/psfs.npy"                  # FITS uint16 (BZERO)
readback B/img_f64 measurements "$B/img_f64_*.fits" "$B/psfs.npy"                  # FITS float64
readback B/img_u8 measurements "$B/img_u8_*.fits" "$B/psfs.npy"                    # FITS uint8
readback B/all_f64.npy measurements "$B/all_f64.npy" "$B/psfs.npy"                 # NumPy [N,C,H,W] float64
readback B/hw_u16 measurements "$B/hw_u16_*.npy" "$B/psfs.npy"                     # NumPy [H,W] uint16
readback B/be_f32 measurements "$B/be_f32_*.npy" "$B/psfs.npy"                     # NumPy [C,H,W] big-endian
readback B/bundle.h5 measurements "$B/bundle.h5" "$B/bundle.h5"                    # HDF5 bundle
readback B/truth_u16.tif ground_truth "$B/bundle.h5" "$B/bundle.h5" "$B/truth_u16.tif" # TIFF uint16 reference
for p in psfs.tif psfs.fits bundle.h5; do                                          # PSFs in TIFF, FITS, HDF5
    readback B/psfs kernels "$B/all_f64.npy" "$B/$p" "" 1e-7
done
readback C/rgb16 measurements "$D/C/rgb16_*.tif" "$D/C/psfs.npy"                   # TIFF uint16 RGB
readback C/psfs kernels "$D/C/rgb16_*.tif" "$D/C/psfs.npy" "" 1e-7                 # one PSF per channel
readback C/truth.fits ground_truth "$D/C/rgb16_*.tif" "$D/C/psfs.npy" "$D/C/truth.fits" # 3-plane FITS = RGB
"$PNP" dataset "$TMP/obs.yml" --set "measurements=$B/bundle.h5" --set "psfs=$B/psf_png.png" \
    --out "$TMP/x.h5" >"$TMP/png_psf.log" 2>&1
check "a PSF in a 16-bit PNG is read (the count is what is wrong here: 3 measurements, 1 PSF)" \
    grep -q "3 measurements (.*) but 1 PSF" "$TMP/png_psf.log"
"$PNP" dataset "$TMP/obs.yml" --set "measurements=$D/A/blurred_*.png" --set "psfs=$D/A/psf_*.npy" \
    --out "$TMP/a.h5" >"$TMP/a_dataset.log" 2>&1
check "PSFs not summing to 1 are normalised, with a note naming each" \
    bash -c "[ \$(grep -c 'note: PSF .*/A/psf_[0-3].npy sums to 3, not 1: normalised' '$TMP/a_dataset.log') -eq 4 ]"

# ---------------------------------------------------------------- reconstruction quality
ffdnet="$PNP_SHARED/data/weights/kair-small/ffdnet_color.h5"
A=(--set "measurements=$D/A/blurred_*.png" --set "psfs=$D/A/psf_*.npy" --set "reference=$D/A/truth.png")
if [ -r "$ffdnet" ]; then
    ff=(--set denoiser=ffdnet --set "weights=$ffdnet" --set denoiser_sigma=0.02 --set step_size=0.24)
    for b in pad circular; do
        "$PNP" run "$TMP/obs.yml" "${A[@]}" "${ff[@]}" --set max_iter=40 --set boundary=$b --out "$TMP/q_$b" \
            >"$TMP/q_$b.log" 2>&1 || echo "not ok - FFDNet run, boundary $b: $(tail -1 "$TMP/q_$b.log")"
    done
    $PY $C quality "$TMP/q_pad/obs_row0.h5" "$TMP/q_circular/obs_row0.h5" 1.0 0.5 || status=1
    # a grey problem with the colour FFDNet: replicated and averaged, said in the log
    G=(--set "measurements=$B/bundle.h5" --set "psfs=$B/bundle.h5" --set "reference=$B/bundle.h5")
    "$PNP" run "$TMP/obs.yml" "${G[@]}" "${ff[@]}" --set step_size=0.3 --set max_iter=20 --out "$TMP/gray" \
        >"$TMP/gray.log" 2>&1
    check "1-channel problem, colour FFDNet: a note says the channel is replicated and the outputs averaged" \
        grep -q "note: a colour ffdnet on a 1-channel image: the channel is replicated into its 3 inputs and its 3 outputs averaged" "$TMP/gray.log"
    $PY -c "
import h5py, numpy as np, sys
f = h5py.File(sys.argv[1]); x, t, y = (f[k][...] for k in ('reconstruction', 'ground_truth', 'measurement'))
p = lambda a: -10 * np.log10(((a - t) ** 2).mean())
print(('ok' if p(x) > p(y) + 0.5 and x.shape[0] == 1 else 'not ok') +
      f' - grey problem, colour FFDNet: [1,H,W] result, PSNR {p(x):.2f} dB vs measurement {p(y):.2f} dB (>= +0.5)')
" "$TMP/gray/obs_row0.h5" || status=1
else
    echo "skip - FFDNet reconstructions: $ffdnet not found (set PNP_SHARED)"
fi

# ---------------------------------------------------------------- ranks, tolerance, resume
small=(--set denoiser=drunet:8,16,32,64:1 --set max_iter=4 --set step_size=0.2 --set boundary=pad)
dist=(--set distribute_physics=true --set distribute_denoiser=true --set patch_size=32 --set overlap=8)
"$PNP" run "$TMP/obs.yml" "${A[@]}" "${small[@]}" "${dist[@]}" --out "$TMP/r1" >"$TMP/r1.log" 2>&1
check "observed, pad, tiled, 1 rank" test -s "$TMP/r1/obs_row0.h5"
for np in 2 3; do
    timeout 300 $MPI -n $np "$PNP" run "$TMP/obs.yml" "${A[@]}" "${small[@]}" "${dist[@]}" --out "$TMP/r$np" \
        >"$TMP/r$np.log" 2>&1
    $PY $C same "$TMP/r1/obs_row0.h5" "$TMP/r$np/obs_row0.h5" 1e-6 "observed, pad: $np ranks = 1 rank" || status=1
done
"$PNP" run "$TMP/obs.yml" "${A[@]}" "${small[@]}" "${dist[@]}" --set max_iter=30 --set tolerance=0.02 \
    --out "$TMP/t1" >"$TMP/t1.log" 2>&1
$PY $C tolerance "$TMP/t1/obs_row0.h5" 0.02 30 || status=1
timeout 300 $MPI -n 2 "$PNP" run "$TMP/obs.yml" "${A[@]}" "${small[@]}" "${dist[@]}" --set max_iter=30 \
    --set tolerance=0.02 --out "$TMP/t2" >"$TMP/t2.log" 2>&1
$PY $C tolerance "$TMP/t2/obs_row0.h5" 0.02 30 || status=1
$PY $C same "$TMP/t1/obs_row0.h5" "$TMP/t2/obs_row0.h5" 1e-6 "tolerance: 2 ranks stop where 1 rank stops" || status=1
PNP_STOP_AFTER=2 "$PNP" run "$TMP/obs.yml" "${A[@]}" "${small[@]}" --out "$TMP/s" >"$TMP/s.log" 2>&1
"$PNP" run "$TMP/obs.yml" "${A[@]}" "${small[@]}" --out "$TMP/s" --resume "$TMP/s/obs_row0.h5" >"$TMP/s2.log" 2>&1
"$PNP" run "$TMP/obs.yml" "${A[@]}" "${small[@]}" --out "$TMP/u" >"$TMP/u.log" 2>&1
$PY $C same "$TMP/u/obs_row0.h5" "$TMP/s/obs_row0.h5" 0 "pad: interrupted after 2 iterations and resumed = uninterrupted" ||
    status=1

# the CUDA backend on its emulation (build-emu/pnp, made by `make test`): one PSF per channel, both
# boundaries, no denoiser (the data term alone: blur_normal_window, per-channel spectra, dot) = cpu
EMU="${PNP_EMU_BIN:-build-emu/pnp}"
if [ -x "$EMU" ]; then
    PC=(--set "measurements=$D/C/rgb16_*.tif" --set "psfs=$D/C/psfs.npy" --set "reference=$D/C/truth.fits"
        --set denoiser=none --set max_iter=3 --set step_size=0.3)
    for b in pad circular; do
        "$PNP" run "$TMP/obs.yml" "${PC[@]}" --set boundary=$b --out "$TMP/e_cpu_$b" >"$TMP/e_cpu_$b.log" 2>&1
        "$EMU" run "$TMP/obs.yml" "${PC[@]}" --set boundary=$b --set backend=cuda --out "$TMP/e_cuda_$b" \
            >"$TMP/e_cuda_$b.log" 2>&1
        $PY $C same "$TMP/e_cpu_$b/obs_row0.h5" "$TMP/e_cuda_$b/obs_row0.h5" 1e-5 \
            "EMULATED cuda, one PSF per channel, boundary $b, no denoiser = cpu" || status=1
    done
else
    echo "skip - observed data on the emulated cuda backend: no $EMU (make cuda-emu)"
fi

# ---------------------------------------------------------------- no reference, grey, inspect, report
N=(--set "measurements=$B/png16_*.png" --set "psfs=$B/psfs.npy")
"$PNP" run "$TMP/obs.yml" "${N[@]}" --set denoiser=drunet_gray:8,16,32,64:1 --set max_iter=3 --out "$TMP/n" \
    >"$TMP/n.log" 2>&1
check "grey problem, generated drunet_gray weights, no reference: runs, the progress shows residual and change only" \
    bash -c "grep -q 'drunet (grey) widths 8,16,32,64' '$TMP/n.log' &&
             [ \$(grep -cE '^iter +[0-9]/3 +residual [0-9.e+-]+ +change' '$TMP/n.log') -eq 3 ] && ! grep -q PSNR '$TMP/n.log'"
$PY -c "
import h5py, sys
f = h5py.File(sys.argv[1]); t = f['traces']
ok = 'psnr' not in t and 'final_psnr' not in f.attrs and 'ground_truth' not in f and t['data_residual'].shape == (3,)
print(('ok' if ok and f['reconstruction'].shape == (1, 64, 80) and f['reconstruction_extended'].shape == (1, 75, 89)
       else 'not ok') + ' - no reference: no /traces/psnr, final_psnr or /ground_truth; data_residual traced; '
      '/reconstruction [1,64,80], /reconstruction_extended [1,75,89]')
" "$TMP/n/obs_row0.h5" || status=1
"$PNP" inspect "$TMP/n/obs_row0.h5" >"$TMP/inspect.txt" 2>&1
check "pnp inspect without a reference: PSNR '-', the data residual and relative change shown" \
    bash -c "grep -q 'PSNR *- (no ground truth or reference)' '$TMP/inspect.txt' &&
             grep -q 'data residual .* initial, .* final' '$TMP/inspect.txt' && grep -q 'boundary pad' '$TMP/inspect.txt'"
"$PNP" inspect --json "$TMP/n/obs_row0.h5" >"$TMP/inspect.json"
$PY -c "
import json, sys
r = json.load(open(sys.argv[1]))[0]
ok = (r['final_psnr'] is None and r['traces']['psnr'] is None and len(r['traces']['data_residual']) == 3
      and r['images']['ground_truth'] is None and r['images']['reconstruction_extended'] == '/reconstruction_extended'
      and r['channels'] == 1 and r['boundary'] == 'pad' and r['stop_reason'] == 'max_iter')
print(('ok' if ok else 'not ok') + ' - pnp inspect --json: psnr null, data_residual traced, images and new keys')
" "$TMP/inspect.json" || status=1
"$PNP" report "$TMP/n/obs_row0.h5" "$TMP/r1/obs_row0.h5" --out "$TMP/report" >"$TMP/report.log" 2>&1
check "pnp report on results with and without a reference: figures and previews" \
    bash -c "[ -s '$TMP/report/residual_vs_iteration.png' ] && [ -s '$TMP/report/preview_n_obs_row0.png' ] &&
             grep -q 'residual_vs_iteration.png' '$TMP/report/index.html'"

# ---------------------------------------------------------------- export
res="$TMP/r1/obs_row0.h5"
mkdir -p "$TMP/ex"
for out in x.png "x8.png --bits 8" x.tif x.fits x.npy "xe.tif --extended"; do
    set -- $out
    "$PNP" export "$res" "$TMP/ex/$1" "${@:2}" >>"$TMP/ex.log" 2>&1 || echo "not ok - pnp export $out: $(tail -1 "$TMP/ex.log")"
done
$PY $C export "$res" "$TMP/ex" || status=1
$PY $C export "$res" "$TMP/ex" extended || status=1
mkdir -p "$TMP/exg"
for out in x.png "x8.png --bits 8" x.tif x.fits x.npy; do
    set -- $out
    "$PNP" export "$TMP/n/obs_row0.h5" "$TMP/exg/$1" "${@:2}" >>"$TMP/ex.log" 2>&1
done
$PY $C export "$TMP/n/obs_row0.h5" "$TMP/exg" || status=1
"$PNP" export "$res" "$TMP/ex/x.jpg" >/dev/null 2>"$TMP/err.log"
check "export to an unknown format: exit 2 naming the extension" \
    bash -c "[ $? -eq 2 ] && grep -q \"unknown output format '.jpg'\" '$TMP/err.log' && [ ! -e '$TMP/ex/x.jpg' ]"
"$PNP" export "$TMP/q_circular/obs_row0.h5" "$TMP/ex/y.tif" --extended >/dev/null 2>"$TMP/err.log"
check "export --extended of a run without one: exit 2" bash -c "[ $? -eq 2 ] && [ ! -e '$TMP/ex/y.tif' ]"

# ---------------------------------------------------------------- bad inputs
X="$D/bad"
refused() { # refused "what" "message (grep -E)" --set ...: exit 2, the message, no file written (the --out
            # folder itself is made at setup, when pnp run checks that it can write there)
    local what=$1 msg=$2
    shift 2
    rm -rf "$TMP/bad_out"
    "$PNP" run "$TMP/obs.yml" --set "measurements=$X/y.npy" --set "psfs=$X/psf.npy" "$@" --out "$TMP/bad_out" \
        >"$TMP/bad.log" 2>&1
    local rc=$?
    check "bad input, $what: exit 2, '$msg', nothing written" \
        bash -c "[ $rc -eq 2 ] && grep -qE -- \"$msg\" '$TMP/bad.log' && [ -z \"\$(find '$TMP/bad_out' -type f 2>/dev/null)\" ]"
    [ $rc -eq 2 ] || sed 's/^/#   /' "$TMP/bad.log" | tail -3
}
"$PNP" run "$TMP/obs.yml" --set "measurements=$X/y.npy" --set "psfs=$X/psf.npy" --out "$TMP/good" >/dev/null 2>&1
check "the bad inputs' good companions run" test -s "$TMP/good/obs_row0.h5"
refused "a glob matching no file" "none_\*.png: no file matches this pattern" --set "measurements=$X/none_*.png"
refused "counts differ" "1 measurement \(.*y.npy\) but 2 PSFs" --set "psfs=$X/chan/p*.npy"
refused "shapes differ" "shape/y1.png is 40x40 \(height x width\) but .*shape/y0.png is 40x48" \
    --set "measurements=$X/shape/y*.png" --set "psfs=$X/shape/p*.npy"
refused "channel counts differ" "chan/y1.png has 1 channel but .*chan/y0.png has 3" \
    --set "measurements=$X/chan/y*.png" --set "psfs=$X/chan/p*.npy"
refused "a PSF larger than the image" "psf_big.npy: PSF of 41x5 is larger than the measurements' 40x48" \
    --set "psfs=$X/psf_big.npy"
refused "an all-zero PSF" "psf_zero.npy: PSF is all zero" --set "psfs=$X/psf_zero.npy"
refused "a negative PSF" "psf_neg.npy: PSF value -0.01 < 0 at \(channel 0, row 1, column 2\)" --set "psfs=$X/psf_neg.npy"
refused "a NaN PSF" "psf_nan.npy: pixel \(channel 0, row 2, column 2\) is NaN" --set "psfs=$X/psf_nan.npy"
refused "PSF channels that fit neither" "psf_2ch.npy: PSFs of 2 channels for measurements of 3" \
    --set "psfs=$X/psf_2ch.npy"
refused "a NaN pixel" "y_nan.npy: pixel \(channel 1, row 7, column 9\) is NaN" --set "measurements=$X/y_nan.npy"
$PY -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1]) * 4000 + 600)" "$X/y.npy" "$X/y_counts.npy"
refused "measurements in detector counts" "y_counts.npy has values in \[[0-9.e+]*, [0-9.e+]*\], far outside \[0, 1\]" \
    --set "measurements=$X/y_counts.npy"
refused "an infinite pixel" "y_inf.npy: pixel \(channel 1, row 7, column 9\) is infinite" --set "measurements=$X/y_inf.npy"
refused "a NaN in the reference" "ref_nan.npy: pixel .* is NaN" --set "reference=$X/ref_nan.npy"
refused "a reference of another shape" "ref_shape.npy: the reference is 1 image of \[3,30,48\]" \
    --set "reference=$X/ref_shape.npy"
refused "a PNG with alpha" "alpha.png: has an alpha channel" --set "measurements=$X/alpha.png"
refused "a file that is no image" "garbage.png: unknown file format" --set "measurements=$X/garbage.png"
refused "a missing file" "nofile.png: cannot open" --set "measurements=$X/nofile.png"
# the same files checked before anything is submitted: pnp config and pnp grid read every header
for cmd in config grid; do
    rm -rf "$TMP/grid_out"
    "$PNP" $cmd "$TMP/obs.yml" --set "measurements=$X/nofile.png" --set "psfs=$X/psf.npy" \
        $([ $cmd = grid ] && echo "--out $TMP/grid_out") >"$TMP/$cmd.log" 2>&1
    check "pnp $cmd, a missing measurement file: exit 2 naming the row, key and file, nothing written" \
        bash -c "[ $? -eq 2 ] && grep -q 'row 0: dataset observed: .*nofile.png: cannot open' '$TMP/$cmd.log' &&
                 [ ! -e '$TMP/grid_out' ]"
done
pnp_abs=$(realpath "$PNP")
(cd "$TMP" && "$pnp_abs" config "$TMP/obs.yml" --set "measurements=nowhere/y_*.png" --set "psfs=$X/psf.npy") \
    >"$TMP/config.log" 2>&1
check "a pattern in a folder that does not exist: exit 2 naming the folder and the current folder it was taken from" \
    bash -c "[ $? -eq 2 ] && grep -q 'nowhere/y_\*.png: folder nowhere does not exist (a relative path is taken from the current folder, $TMP)' '$TMP/config.log'"
"$PNP" config "$TMP/obs.yml" --set "measurements=$X/y.npy" --set "psfs=$X/chan/p*.npy" >"$TMP/config.log" 2>&1
check "pnp config, counts of measurements and PSFs that differ: exit 2" \
    bash -c "[ $? -eq 2 ] && grep -qE '1 measurement \(.*y.npy\) but 2 PSFs' '$TMP/config.log'"
for bad in psf_neg psf_nan psf_zero; do # PSFs are small: pnp config reads and checks every one
    "$PNP" config "$TMP/obs.yml" --set "measurements=$X/y.npy" --set "psfs=$X/$bad.npy" >"$TMP/config.log" 2>&1
    check "pnp config, a bad PSF ($bad): exit 2 naming it" bash -c "[ $? -eq 2 ] && grep -q '$bad.npy' '$TMP/config.log'"
done
refused "NumPy int32" "y_int32.npy: unsupported pixel type '<i4'" --set "measurements=$X/y_int32.npy"
refused "TIFF int16" "y_int16.tif: page 0 unsupported pixel type \(16-bit signed integer\)" \
    --set "measurements=$X/y_int16.tif"
refused "FITS int32" "y_int32.fits: unsupported pixel type \(BITPIX 32" --set "measurements=$X/y_int32.fits"
refused "a truncated PNG" "trunc.png: corrupt or truncated PNG" --set "measurements=$X/trunc.png"
refused "a truncated TIFF" "trunc.tif: not a readable TIFF" --set "measurements=$X/trunc.tif"
refused "a truncated FITS" "trunc.fits: read error: truncated or corrupt" --set "measurements=$X/trunc.fits"
refused "a truncated NumPy file" "trunc.npy: truncated: 23068 bytes, the header's shape needs 23168" \
    --set "measurements=$X/trunc.npy"
refused "a truncated HDF5 bundle" "trunc.h5: cannot open as HDF5" --set "measurements=$X/trunc.h5"
refused "a truncated PSF file" "trunc.npy: truncated" --set "psfs=$X/trunc.npy"
timeout 120 $MPI -n 2 "$PNP" run "$TMP/obs.yml" --set "measurements=$X/y.npy" --set "psfs=$X/psf.npy" \
    --set "reference=$X/ref_nan.npy" --out "$TMP/bad2" >"$TMP/bad2.log" 2>&1
check "a bad input on 2 ranks: exit 2 on every rank, one message, nothing written" \
    bash -c "[ $? -eq 2 ] && [ \$(grep -c 'ref_nan.npy: pixel' '$TMP/bad2.log') -eq 1 ] &&
             [ -z \"\$(find '$TMP/bad2' -type f 2>/dev/null)\" ]"
"$PNP" dataset "$TMP/obs.yml" --set "measurements=$X/y_nan.npy" --set "psfs=$X/psf.npy" --out "$TMP/bad.h5" \
    >"$TMP/bad.log" 2>&1
check "pnp dataset refuses the same, nothing written" \
    bash -c "[ $? -eq 2 ] && grep -q 'y_nan.npy: pixel' '$TMP/bad.log' && [ ! -e '$TMP/bad.h5' ]"
cat >"$TMP/unknown.yml" <<EOF
dataset:
  - observed: {measurements: a.png, psfs: b.npy, image_size: 64}
solver:
  - PnP: {denoiser: none}
EOF
"$PNP" config "$TMP/unknown.yml" >/dev/null 2>"$TMP/err.log"
check "a key of the other dataset is an unknown key, with file, line and column" \
    bash -c "[ $? -eq 2 ] && grep -q \"unknown.yml:2:.*unknown key 'image_size' for dataset 'observed' (known: measurements, psfs, reference, boundary, noise_level)\" '$TMP/err.log'"
exit $status
