#!/usr/bin/env bash
# cbsd68.sh - colour Gaussian denoising on CBSD68, the published protocol: `pnp
# denoise --add-noise S/255 --report` over the 68 images at each noise level S
# (default 25) with KAIR's trained DnCNN (blind, dncnn_color_blind), FFDNet
# (ffdnet_color, told the level) and, with --drunet, pnp's own small DRUNet
# (weights/drunet_small.h5, told the level; weights/README.md); the mean PSNR of
# each is compared with the published value where there is one (PASS when
# |mean - published| <= 0.3 dB). With --torch the same noisy images also go
# through KAIR's networks and deepinv's DRUNet in PyTorch (bench/torch_denoise.py,
# the same weights files) and the per-image PSNRs are compared with ours.
#
# Published means, CBSD68 (RGB PSNR) at sigma 15 / 25 / 50: CDnCNN-B 33.89 /
# 31.23 / 27.92 dB (Zhang et al., DnCNN, TIP 2017, Table V), FFDNet 33.87 /
# 31.21 / 27.96 dB (Zhang et al., FFDNet, TIP 2018; the DPIR paper, TPAMI 2021,
# repeats both rows; the SwinIR paper's Table 6 lists DnCNN 31.24 at 25).
#
#   bash bench/cbsd68.sh [--images N] [--sigmas "15 25 50"] [--drunet [FILE]]
#                        [--threads T] [--torch] [--results FILE]
#
# --images N    only the first N images (sorted by name; a check of the script,
#               not a verdict); default all 68
# --sigmas L    noise levels in /255, space- or comma-separated (default 25)
# --drunet [F]  also pnp's own DRUNet, weights F (default weights/drunet_small.h5)
# --threads T   CPU threads for pnp and for PyTorch (default 2)
# --torch       also run the PyTorch cross-check (needs $PYTHON with torch, PIL;
#               deepinv and h5py too with --drunet)
# --results F   the markdown report (default bench/results/<date>-cbsd68.md)
# Runs `make` first so build/pnp is current (the environment's CUDA=0/1 passes
# through to make); PNP_BIN=FILE uses that program instead and builds nothing.
# Needs the shared data ($PNP_SHARED, default ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SHARED="${PNP_SHARED:-$(cd .. && pwd)/shared}"
PNP="${PNP_BIN:-}"
PYTHON="${PYTHON:-python3}"
N=68 THREADS=2 TORCH=0 RESULTS="bench/results/$(date +%F)-cbsd68.md" SIGMAS="25" DRUNET=""
CMDLINE=$(bench_cmdline bench/cbsd68.sh "$@")
while [ $# -gt 0 ]; do
    case "$1" in
    --images) N=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --sigmas) SIGMAS=${2//,/ }; shift 2 ;;
    --drunet)
        if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then DRUNET=$2; shift 2; else DRUNET=weights/drunet_small.h5; shift; fi ;;
    --torch) TORCH=1; shift ;;
    --results) RESULTS=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cbsd68.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for S in $SIGMAS; do
    [[ "$S" =~ ^[0-9]+$ ]] && [ "$S" -le 255 ] || { echo "cbsd68.sh: --sigmas: '$S' is not a level in /255 (an integer 0..255)" >&2; exit 2; }
done
[ -z "$DRUNET" ] || [ -r "$DRUNET" ] || { echo "cbsd68.sh: --drunet: $DRUNET: cannot read weights file" >&2; exit 2; }
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

# name | weights | told the level (non-blind) | torch arch | published means (dB) at 15 25 50
MODELS=("dncnn|$KAIR/dncnn_color_blind.pth|no|dncnn|15:33.89 25:31.23 50:27.92"
        "ffdnet|$KAIR/ffdnet_color.pth|yes|ffdnet|15:33.87 25:31.21 50:27.96")
[ -z "$DRUNET" ] || MODELS+=("drunet|$DRUNET|yes|drunet|")
published_at() { sed -n "s/.*\b$2:\([0-9.]*\).*/\1/p" <<<"$1"; } # published_at TABLE SIGMA

mean_of() { sed -n 's/^mean over .* denoised \([0-9.]*\) dB$/\1/p' "$1"; }
noisy_mean_of() { sed -n 's/^mean over .*: noisy \([0-9.]*\) dB.*/\1/p' "$1"; }
# Largest |ours - torch| over the per-image denoised PSNRs of two logs.
max_diff() {
    paste <(sed -n 's/^\[.* denoised \([0-9.]*\) dB.*/\1/p' "$1") <(sed -n 's/^\[.* denoised \([0-9.]*\) dB.*/\1/p' "$2") |
        awk '{d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d} END {printf "%.3f", m}'
}

