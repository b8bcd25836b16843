"""check_run.py - read `pnp run` result files with h5py and compare them.

    check_run.py layout FILE ITERATIONS RANKS   the documented layout (DESIGN 5)
    check_run.py same REF FILE TOL WHAT         reconstructions within TOL (max abs),
                                                PSNR traces within 1e-4 dB
    check_run.py close REF FILE DB TOL WHAT     PSNR traces within DB dB, reconstructions
                                                within TOL (max abs): another device or precision
    check_run.py atleast REF FILE DB WHAT       final PSNR of FILE at least REF's minus DB dB
    check_run.py rises FILE BASELINE WHAT       PSNR never falls by more than 1e-3 dB,
                                                and ends above BASELINE's final PSNR
    check_run.py capped REF FILE CAP WHAT       FILE ran smaller batches than REF, every
                                                rank's peak memory <= CAP bytes, and the
                                                same reconstruction (1e-6) and PSNR trace
    check_run.py golden GOLDEN FILE XNAME       PSNR per iteration within 1e-4 dB of the
                                                golden trace, reconstruction = GOLDEN[XNAME]
                                                within 1e-4 (max abs)
    check_run.py algo GOLDEN CASE FILE XNAME    against GOLDEN's group CASE (make_golden_algo.py):
                                                PSNR per iteration within 1e-3 dB, SSIM within
                                                1e-5, the reconstruction = CASE[XNAME] within 1e-5
                                                relative (2-norm); step and L (PnP) within 1e-4

Prints ok/not ok lines (tests/run.sh counts them); exit 1 on any failure."""
import sys

import h5py
import numpy as np

failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what)
    failed += not cond


def layout(path, iters, ranks):
    with h5py.File(path, "r") as f:
        for key in ("pnp_version", "git_commit", "created_utc", "hosts", "backend", "status", "grid_row",
                    "denoiser", "communication"):
            check(isinstance(f.attrs.get(key), str), f"root attribute {key} is a str")
        check(f.attrs["status"] == "finished", "status is 'finished'")
        check(int(f.attrs["ranks"]) == ranks and int(f.attrs["iterations"]) == iters,
              f"ranks {ranks} and iterations {iters} recorded")
        rec = f["reconstruction"]
        H, W = rec.shape[1:]
        check(rec.dtype == np.float32 and rec.shape[0] == 3 and rec.attrs["layout"] == "CHW"
              and rec.compression == "gzip", "/reconstruction float32 [3,H,W], CHW, compressed")
        x, gt = rec[...], f["ground_truth"][...]
        check(x.min() >= 0 and x.max() <= 1, "reconstruction clamped to [0,1]")
        psnr = 10 * np.log10(x.size / np.sum((x.astype(np.float64) - gt) ** 2))
        tr = f["traces"]
        check(abs(psnr - tr["psnr"][-1]) < 1e-3 and abs(psnr - f.attrs["final_psnr"]) < 1e-3,
              f"final PSNR recomputed from the file ({psnr:.4f} dB) equals the trace and the attribute")
        check(tr["psnr"].shape == (iters,) and tr["elapsed"].shape == (iters,), "psnr, elapsed: [iterations]")
        for key in ("gradient_time", "denoise_time", "comm_time", "peak_memory"):
            check(tr[key].shape == (iters, ranks) and np.all(tr[key][...] >= 0), f"/traces/{key} [iterations, ranks]")
        check(np.all(tr["peak_memory"][...] > 0), "peak memory recorded on every rank")
        planned, peak = tr["planned_memory"][...], tr["peak_memory"][...].max(axis=0)
        check(planned.shape == (ranks,) and np.all(peak <= planned),
              f"every rank's peak memory {np.round(peak / 2**20, 2).tolist()} MiB <= what its setup planned "
              f"{np.round(planned / 2**20, 2).tolist()} MiB (/traces/planned_memory)")
        check(np.all(np.diff(tr["elapsed"][...]) > 0), "elapsed increases")
        check(f["measurement"].shape == (3, H, W) and 0 <= f["measurement"][...].min(), "/measurement y_0 [3,H,W]")
        check(f["kernels"].ndim == 3 and abs(f["kernels"][0].sum() - 1) < 1e-4, "/kernels [n,k,k], sum 1")
        yaml = f["config/yaml"][()]
        yaml = yaml.decode() if isinstance(yaml, bytes) else yaml
        check("highres_color_image" in yaml and "PnP" in yaml, "/config/yaml holds the configuration")
        check(int(tr["operators_owned"][...].sum()) >= f["kernels"].shape[0], "every operator owned by some rank")


def same(ref, path, tol, what):
    with h5py.File(ref, "r") as a, h5py.File(path, "r") as b:
        d = float(np.max(np.abs(a["reconstruction"][...].astype(np.float64) - b["reconstruction"][...])))
        p = float(np.max(np.abs(a["traces/psnr"][...] - b["traces/psnr"][...])))
        check(d <= tol and p <= 1e-4, f"{what}: max abs diff {d:.3g} (tol {tol:g}), PSNR traces differ by {p:.3g} dB")


