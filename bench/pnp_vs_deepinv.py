#!/usr/bin/env python3
"""pnp_vs_deepinv.py - the PnP iteration, pnp against deepinv in the same run:
time per phase (gradient, denoiser, communication, whole iteration) and
memory, on 1, 2, ... ranks, with medians over iterations and runs.

The problem is the reference one (DESIGN 1) scaled so its longer side is
--size: a CBSD68 portrait photo, 8 rotated Gaussian blurs, noise 0.1, step
0.1, sigma 0.005, x_0 = 0; DRUNet at full widths (64,128,256,512, 4 blocks) on
pnp's generated random weights (time does not depend on their values; both
sides load the same file, so the reconstructions can be compared too). pnp
writes the problem once (`pnp dataset`); bench/torch_pnp.py reads that file,
so both sides solve the same numbers.

Rows: 1 rank = the benchmark's gpu:1 row (no distribution: every operator and
the whole image on the rank); R > 1 ranks = its gpu:R rows (operators
round-robin, denoiser tiles patch/overlap split in slabs, max batch 0), with
the 448/32 tiling scaled like the image (--size 512: 112/8, which keeps the
reference's 20 windows). Each side gets --threads cores in all: threads per
rank = threads / R (pnp --threads, torch.set_num_threads; one core per rank
at least). pnp runs under mpirun, deepinv under torchrun (gloo on CPU).

Medians are over iterations 2..N of every run (the first iteration is the
warm-up on both sides) and over --runs fresh runs. pnp's gradient and denoiser
times exclude its all-reduces, which are reported apart (communication);
deepinv's phases include its own communication (it is not exposed), and its
phase boundaries are synchronised with a barrier. The iteration time is wall
time for both. Memory: each side's largest rank, as the peak RSS of the rank
(pnp: getrusage of the finished mpirun's children, which is the largest rank;
deepinv: VmHWM of each rank) and, for pnp, its backend's own peak accounting.

    python3 bench/pnp_vs_deepinv.py [--size 512] [--ranks "1 2"] [--iters 6] [--runs 1]
        [--threads 2] [--precision fp32|bf16] [--pnp-algos "direct auto"] [--no-torch] [--scaling]
        [--results FILE]
    [--backend cuda --precision fp32|bf16 --torch-device cuda --pnp build-gpu/pnp]   (a GPU)

--pnp-algos: run pnp once per value of PNP_CONV_ALGO given (the CPU
backend's convolution algorithm: auto, direct, winograd, ...; default "auto",
what a user gets), each run beside the others and deepinv's, so the table has
a column per algorithm: time, PSNR and memory, and deepinv's time over each.
The machine's load (uptime) is logged before every run and summarised.
--scaling: pnp only, every rank count on the tiled row (R = 1 too) with one
thread per rank, for rank scaling: compute and communication per rank.
Runs `make build/pnp` first (unless --pnp names another program). Needs: mpirun, python3 with h5py (this driver), and PYTHON
(default python3) with torch + deepinv + h5py for the deepinv side.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNP = os.path.join(ROOT, "build", "pnp")
SHARED = os.environ.get("PNP_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]


def run_measured(cmd, env=None, log=None):
    """Run cmd; return (stdout, max RSS in bytes of its largest waited-for descendant).
    Each call happens in a fresh Python child so the children's ru_maxrss is its own."""
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
             "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    p = subprocess.run([sys.executable, "-c", probe] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env)
    if log is not None:
        log.append("$ " + shlex.join(cmd) + "\n" + p.stdout)
    if p.returncode != 0:
        sys.exit(f"pnp_vs_deepinv: command failed ({p.returncode}): {shlex.join(cmd)}\n{p.stdout[-3000:]}")
    out, rss = [], 0
    for line in p.stdout.splitlines():
        if line.startswith("MAXRSS_KB "):
            rss = int(line.split()[1]) * 1024
        else:
            out.append(line)
    return "\n".join(out), rss


