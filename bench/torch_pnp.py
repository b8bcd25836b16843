#!/usr/bin/env python3
"""torch_pnp.py - the deepinv side of bench/pnp_vs_deepinv.py: the benchmark's
PnP loop (benchmark_invprob_inference, solvers/pnp.py) on the problem pnp
wrote, timed per phase, on one process or under torchrun.

Problem: read from `pnp dataset`'s HDF5 file (ground truth [3,H,W], kernels
[n,k,k], measurements [n,3,H,W]), so both sides solve the same numbers.
Physics: stack of deepinv Blur(filter, padding="circular", use_fft=True), as
the benchmark's dataset builds it (--spatial: use_fft=False). Denoiser:
deepinv DRUNet with the widths of --spec, loaded with pnp's generated weights
(pnp weights generate), so the two reconstructions can be compared too.
Loop, from x = 0:
    gradient phase:  x <- x - step * L2().grad(x, y, physics)
    denoiser phase:  x <- clamp(PnP(DRUNet).prox(x, sigma), 0, 1); PSNR
With WORLD_SIZE > 1 (torchrun): DistributedContext(device_mode=cpu|gpu) and
deepinv.distributed.distribute() of the physics / data fidelity
(--distribute-physics) and of the denoiser (--distribute-denoiser: patch,
overlap, max batch; 0 = all windows at once), as the benchmark does. Phase
times therefore include deepinv's own communication.

Prints one line per iteration on rank 0 and, per rank, one final line
`RESULT {json}`: per-iteration gradient / denoiser / iteration seconds, PSNR,
and peak memory (CPU: VmHWM of the process, reset through /proc/self/clear_refs
once the problem is set up, and RSS at that point; CUDA:
torch.cuda.max_memory_allocated).

    python3 bench/torch_pnp.py --data D.h5 --weights W.h5 [--iters N] [--threads T] ...
    torchrun --nproc-per-node 2 bench/torch_pnp.py ... --distribute-physics --distribute-denoiser
"""
import argparse
import json
import os
import time

import deepinv as dinv
import h5py
import numpy as np
import torch
from torch_drunet_forward import proc_status_bytes, reset_peak_rss  # bench/, beside this script


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="pnp dataset output (HDF5)")
    ap.add_argument("--weights", required=True, help="pnp weights generate output (HDF5)")
    ap.add_argument("--spec", default="drunet:64,128,256,512:4")
    ap.add_argument("--iters", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2, help="torch threads per process")
    ap.add_argument("--step", type=float, default=0.1)
    ap.add_argument("--sigma", type=float, default=0.005)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--spatial", action="store_true", help="Blur(use_fft=False): spatial convolution")
    ap.add_argument("--distribute-physics", action="store_true")
    ap.add_argument("--distribute-denoiser", action="store_true")
    ap.add_argument("--patch", type=int, default=0)
    ap.add_argument("--overlap", type=int, default=0)
    ap.add_argument("--max-batch", type=int, default=0, help="0: all of a rank's windows at once")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))

    ctx = None
    if world > 1:
        from deepinv.distributed import DistributedContext
        ctx = DistributedContext(device_mode="gpu" if a.device == "cuda" else "cpu", seed=0).__enter__()
        device, rank = ctx.device, ctx.rank
    else:
        device, rank = torch.device(a.device), 0

    with h5py.File(a.data, "r") as f:
        truth = torch.from_numpy(f["ground_truth"][...])[None].to(device)
        kernels = torch.from_numpy(f["kernels"][...])
        ys = torch.from_numpy(f["measurements"][...])
    with h5py.File(a.weights, "r") as f:
        weights = {k: torch.from_numpy(f[k][...]) for k in f.keys()}
    widths, nb = a.spec.split(":")[1:3]
    model = dinv.models.DRUNet(in_channels=3, out_channels=3, nc=[int(w) for w in widths.split(",")], nb=int(nb),
                               pretrained=None)
    model.load_state_dict(weights, strict=True)
    model = model.to(device).eval()

    physics_list = [dinv.physics.Blur(filter=k[None, None], padding="circular", use_fft=not a.spatial,
                                      device=device) for k in kernels]
    y = dinv.utils.TensorList([yi[None].to(device) for yi in ys])
    fidelity = dinv.optim.data_fidelity.L2()
    denoiser = model
    if ctx is not None and a.distribute_physics:
        from deepinv.distributed import distribute
        physics = distribute(physics_list, ctx, type_object="linear_physics")
        fidelity = distribute(fidelity, ctx)
    else:
        physics = dinv.physics.stack(*physics_list)
    if ctx is not None and a.distribute_denoiser:
        from deepinv.distributed import distribute
        denoiser = distribute(model, ctx, patch_size=a.patch, overlap=a.overlap,
                              max_batch_size=a.max_batch if a.max_batch > 0 else None)
    prior = dinv.optim.prior.PnP(denoiser=denoiser)
    del ys, kernels, weights

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if ctx is not None:
            torch.distributed.barrier()

    x = torch.zeros_like(truth)
    rss_base = proc_status_bytes("VmRSS")
    reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rec = {"grad_s": [], "denoise_s": [], "iter_s": [], "psnr": []}
    with torch.no_grad():
        for k in range(a.iters):
            sync()
            t0 = time.perf_counter()
            x = x - a.step * fidelity.grad(x, y, physics)
            sync()
            t1 = time.perf_counter()
            x = torch.clamp(prior.prox(x, sigma_denoiser=a.sigma), 0, 1)
            psnr = 10 * np.log10(1.0 / torch.mean((x.double() - truth.double()) ** 2).item())
            sync()
            t2 = time.perf_counter()
            rec["grad_s"].append(t1 - t0)
            rec["denoise_s"].append(t2 - t1)
            rec["iter_s"].append(t2 - t0)
            rec["psnr"].append(psnr)
            if rank == 0:
                print(f"deepinv iter {k + 1}/{a.iters}  PSNR {psnr:7.3f} dB  grad {t1 - t0:7.3f} s  "
                      f"denoise {t2 - t1:7.3f} s", flush=True)
    rec.update(rank=rank, world=world, threads=torch.get_num_threads(), device=str(device),
               rss_base_bytes=rss_base, rss_peak_bytes=proc_status_bytes("VmHWM"),
               versions=f"deepinv {dinv.__version__}, torch {torch.__version__}")
    if device.type == "cuda":
        rec["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(device)
    print("RESULT " + json.dumps(rec), flush=True)
    if ctx is not None:
        ctx.__exit__(None, None, None)


if __name__ == "__main__":
    main()
