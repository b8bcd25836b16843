# test_algo.sh - the solvers of include/pnp/solver.h against deepinv, on the
# runs of tests/configs/golden_algo.yml with the trained FFDNet of ../shared
# (tests/golden/algo_trace.h5, made by tests/golden/make_golden_algo.py with
# deepinv in float64; skipped without ../shared):
#  - row 0 PnP with step_size null (0.99 / L, L exact), init pseudo_inverse and
#    denoiser_lambda_relaxation; row 1 PnP with init wiener; row 2 DPIR: PSNR
#    within 1e-3 dB and SSIM within 1e-5 at every iteration, the image within
#    1e-5 relative after the first (PNP_STOP_AFTER=1) and the last iteration,
#    L and the step within 1e-4 of deepinv's power method;
#  - 1 rank = 2 ranks = 3 ranks for each solver: distributed physics on 3
#    ranks, distributed physics and tiles on 2 ranks against 1 rank with the
#    same tiles; max abs 1e-6 for row 0, 5e-6 for rows 1 and 2: S and B are
#    float32 sums over the operators, in another order on several ranks (the
#    images differ by 3e-7 after the Wiener start), and the data step divides
#    by S + rho, rho down to 0.06, while the trained FFDNet does not shrink
#    differences, over 6 or 8 iterations (measured: 2.4e-6 and 1.3e-6);
#  - a resumed DPIR run (stopped after iteration 3) equals the uninterrupted
#    one, its saved iterates (save_every 2) included;
#  - boundary pad (dataset observed): L by the power method, the Wiener start
#    and the DPIR data step by conjugate gradients, their iterations recorded,
#    2 ranks = 1 rank (1e-5: conjugate gradients stop at a relative residual
#    of 1e-6, and the all-reduced normal operator rounds in another order);
#  - the bytes each rank sends and receives per iteration (tests/cli/check_run.py
#    bytes): nothing for the data term with circular boundaries (S and B summed at
#    setup), one all-reduce of the image per normal operator with pad, and the
#    log says which; with pad, gradient + denoiser + wait + transfer = the wall
#    time within 5%;
#  - /iterates/K and pnp export --iteration K, and pnp inspect / --json showing SSIM.
. "$(dirname "$0")/lib.sh"
MPI="timeout 300 mpirun --allow-run-as-root --oversubscribe"
G=tests/golden/algo_trace.h5
cfg=tests/configs/golden_algo.yml
R=golden_algo_row
algo() { $PY tests/cli/check_run.py algo $G "$@" || status=1; }
same() { $PY tests/cli/check_run.py same "$1" "$2" "${4:-1e-6}" "$3" || status=1; }
tiles="--set distribute_physics=true --set distribute_denoiser=true --set patch_size=24 --set overlap=8"
ffdnet="$PNP_SHARED/data/weights/kair-small/ffdnet_color.h5"
if [ ! -r "$ffdnet" ]; then
    echo "skip - solvers against deepinv: $ffdnet not found (set PNP_SHARED)"
    exit 0
fi
cfg="$cfg --set weights=$ffdnet"

"$PNP" run $cfg --out "$TMP/g" >"$TMP/g.log" 2>&1
check "golden_algo.yml: three rows run" test -s "$TMP/g/${R}0.h5" -a -s "$TMP/g/${R}1.h5" -a -s "$TMP/g/${R}2.h5"
names=(pnp_pinv_relax pnp_wiener dpir)
last=(x6 x6 x8)
ranks_tol=(1e-6 5e-6 5e-6)
for k in 0 1 2; do
    PNP_STOP_AFTER=1 "$PNP" run $cfg --row $k --out "$TMP/g1" >"$TMP/g1.log" 2>&1 # the first iteration alone
    algo "${names[$k]}" "$TMP/g/${R}$k.h5" "${last[$k]}"
    algo "${names[$k]}" "$TMP/g1/${R}$k.h5" x1
done
check "the log says the solver, the step and L" \
    grep -q "solver PnP: step 0.12375 = 0.99 / L, L = 8 (exact" "$TMP/g.log"
check "the log says DPIR's schedule" grep -q "solver DPIR: x_0 = A^T y; sigma 0.1922 -> 0.1, rho 0.06229 -> 0.23" "$TMP/g.log"