def write_config(path, a, image, weights, rows):
    """rows: list of (ranks, distributed) -> a grid with one row each, in order."""
    lines = [
        "# written by bench/pnp_vs_deepinv.py",
        "objective: [psnr]",
        "dataset:",
        f"  - highres_color_image: {{image_size: {a.size}, num_operators: 8, noise_level: 0.1, seed: 42,",
        f"                          image: {image}}}",
        "solver:",
        "  - PnP:",
        "      denoiser: drunet",
        f"      weights: {weights}",
        "      denoiser_sigma: 0.005",
        "      step_size: 0.1",
        f"      max_iter: {a.iters}",
        "      init_method: zeros",
        f"      backend: {a.backend}",
        f"      precision: {a.precision}",
        "      slurm_gres, slurm_ntasks_per_node, slurm_nodes, distribute_physics, distribute_denoiser, "
        "patch_size, overlap, max_batch_size: [",
    ]
    for r, dist in rows:
        if dist:
            lines.append(f'        ["gpu:{r}", {r}, 1, true, true, {a.patch}, {a.overlap}, 0],')
        else:
            lines.append(f'        ["gpu:{r}", {r}, 1, false, false, 0, 0, 0],')
    lines.append("      ]")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def load_now(log, loads):
    """The 1-minute load average now, logged (the machine is shared)."""
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    log.append("$ uptime\n" + up + "\n")
    loads.append(float(up.rsplit("load average:", 1)[1].split(",")[0]))


def ours_run(a, cfg, row, ranks, threads, outdir, log, algo):
    cmd = MPIRUN + ["-n", str(ranks), a.pnp, "run", cfg, "--row", str(row), "--out", outdir, "--threads", str(threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PNP_CONV_ALGO=algo)
    log.append(f"(PNP_CONV_ALGO={algo})")
    _, rss = run_measured(cmd, env, log)
    path = os.path.join(outdir, f"{os.path.splitext(os.path.basename(cfg))[0]}_row{row}.h5")
    with h5py.File(path, "r") as f:
        t = f["traces"]
        el = t["elapsed"][...]
        rec = {
            "grad": t["gradient_time"][...],        # [iters, ranks]
            "denoise": t["denoise_time"][...],
            "comm": t["comm_time"][...] + (t["wait_time"][...] if "wait_time" in t else 0),  # all of it in collectives
            "iter": np.diff(np.concatenate([[0.0], el])),
            "psnr": t["psnr"][...],
            "peak_backend": float(np.max(t["peak_memory"][...])),
            "windows": int(f.attrs.get("windows", 0)),
        }
    rec["rss"] = rss
    return rec, cmd


def torch_run(a, data, weights, ranks, threads, dist, log):
    args = ["bench/torch_pnp.py", "--data", data, "--weights", weights, "--spec", a.spec, "--iters", str(a.iters),
            "--threads", str(threads), "--device", a.torch_device]
    if dist:
        args += ["--distribute-physics", "--distribute-denoiser", "--patch", str(a.patch), "--overlap", str(a.overlap)]
    if ranks == 1:
        cmd = [a.python] + args
    else:
        cmd = [a.python, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks), "--master-port",
               str(29500 + os.getpid() % 400)] + args
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    text, _ = run_measured(cmd, env, log)
    # a rank's RESULT line may follow another process's unterminated output on the same line
    recs = [json.loads(line[line.index("RESULT {") + len("RESULT "):]) for line in text.splitlines()
            if "RESULT {" in line]
    if len(recs) != ranks:
        sys.exit(f"pnp_vs_deepinv: expected {ranks} RESULT lines from deepinv, got {len(recs)}")
    rec = {k: np.max(np.array([r[k] for r in recs]), axis=0) for k in ("grad_s", "denoise_s", "iter_s")}
    rec["psnr"] = np.array(recs[0]["psnr"])
    rec["rss"] = max(r["rss_peak_bytes"] for r in recs)
    rec["cuda_peak"] = max(r.get("cuda_peak_bytes", 0) for r in recs)
    rec["versions"] = recs[0]["versions"]
    return rec, cmd


def med(samples):
    return statistics.median(samples) if samples else float("nan")


def fmt_s(v):
    return "-" if v is None or v != v else f"{v:.3f}"


