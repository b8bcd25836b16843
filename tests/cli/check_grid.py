"""check_grid.py - read the results of a grid run (`pnp grid --submit` or --local) with h5py.

    check_grid.py WHAT DIR NAME K:JOB:RANKS ...

For each K:JOB:RANKS: DIR/NAME_row<K>.h5 exists, finished, on RANKS ranks, with
root attributes grid_row_index == K and slurm_job_id == JOB (empty JOB: not run
under Slurm). Then the benchmark grid's PSNR relations: rows 1 and 2 use the
same tiling on 2 and 4 ranks, so their PSNR traces agree within 1e-4 dB; row 0
denoises the whole image, so its final PSNR only has to be finite and within
1 dB of row 1's. Prints ok/not ok lines; exit 1 on any failure."""
import math
import os
import sys

import h5py
import numpy as np

failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what)
    failed += not cond


what, folder, name = sys.argv[1:4]
traces = {}
for spec in sys.argv[4:]:
    k, job, ranks = spec.split(":")
    path = os.path.join(folder, f"{name}_row{k}.h5")
    if not os.path.exists(path):
        check(False, f"{what}: row {k}: {path} exists")
        continue
    with h5py.File(path, "r") as f:
        a = f.attrs
        check(a["status"] == "finished" and int(a["ranks"]) == int(ranks),
              f"{what}: row {k}: {os.path.basename(path)} finished on {ranks} rank(s) (ranks={a['ranks']})")
        check(int(a["grid_row_index"]) == int(k), f"{what}: row {k}: grid_row_index {a['grid_row_index']}")
        check(a["slurm_job_id"] == job, f"{what}: row {k}: slurm_job_id '{a['slurm_job_id']}' == '{job}'")
        traces[int(k)] = f["traces/psnr"][...]

if 1 in traces and 2 in traces:
    d = float(np.max(np.abs(traces[1] - traces[2])))
    check(d <= 1e-4, f"{what}: rows 1 and 2 (same 448/32 tiling, 2 and 4 ranks): PSNR traces within 1e-4 dB "
                     f"(max diff {d:.3g})")
if 0 in traces and 1 in traces:
    p0, p1 = float(traces[0][-1]), float(traces[1][-1])
    check(math.isfinite(p0) and abs(p0 - p1) < 1.0,
          f"{what}: row 0 (whole-image denoiser) final PSNR {p0:.4f} dB finite and within 1 dB of row 1 ({p1:.4f})")
sys.exit(1 if failed else 0)