rows=() cmds=() fail=0
for S in $SIGMAS; do
    SIGMA=$(awk -v s="$S" 'BEGIN {printf "%.10f", s / 255}')
    for m in "${MODELS[@]}"; do
        IFS='|' read -r name weights nonblind tarch table <<<"$m"
        extra="" published=$(published_at "$table" "$S")
        [ "$nonblind" = yes ] && extra="--sigma $SIGMA"
        cmd="$PNP denoise --weights $weights${extra:+ $extra} --add-noise $SIGMA --seed 0 --threads $THREADS --report"
        log="$LOG/$S-$name.log"
        echo "== sigma $S/255, $name: $cmd <$N images>"
        # shellcheck disable=SC2086  # $cmd splits into words on purpose
        OMP_NUM_THREADS=$THREADS $cmd "${IMAGES[@]}" | tee "$log"
        cmds+=("OMP_NUM_THREADS=$THREADS $cmd \$PNP_SHARED/data/images/CBSD68/*.png  # first $N images")
        mean=$(mean_of "$log") noisy=$(noisy_mean_of "$log")
        if [ -z "$published" ]; then
            diff="-" published="-" verdict="n/a (no published value)"
        else
            diff=$(awk -v a="$mean" -v b="$published" 'BEGIN {printf "%+.3f", a - b}')
            if [ "$N" -lt 68 ]; then
                verdict="n/a (partial: $N of 68 images)"
            elif awk -v d="$diff" 'BEGIN {exit !(d <= 0.3 && d >= -0.3)}'; then
                verdict=PASS
            else
                verdict=FAIL fail=1
            fi
        fi
        tmean="-" tdiff="-"
        if [ "$TORCH" = 1 ]; then
            tcmd="$PYTHON bench/torch_denoise.py --weights $weights --arch $tarch --add-noise $SIGMA --seed 0 --threads $THREADS${extra:+ $extra}"
            echo "== sigma $S/255, $name (PyTorch): $tcmd <$N images>"
            # shellcheck disable=SC2086
            OMP_NUM_THREADS=$THREADS $tcmd "${IMAGES[@]}" | tee "$log.torch"
            cmds+=("OMP_NUM_THREADS=$THREADS $tcmd \$PNP_SHARED/data/images/CBSD68/*.png  # first $N images")
            tmean=$(mean_of "$log.torch") tdiff=$(max_diff "$log" "$log.torch")
        fi
        rows+=("| $S | $name | $(basename "$weights") | $N | $noisy | $mean | $published | $diff | $verdict | $tmean | $tdiff |")
    done
done

mkdir -p "$(dirname "$RESULTS")"
{
    echo "# CBSD68 colour denoising, sigma $(sed "s/ /, /g" <<<"$SIGMAS") (/255)"
    echo
    echo "- date: $(date -u '+%F %T UTC')"
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible, $THREADS threads used"
    echo "- git commit: $(git rev-parse HEAD)$(git diff --quiet HEAD || echo ' (uncommitted changes)')"
    echo "- pnp: $("$PNP" version | head -1)"
    echo "- script: \`$CMDLINE\`"
    echo "- protocol: noise N(0, (S/255)^2) added to the clean image in [0,1], not clipped"
    echo "  (pnp's counter-based generator, seed 0, stream = image index); output clamped and"
    echo "  rounded to 8 bits; PSNR over all RGB values, peak 1 (= 255 on uint8), no border"
    echo "  shaved; mean over images (KAIR main_test_dncnn.py / main_test_ffdnet.py)."
    echo "  PASS: |mean - published| <= 0.3 dB on all 68 images."
    echo
    echo "| sigma (/255) | model | weights | images | mean noisy PSNR | mean denoised PSNR (pnp) | published | pnp - published | verdict | PyTorch mean | max per-image \\|pnp - PyTorch\\| |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
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
    for S in $SIGMAS; do for f in "$LOG/$S"-*.log*; do cat "$f"; echo; done; done
    echo '```'
} >"$RESULTS"
echo "wrote $RESULTS"
printf '%s\n' "${rows[@]}"
exit $fail
