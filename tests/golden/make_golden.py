#!/usr/bin/env python3
"""make_golden.py - the reference tensors the C tests compare against.

Made with deepinv and PyTorch on CPU (the reference implementation of the
benchmark); the tests themselves never need Python or PyTorch. Re-create with

    pip install torch deepinv h5py pillow numpy
    python3 tests/golden/make_golden.py [--shared ../shared]

Files (small, committed):
  kernels.h5  deepinv.physics.blur.gaussian_blur for benchmark and free cases
  blur.h5     deepinv Blur(padding="circular"): A x and A^T y on random images
  resize.h5   torch.nn.functional.interpolate(bicubic, align_corners=False):
              random images in full; real photos from ../shared as 4096
              sampled pixels plus whole-image sums (no photo data is stored)
"""
import argparse
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from deepinv.physics.blur import Blur, gaussian_blur
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def kernels(f):
    cases = []
    # the benchmark's kernels: sigma = (0.01, 0.005) * size, angles linspace(0, 180, n)
    for size, n in [(64, 8), (200, 3), (512, 5), (2048, 2)]:
        for i, a in enumerate(np.linspace(0, 180, n)):
            cases.append((f"bench_{size}_{n}_{i}", size * 0.01, size * 0.005, a))
    # free cases: other aspect, negative and odd angles, isotropic
    cases += [("free_0", 3.0, 1.2, 33.0), ("free_1", 1.5, 4.0, -70.0), ("free_2", 2.0, 2.0, 10.0),
              ("free_3", 0.7, 5.3, 123.4)]
    for name, s0, s1, a in cases:
        k = gaussian_blur(sigma=(s0, s1), angle=a)[0, 0].numpy()
        d = f.create_dataset(name, data=k.astype(np.float32))
        d.attrs["sigma_row"], d.attrs["sigma_col"], d.attrs["angle_deg"] = s0, s1, float(a)


def blur(f):
    g = torch.Generator().manual_seed(1)
    for idx, (h, w, size, angle) in enumerate([(40, 52, 100, 51.42857142857143), (33, 47, 300, 0.0),
                                               (64, 64, 256, 128.57142857142858)]):
        k = gaussian_blur(sigma=(size * 0.01, size * 0.005), angle=angle)
        x = torch.rand(1, 3, h, w, generator=g)
        y = torch.rand(1, 3, h, w, generator=g)
        op = Blur(filter=k, padding="circular")
        grp = f.create_group(f"case{idx}")
        grp["kernel"] = k[0, 0].numpy()
        grp["x"], grp["y"] = x[0].numpy(), y[0].numpy()
        grp["Ax"] = op.A(x)[0].numpy()
        grp["ATy"] = op.A_adjoint(y)[0].numpy()


def load_png(path):
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()


def resize(f, shared):
    g = torch.Generator().manual_seed(2)
    for idx, (h, w, oh, ow) in enumerate([(13, 17, 29, 41), (13, 17, 7, 9), (20, 11, 20, 37), (5, 6, 64, 3)]):
        x = torch.rand(1, 3, h, w, generator=g)
        y = F.interpolate(x, size=(oh, ow), mode="bicubic", align_corners=False)
        grp = f.create_group(f"random{idx}")
        grp["x"], grp["y"] = x[0].numpy(), y[0].numpy()
    rng = np.random.default_rng(3)
    photos = [("images/CBSD68/119082.png", 2048), ("images/CBSD68/3096.png", 2048),
              ("images/CBSD68/101085.png", 100), ("images/bus_2048.png", 1000)]
    for idx, (rel, longer) in enumerate(photos):
        x = load_png(os.path.join(shared, "data", rel))
        _, _, h, w = x.shape
        s = longer / max(h, w)
        oh, ow = int(h * s), int(w * s)
        y = F.interpolate(x, size=(oh, ow), mode="bicubic", align_corners=False)[0].numpy()
        n = 4096
        c, r, q = rng.integers(0, 3, n), rng.integers(0, oh, n), rng.integers(0, ow, n)
        grp = f.create_group(f"photo{idx}")
        grp.attrs["path"], grp.attrs["longer"] = rel, longer
        grp.attrs["out_h"], grp.attrs["out_w"] = oh, ow
        grp["index"] = np.stack([c, r, q], 1).astype(np.int32)
        grp["value"] = y[c, r, q].astype(np.float32)
        grp.attrs["sum"] = float(y.astype(np.float64).sum())
        grp.attrs["sum_sq"] = float((y.astype(np.float64) ** 2).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    with h5py.File(os.path.join(HERE, "kernels.h5"), "w") as f:
        kernels(f)
    with h5py.File(os.path.join(HERE, "blur.h5"), "w") as f:
        blur(f)
    with h5py.File(os.path.join(HERE, "resize.h5"), "w") as f:
        resize(f, a.shared)
    import deepinv
    for name in ("kernels.h5", "blur.h5", "resize.h5"):
        with h5py.File(os.path.join(HERE, name), "a") as f:
            f.attrs["made_by"] = f"tests/golden/make_golden.py, deepinv {deepinv.__version__}, torch {torch.__version__}"


if __name__ == "__main__":
    main()
