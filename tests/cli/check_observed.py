#!/usr/bin/python3
"""check_observed.py - the checks of tests/cli/test_observed.sh on pnp's
outputs (h5py and numpy; the exports through observed_sets.py's own readers).
Each subcommand prints "ok - ..." / "not ok - ..." lines, exit 1 on a failure.

    readback REF.npz KEY BUNDLE.h5 DATASET [TOL]  /DATASET of a `pnp dataset` bundle equals
                                                  the numpy original REF[KEY] (max abs <= TOL, default 0)
    quality PAD.h5 CIRC.h5 MIN_GAIN MIN_BAND      pad improves the PSNR over the measurement by
                                                  MIN_GAIN dB, and its 12-pixel edge band beats
                                                  circular's by MIN_BAND dB
    same A.h5 B.h5 TOL WHAT                       the reconstructions (and extended ones) agree within TOL
    tolerance FILE.h5 TOL MAX_ITER                stopped by the tolerance: the last relative change
                                                  below TOL, the one before not, fewer than MAX_ITER iterations
    export RESULT.h5 DIR [extended]               DIR/x.png (16-bit), x8.png, x.tif, x.fits, x.npy equal
                                                  the reconstruction (rounded as pnp documents)
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import observed_sets as obs  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "not ok - ") + what)
    failures += 0 if cond else 1


def psnr(a, b, mask=None):
    d = (np.asarray(a, np.float64) - b) ** 2
    if mask is not None:
        d = d[:, mask]
    return -10 * np.log10(d.mean())


def readback(ref_npz, key, bundle, dataset, tol="0"):
    ref = np.load(ref_npz)[key]
    with h5py.File(bundle, "r") as f:
        got = f[dataset][...]
    if got.shape != ref.shape and got.size == ref.size:
        ref = ref.reshape(got.shape)
    ok = got.shape == ref.shape
    diff = float(np.abs(got - ref).max()) if ok else float("inf")
    check(ok and diff <= float(tol),
          f"{key} read back by pnp = the numpy original: /{dataset} {got.shape}, max abs diff {diff:.3g} (<= {tol})")


def quality(pad, circ, min_gain, min_band):
    res = {}
    for name, path in (("pad", pad), ("circular", circ)):
        with h5py.File(path, "r") as f:
            x, t, y = f["reconstruction"][...], f["ground_truth"][...], f["measurement"][...]
        band = np.zeros(x.shape[1:], bool)
        band[:12], band[-12:], band[:, :12], band[:, -12:] = True, True, True, True
        res[name] = (psnr(x, t), psnr(x, t, band), psnr(y, t), psnr(y, t, band))
    p, c = res["pad"], res["circular"]
    print(f"# PSNR dB (whole | 12-px edge band): measurement y_0 {p[2]:.2f} | {p[3]:.2f}; "
          f"pad {p[0]:.2f} | {p[1]:.2f}; circular {c[0]:.2f} | {c[1]:.2f}")
    check(p[0] >= p[2] + float(min_gain),
          f"FFDNet prior, boundary pad: PSNR {p[0]:.2f} dB, {p[0] - p[2]:.2f} dB above the measurement's "
          f"{p[2]:.2f} (>= {min_gain})")
    check(p[1] >= c[1] + float(min_band),
          f"the 12-pixel edge band: pad {p[1]:.2f} dB, circular {c[1]:.2f} dB, margin {p[1] - c[1]:.2f} dB "
          f"(>= {min_band})")


def same(a, b, tol, what):
    worst = 0.0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        keys = [k for k in ("reconstruction", "reconstruction_extended") if k in fa]
        ok = all(k in fb for k in keys) and fa.attrs["iterations"] == fb.attrs["iterations"]
        for k in keys:
            worst = max(worst, float(np.abs(fa[k][...] - fb[k][...]).max()))
    check(ok and worst <= float(tol), f"{what}: max abs diff {worst:.3g} (<= {tol}), same iterations")


def tolerance(path, tol, max_iter):
    with h5py.File(path, "r") as f:
        ch = f["traces/relative_change"][...]
        reason, it = f.attrs["stop_reason"], int(f.attrs["iterations"])
    tol = float(tol)
    check(reason == "tolerance" and it < int(max_iter) and ch[-1] < tol and (it < 2 or ch[-2] >= tol),
          f"tolerance {tol}: stopped after {it} of {max_iter} iterations (stop_reason {reason}), "
          f"relative change {ch[-2] if it > 1 else float('nan'):.3g} then {ch[-1]:.3g}")


def export(result, d, extended=""):
    key = "reconstruction_extended" if extended else "reconstruction"
    with h5py.File(result, "r") as f:
        x = f[key][...]
    c = np.clip(x, 0, 1)
    q = lambda top: np.rint(c * np.float32(top))  # float32 arithmetic, as pnp rounds  # noqa: E731
    if extended:
        check(np.array_equal(obs.read_tiff(f"{d}/xe.tif"), x), f"export --extended: TIFF float32 = /{key} {x.shape}")
        return
    p16, p8 = obs.read_png(f"{d}/x.png"), obs.read_png(f"{d}/x8.png")
    check(p16.dtype == np.uint16 and np.array_equal(p16, q(65535)),
          f"export PNG: 16-bit by default, = round(clamp(x) * 65535), shape {p16.shape}")
    check(p8.dtype == np.uint8 and np.array_equal(p8, q(255)), "export PNG --bits 8: = round(clamp(x) * 255)")
    check(np.array_equal(obs.read_tiff(f"{d}/x.tif"), x), "export TIFF: float32 = /reconstruction")
    fits = obs.read_fits(f"{d}/x.fits")
    check(np.array_equal(fits.reshape(x.shape), x) and fits.ndim == (2 if x.shape[0] == 1 else 3),
          f"export FITS: float32 = /reconstruction ({fits.ndim}-D)")
    n = np.load(f"{d}/x.npy")
    check(n.dtype == np.float32 and np.array_equal(n, x), "export NumPy: float32 [C,H,W] = /reconstruction")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"readback": readback, "quality": quality, "same": same, "tolerance": tolerance, "export": export}[cmd](*args)
    sys.exit(1 if failures else 0)