def close(ref, path, db, tol, what):
    with h5py.File(ref, "r") as a, h5py.File(path, "r") as b:
        d = float(np.max(np.abs(a["reconstruction"][...].astype(np.float64) - b["reconstruction"][...])))
        p = float(np.max(np.abs(a["traces/psnr"][...] - b["traces/psnr"][...])))
        check(p <= db and d <= tol, f"{what}: PSNR traces differ by {p:.3g} dB (tol {db:g}), "
              f"reconstructions by {d:.3g} max abs (tol {tol:g})")


def atleast(ref, path, db, what):
    with h5py.File(ref, "r") as a, h5py.File(path, "r") as b:
        pa, pb = float(a["traces/psnr"][-1]), float(b["traces/psnr"][-1])
        check(pb >= pa - db, f"{what}: final PSNR {pb:.4f} dB vs {pa:.4f} dB ({pb - pa:+.4f}, at least -{db:g})")


def rises(path, base, what):
    with h5py.File(path, "r") as a, h5py.File(base, "r") as b:
        p, q = a["traces/psnr"][...], b["traces/psnr"][...]
        check(np.all(np.diff(p) > -1e-3) and p[-1] > p[0] + 1,
              f"{what}: PSNR rises over the iterations ({p[0]:.2f} -> {p[-1]:.2f} dB)")
        check(p[-1] > q[-1], f"{what}: ends above the run with no denoiser ({p[-1]:.2f} vs {q[-1]:.2f} dB)")


def capped(ref, path, cap, what):
    with h5py.File(ref, "r") as a, h5py.File(path, "r") as b:
        ba, bb = int(a.attrs["batch_size"]), int(b.attrs["batch_size"])
        peak = float(b["traces/peak_memory"][...].max())
        check(bb < ba, f"{what}: batches of {bb} windows, fewer than the uncapped {ba}")
        check(peak <= cap, f"{what}: peak memory {peak / 2**20:.2f} MiB <= the cap {cap / 2**20:.2f} MiB")
    same(ref, path, 1e-6, f"{what}: same result")


def golden(gpath, path, xname):
    with h5py.File(gpath, "r") as g, h5py.File(path, "r") as f:
        ref, got = g["psnr"][...], f["traces/psnr"][...]
        n = len(got)
        d = float(np.max(np.abs(ref[:n] - got)))
        check(d <= 1e-4, f"deepinv golden trace: PSNR of {n} iterations within 1e-4 dB (max diff {d:.3g} dB)")
        dx = float(np.max(np.abs(g[xname][...].astype(np.float64) - f["reconstruction"][...])))
        check(dx <= 1e-4, f"deepinv golden trace: reconstruction after {n} iterations = {xname}, max abs {dx:.3g}")


def algo(gpath, case, path, xname):
    with h5py.File(gpath, "r") as gf, h5py.File(path, "r") as f:
        g, tr = gf[case], f["traces"]
        n = len(tr["psnr"])
        dp = float(np.max(np.abs(g["psnr"][:n] - tr["psnr"][...])))
        ds = float(np.max(np.abs(g["ssim"][:n] - tr["ssim"][...])))
        check(dp <= 1e-3 and ds <= 1e-5, f"{case}: deepinv's PSNR and SSIM of {n} iterations within 1e-3 dB and "
              f"1e-5 (max diff {dp:.3g} dB, {ds:.3g})")
        ref, x = g[xname][...].astype(np.float64), f["reconstruction"][...].astype(np.float64)
        rel = float(np.linalg.norm(x - ref) / np.linalg.norm(ref))
        check(rel <= 1e-5, f"{case}: reconstruction after {n} iterations = deepinv's {xname}, relative {rel:.3g} "
              f"(max abs {np.max(np.abs(x - ref)):.3g})")
        if "lipschitz" in g.attrs:
            lp, lg = float(f.attrs["lipschitz"]), float(g.attrs["lipschitz"])
            sp, sg = float(f.attrs["step_size"]), float(g.attrs["step_size"])
            check(abs(lp - lg) <= 1e-4 * lg and abs(sp - sg) <= 1e-4 * sg,
                  f"{case}: L = {lp:.7g} (exact, {int(f.attrs['lipschitz_iterations'])} iterations) = deepinv's "
                  f"power method {lg:.7g} within 1e-4; step {sp:.7g} (deepinv {sg:.7g})")


mode = sys.argv[1]
if mode == "layout":
    layout(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif mode == "same":
    same(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
elif mode == "close":
    close(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
elif mode == "atleast":
    atleast(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
elif mode == "rises":
    rises(sys.argv[2], sys.argv[3], sys.argv[4])
elif mode == "capped":
    capped(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
elif mode == "golden":
    golden(sys.argv[2], sys.argv[3], sys.argv[4])
elif mode == "algo":
    algo(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
else:
    sys.exit(f"unknown mode {mode}")
sys.exit(1 if failed else 0)
