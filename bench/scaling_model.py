#!/usr/bin/env python3
"""scaling_model.py - the rank-scaling model of bench/SCALING.md: communication
bytes per iteration and the expected iteration time and speed-up on P ranks
(1..64 GPUs) for one PnP problem, from measured per-window and gradient times.

Model, per iteration on P ranks (distribute_physics and distribute_denoiser):
  windows      T = rows x cols of the tiling (include/pnp/tiling.h rule)
  denoiser     ceil(T / P) * t_window            (slabs of whole windows)
  gradient     t_grad                            (one rfft + one irfft of the
               image on every rank whatever P and the operator count)
  comm         2 all-reduces of the image (gradient, zero-filled slabs), ring:
               bytes sent per rank = 2 * 2 (P-1)/P * 4 * 3HW,
               time = bytes / bandwidth + 2 * 2 (P-1) * latency, the bandwidth
               inside a node up to --node-size ranks, between nodes beyond
  iteration    t_grad + ceil(T / P) * t_window + comm
The 1-rank baseline (no tiling) is t_grad + t_whole when --whole is given.
Only the denoiser splits: past P = T extra ranks idle.

    python3 bench/scaling_model.py --window 0.725 --grad 0.013 [--whole 4.1]
        [--height 512 --width 341 --patch 112 --overlap 8] [--bandwidth 25e9] [--latency 20e-6]
        [--node-size 8 --node-bandwidth 300e9]
Prints a markdown table.
"""
import argparse
import math


def starts(n, patch, overlap):
    """Window starts along one axis of the padded image (src/recon/tiling.c's rule)."""
    padded, win = n + 2 * overlap, patch + 2 * overlap
    if win >= padded:
        return [0]
    s = list(range(0, padded - win, patch))
    if s[-1] + win < padded:
        s.append(padded - win)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--window", type=float, required=True, help="seconds per window (measured)")
    ap.add_argument("--grad", type=float, required=True, help="seconds per gradient step (measured)")
    ap.add_argument("--whole", type=float, default=None, help="seconds per whole-image denoise (baseline)")
    ap.add_argument("--height", type=int, default=2048)
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--patch", type=int, default=448)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--bandwidth", type=float, default=25e9, help="bytes/s per rank between nodes")
    ap.add_argument("--node-bandwidth", type=float, default=None, help="bytes/s per rank inside a node (default: --bandwidth)")
    ap.add_argument("--node-size", type=int, default=1, help="ranks per node (P <= node size: --node-bandwidth)")
    ap.add_argument("--latency", type=float, default=20e-6, help="seconds per ring step")
    ap.add_argument("--ranks", default="1 2 4 8 16 32 64")
    a = ap.parse_args()

    T = len(starts(a.height, a.patch, a.overlap)) * len(starts(a.width, a.patch, a.overlap))
    image_bytes = 4 * 3 * a.height * a.width
    print(f"image {a.height}x{a.width}: {image_bytes / 1e6:.1f} MB per all-reduce payload; "
          f"tiling {a.patch}/{a.overlap}: {T} windows of {a.patch + 2 * a.overlap} px; "
          f"bandwidth {a.bandwidth / 1e9:g} GB/s"
          + (f" ({a.node_bandwidth / 1e9:g} GB/s up to {a.node_size} ranks, one node)" if a.node_bandwidth else "")
          + f", latency {a.latency * 1e6:g} us per step")
    print()
    print("| P | windows/rank | denoiser s | comm MB sent/rank | comm s | iteration s | speed-up vs P=1 tiled |"
          + (" vs untiled baseline |" if a.whole else ""))
    print("| --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if a.whole else ""))
    t1 = None
    for P in (int(p) for p in a.ranks.split()):
        per = math.ceil(T / P)
        den = per * a.window
        sent = 0.0 if P == 1 else 2 * 2 * (P - 1) / P * image_bytes
        bw = a.node_bandwidth if a.node_bandwidth and P <= a.node_size else a.bandwidth
        comm = 0.0 if P == 1 else sent / bw + 2 * 2 * (P - 1) * a.latency
        it = a.grad + den + comm
        t1 = t1 or it
        row = f"| {P} | {per} | {den:.4g} | {sent / 1e6:.1f} | {comm:.3g} | {it:.4g} | {t1 / it:.2f} |"
        if a.whole:
            row += f" {(a.grad + a.whole) / it:.2f} |"
        print(row)


if __name__ == "__main__":
    main()
