#!/usr/bin/env python3
"""scaling_split.py - what the ranks of a tiled PnP row send and how their time
splits, before and after issue 18 (bench/SCALING.md): bytes per iteration as
pnp's counters count them (include/pnp/comm.h), and the time per iteration on
1 and 2 ranks split into gradient + denoiser + wait + transfer (pnp inspect
--json, the one interface to result files).

"Before" is the communication of every commit before issue 18: the gradient
all-reduced every iteration and the denoised slabs combined by an all-reduce
of zero-filled images. The current source has neither for circular blurs, so
--before names a pnp binary built from a commit that still all-reduces the
gradient but already counts bytes (the scale branch before it merged issue
18's item 1: 9e4e47b; bench/SCALING.md says how to build it), run with
PNP_SLAB_COMBINE=allreduce (the zero-filled all-reduce, kept for this). The
two intermediate steps (each change alone) come from the same two binaries.

Bytes: the reference problem at its size (2048x1366, 8 operators, tiles
448/32: 20 windows), physics and denoiser distributed (the benchmark's gpu:2
and gpu:4 rows), 2 and 4 ranks, --bytes-iters iterations (the counts are the
same every iteration and do not depend on the network: DRUNet 8,16,32,64:1).
Time: the reference problem scaled to --size (512: 512x341, tiles 112/8, the
same 20 windows), full DRUNet (64,128,256,512, 4 blocks, generated weights),
one thread per rank, --iters iterations; 1 rank, and 2 ranks before, after,
and after with comm_overlap true (one all-gather per window, overlapping the
next). Every configuration runs --runs times, interleaved; the machine's load
(uptime) is logged before each run; the table gives medians over the runs of
pnp inspect's means over the iterations (the first included).

    python3 bench/scaling_split.py --before /tmp/pnp-before/build/pnp [--size 512] [--iters 3] [--runs 3]
        [--bytes-iters 2] [--results FILE]

Writes a markdown file (default bench/results/<date>-scaling-split-cpu.md) and
the same numbers as JSON beside it.
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNP = os.path.join(ROOT, "build", "pnp")
SHARED = os.environ.get("PNP_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
PARTS = ("gradient_time", "denoise_time", "wait_time", "comm_time")
# The benchmark's PnP (DESIGN 1) on its synthetic scene; --set adds the image, the size, the network and the
# distribution. (Until the embedded default became DPIR it was this row, and the first results of this script
# ran it.)
BENCH_YML = """dataset:
  - highres_color_image: {image_size: 2048, num_operators: 8, noise_level: 0.1, seed: 42}
solver:
  - PnP: {denoiser: drunet, denoiser_sigma: 0.005, step_size: 0.1, max_iter: 10, init_method: zeros, backend: cpu}
"""


def sh(cmd, log, env_extra=None, quiet=False):
    """Runs cmd; its output (quiet: the command alone) goes into the log."""
    env = dict(os.environ, **(env_extra or {}))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    prefix = " ".join(f"{k}={v}" for k, v in (env_extra or {}).items())
    log.append("$ " + (prefix + " " if prefix else "") + shlex.join(cmd) + ("" if quiet else "\n" + p.stdout))
    if p.returncode:
        sys.exit(f"scaling_split: failed ({p.returncode}): {shlex.join(cmd)}\n{p.stdout[-3000:]}")
    return p.stdout


def uptime(log, loads):
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    log.append("$ uptime\n" + up)
    loads.append(float(up.rsplit("load average:", 1)[1].split(",")[0]))


def pnp_run(binary, config, ranks, sets, out, log, combine):
    """One `pnp run` of the benchmark's PnP (config) with --set sets; its inspect --json object."""
    cmd = MPIRUN + ["-n", str(ranks), binary, "run", config, "--threads", "1", "--out", out]
    for s in sets:
        cmd += ["--set", s]
    sh(cmd, log, {"OMP_NUM_THREADS": "1", "PNP_SLAB_COMBINE": combine})
    return json.loads(sh([PNP, "inspect", "--json", os.path.join(out, "bench_row0.h5")], log, quiet=True))[0]


