#!/usr/bin/python3
"""plot_memory_curve.py - the plot and the numbers of bench/drunet_memory_curve.sh.

Reads the sweep's TSV (one row per point and side: side, w, h, n, median_s,
fwd_bytes, ... as the script writes it; "-" where a side has no such value),
draws a PNG with two panels against image width, (1) the forward pass's peak
memory in MB (10^6 bytes) and (2) the time of one pass, for pnp and PyTorch,
and prints a markdown summary to stdout:
  - pnp's memory fitted to a straight line in the width (least squares) and
    the largest relative deviation of any point from the line (for the RSS
    measure and for pnp's own planned bytes),
  - PyTorch's largest steps between consecutive widths (the largest one is
    annotated on the plot),
  - the time comparison over the widths where neither side was slowed by
    other processes (util >= 0.9: the process's CPU time over wall time x
    threads; the machine is shared), and a table of both sides at a few
    widths.
Memory plotted: pnp's forward RSS share (fwd_bytes) and its planned bytes
(backend peak: activations + input + output); PyTorch's forward RSS share
and, when the TSV has them (--device cuda), the caching allocator's
forward share and reserved peak.
Runs on Debian's python3 (numpy, matplotlib, Agg backend):

    /usr/bin/python3 bench/plot_memory_curve.py SWEEP.tsv OUT.png [--title TEXT]
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MB = 1e6


def load(path):
    """{side: {column: np.array}} sorted by width; '-' becomes nan."""
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows.setdefault(r.pop("side"), []).append(r)
    data = {}
    for side, rs in rows.items():
        rs.sort(key=lambda r: int(r["w"]))
        data[side] = {k: np.array([np.nan if r[k] in ("-", "") else float(r[k]) for r in rs]) for k in rs[0]}
    return data


def has(d, key):
    return key in d and np.isfinite(d[key]).any()


def line_fit(w, y):
    """Least-squares line y ~ a + b w; returns a, b and the max |y - fit| / fit."""
    b, a = np.polyfit(w, y, 1)
    fit = a + b * w
    return a, b, float(np.max(np.abs(y - fit) / fit))


UTIL_OK = 0.9  # below: other processes took turns on the cores during the pass


def contended(d):
    """Boolean mask of the points whose pass ran with util < UTIL_OK (False where util is missing)."""
    return d["util"] < UTIL_OK if has(d, "util") else np.zeros(len(d["w"]), bool)


def mark_contended(ax, d, name):
    c = contended(d)
    if c.any():
        ax.plot(d["w"][c], d["median_s"][c], "x", color="k", ms=5, mew=0.8,
                label=f"{name}: contended pass (util < {UTIL_OK})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tsv")
    ap.add_argument("png")
    ap.add_argument("--title", default="DRUNet forward")
    a = ap.parse_args()
    data = load(a.tsv)
    ours, theirs = data.get("pnp"), data.get("PyTorch")
    out = []

    fig, (ax_m, ax_t) = plt.subplots(2, 1, figsize=(10, 8.5), sharex=True)
    if ours is not None:
        ax_m.plot(ours["w"], ours["fwd_bytes"] / MB, ".-", color="C0", ms=3, label="pnp: forward RSS (VmHWM - VmRSS before)")
        if has(ours, "peak_bytes"):
            ax_m.plot(ours["w"], ours["peak_bytes"] / MB, "--", color="C0", alpha=0.6,
                      label="pnp: planned (backend peak: activations + in/out)")
        ax_t.plot(ours["w"], ours["median_s"], ".-", color="C0", ms=3, label="pnp")
        mark_contended(ax_t, ours, "pnp")
    if theirs is not None:
        ax_m.plot(theirs["w"], theirs["fwd_bytes"] / MB, ".-", color="C3", ms=3, label="PyTorch: forward RSS (VmHWM - VmRSS before)")
        if has(theirs, "fwd_dev_bytes"):
            ax_m.plot(theirs["w"], theirs["fwd_dev_bytes"] / MB, ".-", color="C1", ms=3,
                      label="PyTorch: device, max_memory_allocated - before")
            ax_m.plot(theirs["w"], theirs["dev_reserved_bytes"] / MB, "--", color="C1", alpha=0.6,
                      label="PyTorch: device, max_memory_reserved")
        ax_t.plot(theirs["w"], theirs["median_s"], ".-", color="C3", ms=3, label="PyTorch")
        mark_contended(ax_t, theirs, "PyTorch")

    out.append("## Linearity of pnp's memory in the width\n")
    if ours is not None and len(ours["w"]) >= 3:
        out.append("Least-squares line through all points, MB = a + b * width; max deviation = "
                   "max over the points of |measured - line| / line.\n")
        out.append("| measure | a MB | b MB per column | max deviation |")
        out.append("| --- | --- | --- | --- |")
        for key, name in (("fwd_bytes", "forward RSS share"), ("peak_bytes", "backend peak (planned)"),
                          ("act_bytes", "planned activations")):
            if has(ours, key):
                fa, fb, dev = line_fit(ours["w"], ours[key] / MB)
                out.append(f"| {name} | {fa:.2f} | {fb:.4f} | {100 * dev:.2f} % |")
    else:
        out.append("(no pnp points)")

    out.append("\n## PyTorch's largest steps between consecutive widths\n")
    if theirs is not None and len(theirs["w"]) >= 2:
        keys = [("fwd_bytes", "forward RSS share")]
        if has(theirs, "fwd_dev_bytes"):
            keys += [("fwd_dev_bytes", "device allocated share"), ("dev_reserved_bytes", "device reserved")]
        for key, name in keys:
            y = theirs[key] / MB
            step = np.diff(y)
            order = np.argsort(-np.abs(step))[:5]
            med = float(np.median(np.abs(step)))
            out.append(f"{name}: median |step| {med:.1f} MB; the five largest:\n")
            out.append("| from width | to width | MB before | MB after | step MB |")
            out.append("| --- | --- | --- | --- | --- |")
            for i in order:
                out.append(f"| {theirs['w'][i]:.0f} | {theirs['w'][i + 1]:.0f} | {y[i]:.1f} | {y[i + 1]:.1f} | {step[i]:+.1f} |")
            out.append("")
            i = int(order[0])
            ax_m.annotate(f"largest PyTorch step ({name}):\n{theirs['w'][i]:.0f} -> {theirs['w'][i + 1]:.0f}: "
                          f"{step[i]:+.0f} MB", xy=(theirs["w"][i + 1], y[i + 1]),
                          xytext=(0.03, 0.93 if key == "fwd_bytes" else 0.78), textcoords="axes fraction",
                          va="top", fontsize=8, arrowprops=dict(arrowstyle="->", color="k", lw=0.8))
            ax_m.axvspan(theirs["w"][i], theirs["w"][i + 1], color="C3" if key == "fwd_bytes" else "C1", alpha=0.15)
    else:
        out.append("(no PyTorch points)")

    out.append("\n## Time\n")
    if ours is None or theirs is None or len(ours["w"]) != len(theirs["w"]) or (ours["w"] != theirs["w"]).any():
        out.append("(the two sides do not cover the same widths)")
    elif not (has(ours, "util") and has(theirs, "util")):
        ratio = theirs["median_s"] / ours["median_s"]
        out.append(f"No util column: contention unknown. PyTorch / pnp time over all widths: median "
                   f"{np.median(ratio):.2f} (min {ratio.min():.2f}, max {ratio.max():.2f}).")
    else:
        clean = ~contended(ours) & ~contended(theirs)
        ratio = theirs["median_s"] / ours["median_s"]
        out.append(f"util = CPU time / (wall time x threads) per pass; passes with util < {UTIL_OK} shared their "
                   f"cores with other processes (pnp: {int(contended(ours).sum())} of {len(ours['w'])}, "
                   f"PyTorch: {int(contended(theirs).sum())} of {len(theirs['w'])}).\n")
        if clean.any():
            out.append(f"Over the {int(clean.sum())} widths where neither side was contended: PyTorch / pnp time "
                       f"median {np.median(ratio[clean]):.2f} (min {ratio[clean].min():.2f}, max {ratio[clean].max():.2f}); "
                       f"pnp {np.median(ours['median_s'][clean] / ours['w'][clean]) * 1000:.2f} ms and PyTorch "
                       f"{np.median(theirs['median_s'][clean] / theirs['w'][clean]) * 1000:.2f} ms per column (median).")
        else:
            out.append("No width where neither side was contended: the times compare nothing.")

    out.append("\n## Both sides at a few widths\n")
    out.append("| width | pnp forward RSS MB | pnp planned MB | PyTorch forward RSS MB | PyTorch / pnp memory "
               "| pnp s (util) | PyTorch s (util) | PyTorch / pnp time |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    sides = [d for d in (ours, theirs) if d is not None]
    if sides:
        ws = sides[0]["w"]
        picks = sorted({float(ws[np.argmin(np.abs(ws - q))]) for q in np.linspace(ws.min(), ws.max(), 5)})

        def at(d, key, w):
            if d is None or key not in d:
                return np.nan
            k = np.nonzero(d["w"] == w)[0]
            return d[key][k[0]] if len(k) else np.nan

        def fmt(v, f="{:.1f}"):
            return "-" if not np.isfinite(v) else f.format(v)

        for w in picks:
            om, pm, tm = at(ours, "fwd_bytes", w) / MB, at(ours, "peak_bytes", w) / MB, at(theirs, "fwd_bytes", w) / MB
            os_, ts = at(ours, "median_s", w), at(theirs, "median_s", w)
            ou, tu = at(ours, "util", w), at(theirs, "util", w)
            out.append(f"| {w:.0f} | {fmt(om)} | {fmt(pm)} | {fmt(tm)} | {fmt(tm / om, '{:.2f}')} "
                       f"| {fmt(os_, '{:.3f}')} ({fmt(ou, '{:.2f}')}) | {fmt(ts, '{:.3f}')} ({fmt(tu, '{:.2f}')}) "
                       f"| {fmt(ts / os_, '{:.2f}')} |")

    ax_m.set_ylabel("forward pass peak memory, MB")
    ax_m.grid(alpha=0.3)
    if ax_m.get_legend_handles_labels()[0]:
        ax_m.legend(fontsize=8, loc="lower right")
    ax_m.set_title(a.title, fontsize=10)
    ax_t.set_ylabel("time of one pass, s")
    ax_t.set_xlabel("image width (columns)")
    ax_t.grid(alpha=0.3)
    if ax_t.get_legend_handles_labels()[0]:
        ax_t.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print("\n".join(out))


if __name__ == "__main__":
    main()
