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
    check_run.py bytes FILE                     the bytes each rank sent and received per
                                                iteration equal the formula of include/pnp/comm.h:
                                                the slabs' all-gather (or, slab_combine allreduce,
                                                the all-reduce of the image) from a tiling
                                                recomputed here, plus, with distributed physics
                                                and boundary pad, one all-reduce of the extended
                                                image per normal operator (PnP: the gradient;
                                                DPIR: the gradient and the data step's 1 + CG
                                                iterations); circular: nothing for the gradient
    check_run.py accounting FILE TOL            gradient + denoiser + wait + transfer, mean over
                                                iterations and ranks, within TOL of the wall time
                                                per iteration
    check_run.py idle FILE                      no rank waits more than one window's time: each
                                                rank's wait over the busiest rank's time per window
                                                in the same iteration, at its least over the
                                                iterations, <= 1.25
    check_run.py autopatch FILE                 the patch_size chosen by auto is the one that
                                                minimises ceil(T/P) x window pixels (recomputed)

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
        for key in ("gradient_time", "denoise_time", "wait_time", "comm_time", "bytes_sent", "bytes_received",
                    "peak_memory"):
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


def axis_spans(n, patch, o):
    """include/pnp/tiling.h along one axis: the window size and the [own0, own1) of each window."""
    padded = n + 2 * o
    win = min(patch + 2 * o, padded)
    count = 1 if win >= padded else -(-n // patch)
    spans, owned = [], 0
    for k in range(count):
        start = min(k * patch, padded - win)
        end = min(start + win - 2 * o, n)
        spans.append((owned, end))
        owned = end
    return win, spans


def row_value(f, key):
    """A resolved parameter from the grid_row attribute ("key=value ...")."""
    return dict(w.split("=", 1) for w in f.attrs["grid_row"].split() if "=" in w)[key]


def owned_pixels(h, w, patch, o, ranks):
    """Pixels (per channel) each rank's slab of windows owns, and the window count and size."""
    wh, rows = axis_spans(h, patch, o)
    ww, cols = axis_spans(w, patch, o)
    sizes = [(r1 - r0) * (c1 - c0) for r0, r1 in rows for c0, c1 in cols]
    t = len(sizes)
    return [sum(sizes[t * r // ranks:t * (r + 1) // ranks]) for r in range(ranks)], t, wh, ww


def bytes_formula(path):
    with h5py.File(path, "r") as f:
        c, h, w = f["reconstruction"].shape
        if "reconstruction_extended" in f:  # pad: x, the tiles and the gradient are the extended image
            _, h, w = f["reconstruction_extended"].shape
        ranks, tr = int(f.attrs["ranks"]), f["traces"]
        n = tr["bytes_sent"].shape[0]
        image = 4.0 * c * h * w
        allreduce = 2.0 * (ranks - 1) * image / ranks
        if float(row_value(f, "tolerance")) != 0:
            check(False, "bytes: the formula needs a row without tolerance (its vote is one more all-reduce)")
            return
        combine = f.attrs.get("slab_combine")
        if combine is None:  # the whole image through the denoiser: no slabs to combine
            want_sent = want_received = np.zeros(ranks)
        else:
            own, _, _, _ = owned_pixels(h, w, int(f.attrs["patch_size"]), int(row_value(f, "overlap")), ranks)
            check(list(tr["pixels_owned"][...]) == own, f"bytes: pixels owned per rank {own} as recomputed")
            if combine == "allreduce":
                want_sent = want_received = np.full(ranks, allreduce)
            else:
                want_received = np.array([4.0 * c * (h * w - own[r]) for r in range(ranks)])
                want_sent = np.array([4.0 * c * (h * w - own[(r + 1) % ranks]) for r in range(ranks)])
        # the data term per iteration: circular nothing (S and B summed at setup); pad with distributed
        # physics one all-reduce of the image per normal operator
        calls = np.zeros(n)
        physics = row_value(f, "distribute_physics") == "true" and ranks > 1
        if physics and f.attrs.get("boundary", "circular") == "pad":
            calls = tr["data_step_iterations"][...] + 2 if f.attrs["solver"] == "DPIR" else np.ones(n)
        want_sent = want_sent[None, :] + (calls * allreduce)[:, None]  # [n, ranks]
        want_received = want_received[None, :] + (calls * allreduce)[:, None]
        sent, received = tr["bytes_sent"][...], tr["bytes_received"][...]
        what = (f"{combine or 'no tiles'}, {ranks} ranks, {f.attrs.get('boundary', 'circular')}, physics "
                f"{'distributed' if physics else 'whole'}, gradient all-reduces per iteration {calls.tolist()}")
        check(np.allclose(sent, want_sent, rtol=1e-12, atol=0) and np.allclose(received, want_received, rtol=1e-12,
                                                                                atol=0),
              f"bytes per iteration and rank ({what}) = the formula: received {want_received[0].tolist()}, sent "
              f"{want_sent[0].tolist()} (iteration 1; counted {received[0].tolist()}, {sent[0].tolist()})")
        if combine == "allgather" and not calls.any():
            check(np.all(received <= image), f"bytes: no rank receives more than the image ({image:.0f} B) per "
                  "iteration")


def accounting(path, tol):
    with h5py.File(path, "r") as f:
        t = f["traces"]
        n = t["elapsed"].shape[0]
        wall = float(t["elapsed"][-1]) / n
        parts = sum(t[k][...] for k in ("gradient_time", "denoise_time", "wait_time", "comm_time"))  # [n, ranks]
        per_rank = parts.mean(axis=0)
        mean = float(per_rank.mean())
        check(abs(mean - wall) <= tol * wall,
              f"accounting: gradient + denoiser + wait + transfer {mean * 1e3:.3f} ms per iteration (mean over "
              f"ranks; each rank {np.round(per_rank * 1e3, 3).tolist()} ms) = wall {wall * 1e3:.3f} ms within "
              f"{tol:.0%} ({abs(mean - wall) / wall:.1%})")


def idle(path):
    """Each iteration's wait against the same iteration's window time of the busiest rank, and the quietest
    iteration of each rank: on a shared machine a descheduled busy rank stretches both its windows and its
    peers' wait, and noise only ever adds time, so the smallest ratio is the closest to the intrinsic one."""
    with h5py.File(path, "r") as f:
        t = f["traces"]
        windows = t["windows_owned"][...]
        busiest = int(np.argmax(windows))
        per_window = t["denoise_time"][:, busiest] / windows[busiest]  # [iterations]
        ratios = np.min(t["wait_time"][...] / per_window[:, None], axis=0)  # [ranks]
        check(windows.max() - windows.min() <= 1, f"idle: windows per rank {windows.tolist()} differ by at most one")
        check(np.all(ratios <= 1.25), f"idle: each rank's wait in windows of rank {busiest} (its quietest "
              f"iteration) {np.round(ratios, 2).tolist()} <= 1 (+25%); a window took "
              f"{np.median(per_window) * 1e3:.2f} ms (median)")


def autopatch(path):
    with h5py.File(path, "r") as f:
        c, h, w = f["reconstruction"].shape
        ranks, o, chosen = int(f.attrs["ranks"]), int(row_value(f, "overlap")), int(f.attrs["patch_size"])
        check(row_value(f, "patch_size") == "auto", "autopatch: the row says patch_size auto")
    best, work = None, None
    for patch in range((max(h, w) + 7) // 8 * 8, 7, -8):
        _, t, wh, ww = owned_pixels(h, w, patch, o, ranks)
        cost = -(-t // ranks) * wh * ww
        if best is None or cost < work:
            best, work = patch, cost
    check(chosen == best, f"autopatch: {ranks} ranks, {h}x{w}, overlap {o}: patch {chosen} = the recomputed best "
          f"{best} (busiest rank {work} window pixels)")


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
elif mode == "bytes":
    bytes_formula(sys.argv[2])
elif mode == "accounting":
    accounting(sys.argv[2], float(sys.argv[3]))
elif mode == "idle":
    idle(sys.argv[2])
elif mode == "autopatch":
    autopatch(sys.argv[2])
else:
    sys.exit(f"unknown mode {mode}")
sys.exit(1 if failed else 0)
