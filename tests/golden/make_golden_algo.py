#!/usr/bin/env python3
"""make_golden_algo.py - reference traces for the solver options of
tests/configs/golden_algo.yml, made with deepinv on CPU in float64.

As tests/golden/make_golden_pnp.py, the problem comes from pnp itself (`pnp
dataset` writes the truth, the 8 kernels and the 8 measurements), read back
and cast to float64. The prior is the trained FFDNet of
../shared/data/weights/kair-small (a trained denoiser, so that its output
follows its input and every data step shows in the result; KAIR's
architecture in PyTorch, tests/golden/make_golden_denoisers.py's Stack,
wrapped as a deepinv Denoiser). deepinv then runs
with its own pieces (physics = stack of BlurFFT(filter): the circular blur by
FFT, checked here to equal the benchmark's Blur(filter, padding="circular") to
1e-12 on the data, and several times faster; L2, PnP(DRUNet)) in float64,
its linear solvers run to convergence (conjugate gradients to relative
residual 1e-12, the power method to relative change 1e-10):

  row 0, pnp_pinv_relax: the benchmark's solvers/pnp.py loop with step_size
    null, init pseudo_inverse, denoiser_lambda_relaxation 4:
      gamma = 0.99 / physics.compute_sqnorm(...)      (||sum_i A_i^T A_i||)
      x_0 = clamp(physics.A_adjoint(y), 0, 1)
      z = x - gamma L2().grad(x, y, physics); d = PnP(FFDNet).prox(z, sigma 0.05)
      x = clamp((1 - a) z + a d, 0, 1),   a = gamma 4 / (1 + gamma 4)
  row 1, pnp_wiener: the same with init wiener and no relaxation:
      x_0 = clamp(physics.prox_l2(0, y, gamma=1/eps), 0, 1) = clamp((A^T A + eps I)^-1 A^T y, 0, 1),
      eps = 10 noise_level^2 = 0.1
  row 2, dpir: deepinv.optim.DPIR(sigma=0.1, denoiser=FFDNet) itself
      (x_0 = A^T y; 8 HQS iterations; data step physics.prox_l2 by CG), run
      with fixed_point.max_iter = k for k = 1..8 for the trace.

Written: tests/golden/algo_trace.h5, one group per case: psnr and ssim
[iterations] (deepinv.metric.SSIM), x1 and x<last> [3,H,W]; attributes
step_size and lipschitz (PnP), lipschitz_exact (max over frequencies of
sum |H_i|^2, numpy).

    make && pip install torch deepinv h5py numpy
    python3 tests/golden/make_golden_algo.py [--shared ../shared]"""
import argparse
import os
import subprocess
import tempfile

import deepinv as dinv
import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_golden_denoisers import Stack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIG = os.path.join(ROOT, "tests/configs/golden_algo.yml")
PNP = os.path.join(ROOT, "build/pnp")
NOISE = 0.1


class FFDNet(dinv.models.Denoiser):
    """KAIR's FFDNet: replicate-pad to even sides, 2x2 unshuffle, the noise map, body, shuffle, crop."""

    def __init__(self, sd):
        super().__init__()
        self.net = Stack(sd)

    def forward(self, x, sigma, **kwargs):
        h, w = x.shape[-2:]
        xp = nn.ReplicationPad2d((0, w % 2, 0, h % 2))(x)
        z = F.pixel_unshuffle(xp, 2)
        m = torch.full((x.shape[0], 1, z.shape[2], z.shape[3]), float(sigma), dtype=x.dtype)
        return F.pixel_shuffle(self.net.model(torch.cat((z, m), 1)), 2)[..., :h, :w]


def metrics(x, truth):
    mse = torch.mean((x - truth) ** 2).item()
    ssim = dinv.metric.SSIM(max_pixel=1.0, min_pixel=0.0)(x.float(), truth.float()).item()
    return 10 * np.log10(1.0 / mse), ssim