# ranks: each row on 3 ranks (distributed physics) and 2 ranks (physics and tiles)
for k in 0 1 2; do
    $MPI -n 3 "$PNP" run $cfg --row $k --set distribute_physics=true --out "$TMP/r3" >"$TMP/r3.log" 2>&1
    same "$TMP/g/${R}$k.h5" "$TMP/r3/${R}$k.h5" "${names[$k]}: 3 ranks with distributed physics = 1 rank" \
        "${ranks_tol[$k]}"
    "$PNP" run $cfg --row $k $tiles --out "$TMP/t1" >"$TMP/t1.log" 2>&1
    $MPI -n 2 "$PNP" run $cfg --row $k $tiles --out "$TMP/t2" >"$TMP/t2.log" 2>&1
    same "$TMP/t1/${R}$k.h5" "$TMP/t2/${R}$k.h5" "${names[$k]}: 2 ranks with physics and tiles = 1 rank, same tiles" \
        "${ranks_tol[$k]}"
    # circular: no bytes for the gradient or DPIR's data step, the slabs' all-gather alone
    $PY tests/cli/check_run.py bytes "$TMP/r3/${R}$k.h5" || status=1
    $PY tests/cli/check_run.py bytes "$TMP/t2/${R}$k.h5" || status=1
done
check "the log says the circular gradient needs no communication" \
    grep -q "data term: operators over 3 ranks; S and B summed once at setup, the gradient needs no communication" \
    "$TMP/r3.log"

# resume of DPIR, with iterates saved every 2 iterations
"$PNP" run $cfg --row 2 --set save_every=2 --out "$TMP/full" >/dev/null 2>&1
PNP_STOP_AFTER=3 "$PNP" run $cfg --row 2 --set save_every=2 --out "$TMP/part" >/dev/null 2>&1
check "DPIR stopped after iteration 3: exit 3" test $? -eq 3
"$PNP" run $cfg --row 2 --set save_every=2 --out "$TMP/part" --resume "$TMP/part/${R}2.h5" >"$TMP/res.log" 2>&1
check "DPIR resumed: exit 0" test $? -eq 0
same "$TMP/full/${R}2.h5" "$TMP/part/${R}2.h5" "DPIR interrupted + resumed = uninterrupted"
check "iterates 2, 4, 6, 8 saved, the last equal to the reconstruction, the resumed run's equal to the uninterrupted's" \
    $PY - "$TMP/full/${R}2.h5" "$TMP/part/${R}2.h5" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
keys = sorted(a["iterates"].keys(), key=int)
ok = keys == ["2", "4", "6", "8"] and sorted(b["iterates"].keys(), key=int) == keys
ok &= all(a["iterates"][k].compression == "gzip" and a["iterates"][k].chunks is not None
          and int(a["iterates"][k].attrs["iteration"]) == int(k) for k in keys)
ok &= np.array_equal(a["iterates/8"][...], a["reconstruction"][...])
ok &= all(np.max(np.abs(a["iterates"][k][...] - b["iterates"][k][...])) <= 1e-6 for k in keys)
sys.exit(0 if ok else 1)
PYEOF

"$PNP" export "$TMP/full/${R}2.h5" "$TMP/it4.npy" --iteration 4 >"$TMP/exp.log" 2>&1
check "pnp export --iteration 4 writes /iterates/4 (float32 .npy, read back by numpy)" $PY -c "
import h5py, numpy as np, sys
a = np.load('$TMP/it4.npy'); b = h5py.File('$TMP/full/${R}2.h5', 'r')['iterates/4'][...]
sys.exit(0 if a.dtype == np.float32 and np.array_equal(a, b) else 1)"
"$PNP" export "$TMP/full/${R}2.h5" "$TMP/it3.npy" --iteration 3 >/dev/null 2>"$TMP/exp3.err"
check "pnp export --iteration 3 (not saved): exit 2, the saved iterations listed, nothing written" \
    bash -c "[ $? -eq 2 ] && grep -q 'no /iterates/3 (the file holds iterations 2, 4, 6, 8)' '$TMP/exp3.err' && [ ! -e '$TMP/it3.npy' ]"

