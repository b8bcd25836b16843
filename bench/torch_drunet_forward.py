#!/usr/bin/env python3
"""torch_drunet_forward.py - the PyTorch side of bench/drunet_forward.sh: time
and memory of one deepinv DRUNet forward pass on CPU, printed as the same
key=value line as build/bench/drunet_forward.

deepinv.models.DRUNet(in_channels=3, out_channels=3, pretrained=None): full
widths (64,128,256,512), 4 blocks, PyTorch's default random initialisation
(timing does not depend on the values). Input [N,3,S,S] uniform in [0,1),
sigma 0.05, under torch.no_grad(); one warm-up pass, then R timed passes.

Memory: torch's CPU allocator is not visible to tracemalloc, so the script
reads the process's resident memory as the C side does: VmRSS once the model
and the input exist (rss_base_bytes), the peak VmHWM over the passes
(rss_peak_bytes; the high-water mark is reset to the current RSS just before
the warm-up through /proc/self/clear_refs) and the lifetime max RSS
(resource.getrusage ru_maxrss, rss_max_bytes: read before the reset, which
clears it too, and at the end). The forward pass's memory is
rss_peak_bytes - rss_base_bytes. One configuration per fresh process.

    python3 bench/torch_drunet_forward.py [--size S] [--batch N] [--repeats R] [--threads T]
                                          [--spec drunet:W0,W1,W2,W3:NB]  (pnp's width spec)
"""
import argparse
import resource
import statistics
import time

import deepinv
import torch


def max_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def proc_status_bytes(key):
    """A "Vm...:  N kB" line of /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as f:  # Linux >= 4.0: VmHWM = VmRSS
        f.write("5")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--spec", default="drunet:64,128,256,512:4", help="widths and blocks, as pnp writes them")
    a = ap.parse_args()
    widths, nb = a.spec.split(":")[1:3]
    nc = tuple(int(w) for w in widths.split(","))
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = deepinv.models.DRUNet(in_channels=3, out_channels=3, nc=nc, nb=int(nb), pretrained=None, device="cpu").eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    x = torch.rand(a.batch, 3, a.size, a.size)
    rss_max_build = max_rss_bytes()
    reset_peak_rss()
    rss_base = proc_status_bytes("VmRSS")
    times = []
    with torch.no_grad():
        net(x, 0.05)  # warm-up
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            net(x, 0.05)
            times.append(time.perf_counter() - t0)
    rss_peak = proc_status_bytes("VmHWM")
    print(f"size={a.size} batch={a.batch} threads={torch.get_num_threads()} repeats={a.repeats} "
          f"median_s={statistics.median(times):.4f} min_s={min(times):.4f} weight_bytes={weight_bytes} "
          f"rss_base_bytes={rss_base} rss_peak_bytes={rss_peak} rss_max_bytes={max(rss_max_build, max_rss_bytes(), rss_peak)} "
          f'net="deepinv {deepinv.__version__} DRUNet {a.spec}, torch {torch.__version__}"')


if __name__ == "__main__":
    main()