def mb(v):
    return f"{v / 1e6:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="pnp built from a commit with the per-iteration gradient "
                    "all-reduce and the byte counters (9e4e47b)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bytes-iters", type=int, default=2)
    ap.add_argument("--results", default=None)
    a = ap.parse_args()
    subprocess.run(["make", "-s", "-C", ROOT, "build/pnp"], check=True)
    log, loads = [], []
    work = tempfile.mkdtemp(prefix="pnp-scaling-split-")
    config = os.path.join(work, "bench.yml")  # the same row for both binaries (the embedded default changed)
    with open(config, "w") as fh:
        fh.write(BENCH_YML)
    image = os.path.join(SHARED, "data", "images", "CBSD68", "101085.png")
    problem = ["image=" + image] if os.path.exists(image) else []
    versions = {name: sh([b, "version"], log).splitlines()[0] for name, b in (("after", PNP), ("before", a.before))}

    # (name, binary, PNP_SLAB_COMBINE): the communication before issue 18, each change alone, after
    steps = [("before: gradient all-reduced, slabs by a zero-filled all-reduce", a.before, "allreduce"),
             ("slabs by the all-gather alone (item 2)", a.before, "allgather"),
             ("gradient without communication alone (item 1)", PNP, "allreduce"),
             ("after: both", PNP, "allgather")]

    # ---- bytes per iteration at the reference size, from the counters
    ref = problem + ["image_size=2048", "denoiser=drunet:8,16,32,64:1", f"max_iter={a.bytes_iters}",
                     "distribute_physics=true", "distribute_denoiser=true", "patch_size=448", "overlap=32"]
    bytes_rows = []
    for ranks in (2, 4):
        for k, (name, binary, combine) in enumerate(steps):
            r = pnp_run(binary, config, ranks, ref, os.path.join(work, f"bytes-{ranks}-{k}"), log, combine)
            bytes_rows.append({"step": name, "ranks": ranks, "received": r["per_rank"]["bytes_received"],
                               "sent": r["per_rank"]["bytes_sent"], "pixels_owned": r["pixels_owned"],
                               "transfer": r["comm_time"], "wait": r["wait_time"],
                               "commit": versions["before" if binary == a.before else "after"]})

    # ---- time per iteration on 1 and 2 ranks
    sets = problem + [f"image_size={a.size}", "denoiser=drunet:64,128,256,512:4", f"max_iter={a.iters}",
                      "distribute_physics=true", "distribute_denoiser=true", f"patch_size={448 * a.size // 2048}",
                      f"overlap={32 * a.size // 2048}"]
    configs = [("1 rank", PNP, 1, [], "allgather"),
               ("2 ranks, before (gradient all-reduced, zero-filled all-reduce)", a.before, 2, [], "allreduce"),
               ("2 ranks, after (no gradient communication, all-gather)", PNP, 2, [], "allgather"),
               ("2 ranks, after, comm_overlap true (an all-gather per window)", PNP, 2, ["comm_overlap=true"],
                "allgather")]
    runs = {c[0]: [] for c in configs}
    for k in range(a.runs):
        for j, (name, binary, ranks, extra, combine) in enumerate(configs):
            uptime(log, loads)
            out = os.path.join(work, f"time-{k}-{j}")
            runs[name].append(pnp_run(binary, config, ranks, sets + extra, out, log, combine))

    # ---- the report
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD"]).returncode != 0
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    n_bytes = 4 * 3 * 2048 * 1366
    lines = ["# Rank scaling on CPU: bytes per iteration and the time split, before and after issue 18", "",
             f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
             f"- machine: {cpu}, {os.cpu_count()} cores visible, shared with other jobs: load average (1 min) "
             f"before the timed runs min {min(loads):.2f}, median {statistics.median(loads):.2f}, max "
             f"{max(loads):.2f} (every `uptime` is in the raw output)",
             f"- git commit: {head}{' (uncommitted changes)' if dirty else ''}; after: `{versions['after']}`; "
             f"before: `{versions['before']}` ({a.before})",
             f"- script: `python3 bench/scaling_split.py --before {a.before} --size {a.size} --iters {a.iters} "
             f"--runs {a.runs} --bytes-iters {a.bytes_iters}`",
             f"- problem: {os.path.basename(image) if problem else 'the synthetic scene'}, 8 operators, noise 0.1, "
             "step 0.1, sigma 0.005, x_0 = 0; generated DRUNet weights; physics and denoiser distributed; one "
             "thread per rank", "",
             "## Bytes per iteration, counted (2048x1366, tiles 448/32: 20 windows)", "",
             "Per rank and iteration as pnp's counters give them (`pnp inspect --json` per_rank: the mean over "
             f"{a.bytes_iters} iterations; every iteration counts the same), N = 4 x 3 x 2048 x 1366 B = "
             f"{n_bytes / 1e6:.2f} MB.", "",
             "Beside them the transfer and wait seconds per iteration (means over iterations and ranks; one run "
             "each, through shared memory on this loaded machine: indicative only).", "",
             "| communication | ranks | received MB per rank | sent MB per rank | most received / N | "
             "vs before | transfer s/iter | wait s/iter |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in bytes_rows:
        before = next(b for b in bytes_rows if b["ranks"] == row["ranks"] and b["step"] == steps[0][0])
        lines.append(f"| {row['step']} | {row['ranks']} | {', '.join(mb(v) for v in row['received'])} | "
                     f"{', '.join(mb(v) for v in row['sent'])} | {max(row['received']) / n_bytes:.3f} | "
                     f"{max(row['received']) / max(before['received']):.3f} | {row['transfer']:.4f} | "
                     f"{row['wait']:.4f} |")
    lines += ["", "Pixels each rank owns (its windows' share of the image): " +
              "; ".join(f"{r['ranks']} ranks " + ", ".join(f"{p:.0f}" for p in r["pixels_owned"])
                        for r in bytes_rows if r["step"] == steps[-1][0]), "",
              f"## Time per iteration ({a.size} px, full DRUNet, medians over {a.runs} runs)", "",
              "Seconds per iteration: wall, and the mean over ranks of gradient + denoiser + wait (in a collective "
              "before the last rank arrived) + transfer, \"other\" what is left; then each rank's split; pnp "
              f"inspect's means over the {a.iters} iterations of each run, medians over the runs.", "",
              "| configuration | wall s | gradient | denoiser | wait | transfer | other | per rank: grad + denoise "
              "+ wait + transfer | received MB/iter (per rank) | speed-up vs 1 rank |", "| --- " * 10 + "|"]
    base = statistics.median(r["iteration_time"] for r in runs["1 rank"])
    summary = []
    for name, _, ranks, _, _ in configs:
        rs = runs[name]
        med = {k: statistics.median(r[k] for r in rs) for k in ("iteration_time", "other_time") + PARTS}
        per_rank = [[statistics.median(r["per_rank"][k][q] for r in rs) for k in PARTS] for q in range(ranks)]
        received = [statistics.median(r["per_rank"]["bytes_received"][q] for r in rs) for q in range(ranks)]
        summary.append({"configuration": name, "ranks": ranks, **med, "per_rank": per_rank, "received": received,
                        "runs": [r["iteration_time"] for r in rs]})
        lines.append(f"| {name} | {med['iteration_time']:.3f} | {med['gradient_time']:.3f} | "
                     f"{med['denoise_time']:.3f} | {med['wait_time']:.3f} | {med['comm_time']:.3f} | "
                     f"{med['other_time']:.4f} | "
                     f"{' / '.join(' + '.join(f'{v:.3f}' for v in q) for q in per_rank)} | "
                     f"{', '.join(mb(v) for v in received)} | {base / med['iteration_time']:.2f} |")
    lines += ["", "Every run (wall s per iteration):", ""]
    for s in summary:
        lines.append(f"- {s['configuration']}: " + ", ".join(f"{t:.3f}" for t in s["runs"]))
    path = a.results or os.path.join(ROOT, "bench", "results",
                                     f"{datetime.date.today():%Y-%m-%d}-scaling-split-cpu.md")
    with open(os.path.splitext(path)[0] + ".json", "w") as fh:
        json.dump({"commit": head, "dirty": dirty, "versions": versions, "loads": loads, "bytes": bytes_rows,
                   "time": summary, "args": vars(a)}, fh, indent=1)
    lines += ["", "Raw output:", "", "```"] + log + ["```"]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {path}")
    print("\n".join(lines[:lines.index("Raw output:")]))


if __name__ == "__main__":
    main()
