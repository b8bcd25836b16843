#!/usr/bin/env python3
"""torch_denoise.py - the PyTorch side of bench/cbsd68.sh: KAIR's DnCNN / FFDNet
in PyTorch, loaded from the .pth checkpoint with torch.load (or pnp's .h5), or
deepinv's DRUNet (widths and blocks read from pnp's .h5 / a .pth state_dict,
replicate-padded to multiples of 8 at the bottom/right as pnp does), run on exactly the
noisy images `pnp denoise --add-noise S --seed N` makes, with KAIR's measurement
(main_test_dncnn/ffdnet.py: output clamped and rounded to uint8, PSNR over all
RGB values, no border shaved). Prints the same lines as `pnp denoise --report`,
so the two runs can be compared image by image.

The noise is pnp_normal of include/pnp/philox.h redone in numpy with the same
IEEE double operations (Philox4x32-10, Box-Muller with pnp's own log and
cosine series), so it is bit-identical to the C generator's.

    python3 bench/torch_denoise.py --weights W.pth --arch dncnn|ffdnet|drunet \
        --add-noise S [--sigma S] [--seed N] [--threads T] IN.png...
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
from make_golden_denoisers import Stack, philox  # noqa: E402  (pnp's Philox and KAIR's conv stack)

MASK = 0xFFFFFFFF


def det_log(u):
    """pnp_det_log: log u = 2 atanh(s) + e log 2 after scaling u into [sqrt(1/2), sqrt(2))."""
    m, e = np.frexp(u)  # u = m 2^e, m in [0.5, 1): the C loop's exact doublings
    low = m < 0.70710678118654752440
    m, e = np.where(low, m * 2.0, m), np.where(low, e - 1, e).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    poly = np.full_like(s, 1.0 / 25.0)
    for k in range(23, 0, -2):
        poly = poly * s2 + 1.0 / k
    return 2.0 * s * poly + e * 0.69314718055994530942


def det_cos2pi(t):
    """pnp_det_cos2pi: quadrant reduction, then Taylor series in Horner form."""
    q = t * 4.0
    k = q.astype(np.int64)
    x = (q - k) * 1.57079632679489661923
    x2 = x * x
    c, s = np.ones_like(x), np.ones_like(x)
    for n in range(22, 1, -2):
        c = 1.0 - c * x2 / float(n * (n - 1))
    for n in range(23, 2, -2):
        s = 1.0 - s * x2 / float(n * (n - 1))
    s = s * x
    return np.choose(k & 3, [c, -s, -c, s])


def pnp_normal(seed, stream, n):
    """pnp_normal(seed, stream, e) for e = 0..n-1, float64."""
    e = np.arange(n, dtype=np.uint64)
    c = philox(e & np.uint64(MASK), e >> np.uint64(32), stream, 0x706E7000, seed & MASK, seed >> 32)
    c = [v.astype(np.uint64) for v in c]
    a = (c[0] << np.uint64(21)) ^ (c[1] >> np.uint64(11))
    b = (c[2] << np.uint64(21)) ^ (c[3] >> np.uint64(11))
    m53 = np.uint64((1 << 53) - 1)
    inv53 = 1.0 / 9007199254740992.0
    u1 = ((a & m53).astype(np.float64) + 1.0) * inv53
    u2 = (b & m53).astype(np.float64) * inv53
    return np.sqrt(-2.0 * det_log(u1)) * det_cos2pi(u2)


def psnr(x, ref):
    mse = np.mean((x.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return -10.0 * np.log10(mse) if mse > 0 else float("inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="KAIR .pth (or pnp .h5) weights")
    ap.add_argument("--arch", required=True, choices=["dncnn", "ffdnet", "drunet"])
    ap.add_argument("--add-noise", type=float, required=True)
    ap.add_argument("--sigma", type=float, help="model noise level (ffdnet, drunet; default --add-noise)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    if a.weights.endswith(".h5"):
        import h5py
        with h5py.File(a.weights) as f:
            sd = {k: f[k][...] for k in f.keys()}
    else:
        sd = {k: v.numpy() for k, v in torch.load(a.weights, map_location="cpu", weights_only=True).items()}
    if a.arch == "drunet":
        import deepinv
        nb = sum(1 for n in sd if n.startswith("m_body.") and n.endswith(".res.0.weight"))
        widths = [sd["m_head.weight"].shape[0]] + [sd[f"m_down{k}.{nb}.weight"].shape[0] for k in (1, 2, 3)]
        net = deepinv.models.DRUNet(in_channels=3, out_channels=3, nc=widths, nb=nb, pretrained=None)
        net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in sd.items()}, strict=True)
        net.eval()
    else:
        net = Stack(sd).eval()
    sigma = a.add_noise if a.sigma is None else a.sigma
    print(f"torch {torch.__version__}: {a.arch} ({a.weights}), {torch.get_num_threads()} threads"
          + (f", model sigma {sigma:.6g}" if a.arch != "dncnn" else "")
          + f", added noise {a.add_noise:.6g} (seed {a.seed}, unclipped)")
    sums = [0.0, 0.0]
    for i, path in enumerate(a.images):
        clean = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
        noise = pnp_normal(a.seed, i, clean.size).reshape(clean.shape)
        noisy = (clean.astype(np.float64) + a.add_noise * noise).astype(np.float32)  # [3,H,W], unclipped
        x = torch.from_numpy(noisy)[None]
        t0 = time.perf_counter()
        with torch.no_grad():
            if a.arch == "dncnn":
                y = x - net.model(x)  # KAIR DnCNN: residual learning
            elif a.arch == "drunet":  # pnp: replicate-pad to multiples of 8, + sigma map, crop
                h, w = x.shape[-2:]
                xp = F.pad(x, (0, -w % 8, 0, -h % 8), mode="replicate")
                m = torch.full((1, 1, xp.shape[2], xp.shape[3]), sigma)
                y = net.forward_unet(torch.cat((xp, m), 1))[..., :h, :w]
            else:  # KAIR FFDNet: replicate-pad to even, unshuffle, + sigma map, shuffle back, crop
                h, w = x.shape[-2:]
                xp = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
                z = F.pixel_unshuffle(xp, 2)
                m = torch.full((1, 1, z.shape[2], z.shape[3]), sigma)
                y = F.pixel_shuffle(net.model(torch.cat((z, m), 1)), 2)[..., :h, :w]
        secs = time.perf_counter() - t0
        out = (y[0].clamp(0, 1) * 255.0).round().numpy() / np.float32(255)  # KAIR tensor2uint
        p_noisy, p_out = psnr(noisy, clean), psnr(out, clean)
        sums[0] += p_noisy
        sums[1] += p_out
        print(f"[{i + 1}/{len(a.images)}] {os.path.basename(path)} {clean.shape[1]}x{clean.shape[2]}: "
              f"noisy {p_noisy:.3f} dB, denoised {p_out:.3f} dB ({p_out - p_noisy:+.3f}), {secs:.2f} s", flush=True)
    n = len(a.images)
    print(f"mean over {n} images: noisy {sums[0] / n:.3f} dB, denoised {sums[1] / n:.3f} dB")


if __name__ == "__main__":
    main()
