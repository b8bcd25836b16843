# test_run_reference.sh - `pnp run` against references:
#  - deepinv's own PnP loop (tests/golden/make_golden_pnp.py: DRUNet with pnp's
#    generated weights, our kernels and measurements read back from HDF5):
#    PSNR per iteration within 1e-4 dB, x after 1 and 10 iterations within 1e-4;
#    and the same on 3 ranks with distributed physics (the golden denoises the
#    whole image, so no tiling there);
#  - with the trained FFDNet (kair-small) as the prior on a real photo, PSNR
#    rises over the iterations and ends above the same run with no denoiser;
#    the same run on the direct convolutions (PNP_CONV_ALGO=direct; the default
#    runs FFDNet's 3x3 layers by Winograd F(4,3) where the CPU has AVX-512)
#    within 0.01 dB per iteration, x within 1e-3; in bf16 (where the CPU has
#    avx512_bf16) the default (bf16 Winograd F(2,3) from 256 channels, fp32
#    F(4,3) below: all of FFDNet's) ends no lower than bf16 direct (-0.01 dB:
#    it gains, being closer to fp32) and stays within 0.05 dB of fp32;
#  - where a GPU is visible, or under the CUDA emulation (PNP_CUDA_EMU=1 with
#    an emulated pnp, tests/cuda_emu/test_cuda_emu.sh): the golden run on the
#    cuda backend (TF32, strict fp32, bf16, 2 ranks sharing the GPU) close to
#    the cpu run.
. "$(dirname "$0")/lib.sh"
MPI="mpirun --allow-run-as-root --oversubscribe"
G=tests/golden/pnp_trace.h5
cfg=tests/configs/golden_pnp.yml

"$PNP" run $cfg --out "$TMP/g10" >"$TMP/g10.log" 2>&1
check "golden config runs" test -s "$TMP/g10/golden_pnp_row0.h5"
$PY tests/cli/check_run.py golden $G "$TMP/g10/golden_pnp_row0.h5" x10 || status=1
"$PNP" run $cfg --set max_iter=1 --out "$TMP/g1" >"$TMP/g1.log" 2>&1
$PY tests/cli/check_run.py golden $G "$TMP/g1/golden_pnp_row0.h5" x1 || status=1
timeout 300 $MPI -n 3 "$PNP" run $cfg --set distribute_physics=true --out "$TMP/g3" >"$TMP/g3.log" 2>&1
$PY tests/cli/check_run.py golden $G "$TMP/g3/golden_pnp_row0.h5" x10 || status=1

# the golden run on the cuda backend (where pnp has it and a GPU is visible) against the
# cpu run above: TF32 convolutions (PSNR within 0.05 dB, x within 0.02), plain fp32
# (PNP_CUDA_TF32=0: 1e-3), bf16 (0.1 dB, 0.05), and 2 ranks sharing the GPU
if "$PNP" version | grep -q "backends: .*cuda" && { [ -n "${PNP_CUDA_EMU:-}" ] || nvidia-smi -L >/dev/null 2>&1; }; then
    ref="$TMP/g10/golden_pnp_row0.h5"
    "$PNP" run $cfg --set backend=cuda --out "$TMP/cu" >"$TMP/cu.log" 2>&1
    check "golden config runs on the cuda backend" test -s "$TMP/cu/golden_pnp_row0.h5"
    $PY tests/cli/check_run.py close "$ref" "$TMP/cu/golden_pnp_row0.h5" 0.05 0.02 "cuda (TF32) = cpu" || status=1
    PNP_CUDA_TF32=0 "$PNP" run $cfg --set backend=cuda --out "$TMP/cu32" >"$TMP/cu32.log" 2>&1
    $PY tests/cli/check_run.py close "$ref" "$TMP/cu32/golden_pnp_row0.h5" 1e-3 1e-3 "cuda (strict fp32) = cpu" ||
        status=1
    "$PNP" run $cfg --set backend=cuda --set precision=bf16 --out "$TMP/cubf" >"$TMP/cubf.log" 2>&1
    $PY tests/cli/check_run.py close "$ref" "$TMP/cubf/golden_pnp_row0.h5" 0.1 0.05 "cuda bf16 = cpu" || status=1
    timeout 300 $MPI -n 2 "$PNP" run $cfg --set backend=cuda --set distribute_physics=true --out "$TMP/cu2" \
        >"$TMP/cu2.log" 2>&1
    $PY tests/cli/check_run.py close "$ref" "$TMP/cu2/golden_pnp_row0.h5" 0.05 0.02 \
        "cuda, 2 ranks sharing the GPU, distributed physics = cpu" || status=1
else
    echo "skip - golden run on the cuda backend: no GPU visible, or pnp built without CUDA"
fi

photo="$PNP_SHARED/data/images/bus_2048.png"
ffdnet="$PNP_SHARED/data/weights/kair-small/ffdnet_color.h5"
if [ -r "$photo" ] && [ -r "$ffdnet" ]; then
    args="tests/configs/scene_pnp.yml --set image=$photo --set image_size=128 --set max_iter=30"
    "$PNP" run $args --set denoiser=ffdnet --set weights="$ffdnet" --set denoiser_sigma=0.02 --out "$TMP/ff" \
        >"$TMP/ff.log" 2>&1
    "$PNP" run $args --set denoiser=none --out "$TMP/none" >"$TMP/none.log" 2>&1
    check "FFDNet and no-denoiser runs on bus_2048.png at 128 px" \
        test -s "$TMP/ff/scene_pnp_row0.h5" -a -s "$TMP/none/scene_pnp_row0.h5"
    $PY tests/cli/check_run.py rises "$TMP/ff/scene_pnp_row0.h5" "$TMP/none/scene_pnp_row0.h5" \
        "FFDNet prior (sigma 0.02), 30 iterations" || status=1
    ffargs="$args --set denoiser=ffdnet --set weights=$ffdnet --set denoiser_sigma=0.02"
    PNP_CONV_ALGO=direct "$PNP" run $ffargs --out "$TMP/ffd" >"$TMP/ffd.log" 2>&1
    $PY tests/cli/check_run.py close "$TMP/ffd/scene_pnp_row0.h5" "$TMP/ff/scene_pnp_row0.h5" 0.01 1e-3 \
        "FFDNet prior: Winograd (the default) = direct convolutions" || status=1
    if grep -qw avx512_bf16 /proc/cpuinfo; then
        "$PNP" run $ffargs --set precision=bf16 --out "$TMP/ffb" >"$TMP/ffb.log" 2>&1
        PNP_CONV_ALGO=direct "$PNP" run $ffargs --set precision=bf16 --out "$TMP/ffbd" >"$TMP/ffbd.log" 2>&1
        $PY tests/cli/check_run.py atleast "$TMP/ffbd/scene_pnp_row0.h5" "$TMP/ffb/scene_pnp_row0.h5" 0.01 \
            "FFDNet prior, bf16: the default (Winograd) against bf16 direct" || status=1
        $PY tests/cli/check_run.py close "$TMP/ff/scene_pnp_row0.h5" "$TMP/ffb/scene_pnp_row0.h5" 0.05 0.05 \
            "FFDNet prior, bf16 (default) = fp32" || status=1
    fi
else
    echo "skip - FFDNet prior on a real photo: $photo or $ffdnet not found (set PNP_SHARED)"
fi
exit $status