def ratio(theirs, ours):
    return "-" if theirs is None or ours is None or ours <= 0 else f"{theirs / ours:.2f}"


def mb(b):
    return "-" if not b else f"{b / 1e6:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512, help="longer image side (default 512)")
    ap.add_argument("--ranks", default="1 2", help='rank counts (default "1 2")')
    ap.add_argument("--iters", type=int, default=6)
    ap.add_argument("--runs", type=int, default=1, help="fresh runs per side and rank count")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="cores per side, split over its ranks")
    ap.add_argument("--spec", default="drunet:64,128,256,512:4")
    ap.add_argument("--image", default=os.path.join(SHARED, "data/images/CBSD68/101085.png"))
    ap.add_argument("--patch", type=int, default=0, help="tile patch (default 448 scaled to --size, multiple of 8)")
    ap.add_argument("--overlap", type=int, default=0, help="tile overlap (default 32 scaled to --size)")
    ap.add_argument("--backend", default="cpu", help="pnp backend (cpu|cuda)")
    ap.add_argument("--precision", default="fp32", help="pnp precision (fp32|bf16; cpu bf16 needs avx512_bf16)")
    ap.add_argument("--pnp-algos", default="auto", help='PNP_CONV_ALGO values, a pnp run each (default "auto")')
    ap.add_argument("--pnp", default=PNP, help="the pnp program (default build/pnp)")
    ap.add_argument("--torch-device", default="cpu", help="deepinv device (cpu|cuda)")
    ap.add_argument("--python", default=os.environ.get("PYTHON", "python3"), help="Python with torch + deepinv")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--scaling", action="store_true", help="pnp only, tiled row at every R, one thread per rank")
    ap.add_argument("--results", default=None)
    a = ap.parse_args()
    if a.patch == 0:
        a.patch = max(8, round(448 * a.size / 2048 / 8) * 8)
    if a.overlap == 0:
        a.overlap = max(8, round(32 * a.size / 2048 / 8) * 8)
    ranks = [int(r) for r in a.ranks.split()]
    if a.scaling:
        a.no_torch = True
    kind = "scaling" if a.scaling else "pnp-iteration"
    a.results = a.results or os.path.join(ROOT, "bench/results",
                                          f"{datetime.date.today()}-{kind}-{a.backend}"
                                          f"{'' if a.precision == 'fp32' else '-' + a.precision}.md")
    if not os.path.exists(a.image):
        sys.exit(f"pnp_vs_deepinv: image not found: {a.image} (set PNP_SHARED or --image)")
    os.chdir(ROOT)

    if a.pnp == PNP:  # the numbers are those of the current source
        subprocess.run(["make", "-s", "-C", ROOT, "build/pnp"], check=True, stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="pnp-vs-deepinv-")
    weights, data, cfg = f"{tmp}/weights.h5", f"{tmp}/data.h5", f"{tmp}/bench.yml"
    rows = [(r, a.scaling or r > 1) for r in ranks]
    write_config(cfg, a, a.image, weights, rows)
    log = []
    run_measured([a.pnp, "weights", "generate", a.spec, weights], log=log)
    run_measured([a.pnp, "dataset", cfg, "--out", data], log=log)

    results, commands, loads = [], [], []
    a.algos = a.pnp_algos.split()
    for row, (r, dist) in enumerate(rows):
        threads = 1 if a.scaling else max(1, a.threads // r)
        ours, theirs = {algo: [] for algo in a.algos}, []
        for run in range(a.runs):
            for algo in a.algos:
                load_now(log, loads)
                rec, cmd = ours_run(a, cfg, row, r, threads, f"{tmp}/out{run}-{algo}", log, algo)
                ours[algo].append(rec)
                print(f"pnp ({algo}) R={r} run {run + 1}: iteration {med(list(rec['iter'][1:])):.3f} s, "
                      f"PSNR {rec['psnr'][-1]:.3f} dB", flush=True)
                if run == 0:
                    commands.append(f"PNP_CONV_ALGO={algo} OMP_NUM_THREADS={threads} {shlex.join(cmd)}")
            if not a.no_torch:
                load_now(log, loads)
                rec, cmd = torch_run(a, data, weights, r, threads, dist, log)
                theirs.append(rec)
                print(f"deepinv R={r} run {run + 1}: iteration {med(list(rec['iter_s'][1:])):.3f} s, "
                      f"PSNR {rec['psnr'][-1]:.3f} dB", flush=True)
                if run == 0:
                    commands.append(f"OMP_NUM_THREADS={threads} {shlex.join(cmd)}")
        pool = lambda recs, key, f: [v for rec in recs for v in f(rec[key])[1:]]
        s = {"ranks": r, "threads": threads, "dist": dist, "windows": ours[a.algos[0]][0]["windows"], "pnp": {}}
        for algo in a.algos:
            recs = ours[algo]
            s["pnp"][algo] = {
                "grad": med(pool(recs, "grad", lambda v: v.max(axis=1))),
                "denoise": med(pool(recs, "denoise", lambda v: v.max(axis=1))),
                "comm": med(pool(recs, "comm", lambda v: v.max(axis=1))),
                "comm_min": med(pool(recs, "comm", lambda v: v.min(axis=1))),
                "iter": med(pool(recs, "iter", lambda v: v)),
                "psnr": recs[0]["psnr"][-1],
                "rss": max(rec["rss"] for rec in recs),
                "peak_backend": max(rec["peak_backend"] for rec in recs),
            }
        s.update(s["pnp"][a.algos[0]])  # the first algorithm's, for --scaling
        if theirs:
            s["t_grad"] = med(pool(theirs, "grad_s", lambda v: v))
            s["t_denoise"] = med(pool(theirs, "denoise_s", lambda v: v))
            s["t_iter"] = med(pool(theirs, "iter_s", lambda v: v))
            s["t_psnr"] = theirs[0]["psnr"][-1]
            s["t_rss"] = max(rec["rss"] for rec in theirs)
            s["t_cuda"] = max(rec["cuda_peak"] for rec in theirs)
            s["versions"] = theirs[0]["versions"]
        results.append(s)

    write_report(a, results, commands, log, tmp, loads)


def write_report(a, results, commands, log, tmp, loads):
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"]).returncode != 0
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    with h5py.File(f"{tmp}/data.h5", "r") as f:
        h, w = f["ground_truth"].shape[1:]
    lines = [
        f"# {'Rank scaling' if a.scaling else 'PnP iteration'} on {a.backend.upper()} ({a.precision}): pnp"
        + ("" if a.scaling else " vs deepinv"),
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
        f"- machine: {cpu}, {os.cpu_count()} cores visible ({platform.node()})",
        f"- git commit: {commit}{' (uncommitted changes)' if dirty else ''}",
        f"- script: `python3 bench/pnp_vs_deepinv.py {' '.join(shlex.quote(x) for x in sys.argv[1:])}`",
        f"- problem: {os.path.basename(a.image)} resized to {h}x{w} (H x W), 8 operators, noise 0.1, step 0.1, "
        f"sigma 0.005, x_0 = 0, {a.iters} iterations; DRUNet {a.spec} on generated random weights; "
        f"tiled rows: patch {a.patch}, overlap {a.overlap}, max batch 0",
        f"- time: seconds, median over iterations 2..{a.iters} of {a.runs} run(s) per side; per phase the "
        "slowest rank; pnp's gradient / denoiser exclude its all-reduces (column comm), deepinv's include its own",
        "- memory: MB (10^6 bytes), the largest rank's peak RSS; pnp also its backend's peak accounting",
        f"- pnp's convolutions: PNP_CONV_ALGO={', '.join(a.algos)} (one pnp run each per run and rank count)",
        f"- machine load (1-minute load average before each run; 2 cores, shared): min {min(loads):.2f}, "
        f"median {statistics.median(loads):.2f}, max {max(loads):.2f}" if loads else "- machine load: not read",
    ]
    if results and "versions" in results[0]:
        lines.append(f"- reference: {results[0]['versions']}, Blur(padding=circular, use_fft=True), "
                     "L2, PnP(DRUNet) (bench/torch_pnp.py)")
    lines.append("")
    if a.scaling:
        base = results[0]["iter"]
        lines += ["| ranks | threads/rank | windows/rank | gradient s | denoiser s | comm s (max / min rank) | "
                  "iteration s | speed-up | efficiency | per-window s | PSNR dB | pnp peak RSS MB | backend peak MB |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for s in results:
            per_rank = -(-s["windows"] // s["ranks"])
            lines.append(
                f"| {s['ranks']} | {s['threads']} | {per_rank} of {s['windows']} | {fmt_s(s['grad'])} | "
                f"{fmt_s(s['denoise'])} | {fmt_s(s['comm'])} / {fmt_s(s['comm_min'])} | {fmt_s(s['iter'])} | "
                f"{base / s['iter']:.2f} | {base / s['iter'] / s['ranks']:.2f} | "
                f"{s['denoise'] / per_rank:.3f} | {s['psnr']:.3f} | {mb(s['rss'])} | {mb(s['peak_backend'])} |")
    else:
        name = (lambda algo: "pnp") if len(a.algos) == 1 else (lambda algo: f"pnp {algo}")
        lines += ["| ranks | threads/rank | phase | " + " | ".join(f"{name(g)} s" for g in a.algos) +
                  " | deepinv s | " + " | ".join(f"deepinv / {name(g)}" for g in a.algos) + " |",
                  "| --- | --- | --- |" + " --- |" * (2 * len(a.algos) + 1)]
        for s in results:
            for phase, key, tkey in (("gradient", "grad", "t_grad"), ("denoiser", "denoise", "t_denoise"),
                                     ("comm (pnp)", "comm", None), ("**iteration**", "iter", "t_iter")):
                ours = [s["pnp"][g][key] for g in a.algos]
                theirs = s.get(tkey) if tkey else None
                lines.append(f"| {s['ranks']} | {s['threads']} | {phase} | " + " | ".join(fmt_s(v) for v in ours) +
                             f" | {fmt_s(theirs)} | " +
                             " | ".join(ratio(theirs, v) if tkey else "-" for v in ours) + " |")
        gpu = a.torch_device == "cuda"
        lines += ["", "| ranks | " + " | ".join(f"{name(g)} PSNR dB" for g in a.algos) + " | deepinv PSNR dB | " +
                  " | ".join(f"{name(g)} peak RSS MB" for g in a.algos) + " | deepinv peak RSS MB | " +
                  " | ".join(f"{name(g)} backend peak MB" for g in a.algos) +
                  f" |{' deepinv CUDA peak MB |' if gpu else ''} windows |",
                  "| --- |" + " --- |" * (3 * len(a.algos) + 2 + gpu) + " --- |"]
        for s in results:
            p = [s["pnp"][g] for g in a.algos]
            lines.append(f"| {s['ranks']} | " + " | ".join(f"{v['psnr']:.3f}" for v in p) +
                         f" | {s.get('t_psnr', float('nan')):.3f} | " + " | ".join(mb(v["rss"]) for v in p) +
                         f" | {mb(s.get('t_rss'))} | " + " | ".join(mb(v["peak_backend"]) for v in p) +
                         f" |{' ' + mb(s.get('t_cuda')) + ' |' if gpu else ''} {s['windows'] or 'whole image'} |")
        if len(a.algos) > 1:
            lines += ["", "PSNR after the last iteration against the first algorithm's (" + a.algos[0] + "): " +
                      "; ".join(f"{s['ranks']} rank(s): " +
                                ", ".join(f"{g} {s['pnp'][g]['psnr'] - s['pnp'][a.algos[0]]['psnr']:+.4f} dB"
                                          for g in a.algos[1:]) for s in results)]
    lines += ["", "Commands (the config and data are written by the script into a temporary folder):", "", "```"]
    lines += commands + ["```", "", "Raw output:", "", "```"]
    lines += [entry.rstrip() for entry in log] + ["```", ""]
    os.makedirs(os.path.dirname(a.results), exist_ok=True)
    with open(a.results, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[: lines.index("Commands (the config and data are written by the script into a "
                                       "temporary folder):")]))
    print("wrote", a.results)


if __name__ == "__main__":
    main()
