#!/usr/bin/env python3
"""make_golden_pnp.py - the reference PnP trace, made with deepinv on CPU.

The problem comes from pnp itself, read back from its HDF5 files so both
sides start from the same data: `pnp dataset` writes the ground truth, the 8
kernels and the 8 measurements of tests/configs/golden_pnp.yml, and
`pnp weights generate` the DRUNet weights. deepinv then runs the benchmark's
loop (solvers/pnp.py of benchopt's benchmark_invprob_inference) with its own
pieces: physics = stack of Blur(filter, padding="circular"), data fidelity L2
(gradient sum_i A_i^T (A_i x - y_i)), prior PnP(DRUNet), from x = 0:
    x <- clamp(prior.prox(x - step * L2.grad(x, y, physics), sigma), 0, 1)
Written: tests/golden/pnp_trace.h5 with psnr [10], x1 and x10 [3,H,W].

    make && pip install torch deepinv h5py numpy
    python3 tests/golden/make_golden_pnp.py"""
import os
import subprocess
import tempfile

import deepinv as dinv
import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIG = os.path.join(ROOT, "tests/configs/golden_pnp.yml")
PNP = os.path.join(ROOT, "build/pnp")
SPEC = "drunet:8,16,32,64:2"


def main():
    torch.set_num_threads(2)
    tmp = tempfile.mkdtemp()
    subprocess.run([PNP, "dataset", CONFIG, "--out", f"{tmp}/data.h5"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PNP, "weights", "generate", SPEC, f"{tmp}/w.h5"], check=True, stdout=subprocess.DEVNULL)
    with h5py.File(f"{tmp}/data.h5", "r") as f:
        truth = torch.from_numpy(f["ground_truth"][...])[None]
        kernels = torch.from_numpy(f["kernels"][...])
        ys = torch.from_numpy(f["measurements"][...])
    with h5py.File(f"{tmp}/w.h5", "r") as f:
        weights = {k: torch.from_numpy(f[k][...]) for k in f.keys()}

    physics = dinv.physics.stack(*[dinv.physics.Blur(filter=k[None, None], padding="circular") for k in kernels])
    y = dinv.utils.TensorList([yi[None] for yi in ys])
    model = dinv.models.DRUNet(in_channels=3, out_channels=3, nc=[8, 16, 32, 64], nb=2, pretrained=None)
    model.load_state_dict(weights, strict=True)
    model.eval()
    prior, fidelity = dinv.optim.prior.PnP(denoiser=model), dinv.optim.data_fidelity.L2()

    step, sigma, iters = 0.1, 0.005, 10
    x = torch.zeros_like(truth)
    psnr, keep = [], {}
    with torch.no_grad():
        for k in range(iters):
            x = x - step * fidelity.grad(x, y, physics)
            x = torch.clamp(prior.prox(x, sigma_denoiser=sigma), 0, 1)
            mse = torch.mean((x.double() - truth.double()) ** 2).item()
            psnr.append(10 * np.log10(1.0 / mse))
            if k + 1 in (1, iters):
                keep[f"x{k + 1}"] = x[0].numpy().astype(np.float32)
            print(f"iter {k + 1}: PSNR {psnr[-1]:.4f} dB")

    out = os.path.join(HERE, "pnp_trace.h5")
    with h5py.File(out, "w") as f:
        f["psnr"] = np.array(psnr)
        for name, v in keep.items():
            f.create_dataset(name, data=v, compression="gzip", shuffle=True)
        f.attrs["config"] = open(CONFIG).read()
        f.attrs["denoiser"] = SPEC + " (pnp weights generate, seed 0)"
        f.attrs["made_with"] = f"deepinv {dinv.__version__}, torch {torch.__version__}, CPU"
        f.attrs["loop"] = "x <- clamp(PnP(DRUNet).prox(x - 0.1 * L2().grad(x, y, stack(Blur...)), 0.005), 0, 1)"
    print("wrote", out)


if __name__ == "__main__":
    main()
