#!/usr/bin/env python3
"""make_golden_denoisers.py - reference outputs of the denoisers.

DRUNet: deepinv.models.DRUNet (pretrained=None) with weights from pnp's
deterministic generator (include/pnp/weights.h; reproduced below in numpy),
so no weights need committing: full widths on a small image, reduced widths on
larger ones, batch > 1, several sigmas.
DnCNN / FFDNet: a PyTorch reference of KAIR's architectures on the trained
weights in ../shared/data/weights/kair-small (read from the .h5 copies).

    pip install torch deepinv h5py numpy
    python3 tests/golden/make_golden_denoisers.py [--shared ../shared]
writes tests/golden/denoisers.h5 (inputs and outputs only)."""
import argparse
import os

import deepinv
import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on numpy uint64 arrays holding 32-bit values."""
    c0, c1, c2, c3 = (np.asarray(v, dtype=np.uint64) & MASK for v in (c0, c1, c2, c3))
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for r in range(10):
        if r:
            k0, k1 = (k0 + np.uint64(W0)) & np.uint64(MASK), (k1 + np.uint64(W1)) & np.uint64(MASK)
        p0, p1 = np.uint64(M0) * c0, np.uint64(M1) * c2
        hi0, lo0, hi1, lo1 = p0 >> np.uint64(32), p0 & np.uint64(MASK), p1 >> np.uint64(32), p1 & np.uint64(MASK)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def pnp_random_weights(state_dict, seed):
    """pnp_weights_randomize: element e of tensor t = (2u - 1) / sqrt(fan_in)."""
    out = {}
    for t, (name, v) in enumerate(state_dict.items()):
        n = v.numel()
        e = np.arange(n, dtype=np.uint64)
        r0, _, _, _ = philox(e & np.uint64(MASK), e >> np.uint64(32), t, 0x77656967, seed & MASK, seed >> 32)
        u = (r0.astype(np.float64) / 4294967296.0).astype(np.float32)
        fan_in = v.shape[1] * int(np.prod(v.shape[2:])) if v.dim() >= 2 else 1
        bound = np.float32(1.0 / np.sqrt(fan_in))
        out[name] = torch.from_numpy(((np.float32(2) * u - np.float32(1)) * bound).reshape(v.shape))
    return out


def drunet_cases(f):
    g = torch.Generator().manual_seed(5)
    cases = [((64, 128, 256, 512), 4, 1, 32, 32, [0.05]),
             ((16, 32, 64, 128), 2, 2, 40, 56, [0.005, 0.1]),
             ((8, 16, 32, 64), 1, 1, 64, 96, [0.2])]
    for idx, (nc, nb, n, h, w, sigmas) in enumerate(cases):
        net = deepinv.models.DRUNet(in_channels=3, out_channels=3, nc=nc, nb=nb, pretrained=None)
        net.load_state_dict(pnp_random_weights(net.state_dict(), 1234))
        net.eval()
        x = torch.rand(n, 3, h, w, generator=g)
        for s_i, sigma in enumerate(sigmas):
            with torch.no_grad():
                y = net(x, sigma)
            grp = f.create_group(f"drunet{idx}_{s_i}")
            grp.attrs["spec"] = "drunet:%d,%d,%d,%d:%d" % (*nc, nb)
            grp.attrs["sigma"] = sigma
            grp.attrs["seed"] = 1234
            grp["x"], grp["y"] = x.numpy(), y.numpy()


class Stack(nn.Module):
    """KAIR's DnCNN / FFDNet body: conv(+bias) / ReLU alternating, model.{2i}."""

    def __init__(self, sd):
        super().__init__()
        layers, i = [], 0
        while f"model.{2 * i}.weight" in sd:
            w = torch.from_numpy(sd[f"model.{2 * i}.weight"][...])
            conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1, bias=True)
            conv.weight.data, conv.bias.data = w, torch.from_numpy(sd[f"model.{2 * i}.bias"][...])
            layers += [conv, nn.ReLU()]
            i += 1
        self.model = nn.Sequential(*layers[:-1])


def kair_cases(f, shared):
    g = torch.Generator().manual_seed(6)
    root = os.path.join(shared, "data", "weights", "kair-small")
    with h5py.File(os.path.join(root, "dncnn_color_blind.h5")) as sd:
        net = Stack(sd)
    x = torch.rand(1, 3, 40, 48, generator=g)
    with torch.no_grad():
        y = x - net.model(x)  # KAIR DnCNN: residual learning
    grp = f.create_group("dncnn")
    grp["x"], grp["y"] = x.numpy(), y.numpy()
    with h5py.File(os.path.join(root, "ffdnet_color.h5")) as sd:
        net = Stack(sd)
    x = torch.rand(2, 3, 37, 50, generator=g)  # odd height: replicate-padded to 38
    sigma = 25 / 255
    with torch.no_grad():
        h, w = x.shape[-2:]
        xp = nn.ReplicationPad2d((0, w % 2, 0, h % 2))(x)
        z = F.pixel_unshuffle(xp, 2)
        m = torch.full((x.shape[0], 1, z.shape[2], z.shape[3]), sigma)
        y = F.pixel_shuffle(net.model(torch.cat((z, m), 1)), 2)[..., :h, :w]
    grp = f.create_group("ffdnet")
    grp.attrs["sigma"] = sigma
    grp["x"], grp["y"] = x.numpy(), y.numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    with h5py.File(os.path.join(HERE, "denoisers.h5"), "w") as f:
        drunet_cases(f)
        kair_cases(f, a.shared)
        f.attrs["made_by"] = f"tests/golden/make_golden_denoisers.py, deepinv {deepinv.__version__}, torch {torch.__version__}"


if __name__ == "__main__":
    main()
