#!/usr/bin/env python3
"""time_to_quality.py - time to a good image: pnp's solvers against deepinv's
on one real photo with a trained prior, in the same run.

The problem is the reference one (DESIGN 1) on a real photo scaled so its
longer side is --size (8 rotated Gaussian blurs, noise 0.1, seed 42), written
once by `pnp dataset` and read back by the deepinv side, so both solve the
same numbers. The prior is KAIR's trained colour FFDNet of
../shared/data/weights/kair-small (pnp reads the .h5 copy; deepinv runs the
same weights through KAIR's architecture in PyTorch, the FFDNet module of
tests/golden/make_golden_algo.py, checked there to equal pnp's).

Methods:
  deepinv PnP-PGD  the benchmark's loop (solvers/pnp.py: step 0.1, sigma
                   0.005, x_0 = 0, clamp after the denoiser), physics = stack of
                   Blur(padding="circular", use_fft=True) as the benchmark's
                   dataset builds it; --pgd-iters iterations
  deepinv DPIR     deepinv.optim.DPIR(sigma=0.1, denoiser=FFDNet) on the same
                   physics (its data step: conjugate gradients, deepinv's
                   defaults); the time of each iteration is when its denoiser
                   call returns (the HQS iteration ends with it), and x_k is
                   that call's output
  pnp PnP-PGD      the same settings as deepinv's PnP-PGD
  pnp PnP          step_size null (0.99 / L, L exact) and init_method wiener,
                   sigma 0.005 as above; and the same with sigma 0.05, the
                   default of the benchmark's newest solvers/pnp.py
  pnp DPIR         solver DPIR with its defaults (8 iterations)
The target is the PSNR deepinv's PnP-PGD reaches at iteration --pgd-iters
(the benchmark's algorithm as the benchmark runs it). For each method: the
first iteration whose PSNR reaches it and the time at that iteration's end,
counted from the start of the first iteration (deepinv: x_0 and everything
after it; pnp: /traces/elapsed, which includes computing PSNR, SSIM and the
relative change each iteration, about 3% of an iteration at 512 px; x_0's
cost (nothing, one FFT pair, A^T y) is in pnp's setup and deepinv's first
iteration). Medians over --runs runs of each; the load averages are recorded
before each run (the machine is shared).

Writes FILE.md (provenance, the table, the commands), FILE.png (PSNR against
time, each method's median run) and FILE.json (every run's traces).

    PYTHON=venv/bin/python: python3 with torch, deepinv, h5py, numpy, matplotlib
    $PYTHON bench/time_to_quality.py [--image PNG] [--size 512] [--runs 3] [--threads 2]
        [--pgd-iters 100] [--results bench/results/DATE-time-to-quality-cpu]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
from make_golden_algo import FFDNet  # noqa: E402 (KAIR's FFDNet as a deepinv Denoiser)

import deepinv as dinv  # noqa: E402

PNP = os.path.join(ROOT, "build", "pnp")
METHODS = ["deepinv PnP-PGD", "deepinv DPIR", "pnp PnP-PGD", "pnp PnP (step null, wiener)",
           "pnp PnP (step null, wiener, sigma 0.05)", "pnp DPIR"]


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def config(image, size, weights, pgd_iters):
    return f"""# bench/time_to_quality.py's rows: 0 PnP-PGD (benchmark settings), 1 and 2 PnP step null + wiener
# (sigma 0.005, 0.05), 3 DPIR
dataset:
  - highres_color_image: {{image_size: {size}, num_operators: 8, noise_level: 0.1, seed: 42, image: "{image}"}}
solver:
  - PnP:
      denoiser: ffdnet
      weights: "{weights}"
      denoiser_sigma, step_size, init_method, max_iter: [[0.005, 0.1, zeros, {pgd_iters + 5}],
        [0.005, null, wiener, {pgd_iters}], [0.05, null, wiener, {pgd_iters}]]
      backend: cpu
  - DPIR:
      denoiser: ffdnet
      weights: "{weights}"
      backend: cpu
