#!/usr/bin/env python3
"""make_golden_ssim.py - reference SSIM values from deepinv.metric.SSIM (data
range 1: max_pixel 1, min_pixel 0; torchmetrics underneath: Gaussian window 11,
sigma 1.5, reflect padding, the map averaged over channels and pixels), on
CPU in float32, for tests/unit/test_ssim.c.

Cases (tests/golden/ssim.h5):
  random images stored whole: x and y [C,H,W] float32 and their SSIM (an
  attribute), for colour and grey, noisy, nearly equal and unrelated pairs,
  one the smallest size reflect padding allows (6 px);
  real photos from ../shared (no photo data is stored, only the value): the
  image as pnp_png_read reads it (8-bit / 255) against the deterministic
  degradation y = clamp(0.8 x + 0.1 + 0.05 sin(0.37 i + 0.91 j + c), 0, 1)
  computed in float64 and rounded to float32 (the test computes the same).

    pip install torch deepinv h5py pillow numpy
    python3 tests/golden/make_golden_ssim.py [--shared ../shared]"""
import argparse
import os

import deepinv as dinv
import h5py
import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = ["images/CBSD68/101085.png", "images/CBSD68/108005.png"]


def ssim(x, y):
    m = dinv.metric.SSIM(max_pixel=1.0, min_pixel=0.0)
    return float(m(torch.from_numpy(x)[None], torch.from_numpy(y)[None])[0])


def degrade(x):
    c, h, w = np.meshgrid(np.arange(x.shape[0]), np.arange(x.shape[1]), np.arange(x.shape[2]), indexing="ij")
    y = 0.8 * x.astype(np.float64) + 0.1 + 0.05 * np.sin(0.37 * h + 0.91 * w + c)
    return np.clip(y, 0, 1).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    args = ap.parse_args()
    rng = np.random.default_rng(17)
    out = os.path.join(HERE, "ssim.h5")
    with h5py.File(out, "w") as f:
        f.attrs["made_with"] = f"deepinv {dinv.__version__}, torch {torch.__version__}, CPU float32"
        cases = {}
        x = rng.random((3, 37, 50), dtype=np.float32)
        cases["rgb_noisy"] = (x, np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1).astype(np.float32))
        cases["rgb_close"] = (x, (x + 1e-3 * rng.standard_normal(x.shape)).astype(np.float32))
        cases["rgb_unrelated"] = (x, rng.random(x.shape, dtype=np.float32))
        g = rng.random((1, 29, 23), dtype=np.float32)
        cases["gray_noisy"] = (g, np.clip(g + 0.2 * rng.standard_normal(g.shape), 0, 1).astype(np.float32))
        s = rng.random((3, 6, 6), dtype=np.float32)
        cases["smallest"] = (s, np.clip(s * 0.5 + 0.2, 0, 1).astype(np.float32))
        for name, (a, b) in cases.items():
            grp = f.create_group(name)
            grp["x"], grp["y"] = a, b
            grp.attrs["ssim"] = ssim(a, b)
            print(f"{name}: {grp.attrs['ssim']:.9f}")
        photos = f.create_group("photos")
        for rel in PHOTOS:
            img = np.asarray(Image.open(os.path.join(args.shared, "data", rel)).convert("RGB"), dtype=np.float32)
            x = np.ascontiguousarray((img / 255.0).transpose(2, 0, 1)).astype(np.float32)
            v = ssim(x, degrade(x))
            photos.attrs[rel] = v
            print(f"{rel} {x.shape}: {v:.9f}")
    print("wrote", out)


if __name__ == "__main__":
    main()
