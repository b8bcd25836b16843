#!/usr/bin/env python3
"""scaling_model.py - the rank-scaling model of bench/SCALING.md: the bytes a
rank receives per iteration and the expected iteration time and speed-up on P
ranks (1..64 GPUs) for one PnP problem, from a per-window and a gradient time
(measured, or projected: say which with --window-label).

Model, per iteration on P ranks (distribute_physics and distribute_denoiser):
  windows      T = rows x cols of the tiling (src/recon/tiling.c's rule), rank
               r denoising the slab [r T/P, (r+1) T/P): ceil(T/P) windows on
               the busiest rank
  denoiser     ceil(T / P) * t_window
  gradient     t_grad (one rfft + one irfft of the image on every rank
               whatever P and the operator count)
  bytes        received by a rank (include/pnp/comm.h counts the same):
               gradient, --gradient allreduce (before issue 18: partial
               gradients summed every iteration):  2 (P-1)/P * N;
               --gradient none (the default: S and B summed once at setup,
               circular blurs): 0
               slabs, --combine allreduce (zero-filled images, before issue 18):
                                        2 (P-1)/P * N
               slabs, --combine allgather: N - (the pixels this rank owns),
                                        the most over ranks (about (P-1)/P N)
               with N = 4 * 3HW bytes
  comm time    bytes / bandwidth + latency per ring step (2 (P-1) for an
               all-reduce, P - 1 for an all-gather); the bandwidth inside a node
               up to --node-size ranks, between nodes beyond. --overlap: the
               all-gather of a batch of one window travels while the next
               window computes (NCCL on its own stream; MPI does not progress
               alone), so only the last window's share of it (1 / ceil(T/P))
               and the latency stay on the critical path
  iteration    t_grad + ceil(T / P) * t_window + comm time
The 1-rank baseline (no tiling) is t_grad + t_whole when --whole is given.
Only the denoiser splits: past P = T extra ranks idle.

    python3 bench/scaling_model.py --window 0.725 --grad 0.013 [--whole 4.1]
        [--height 512 --width 341 --patch 112 --overlap 8] [--bandwidth 25e9] [--latency 20e-6]
        [--node-size 8 --node-bandwidth 300e9] [--combine allgather|allreduce] [--gradient none|allreduce]
        [--comm-overlap] [--window-label measured|projected]
Prints a markdown table.
"""
import argparse
import math


def axis(n, patch, overlap):
    """Window starts and owned spans along one axis (src/recon/tiling.c's rule)."""
    padded = n + 2 * overlap
    win = min(patch + 2 * overlap, padded)
    count = 1 if win >= padded else -(-n // patch)
    spans, owned = [], 0
    for k in range(count):
        start = min(k * patch, padded - win)
        end = min(start + win - 2 * overlap, n)
        spans.append(end - owned)
        owned = end
    return spans


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--window", type=float, required=True, help="seconds per window")
    ap.add_argument("--window-label", choices=("measured", "projected"), default="measured",
                    help="where --window comes from")
    ap.add_argument("--grad", type=float, required=True, help="seconds per gradient step")
    ap.add_argument("--whole", type=float, default=None, help="seconds per whole-image denoise (baseline)")
    ap.add_argument("--height", type=int, default=2048)
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--patch", type=int, default=448)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--bandwidth", type=float, default=25e9, help="bytes/s per rank between nodes")
    ap.add_argument("--node-bandwidth", type=float, default=None, help="bytes/s per rank inside a node (default: --bandwidth)")
    ap.add_argument("--node-size", type=int, default=1, help="ranks per node (P <= node size: --node-bandwidth)")
    ap.add_argument("--latency", type=float, default=20e-6, help="seconds per ring step")
    ap.add_argument("--combine", choices=("allgather", "allreduce"), default="allgather",
                    help="how the denoised slabs are combined")
    ap.add_argument("--gradient", choices=("none", "allreduce"), default="none",
                    help="the gradient's communication per iteration (none: S and B summed once at setup; "
                         "allreduce: before issue 18)")
    ap.add_argument("--comm-overlap", action="store_true", help="the all-gather overlaps the next window")
    ap.add_argument("--ranks", default="1 2 4 8 16 32 64")
    a = ap.parse_args()

    rows, cols = axis(a.height, a.patch, a.overlap), axis(a.width, a.patch, a.overlap)
    sizes = [r * c for r in rows for c in cols]
    T = len(sizes)
    N = 4 * 3 * a.height * a.width
    print(f"image {a.height}x{a.width}: N = {N / 1e6:.1f} MB; tiling {a.patch}/{a.overlap}: {T} windows of "
          f"{a.patch + 2 * a.overlap} px; t_window {a.window:g} s ({a.window_label}); slabs by {a.combine}"
          + (" overlapping the next window" if a.comm_overlap and a.combine == "allgather" else "")
          + f"; gradient {'all-reduced every iteration' if a.gradient == 'allreduce' else 'without communication'}"
          + f"; bandwidth {a.bandwidth / 1e9:g} GB/s"
          + (f" ({a.node_bandwidth / 1e9:g} GB/s up to {a.node_size} ranks, one node)" if a.node_bandwidth else "")
          + f", latency {a.latency * 1e6:g} us per step")
    print()
    print("| P | windows/rank | denoiser s | MB received/rank | comm s | iteration s | speed-up vs P=1 tiled |"
          + (" vs untiled baseline |" if a.whole else ""))
    print("| --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if a.whole else ""))
    t1 = None
    for P in (int(p) for p in a.ranks.split()):
        per = math.ceil(T / P)
        den = per * a.window
        bw = a.node_bandwidth if a.node_bandwidth and P <= a.node_size else a.bandwidth
        grad_bytes = 2 * (P - 1) / P * N if a.gradient == "allreduce" else 0.0
        if a.combine == "allreduce":
            slab_bytes, slab_steps = 2 * (P - 1) / P * N, 2 * (P - 1)
        else:
            owned = [3 * 4 * sum(sizes[T * r // P:T * (r + 1) // P]) for r in range(P)]
            slab_bytes, slab_steps = N - min(owned), P - 1
        slab_time = slab_bytes / bw
        if a.comm_overlap and a.combine == "allgather" and per > 1:
            slab_time /= per  # only the last window's pixels are left when the denoiser is done
        comm = 0.0 if P == 1 else grad_bytes / bw + 2 * (P - 1) * a.latency * (a.gradient == "allreduce") \
            + slab_time + slab_steps * a.latency
        it = a.grad + den + comm
        t1 = t1 or it
        row = f"| {P} | {per} | {den:.4g} | {(grad_bytes + slab_bytes) / 1e6 if P > 1 else 0:.1f} | {comm:.3g} | " \
              f"{it:.4g} | {t1 / it:.2f} |"
        if a.whole:
            row += f" {(a.grad + a.whole) / it:.2f} |"
        print(row)


if __name__ == "__main__":
    main()
