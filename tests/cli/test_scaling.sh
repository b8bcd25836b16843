# test_scaling.sh - how the ranks share the work and what they send (issue 18;
# CPU backend, the benchmark's PnP on the default scene,
# tests/configs/scene_pnp.yml, tiny images and DRUNet 8,16,32,64:1):
#  - tiled rows with the slabs' all-gather overlapping the batches
#    (comm_overlap true, batches of one window) on 2, 3, 4 ranks, and
#    whole-image rows with distributed physics on 2, 3, 4 ranks, equal the
#    1-rank run (max abs 1e-6; tests/cli/test_run.sh has the tiled rows
#    without overlap);
#  - the bytes each rank sends and receives per iteration equal the formula
#    (include/pnp/comm.h) for the all-gather on 2 and 3 ranks (3: with
#    distributed physics, whose circular gradient adds nothing: S and B are
#    summed at setup), and for the former zero-filled all-reduce
#    (PNP_SLAB_COMBINE=allreduce): a rank
#    receives at most the image with the all-gather, twice (P-1)/P of it
#    with the all-reduce;
#  - gradient + denoiser + wait + transfer add up to the wall time per
#    iteration within 5% (1 and 2 ranks);
#  - 2 ranks, 3 windows (dataset observed, 384x128, patch 128): the windows
#    differ by one between the ranks and no rank waits longer than one
#    window's time (in windows of the busiest rank in the same iteration,
#    the quietest of 8 iterations, +25%: on a busy machine noise only adds
#    time);
#  - patch_size auto picks the patch the rule says on 1 and 3 ranks, records
#    it and says so in the log; under --max-memory too small for the window
#    it chose uncapped it picks a smaller one that fits (peak <= the cap).
. "$(dirname "$0")/lib.sh"
MPI="mpirun --allow-run-as-root --oversubscribe"
small="tests/configs/scene_pnp.yml --set image_size=96 --set denoiser=drunet:8,16,32,64:1 --set max_iter=3"
tiles="--set distribute_denoiser=true --set patch_size=32 --set overlap=8" # 96x64: 6 windows of 48x48
R=tests/cli/check_run.py

run() { run_pnp "$@"; } # run NAME RANKS ARGS... (tests/cli/lib.sh)
file() { echo "$TMP/$1/scene_pnp_row0.h5"; }

# ---------------------------------------------------------------- the same result on any rank count
check "1 rank, tiled 32/8" run t1 1 $small $tiles
for np in 2 3 4; do
    if run ov$np $np $small $tiles --set distribute_physics=true --set comm_overlap=true; then
        $PY $R same "$(file t1)" "$(file ov$np)" 1e-6 "$np ranks, tiled, an all-gather per window overlapping the next = 1 rank" ||
            status=1
    else
        check "$np ranks, tiled with overlap, run" false
    fi
done
check "the log says how the slabs travel" grep -q "slabs combined by one all-gather per batch, overlapping the next" \
    "$TMP/ov2.log"
check "the log gives every rank's share of the pixels" \
    grep -q "pixels per rank: rank 0 2 windows, 2048 px (33.3%) | rank 1 2 windows, 2048 px (33.3%) | rank 2 2 windows" \
    "$TMP/ov3.log"
check "1 rank, whole image" run w1 1 $small
for np in 2 3 4; do
    if run w$np $np $small --set distribute_physics=true; then
        $PY $R same "$(file w1)" "$(file w$np)" 1e-6 "$np ranks, whole image, distributed physics = 1 rank" || status=1
    else
        check "$np ranks, whole image, run" false
    fi
done

# ---------------------------------------------------------------- bytes per iteration
run g2 2 $small $tiles && $PY $R bytes "$(file g2)" || check "bytes: 2 ranks run and count" false
# distributed physics (circular): S and B summed at setup, the gradient adds no byte per iteration
run g3 3 $small $tiles --set distribute_physics=true && $PY $R bytes "$(file g3)" ||
    check "bytes: 3 ranks with distributed physics run and count" false
