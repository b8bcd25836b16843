#!/usr/bin/env bash
# cbsd68.sh - colour Gaussian denoising on CBSD68 at sigma 25/255, the published
# protocol: `pnp denoise --add-noise 25/255 --report` over the 68 images with
# KAIR's trained DnCNN (blind, dncnn_color_blind) and FFDNet (ffdnet_color, model
# sigma 25/255); the mean PSNR of each is compared with the published value
# (PASS when |mean - published| <= 0.3 dB). With --torch the same noisy images
# also go through KAIR's networks in PyTorch (bench/torch_denoise.py, weights
# from the same .pth) and the per-image PSNRs are compared with ours.
#
# Published means, CBSD68, sigma 25 (RGB PSNR): CDnCNN-B 31.23 dB (Zhang et al.,
# DnCNN, TIP 2017, Table V), FFDNet 31.21 dB (Zhang et al., FFDNet, TIP 2018;
# the SwinIR paper's Table 6 repeats FFDNet 31.21 and lists DnCNN 31.24).
#
#   bash bench/cbsd68.sh [--images N] [--threads T] [--torch] [--results FILE]
#
# --images N   only the first N images (sorted by name; a check of the script,
#              not a verdict); default all 68
# --threads T  CPU threads for pnp and for PyTorch (default 2)
# --torch      also run the PyTorch cross-check (needs python3 with torch, PIL)
# --results F  the markdown report (default bench/results/<date>-cbsd68.md)
# Runs `make` first so build/pnp is current (the environment's CUDA=0/1 passes
# through to make); PNP_BIN=FILE uses that program instead and builds nothing.
# Needs the shared data ($PNP_SHARED, default ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SHARED="${PNP_SHARED:-$(cd .. && pwd)/shared}"
PNP="${PNP_BIN:-}"
PYTHON="${PYTHON:-python3}"
N=68 THREADS=2 TORCH=0 RESULTS="bench/results/$(date +%F)-cbsd68.md"
CMDLINE=$(bench_cmdline bench/cbsd68.sh "$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --images) N=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --torch) TORCH=1; shift ;;
    --results) RESULTS=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cbsd68.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
SIGMA=0.0980392157 # 25/255
IMGDIR="$SHARED/data/images/CBSD68" KAIR="$SHARED/data/weights/kair-small"
if [ -z "$PNP" ]; then
    make -s >/dev/null
    PNP=$PWD/build/pnp
fi
[ -x "$PNP" ] || { echo "cbsd68.sh: $PNP is not a program" >&2; exit 2; }
[ -d "$IMGDIR" ] || { echo "cbsd68.sh: $IMGDIR not found: set PNP_SHARED" >&2; exit 2; }
mapfile -t IMAGES < <(printf "%s\n" "$IMGDIR"/*.png | LC_ALL=C sort | head -n "$N")
N=${#IMAGES[@]}
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

# name | weights | extra pnp options | torch arch | published mean (dB)
MODELS=("dncnn|dncnn_color_blind.pth||dncnn|31.23"
        "ffdnet|ffdnet_color.pth|--sigma $SIGMA|ffdnet|31.21")

mean_of() { sed -n 's/^mean over .* denoised \([0-9.]*\) dB$/\1/p' "$1"; }
noisy_mean_of() { sed -n 's/^mean over .*: noisy \([0-9.]*\) dB.*/\1/p' "$1"; }
# Largest |ours - torch| over the per-image denoised PSNRs of two logs.
max_diff() {
    paste <(sed -n 's/^\[.* denoised \([0-9.]*\) dB.*/\1/p' "$1") <(sed -n 's/^\[.* denoised \([0-9.]*\) dB.*/\1/p' "$2") |
        awk '{d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d} END {printf "%.3f", m}'
}

rows=() cmds=() fail=0
for m in "${MODELS[@]}"; do
    IFS='|' read -r name weights extra tarch published <<<"$m"
    cmd="$PNP denoise --weights $KAIR/$weights${extra:+ $extra} --add-noise $SIGMA --seed 0 --threads $THREADS --report"
    echo "== $name: $cmd <$N images>"
    # shellcheck disable=SC2086  # $cmd splits into words on purpose
    OMP_NUM_THREADS=$THREADS $cmd "${IMAGES[@]}" | tee "$LOG/$name.log"
    cmds+=("OMP_NUM_THREADS=$THREADS $cmd \$PNP_SHARED/data/images/CBSD68/*.png  # first $N images")
    mean=$(mean_of "$LOG/$name.log") noisy=$(noisy_mean_of "$LOG/$name.log")
    diff=$(awk -v a="$mean" -v b="$published" 'BEGIN {printf "%+.3f", a - b}')
    if [ "$N" -lt 68 ]; then
        verdict="n/a (partial: $N of 68 images)"
    elif awk -v d="$diff" 'BEGIN {exit !(d <= 0.3 && d >= -0.3)}'; then
        verdict=PASS
    else
        verdict=FAIL fail=1
    fi
    tmean="-" tdiff="-"
    if [ "$TORCH" = 1 ]; then
        tcmd="$PYTHON bench/torch_denoise.py --weights $KAIR/$weights --arch $tarch --add-noise $SIGMA --seed 0 --threads $THREADS"
        [ "$name" = ffdnet ] && tcmd="$tcmd --sigma $SIGMA"
        echo "== $name (PyTorch): $tcmd <$N images>"
        # shellcheck disable=SC2086
        OMP_NUM_THREADS=$THREADS $tcmd "${IMAGES[@]}" | tee "$LOG/$name.torch.log"
        cmds+=("OMP_NUM_THREADS=$THREADS $tcmd \$PNP_SHARED/data/images/CBSD68/*.png  # first $N images")
        tmean=$(mean_of "$LOG/$name.torch.log") tdiff=$(max_diff "$LOG/$name.log" "$LOG/$name.torch.log")
    fi
    rows+=("| $name | $weights | $N | $noisy | $mean | $published | $diff | $verdict | $tmean | $tdiff |")
done

mkdir -p "$(dirname "$RESULTS")"
{
    echo "# CBSD68 colour denoising, sigma 25/255"
    echo
    echo "- date: $(date -u '+%F %T UTC')"
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible, $THREADS threads used"
    echo "- git commit: $(git rev-parse HEAD)$(git diff --quiet HEAD || echo ' (uncommitted changes)')"
    echo "- pnp: $("$PNP" version | head -1)"
    echo "- script: \`$CMDLINE\`"
    echo "- protocol: noise N(0, (25/255)^2) added to the clean image in [0,1], not clipped"
    echo "  (pnp's counter-based generator, seed 0, stream = image index); output clamped and"
    echo "  rounded to 8 bits; PSNR over all RGB values, peak 1 (= 255 on uint8), no border"
    echo "  shaved; mean over images (KAIR main_test_dncnn.py / main_test_ffdnet.py)."
    echo "  PASS: |mean - published| <= 0.3 dB on all 68 images."
    echo
    echo "| model | weights | images | mean noisy PSNR | mean denoised PSNR (pnp) | published | pnp - published | verdict | PyTorch mean | max per-image \\|pnp - PyTorch\\| |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Commands (image list: the CBSD68 PNGs sorted by name in the C locale; image i gets noise stream i):"
    echo
    echo '```'
    printf '%s\n' "${cmds[@]}"
    echo '```'
    echo
    echo "Per-image output:"
    echo
    echo '```'
    for f in "$LOG"/*.log; do cat "$f"; echo; done
    echo '```'
} >"$RESULTS"
echo "wrote $RESULTS"
printf '%s\n' "${rows[@]}"
exit $fail