def pnp_loop(physics, y, truth, prior, gamma, x, sigma, relax, iters):
    fidelity = dinv.optim.data_fidelity.L2()
    a = None if relax is None else gamma * relax / (1 + gamma * relax)
    out = {"psnr": [], "ssim": []}
    for k in range(iters):
        z = x - gamma * fidelity.grad(x, y, physics)
        d = prior.prox(z, sigma_denoiser=sigma)
        x = torch.clamp(d if a is None else (1 - a) * z + a * d, 0, 1)
        p, s = metrics(x, truth)
        out["psnr"].append(p), out["ssim"].append(s)
        if k + 1 in (1, iters):
            out[f"x{k + 1}"] = x[0].numpy().astype(np.float32)
        print(f"  iter {k + 1}: PSNR {p:.4f} dB, SSIM {s:.5f}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    args = ap.parse_args()
    torch.set_num_threads(1)  # faster than 2 on these small tensors
    tmp = tempfile.mkdtemp()
    subprocess.run([PNP, "dataset", CONFIG, "--out", f"{tmp}/data.h5"], check=True, stdout=subprocess.DEVNULL)
    with h5py.File(f"{tmp}/data.h5", "r") as f:
        truth = torch.from_numpy(f["ground_truth"][...]).double()[None]
        kernels = torch.from_numpy(f["kernels"][...]).double()
        ys = torch.from_numpy(f["measurements"][...]).double()

    H, W = truth.shape[-2:]
    physics = dinv.physics.stack(*[dinv.physics.BlurFFT(img_size=(3, H, W), filter=k[None, None]) for k in kernels])
    physics.max_iter, physics.tol = 5000, 1e-12  # CG of prox_l2 to convergence
    y = dinv.utils.TensorList([yi[None] for yi in ys])
    blur = dinv.physics.stack(*[dinv.physics.Blur(filter=k[None, None], padding="circular") for k in kernels])
    with torch.no_grad():
        same = max(float((a - b).abs().max()) for a, b in zip(physics.A(truth), blur.A(truth)))
        same = max(same, float((physics.A_adjoint(y) - blur.A_adjoint(y)).abs().max()))
    assert same < 1e-12, f"BlurFFT and Blur(circular) differ by {same}"
    with h5py.File(os.path.join(args.shared, "data/weights/kair-small/ffdnet_color.h5"), "r") as sd:
        model = FFDNet(sd).double().eval()
    prior = dinv.optim.prior.PnP(denoiser=model)

    spectra = np.fft.fft2(np.stack([np.roll(np.pad(k.numpy(), ((0, H - k.shape[0]), (0, W - k.shape[1]))),
                                            (-(k.shape[0] // 2), -(k.shape[1] // 2)), (0, 1)) for k in kernels]))
    exact = float(np.max(np.sum(np.abs(spectra) ** 2, axis=0)))
    torch.manual_seed(0)
    with torch.no_grad():
        lip = float(physics.compute_sqnorm(torch.zeros_like(truth), max_iter=20000, tol=1e-10, verbose=False))
        print(f"L: power method {lip:.9g}, exact {exact:.9g}")
        gamma = 0.99 / lip
        cases = {}
        print("pnp_pinv_relax")
        x0 = torch.clamp(physics.A_adjoint(y), 0, 1)
        cases["pnp_pinv_relax"] = pnp_loop(physics, y, truth, prior, gamma, x0, 0.05, 4.0, 6)
        print("pnp_wiener")
        eps = 10 * NOISE**2
        x0 = torch.clamp(physics.prox_l2(torch.zeros_like(truth), y, gamma=1 / eps), 0, 1)
        cases["pnp_wiener"] = pnp_loop(physics, y, truth, prior, gamma, x0, 0.05, None, 6)
        print("dpir")
        d = {"psnr": [], "ssim": []}
        for k in range(1, 9):
            dpir = dinv.optim.DPIR(sigma=NOISE, denoiser=model, device="cpu")
            dpir.fixed_point.max_iter = k
            x = dpir(y, physics)
            p, s = metrics(x, truth)
            d["psnr"].append(p), d["ssim"].append(s)
            if k in (1, 8):
                d[f"x{k}"] = x[0].numpy().astype(np.float32)
            print(f"  iter {k}: PSNR {p:.4f} dB, SSIM {s:.5f}")
        cases["dpir"] = d

    out = os.path.join(HERE, "algo_trace.h5")
    with h5py.File(out, "w") as f:
        for name, c in cases.items():
            g = f.create_group(name)
            for key, v in c.items():
                if key.startswith("x"):
                    g.create_dataset(key, data=v, compression="gzip", shuffle=True)
                else:
                    g[key] = np.array(v)
            if name.startswith("pnp"):
                g.attrs["step_size"], g.attrs["lipschitz"] = gamma, lip
        f.attrs["lipschitz_exact"] = exact
        f.attrs["config"] = open(CONFIG).read()
        f.attrs["denoiser"] = "ffdnet, ../shared/data/weights/kair-small/ffdnet_color.h5"
        f.attrs["made_with"] = f"deepinv {dinv.__version__}, torch {torch.__version__}, CPU, float64"
    print("wrote", out)


if __name__ == "__main__":
    main()