PNP_SLAB_COMBINE=allreduce run a3 3 $small $tiles && $PY $R bytes "$(file a3)" && $PY $R same "$(file t1)" "$(file a3)" \
    1e-6 "3 ranks, slabs by the former zero-filled all-reduce = 1 rank" || check "PNP_SLAB_COMBINE=allreduce runs" false
PNP_SLAB_COMBINE=ring "$PNP" run $small $tiles --out "$TMP/bad" >"$TMP/bad.log" 2>&1
check "PNP_SLAB_COMBINE=ring: refused naming the variable" grep -q "PNP_SLAB_COMBINE='ring': expected allgather" \
    "$TMP/bad.log"

# ---------------------------------------------------------------- accounting
# 384 px (24 windows, about 40 ms an iteration): a rank descheduled for a few ms by a busy machine stays
# well under 5% of the wall time (at 128 px, 10 ms an iteration, it did not)
acc="tests/configs/scene_pnp.yml --set image_size=384 --set denoiser=drunet:8,16,32,64:1 --set max_iter=6 --set distribute_physics=true"
run acc1 1 $acc $tiles && $PY $R accounting "$(file acc1)" 0.05 || check "accounting: 1 rank runs" false
run acc2 2 $acc $tiles && $PY $R accounting "$(file acc2)" 0.05 || check "accounting: 2 ranks run" false

# ---------------------------------------------------------------- 2 ranks, 3 windows
$PY -c "
import numpy as np, sys
rng = np.random.default_rng(1)
np.save(sys.argv[1] + '/y.npy', rng.random((2, 3, 384, 128), dtype=np.float32))
k = np.zeros((2, 5, 5)); k[:, 2, 1:4] = 1 / 3; k[1] = k[1].T
np.save(sys.argv[1] + '/k.npy', k)" "$TMP"
cat >"$TMP/three.yml" <<EOF
dataset:
  - observed: {measurements: $TMP/y.npy, psfs: $TMP/k.npy, boundary: circular}
solver:
  - PnP: {denoiser: "drunet:8,16,32,64:1", max_iter: 8, distribute_denoiser: true, patch_size: 128, overlap: 16}
EOF
if run three 2 "$TMP/three.yml" --threads 1; then
    check "2 ranks, 3 windows of 160x160" grep -q "tiles: 3 windows of 160x160" "$TMP/three.log"
    $PY $R idle "$TMP/three/three_row0.h5" || status=1
else
    check "2 ranks, 3 windows run" false
fi

# ---------------------------------------------------------------- patch_size auto
for np in 1 3; do
    if run auto$np $np $small --set distribute_denoiser=true --set patch_size=auto --set overlap=8; then
        $PY $R autopatch "$(file auto$np)" || status=1
        check "patch_size auto on $np rank(s): the log names the patch" grep -q "(patch [0-9]*, auto, overlap 8)" \
            "$TMP/auto$np.log"
    else
        check "patch_size auto on $np rank(s) runs" false
    fi
done
planned=$($PY -c "import h5py, sys; print(int(h5py.File(sys.argv[1])['traces/planned_memory'][0]))" "$(file auto1)")
if run autocap 1 $small --set distribute_denoiser=true --set patch_size=auto --set overlap=8 \
    --max-memory $((planned - 1)); then
    check "patch_size auto under --max-memory: a smaller patch, every rank under the cap" $PY -c "
import h5py, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
pa, pb = int(a.attrs['patch_size']), int(b.attrs['patch_size'])
peak = b['traces/peak_memory'][...].max()
print(f'# patch {pa} uncapped, {pb} under the cap; peak {peak:.0f} B <= cap {int(sys.argv[3])} B')
sys.exit(0 if pb < pa and peak <= int(sys.argv[3]) else 1)" "$(file auto1)" "$(file autocap)" $((planned - 1))
else
    check "patch_size auto under --max-memory runs" false
fi
exit $status
