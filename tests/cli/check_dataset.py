"""check_dataset.py - read a `pnp dataset` HDF5 file with h5py and check the
documented layout and the forward model:

    check_dataset.py FILE CONFIG_FILE_OR_- H W N

- root provenance attributes are str (variable-length UTF-8), ranks is an int;
- /ground_truth [3,H,W] float32 in [0,1], chunked and gzip-compressed, layout "CHW";
- /kernels [N,k,k], each sums to 1; /measurements [N,3,H,W] in [0,1];
- y_i - A_i x (A_i recomputed here with numpy's FFT from the stored kernels),
  over pixels not clamped, has mean ~0 and std ~noise_level (5%);
- /config/yaml is the configuration verbatim; /config/row holds the parameters.
Prints ok/not ok lines; exit 1 on any failure."""
import sys

import h5py
import numpy as np

path, cfg, H, W, N = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what)
    failed += not cond


with h5py.File(path, "r") as f:
    for key in ("pnp_version", "git_commit", "created_utc", "hosts", "slurm_job_id", "backend",
                "library_versions", "grid_row", "config_file"):
        check(isinstance(f.attrs.get(key), str), f"root attribute {key} is a str: {f.attrs.get(key)!r:.60}")
    check(isinstance(f.attrs["ranks"], (int, np.integer)) and f.attrs["ranks"] == 1, "root attribute ranks = 1")
    gt = f["ground_truth"]
    check(gt.shape == (3, H, W) and gt.dtype == np.float32, f"/ground_truth is float32 [3,{H},{W}]: {gt.shape}")
    check(gt.chunks is not None and gt.compression == "gzip", f"/ground_truth chunked {gt.chunks}, {gt.compression}")
    check(gt.attrs["layout"] == "CHW", "/ground_truth layout attribute is 'CHW'")
    x = gt[...].astype(np.float64)
    check(x.min() >= 0 and x.max() <= 1, f"ground truth in [0,1]: [{x.min():.3f}, {x.max():.3f}]")
    k = f["kernels"][...].astype(np.float64)
    check(k.shape[0] == N and k.shape[1] == k.shape[2] and k.shape[1] % 2 == 1, f"/kernels [N,k,k]: {k.shape}")
    check(np.allclose(k.sum(axis=(1, 2)), 1, atol=1e-5), "every kernel sums to 1")
    check(len(f["kernels"].attrs["angles_deg"]) == N, "kernel angles stored")
    m = f["measurements"]
    check(m.shape == (N, 3, H, W) and m.attrs["layout"] == "NCHW", f"/measurements [N,3,H,W] NCHW: {m.shape}")
    sigma = float(m.attrs["noise_level"])
    ks = k.shape[1]
    for i in range(N):
        y = m[i].astype(np.float64)
        pad = np.zeros((H, W))
        for a in range(ks):
            for b in range(ks):
                pad[(a - ks // 2) % H, (b - ks // 2) % W] += k[i, a, b]
        ax = np.fft.irfft2(np.fft.rfft2(x) * np.fft.rfft2(pad), s=(H, W))
        inside = (y > 0) & (y < 1)
        r = (y - ax)[inside]
        check(y.min() >= 0 and y.max() <= 1 and abs(r.mean()) < 0.05 * sigma + 3 * sigma / np.sqrt(r.size)
              and abs(r.std() / sigma - 1) < 0.05,
              f"measurement {i}: y - A x has mean {r.mean():.4f}, std {r.std():.4f} (noise_level {sigma})")
    text = f["config/yaml"][()]
    text = text.decode() if isinstance(text, bytes) else text
    if cfg != "-":
        check(text == open(cfg).read(), "/config/yaml is the configuration verbatim")
    row = f["config/row"].attrs
    check(row["num_operators"] == N and isinstance(row["denoiser"], str), "/config/row holds the resolved parameters")
sys.exit(1 if failed else 0)
