# test_denoise.sh - `pnp denoise` on a 64x64 crop of a CBSD68 photo with KAIR's
# trained DnCNN (blind) and FFDNet (sigma 25/255): noise of 25/255 added, PSNR
# reported per image and as a mean, denoising gains >= 5 dB, PNG outputs
# written whole (no temporary left), and bad inputs (missing or corrupt image,
# wrong weights, bad usage) refused with exit 2 and the file named; a bad
# PNP_CONV_ALGO ends the run with a message naming it.
. "$(dirname "$0")/lib.sh"

photo="$PNP_SHARED/data/images/CBSD68/101087.png"
kair="$PNP_SHARED/data/weights/kair-small"
S=0.0980392157 # 25/255
if [ -r "$photo" ] && [ -r "$kair/dncnn_color_blind.pth" ] && [ -r "$kair/ffdnet_color.h5" ]; then
    $PY tests/cli/png_crop.py "$photo" "$TMP/crop.png" 160 200 64 64
    check "a 64x64 crop of a CBSD68 photo (tests/cli/png_crop.py)" test -s "$TMP/crop.png"

    # gain: the "(+G.GGG)" of a report line, at least MIN dB
    gain_at_least() { sed -n 's/^\[1\/1\].*(+\([0-9.]*\)).*/\1/p' "$1" | awk -v m="$2" '{ok = $1 >= m} END {exit !ok}'; }

    "$PNP" denoise --weights "$kair/dncnn_color_blind.pth" --add-noise $S --report --threads 2 \
        --out "$TMP/dncnn.png" "$TMP/crop.png" >"$TMP/dncnn.log" 2>&1
    rc=$?
    check "dncnn (.pth, arch recognised): exit 0" [ $rc -eq 0 ]
    check "dncnn: per-image line with noisy and denoised PSNR" \
        grep -Eq '^\[1/1\] crop.png 64x64: noisy 2[0-9]\.[0-9]{3} dB, denoised [0-9.]+ dB' "$TMP/dncnn.log"
    check "dncnn: mean line" grep -Eq '^mean over 1 images: noisy [0-9.]+ dB, denoised [0-9.]+ dB$' "$TMP/dncnn.log"
    check "dncnn raises PSNR by >= 5 dB at sigma 25/255" gain_at_least "$TMP/dncnn.log" 5
    check "dncnn: output PNG written, no temporary left" \
        bash -c "head -c 8 '$TMP/dncnn.png' | grep -q PNG && ! ls '$TMP' | grep -q tmp"

    "$PNP" denoise --weights "$kair/ffdnet_color.h5" --sigma $S --add-noise $S --report --threads 2 \
        --out-dir "$TMP/outdir" "$TMP/crop.png" >"$TMP/ffdnet.log" 2>&1
    rc=$?
    check "ffdnet (.h5, --sigma 25/255): exit 0" [ $rc -eq 0 ]
    check "ffdnet raises PSNR by >= 5 dB at sigma 25/255" gain_at_least "$TMP/ffdnet.log" 5
    check "ffdnet: --out-dir created and holds the result" test -s "$TMP/outdir/crop.png"
    a=$(grep -o 'noisy [0-9.]*' "$TMP/dncnn.log" | head -1)
    b=$(grep -o 'noisy [0-9.]*' "$TMP/ffdnet.log" | head -1)
    check "same seed, same noise: equal noisy PSNR for both models ($a)" bash -c "[ -n '$a' ] && [ '$a' = '$b' ]"

    expect_fail() { # expect_fail "what" PATTERN args...: exit 2 and PATTERN in the message
        local what=$1 pattern=$2
        shift 2
        "$PNP" denoise "$@" >"$TMP/err.log" 2>&1
        local rc=$?
        check "$what: exit 2 and a clear message" bash -c "[ $rc -eq 2 ] && grep -q -- '$pattern' '$TMP/err.log'"
    }
    expect_fail "missing input image" "nope.png: cannot open image file" \
        --weights "$kair/dncnn_color_blind.pth" --out "$TMP/x.png" "$TMP/nope.png"
    printf 'not a png' >"$TMP/bad.png"
    expect_fail "corrupt input image" "bad.png: not a PNG" \
        --weights "$kair/dncnn_color_blind.pth" --out "$TMP/x.png" "$TMP/bad.png"
    check "no output left by the failed runs" test ! -e "$TMP/x.png"
    PNP_CONV_ALGO=fastest "$PNP" denoise --weights "$kair/dncnn_color_blind.pth" --out "$TMP/x.png" "$TMP/crop.png" \
        >"$TMP/err.log" 2>&1
    check "PNP_CONV_ALGO=fastest: non-zero exit naming the variable and the known values" bash -c \
        "[ $? -ne 0 ] && grep -q 'PNP_CONV_ALGO=fastest: unknown (known: auto, direct, winograd, winograd2, winograd4)' '$TMP/err.log'"
    if grep -qw avx2 /proc/cpuinfo; then
        PNP_CONV_ISA=avx2 PNP_CONV_ALGO=winograd "$PNP" denoise --weights "$kair/dncnn_color_blind.pth" \
            --out "$TMP/x.png" "$TMP/crop.png" >"$TMP/err.log" 2>&1
        check "Winograd forced on the avx2 micro-kernel: non-zero exit, says it needs AVX-512" bash -c \
            "[ $? -ne 0 ] && grep -q 'PNP_CONV_ALGO=winograd: Winograd needs the AVX-512 micro-kernels, this layer runs avx2' '$TMP/err.log'"
    fi
    expect_fail "weights file that is not weights" "bad_nodes.yml" \
        --weights tests/configs/bad_nodes.yml --out "$TMP/x.png" "$TMP/crop.png"
    expect_fail "missing weights file" "nope.h5: no such file" \
        --weights "$TMP/nope.h5" --out "$TMP/x.png" "$TMP/crop.png"
    expect_fail "weights of another architecture (--arch dncnn on FFDNet)" "ffdnet_color.h5: weights: key .model.0.weight. has shape" \
        --weights "$kair/ffdnet_color.h5" --arch dncnn --out "$TMP/x.png" "$TMP/crop.png"
    expect_fail "non-blind net without a noise level" "give --sigma" \
        --weights "$kair/ffdnet_color.h5" --out "$TMP/x.png" "$TMP/crop.png"
    expect_fail "--report without --add-noise" "give --add-noise" \
        --weights "$kair/dncnn_color_blind.pth" --report "$TMP/crop.png"
    expect_fail "--out with two inputs" "use --out-dir" \
        --weights "$kair/dncnn_color_blind.pth" --out "$TMP/x.png" "$TMP/crop.png" "$TMP/crop.png"
    expect_fail "noise level outside [0, 1]" "expected a number in \[0, 1\]" \
        --weights "$kair/dncnn_color_blind.pth" --add-noise 25 --report "$TMP/crop.png"
else
    echo "skip - pnp denoise: $photo or $kair not found (set PNP_SHARED)"
fi
"$PNP" denoise --help >"$TMP/log" 2>&1
check "pnp denoise --help prints usage" grep -q "usage: pnp denoise --weights FILE" "$TMP/log"
"$PNP" help >"$TMP/log" 2>&1
check "pnp help lists denoise" grep -q "^  denoise" "$TMP/log"
"$PNP" denoise --weights w.h5 >"$TMP/log" 2>&1
check "no input image: exit 2" bash -c "[ $? -eq 2 ] && grep -q 'no input image' '$TMP/log'"
exit $status
