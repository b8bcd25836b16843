#!/usr/bin/python3
"""make_observed.py - a large observed data set for bench/observed.sh: a
natural photo as the scene, N blurred, noisy 16-bit PNG observations of its
central region and their PSFs as .npy, plus the region as the reference.

    make_observed.py PHOTO OUT_DIR [--size 2048x1536] [--n 8] [--psf 31] [--noise 0.01] [--seed 16]

The scene is the photo's central crop of (H + k - 1) x (W + k - 1); each
observation is the "valid" part of its convolution with a PSF (pnp's pad
boundary: no wrap-around), computed here with zero-padded FFTs (this is data
for timing, not a reference for tests: those use direct convolution,
tests/cli/observed_sets.py). PSFs: rotated anisotropic Gaussians and motion
streaks of k x k, centred at (k//2, k//2), each saved summing to 1."""
import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cli"))
import observed_sets as obs  # noqa: E402  (the PSF shapes and PNG writer of the tests)


def conv_valid_fft(x, k):
    """[C,He,We] * [kh,kw] -> the valid part [C,He-kh+1,We-kw+1] (linear convolution by FFT)."""
    C, He, We = x.shape
    kh, kw = k.shape
    fy, fx = He + kh - 1, We + kw - 1
    X = np.fft.rfft2(x, (fy, fx))
    K = np.fft.rfft2(k, (fy, fx))
    full = np.fft.irfft2(X * K, (fy, fx))
    return full[:, kh - 1:He, kw - 1:We]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("photo")
    ap.add_argument("out")
    ap.add_argument("--size", default="2048x1536", help="measured W x H")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--psf", type=int, default=31)
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    W, H = (int(v) for v in a.size.split("x"))
    k = a.psf
    img = np.asarray(Image.open(a.photo).convert("RGB"), np.float64) / 255.0
    ph, pw = img.shape[:2]
    He, We = H + k - 1, W + k - 1
    if He > ph or We > pw:
        sys.exit(f"{a.photo}: {pw}x{ph} is smaller than the scene {We}x{He}")
    y0, x0 = (ph - He) // 2, (pw - We) // 2
    ext = img[y0:y0 + He, x0:x0 + We].transpose(2, 0, 1)
    oy, ox = obs.region_offset(k, k)
    os.makedirs(a.out, exist_ok=True)
    obs.write_png(f"{a.out}/reference.png", obs.quant(ext[:, oy:oy + H, ox:ox + W], np.uint16))
    rng = np.random.default_rng(a.seed)
    for i in range(a.n):
        angle = 180.0 * i / a.n
        psf = (obs.motion_psf(k, k, k * 0.6, angle) if i % 2 else
               obs.gaussian_psf(k, k, k / 10.0, k / 20.0, angle))
        y = conv_valid_fft(ext, psf) + a.noise * rng.standard_normal((3, H, W))
        obs.write_png(f"{a.out}/blurred_{i}.png", obs.quant(y, np.uint16))
        np.save(f"{a.out}/psf_{i}.npy", psf.astype(np.float32))
        print(f"{a.out}/blurred_{i}.png: PSF {k}x{k}, angle {angle:.1f} deg", flush=True)


if __name__ == "__main__":
    main()
