# test_trained_weights.sh - pnp's own trained DRUNet (weights/drunet_small.h5,
# made by weights/train_drunet.py; weights/README.md): its architecture and
# size, and its denoising of the first 3 CBSD68 photos (sorted by name, whole
# 481x321 images) at sigma 25/255 and of the first one at 15 and 50/255, with
# `pnp denoise --add-noise S --seed 0 --report`: the same images, seed and
# noise streams as bench/cbsd68.sh, so each denoised PSNR must equal the one
# that bench/results/2026-12-01-cbsd68-drunet-small.md records, within 0.05 dB
# (room for a different CPU's rounding; a wrong sigma channel, a broken layer
# or other weights move it by far more), and every image must gain >= 5 dB.
. "$(dirname "$0")/lib.sh"

weights=weights/drunet_small.h5
check "$weights: present, at most 4.5 MB" bash -c "[ -r $weights ] && [ \$(stat -c %s $weights) -le 4500000 ]"
"$PNP" weights info "$weights" --size 256x171 >"$TMP/info" 2>&1
check "weights info: drunet widths 16,32,64,128, 2 blocks per level, 1063920 parameters" \
    grep -q "drunet widths 16,32,64,128, 2 blocks per level, 1063920 parameters, 36 tensors" "$TMP/info"

cbsd="$PNP_SHARED/data/images/CBSD68"
if [ -d "$cbsd" ]; then
    mapfile -t images < <(printf "%s\n" "$cbsd"/*.png | LC_ALL=C sort | head -n 3)
    # denoise SIGMA255 N: the first N images at SIGMA255/255 into $TMP/s<SIGMA255>.log
    denoise() {
        local s
        s=$(awk -v s="$1" 'BEGIN {printf "%.10f", s / 255}')
        "$PNP" denoise --weights "$weights" --sigma "$s" --add-noise "$s" --seed 0 --threads 2 --report \
            "${images[@]:0:$2}" >"$TMP/s$1.log" 2>&1
    }
    # near LOG K EXPECTED: image K's denoised PSNR within 0.05 dB of EXPECTED and >= 5 dB above its noisy one
    near() {
        sed -n "s/^\[$2\/[0-9]*\] .*: noisy \([0-9.]*\) dB, denoised \([0-9.]*\) dB.*/\1 \2/p" "$1" |
            awk -v e="$3" '{d = $2 - e; if (d < 0) d = -d; ok = d <= 0.05 && $2 - $1 >= 5} END {exit !ok}'
    }
    denoise 25 3
    check "sigma 25: three CBSD68 photos denoised (exit 0)" [ $? -eq 0 ]
    k=1
    for expected in 27.728 31.436 31.263; do # from bench/results/2026-12-01-cbsd68-drunet-small.md
        check "sigma 25, $(basename "${images[k - 1]}"): denoised PSNR $expected dB +- 0.05, gain >= 5 dB" \
            near "$TMP/s25.log" $k "$expected"
        k=$((k + 1))
    done
    for se in 15:30.599 50:24.501; do
        denoise "${se%:*}" 1
        check "sigma ${se%:*}, $(basename "${images[0]}"): denoised PSNR ${se#*:} dB +- 0.05, gain >= 5 dB" \
            near "$TMP/s${se%:*}.log" 1 "${se#*:}"
    done
else
    echo "skip - trained weights on CBSD68: $cbsd not found (set PNP_SHARED)"
fi
exit $status