# boundary pad (dataset observed on the bundle of pnp dataset): L by the power
# method, the DPIR data step and the Wiener start by conjugate gradients, on 1
# and 2 ranks (the normal operator all-reduced on every call)
"$PNP" dataset $cfg --row 0 --out "$TMP/bundle.h5" >/dev/null 2>&1
cat >"$TMP/pad.yml" <<YAML
dataset:
  - observed: {measurements: "$TMP/bundle.h5", psfs: "$TMP/bundle.h5", reference: "$TMP/bundle.h5", noise_level: 0.1}
solver:
  - PnP: {denoiser: ffdnet, weights: "$ffdnet", denoiser_sigma: 0.05, step_size: null, init_method: wiener, max_iter: 3}
  - DPIR: {denoiser: ffdnet, weights: "$ffdnet", max_iter: 4}
YAML
"$PNP" run "$TMP/pad.yml" --out "$TMP/pad1" >"$TMP/pad1.log" 2>&1
$MPI -n 2 "$PNP" run "$TMP/pad.yml" --set distribute_physics=true --out "$TMP/pad2" >"$TMP/pad2.log" 2>&1
check "pad: L by the power method, the Wiener start and DPIR's data steps by conjugate gradients (iterations recorded)" \
    $PY - "$TMP/pad1/pad_row0.h5" "$TMP/pad1/pad_row1.h5" <<'PYEOF'
import sys, h5py, numpy as np
p, d = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
ok = p.attrs["boundary"] == "pad" and int(p.attrs["lipschitz_iterations"]) > 1 and 0 < float(p.attrs["lipschitz"]) <= 8.001
ok &= int(p.attrs["init_iterations"]) > 1 and abs(float(p.attrs["step_size"]) * float(p.attrs["lipschitz"]) - 0.99) < 1e-6
cg = d["traces/data_step_iterations"][...]
ok &= cg.shape == (4,) and np.all(cg > 1) and np.all(cg <= 500) and d["traces/psnr"][-1] > d.attrs["initial_psnr"]
sys.exit(0 if ok else 1)
PYEOF
same "$TMP/pad1/pad_row0.h5" "$TMP/pad2/pad_row0.h5" "pad PnP (power method, Wiener by CG): 2 ranks = 1 rank" 1e-5
same "$TMP/pad1/pad_row1.h5" "$TMP/pad2/pad_row1.h5" "pad DPIR (CG data step): 2 ranks = 1 rank" 1e-5
check "the log says pad all-reduces the normal operator every iteration" \
    grep -q "data term: operators over 2 ranks; boundary pad: its normal operator is all-reduced in every iteration" \
    "$TMP/pad2.log"
for k in 0 1; do # pad: one all-reduce per gradient (PnP), per gradient and CG step (DPIR), counted and accounted
    $PY tests/cli/check_run.py bytes "$TMP/pad2/pad_row$k.h5" || status=1
    $PY tests/cli/check_run.py accounting "$TMP/pad2/pad_row$k.h5" 0.05 || status=1
done

check "every run above (PnP and DPIR, circular and pad, 1 and 2 ranks): each rank's peak memory <= its plan" \
    $PY -c "
import glob, h5py, sys
files = sorted(glob.glob(sys.argv[1] + '/*/*.h5'))
over = [f for f in files if (h5py.File(f)['traces/peak_memory'][...].max(axis=0) > h5py.File(f)['traces/planned_memory'][...]).any()]
print('# ' + str(len(files)) + ' files; over the plan: ' + str(over))
sys.exit(int(len(files) < 8 or bool(over)))" "$TMP"

"$PNP" inspect "$TMP/g/${R}2.h5" >"$TMP/insp" 2>&1
check "pnp inspect shows the solver and SSIM" \
    bash -c "grep -q 'solver *DPIR' '$TMP/insp' && grep -qE 'SSIM +0\.[0-9]+ initial, 0\.[0-9]+ final' '$TMP/insp'"
"$PNP" inspect --json "$TMP/g/${R}0.h5" >"$TMP/json" 2>&1
check "pnp inspect --json: final_ssim, the SSIM trace, solver, step_size and L" $PY -c "
import json, sys
r = json.load(open('$TMP/json'))[0]
sys.exit(0 if r['solver'] == 'PnP' and 0 < r['final_ssim'] < 1 and len(r['traces']['ssim']) == 6
         and abs(r['step_size'] - 0.12375) < 1e-6 and abs(r['lipschitz'] - 8) < 1e-5 else 1)"
exit $status