"""


def pnp_run(cfg, row, threads, out):
    log = subprocess.run([PNP, "run", cfg, "--row", str(row), "--threads", str(threads), "--out", out, "--force"],
                         check=True, capture_output=True, text=True).stdout
    name = os.path.splitext(os.path.basename(cfg))[0]
    info = json.loads(subprocess.run([PNP, "inspect", "--json", f"{out}/{name}_row{row}.h5"], check=True,
                                     capture_output=True, text=True).stdout)[0]
    t = info["traces"]
    return {"psnr": t["psnr"], "ssim": t["ssim"], "time": t["elapsed"], "setup": info["setup_time"],
            "log": [line for line in log.splitlines() if not line.startswith("iter ")]}


def psnr_of(x, truth):
    return 10 * np.log10(1.0 / torch.mean((x.double() - truth.double()) ** 2).item())


def ssim_of(x, truth):
    return float(dinv.metric.SSIM(max_pixel=1.0, min_pixel=0.0)(x.float(), truth.float())[0])


def deepinv_pgd(physics, y, truth, prior, iters):
    fidelity = dinv.optim.data_fidelity.L2()
    x, elapsed, out = torch.zeros_like(truth), 0.0, {"psnr": [], "ssim": [], "time": []}
    with torch.no_grad():
        for _ in range(iters):
            t0 = time.perf_counter()
            x = x - 0.1 * fidelity.grad(x, y, physics)
            x = torch.clamp(prior.prox(x, sigma_denoiser=0.005), 0, 1)
            elapsed += time.perf_counter() - t0  # the metrics below are not timed
            out["time"].append(elapsed), out["psnr"].append(psnr_of(x, truth)), out["ssim"].append(ssim_of(x, truth))
    return out


class Timed(torch.nn.Module):
    """A denoiser that notes when each call returns, and its output (DPIR's x_k)."""

    def __init__(self, net):
        super().__init__()
        self.net, self.stamps, self.outputs = net, [], []

    def forward(self, x, sigma, **kwargs):
        d = self.net(x, sigma)
        self.stamps.append(time.perf_counter())
        self.outputs.append(d.detach().clone())
        return d


def deepinv_dpir(physics, y, truth, net):
    timed = Timed(net)
    model = dinv.optim.DPIR(sigma=0.1, denoiser=timed, device="cpu")
    with torch.no_grad():
        t0 = time.perf_counter()
        model(y, physics)
    # the clone of each output is inside the timed span; subtract it (measured afterwards)
    c0 = time.perf_counter()
    for d in timed.outputs:
        d.clone()
    clone = (time.perf_counter() - c0) / max(1, len(timed.outputs))
    return {"time": [s - t0 - clone * (k + 1) for k, s in enumerate(timed.stamps)],
            "psnr": [psnr_of(d, truth) for d in timed.outputs], "ssim": [ssim_of(d, truth) for d in timed.outputs]}


def reach(trace, target):
    """(iterations, seconds) at the first iteration whose PSNR >= target, or (None, None)."""
    for k, p in enumerate(trace["psnr"]):
        if p >= target:
            return k + 1, trace["time"][k]
    return None, None


def table(runs, target, pgd_iters):
    """The markdown table of the runs (every method's traces, per run)."""
    rows, medians = [], {}
    for m in METHODS:
        hits = [reach(t, target) for t in runs[m]]
        secs = [h[1] for h in hits if h[1] is not None]
        medians[m] = float(np.median(secs)) if len(secs) == len(hits) else None
        first = runs[m][0]
        best = int(np.argmax(first["psnr"]))
        rows.append((m, hits[0][0], medians[m], secs, len(first["psnr"]), first["psnr"][-1], first["ssim"][-1],
                     (first["psnr"][best], best + 1), float(np.median([t["time"][-1] for t in runs[m]]))))
    ref = medians["deepinv PnP-PGD"]
    lines = ["| method | iterations to the target | time to the target (median) | per run | speed-up vs deepinv "
             "PnP-PGD | iterations run | final PSNR | final SSIM | best PSNR (iteration) | total time (median) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m, it, med, secs, n, fp, fs, best, tot in rows:
        lines.append(f"| {m} | {it if it else 'not reached'} | {f'{med:.2f} s' if med is not None else '-'} | "
                     f"{', '.join(f'{s:.2f}' for s in secs) or '-'} | "
                     f"{f'**{ref / med:.1f}x**' if med and ref else '-'} | {n} | {fp:.3f} dB | {fs:.4f} | "
                     f"{best[0]:.3f} dB ({best[1]}) | {tot:.2f} s |")
    pgd_diff = max(abs(p - q) for p, q in zip(runs["deepinv PnP-PGD"][0]["psnr"], runs["pnp PnP-PGD"][0]["psnr"]))
    lines += ["", f"pnp's PnP-PGD and deepinv's PnP-PGD (the same algorithm) differ by at most {pgd_diff:.2g} dB "
              f"over the {pgd_iters} iterations' PSNR."]
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image", default=os.path.join(os.environ.get("PNP_SHARED", os.path.join(ROOT, "..", "shared")),
                                                 "data", "images", "bus_2048.png"))
    ap.add_argument("--weights", default=None, help="FFDNet .h5 (default: ../shared/data/weights/kair-small)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pgd-iters", type=int, default=100)
    ap.add_argument("--results", default=os.path.join(
        ROOT, "bench", "results", datetime.date.today().isoformat() + "-time-to-quality-cpu"))
    ap.add_argument("--table", metavar="JSON", help="only print the table of an earlier run's FILE.json")
    a = ap.parse_args()
    if a.table:
        with open(a.table) as f:
            d = json.load(f)
        print("\n".join(table(d["runs"], d["target"], d.get("pgd_iters", a.pgd_iters))))
        return
    weights = a.weights or os.path.join(os.path.dirname(os.path.dirname(a.image)), "weights", "kair-small",
                                        "ffdnet_color.h5")
    torch.set_num_threads(a.threads)
    subprocess.run(["make", "-C", ROOT, "build/pnp"], check=True, capture_output=True)
    tmp = tempfile.mkdtemp()
    cfg = os.path.join(tmp, "ttq.yml")
    with open(cfg, "w") as f:
        f.write(config(os.path.abspath(a.image), a.size, os.path.abspath(weights), a.pgd_iters))
    subprocess.run([PNP, "dataset", cfg, "--row", "0", "--out", f"{tmp}/data.h5"], check=True, capture_output=True)
    with h5py.File(f"{tmp}/data.h5", "r") as f:
        truth = torch.from_numpy(f["ground_truth"][...])[None]
        kernels = torch.from_numpy(f["kernels"][...])
        y = dinv.utils.TensorList([torch.from_numpy(m)[None] for m in f["measurements"][...]])
    physics = dinv.physics.stack(*[dinv.physics.Blur(filter=k[None, None], padding="circular", use_fft=True)
                                   for k in kernels])
    with h5py.File(weights, "r") as sd:
        net = FFDNet(sd).eval()
    prior = dinv.optim.prior.PnP(denoiser=net)
    H, W = truth.shape[-2:]
    print(f"problem: {a.image} at {W}x{H}, 8 blurs (PSF {kernels.shape[-1]}x{kernels.shape[-2]}), noise 0.1",
          flush=True)

    runs = {m: [] for m in METHODS}
    loads = []
    for r in range(a.runs):
        for m in METHODS:
            loads.append(f"run {r + 1}, {m}: load {load()}")
            if m == "deepinv PnP-PGD":
                tr = deepinv_pgd(physics, y, truth, prior, a.pgd_iters)
            elif m == "deepinv DPIR":
                tr = deepinv_dpir(physics, y, truth, net)
            else:
                tr = pnp_run(cfg, METHODS.index(m) - 2, a.threads, f"{tmp}/out")
            runs[m].append(tr)
            print(f"run {r + 1} {m}: {len(tr['psnr'])} iterations, final PSNR {tr['psnr'][-1]:.3f} dB, "
                  f"{tr['time'][-1]:.2f} s ({loads[-1]})", flush=True)

    target = float(np.median([t["psnr"][a.pgd_iters - 1] for t in runs["deepinv PnP-PGD"]]))
    lines = [f"# Time to a good image: pnp against deepinv ({datetime.date.today().isoformat()})", ""]
    lines += subprocess.run(["bash", "-c", f". {HERE}/lib.sh; bench_provenance {a.threads} "
                             f"'{os.environ.get('PYTHON', 'python3')} bench/time_to_quality.py "
                             f"{' '.join(sys.argv[1:])}'"], cwd=ROOT, capture_output=True, text=True).stdout.split("\n")
    lines += [f"- versions: deepinv {dinv.__version__}, torch {torch.__version__}; pnp {PNP}",
              f"- problem: `{a.image}` at {W}x{H} (longer side {a.size}), 8 blurs of {kernels.shape[-1]}x"
              f"{kernels.shape[-2]}, noise 0.1, seed 42; prior: FFDNet `{weights}` on both sides",
              f"- target: the PSNR deepinv's PnP-PGD (the benchmark's settings) reaches at iteration {a.pgd_iters}: "
              f"**{target:.3f} dB**",
              f"- runs: {a.runs} of each method, interleaved; times are medians over the runs; the load averages "
              "before each run are listed at the end; final and best PSNR and SSIM of the first run (the runs "
              "give the same numbers)", ""]
    lines += table(runs, target, a.pgd_iters) + [""]
    lines += ["Load averages (1, 5, 15 min) before each run:", "", "```"] + loads + ["```", ""]
    lines += ["pnp's log of the last runs (setup lines):", "", "```"]
    for m in METHODS[2:]:
        lines += runs[m][-1]["log"]
    lines += ["```", ""]
    with open(a.results + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(a.results + ".json", "w") as f:
        json.dump({"target": target, "pgd_iters": a.pgd_iters, "runs": {m: [{k: t[k] for k in ("psnr", "ssim", "time")} for t in v]
                                              for m, v in runs.items()}}, f)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    for m in METHODS:
        tot = [t["time"][-1] for t in runs[m]]
        t = runs[m][int(np.argsort(tot)[len(tot) // 2])]
        ax.plot(t["time"], t["psnr"], marker="o", markersize=2, label=m)
    ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=f"target {target:.2f} dB")
    ax.set_xscale("log")
    ax.set_xlabel("time since the first iteration began (s, log scale)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{os.path.basename(a.image)} at {W}x{H}, FFDNet, {a.threads} threads")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.results + ".png", dpi=100)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
