#!/usr/bin/python3
"""observed_sets.py - observed data sets with a known truth, made with numpy
alone (no PyTorch, no imaging library): the reference the tests of
`dataset: observed` (issue 16) compare pnp against.

    observed_sets.py golden OUT.h5   the data-term golden file (tests/golden/data_term.h5,
                                      read by tests/unit/test_data_term.c)
    observed_sets.py sets DIR        small observed sets in every file format (tests/cli/test_observed.sh)

The forward model is computed by DIRECT convolution (a sum over the PSF taps of
shifted copies of the image, in float64), never by FFT, so it checks pnp's FFT
operators rather than repeating them. The PSF convention is pnp's
(include/pnp/data_term.h): a PSF k of kh x kw is centred at (kh//2, kw//2) and
    (k * x)[p] = sum_{a,b} k[a, b] x[p - (a - kh//2, b - kw//2)].
  circular  indices modulo the image;
  pad       the scene x lives on the extended domain (H+kh-1) x (W+kw-1) and the
            measurement is the "valid" part: y[i, j] = sum k[a,b] x[i+kh-1-a, j+kw-1-b].

File writers (PNG, TIFF, FITS, NumPy .npy, the HDF5 bundle of `pnp dataset`)
are written here from the formats' specifications (zlib and struct only), so
pnp's readers (libpng, libtiff, cfitsio) are checked against an independent
writer; the readers below (PNG, TIFF, FITS) check pnp's exports the same way.
"""
import os
import struct
import sys
import zlib

import h5py
import numpy as np

# ------------------------------------------------------------ the model


def psf_centre(kh, kw):
    return kh // 2, kw // 2


def conv_circular(x, k):
    """x [C,H,W], k [kh,kw] or [C,kh,kw] -> [C,H,W], circular, direct."""
    x = np.asarray(x, np.float64)
    kh, kw = k.shape[-2:]
    ch, cw = psf_centre(kh, kw)
    y = np.zeros_like(x)
    for a in range(kh):
        for b in range(kw):
            tap = k[..., a, b].reshape(-1, 1, 1) if k.ndim == 3 else k[a, b]
            y += tap * np.roll(x, (a - ch, b - cw), axis=(1, 2))
    return y


def conv_circular_adjoint(r, k):
    r = np.asarray(r, np.float64)
    kh, kw = k.shape[-2:]
    ch, cw = psf_centre(kh, kw)
    z = np.zeros_like(r)
    for a in range(kh):
        for b in range(kw):
            tap = k[..., a, b].reshape(-1, 1, 1) if k.ndim == 3 else k[a, b]
            z += tap * np.roll(r, (-(a - ch), -(b - cw)), axis=(1, 2))
    return z


def conv_valid(x_ext, k):
    """x_ext [C,H+kh-1,W+kw-1] -> [C,H,W]: the pad boundary's A (direct)."""
    x_ext = np.asarray(x_ext, np.float64)
    kh, kw = k.shape[-2:]
    H, W = x_ext.shape[1] - kh + 1, x_ext.shape[2] - kw + 1
    y = np.zeros((x_ext.shape[0], H, W))
    for a in range(kh):
        for b in range(kw):
            tap = k[..., a, b].reshape(-1, 1, 1) if k.ndim == 3 else k[a, b]
            y += tap * x_ext[:, kh - 1 - a:kh - 1 - a + H, kw - 1 - b:kw - 1 - b + W]
    return y


def conv_valid_adjoint(r, k):
    r = np.asarray(r, np.float64)
    kh, kw = k.shape[-2:]
    C, H, W = r.shape
    z = np.zeros((C, H + kh - 1, W + kw - 1))
    for a in range(kh):
        for b in range(kw):
            tap = k[..., a, b].reshape(-1, 1, 1) if k.ndim == 3 else k[a, b]
            z[:, kh - 1 - a:kh - 1 - a + H, kw - 1 - b:kw - 1 - b + W] += tap * r
    return z


def region_offset(kh, kw):
    """Where the measured region starts in the extended domain (pnp's oy, ox)."""
    return kh - 1 - kh // 2, kw - 1 - kw // 2


# ------------------------------------------------------------ scenes and PSFs


