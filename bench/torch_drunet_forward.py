#!/usr/bin/env python3
"""torch_drunet_forward.py - the PyTorch side of bench/drunet_forward.sh,
bench/drunet_memory_curve.sh and bench/batch_sweep.sh: time and memory of
deepinv DRUNet forward passes, one line per input shape, many shapes in one
process, printed as the same key=value lines as build/bench/denoiser_forward.

deepinv.models.DRUNet(in_channels=3, out_channels=3, pretrained=None): full
widths (64,128,256,512) and 4 blocks unless --spec says otherwise, PyTorch's
default random initialisation (timing does not depend on the values). Input
[N,3,H,W] uniform in [0,1) (seed 0), sigma 0.05, under torch.no_grad(). Per
shape: --warmup each (default) runs one untimed pass first, first only at the
first shape, none never; then R timed passes (median and min printed).

Per shape also cpu_s, the process's CPU time (user + system, all threads)
per timed pass, and util = cpu_s / (mean wall time x threads): about 1 when
the threads had their cores to themselves, well below 1 when other processes
took turns on them (the machine is shared), as build/bench/denoiser_forward.

Memory. Host: torch's CPU allocator is not visible to tracemalloc, so the
script reads resident memory as the C side does. Per shape, after
malloc_trim(0) (glibc hands back freed heap memory, so the shape starts as
fresh as the allocator allows) and the input's allocation: VmRSS
(rss_base_bytes), then the kernel's high-water mark is reset (writing "5" to
/proc/self/clear_refs) and after the passes VmHWM is read (rss_peak_bytes);
fwd_bytes = rss_peak_bytes - rss_base_bytes is the forward pass's share;
rss_max_bytes is the process's max so far (resource.getrusage ru_maxrss and
the VmHWM readings; the reset clears ru_maxrss too). On --device cuda also the
caching allocator's counters, reset per shape (torch.cuda.reset_peak_memory_stats):
dev_base_bytes (memory_allocated before the passes), dev_peak_bytes
(max_memory_allocated), dev_reserved_bytes (max_memory_reserved: what the
caching allocator took from the driver, cuDNN workspaces included) and
fwd_dev_bytes = dev_peak_bytes - dev_base_bytes; the cache is emptied
(torch.cuda.empty_cache) before each shape. Each line is flushed as it is made
(a sweep cut short keeps its lines).

    python3 bench/torch_drunet_forward.py [--shapes "NxHxW ..."] [--repeats R]
        [--warmup each|first|none] [--threads T] [--device cpu|cuda]
        [--spec drunet:W0,W1,W2,W3:NB] [--no-mkldnn] [--cudnn-benchmark]

--no-mkldnn sets torch.backends.mkldnn.enabled = False and --cudnn-benchmark
torch.backends.cudnn.benchmark = True (controlled experiments; off by default).
"""
import argparse
import ctypes
import resource
import statistics
import sys
import time

import deepinv
import torch


def cpu_seconds():
    """CPU time of the whole process (all threads), user + system."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


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


def parse_shapes(text):
    shapes = []
    for tok in text.replace(",", " ").split():
        parts = tok.split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            sys.exit(f"torch_drunet_forward.py: --shapes: expected NxHxW, got '{tok}'")
        shapes.append(tuple(int(p) for p in parts))
    if not shapes:
        sys.exit("torch_drunet_forward.py: --shapes: no shape given")
    return shapes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="1x256x256", help="NxHxW list, separated by spaces or commas")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", choices=("each", "first", "none"), default="each")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--spec", default="drunet:64,128,256,512:4", help="widths and blocks, as pnp writes them")
    ap.add_argument("--no-mkldnn", action="store_true", help="torch.backends.mkldnn.enabled = False")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    a = ap.parse_args()
    shapes = parse_shapes(a.shapes)
    widths, nb = a.spec.split(":")[1:3]
    nc = tuple(int(w) for w in widths.split(","))
    torch.set_num_threads(a.threads)
    if a.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    cuda = a.device == "cuda"
    libc = ctypes.CDLL("libc.so.6")
    torch.manual_seed(0)
    net = deepinv.models.DRUNet(in_channels=3, out_channels=3, nc=nc, nb=int(nb), pretrained=None,
                                device=a.device).eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    desc = f"deepinv {deepinv.__version__} DRUNet {a.spec}, torch {torch.__version__}"
    desc += f", {torch.cuda.get_device_name()}" if cuda else ""
    desc += ", mkldnn off" if a.no_mkldnn else ""
    desc += ", cudnn.benchmark" if a.cudnn_benchmark else ""
    rss_max = 0

    def sync():
        if cuda:
            torch.cuda.synchronize()

    for k, (n, h, w) in enumerate(shapes):
        warmup = 1 if a.warmup == "each" or (a.warmup == "first" and k == 0) else 0
        if cuda:
            torch.cuda.empty_cache()
        libc.malloc_trim(0)
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(n, 3, h, w, generator=gen).to(a.device)
        rss_max = max(rss_max, max_rss_bytes())
        reset_peak_rss()
        rss_base = proc_status_bytes("VmRSS")
        if cuda:
            sync()
            torch.cuda.reset_peak_memory_stats()
            dev_base = torch.cuda.memory_allocated()
        times = []
        with torch.no_grad():
            for _ in range(warmup):
                y = net(x, 0.05)
                del y
            sync()
            cpu0 = cpu_seconds()
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                y = net(x, 0.05)
                sync()
                times.append(time.perf_counter() - t0)
            cpu = (cpu_seconds() - cpu0) / a.repeats
        rss_peak = max(proc_status_bytes("VmHWM"), proc_status_bytes("VmRSS"))
        rss_max = max(rss_max, max_rss_bytes(), rss_peak)
        line = (f"n={n} h={h} w={w} threads={torch.get_num_threads()} repeats={a.repeats} warmup={warmup} "
                f"median_s={statistics.median(times):.4f} min_s={min(times):.4f} cpu_s={cpu:.4f} "
                f"util={cpu * a.repeats / (sum(times) * torch.get_num_threads()):.3f} weight_bytes={weight_bytes} "
                f"rss_base_bytes={rss_base} rss_peak_bytes={rss_peak} fwd_bytes={rss_peak - rss_base} "
                f"rss_max_bytes={rss_max}")
        if cuda:
            dev_peak = torch.cuda.max_memory_allocated()
            line += (f" dev_base_bytes={dev_base} dev_peak_bytes={dev_peak} "
                     f"dev_reserved_bytes={torch.cuda.max_memory_reserved()} fwd_dev_bytes={dev_peak - dev_base}")
        line += f" checksum={y.double().sum().item():.6g} backend={a.device} net=\"{desc}\""
        print(line, flush=True)
        del x, y


if __name__ == "__main__":
    main()