def scene(C, H, W, seed):
    """A non-periodic test scene in [0,1]: smooth shading that differs between
    opposite edges, sharp discs and bars, fine texture. [C,H,W] float64."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
    img = np.zeros((C, H, W))
    for c in range(C):
        img[c] = 0.2 + 0.5 * xx * (0.6 + 0.2 * c) + 0.25 * yy * (1 - 0.3 * c)
    for _ in range(10):
        cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(0.05, 0.2) * max(H, W)
        col = rng.uniform(0.05, 0.95, size=C)
        mask = (np.mgrid[0:H, 0:W][0] - cy) ** 2 + (np.mgrid[0:H, 0:W][1] - cx) ** 2 < r * r
        img[:, mask] = col[:, None]
    bar = (np.sin(2 * np.pi * xx * (4 + 20 * xx)) > 0) & (yy > 0.7) & (yy < 0.8)
    img[:, bar] = 0.9
    tex = rng.uniform(0, 1, size=(H // 2 + 1, W // 2 + 1)).repeat(2, 0).repeat(2, 1)[:H, :W]
    patch = (yy < 0.25) & (xx > 0.7)
    img[:, patch] = 0.3 + 0.4 * tex[patch]
    return np.clip(img, 0, 1)


def gaussian_psf(kh, kw, sr, sc, angle):
    """A rotated anisotropic Gaussian on kh x kw, centred at (kh//2, kw//2), sum 1."""
    ch, cw = psf_centre(kh, kw)
    i, j = np.mgrid[0:kh, 0:kw].astype(np.float64)
    y, x = i - ch, j - cw
    t = np.deg2rad(angle)
    xr, yr = np.cos(t) * x - np.sin(t) * y, np.sin(t) * x + np.cos(t) * y
    g = np.exp(-xr ** 2 / (2 * sc ** 2) - yr ** 2 / (2 * sr ** 2))
    return g / g.sum()


def motion_psf(kh, kw, length, angle):
    """A short motion streak through the centre, sum 1 (an even-sized support is fine)."""
    ch, cw = psf_centre(kh, kw)
    k = np.zeros((kh, kw))
    t = np.deg2rad(angle)
    for s in np.linspace(-length / 2, length / 2, 8 * int(length + 1)):
        a, b = int(round(ch + s * np.sin(t))), int(round(cw + s * np.cos(t)))
        if 0 <= a < kh and 0 <= b < kw:
            k[a, b] += 1
    return k / k.sum()


# ------------------------------------------------------------ the data-term golden


def golden(out):
    """Cases for tests/unit/test_data_term.c: x on the domain, PSFs, A_i x and
    A_i^T r (direct, in float64 from the float32 inputs, stored as float32), r random."""
    cases = [  # name, boundary, C, H, W, kc, kh, kw, n
        ("circ_rgb_even", "circular", 3, 20, 28, 1, 5, 4, 2),
        ("pad_rgb_even", "pad", 3, 20, 28, 1, 5, 4, 2),
        ("pad_rgb_per_channel", "pad", 3, 18, 24, 3, 6, 7, 2),
        ("pad_gray_odd", "pad", 1, 26, 22, 1, 9, 9, 3),
        ("circ_gray_thin", "circular", 1, 24, 30, 1, 7, 3, 1),
        ("pad_large_psf", "pad", 3, 12, 16, 1, 11, 15, 1),
    ]
    rng = np.random.default_rng(16)
    with h5py.File(out, "w") as f:
        f.attrs["made_by"] = "tests/cli/observed_sets.py golden (numpy direct convolution, float64)"
        for name, bnd, C, H, W, kc, kh, kw, n in cases:
            g = f.create_group(name)
            XH, XW = (H + kh - 1, W + kw - 1) if bnd == "pad" else (H, W)
            x = rng.uniform(0, 1, size=(C, XH, XW))
            k = rng.uniform(0, 1, size=(n, kc, kh, kw)) * (rng.uniform(size=(n, kc, kh, kw)) > 0.3)
            k /= k.sum(axis=(2, 3), keepdims=True)
            r = rng.uniform(-1, 1, size=(C, H, W))
            fwd, adj = (conv_valid, conv_valid_adjoint) if bnd == "pad" else (conv_circular, conv_circular_adjoint)
            g.attrs["boundary"] = bnd
            g["x"] = x.astype(np.float32)
            g["kernels"] = k.astype(np.float32)
            g["r"] = r.astype(np.float32)
            # references from the float32 inputs pnp reads
            x32, k32, r32 = x.astype(np.float32), k.astype(np.float32), r.astype(np.float32)
            g["Ax"] = np.stack([fwd(x32, k32[i, 0] if kc == 1 else k32[i]) for i in range(n)]).astype(np.float32)
            g["ATr"] = np.stack([adj(r32, k32[i, 0] if kc == 1 else k32[i]) for i in range(n)]).astype(np.float32)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "golden":
        golden(sys.argv[2])
    else:
        sys.exit(__doc__)
