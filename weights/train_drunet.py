#!/usr/bin/env python3
"""train_drunet.py - trains pnp's own small colour DRUNet (weights/README.md says
which run made the committed weights and how long it took).

The network is deepinv's DRUNet class itself (deepinv.models.DRUNet, random
init, no download), so the state_dict keys and shapes are exactly deepinv's and
KAIR's and pnp reads them (`pnp weights convert`, spec "drunet:W0,W1,W2,W3:NB"):
input RGB + one constant channel equal to sigma in [0,1] units (what pnp feeds
it, `pnp denoise --sigma`, `denoiser_sigma` of `pnp run`), no biases.

Data: ONLY the large photos of ../shared/data/images/*.png (never CBSD68, the
test set), each with its 2x2 box-filter halvings down to a longer side of 512
(the photos are 2048-4096 px; halving gives patches with the texture density of
smaller photos). A training example: a pyramid level chosen uniformly, a random
PATCHxPATCH crop, one of the 8 flips/rotations, Gaussian noise of a level drawn
uniformly in [0, 50/255] (not clipped); loss L1 against the clean patch;
Adam with a cosine learning rate; deepinv's initialisation plus an identity
path through head and tail (see main). Everything random comes from torch generators
seeded by --seed; one thread, deterministic algorithms: a rerun with the same
arguments repeats the same weights (checked as weights/README.md says).

    python3 weights/train_drunet.py --out DIR [--widths 16,32,64,128] [--nb 2]
        [--steps N] [--batch B] [--patch P] [--lr LR] [--seed S] [--resume]
        [--pnp build/pnp --h5 weights/drunet_small.h5]

DIR receives train.log, checkpoint.pt (every --checkpoint-every steps and at the
end: model, optimizer, step, generator states; --resume continues from it) and
final.pth (the state_dict); with --pnp and --h5 the final weights are converted
to pnp's HDF5 format by `pnp weights convert` and the training provenance is
added as root attributes (pnp reads only the datasets).
"""
import argparse
import glob
import hashlib
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--images", default=os.path.join(here, "..", "..", "shared", "data", "images"),
                   help="folder whose *.png are the training photos (not recursive: CBSD68/ is not read)")
    p.add_argument("--out", required=True, help="folder for the log, checkpoint and final weights")
    p.add_argument("--widths", default="16,32,64,128")
    p.add_argument("--nb", type=int, default=2, help="residual blocks per level")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=64, help="patch side, a multiple of 8")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine decay to lr/100)")
    p.add_argument("--warmup", type=int, default=100, help="steps of linear warm-up")
    p.add_argument("--sigma-max", type=float, default=50.0, help="largest noise level, in /255 units")
    p.add_argument("--min-side", type=int, default=512, help="halve each photo while its longer side stays >= this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--monitor-every", type=int, default=500)
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--pnp", help="pnp program, to convert the final weights to HDF5")
    p.add_argument("--h5", help="HDF5 weights to write (with --pnp)")
    a = p.parse_args()
    a.widths = [int(w) for w in a.widths.split(",")]
    if len(a.widths) != 4 or a.patch % 8 or a.nb < 1:
        p.error("--widths needs 4 numbers, --patch a multiple of 8, --nb >= 1")
    if bool(a.pnp) != bool(a.h5):
        p.error("--pnp and --h5 go together")
    return a


def load_pyramid(folder, min_side):
    """[C,H,W] float32 tensors in [0,1]: every photo and its 2x2 box halvings."""
    files = sorted(glob.glob(os.path.join(folder, "*.png")))
    if not files:
        sys.exit(f"train_drunet.py: no *.png in {folder}")
    levels, names = [], []
    for f in files:
        if "cbsd68" in os.path.basename(f).lower():
            sys.exit(f"train_drunet.py: {f}: CBSD68 is the test set, not training data")
        x = torch.from_numpy(np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0)
        x = x.permute(2, 0, 1).contiguous()
        k = 0
        while True:
            levels.append(x)
            names.append(f"{os.path.basename(f)}/{2 ** k}")
            if max(x.shape[1:]) // 2 < min_side:
                break
            h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
            x = F.avg_pool2d(x[None, :, :h, :w], 2)[0].contiguous()
            k += 1
    return levels, names, files


def sample_batch(levels, n, patch, sigma_max, gen):
    """clean [n,3,P,P], noisy [n,3,P,P], sigma [n] (in [0,1] units) from generator gen."""
    clean = torch.empty(n, 3, patch, patch)
    for i in range(n):
        x = levels[int(torch.randint(len(levels), (1,), generator=gen))]
        top = int(torch.randint(x.shape[1] - patch + 1, (1,), generator=gen))
        left = int(torch.randint(x.shape[2] - patch + 1, (1,), generator=gen))
        p = x[:, top:top + patch, left:left + patch]
        aug = int(torch.randint(8, (1,), generator=gen))
        if aug & 4:
            p = p.flip(2)
        clean[i] = torch.rot90(p, aug & 3, dims=(1, 2))
    sigma = torch.rand(n, generator=gen) * (sigma_max / 255.0)
    noisy = clean + sigma.view(n, 1, 1, 1) * torch.randn(clean.shape, generator=gen)
    return clean, noisy, sigma


def denoise(model, noisy, sigma):
    """The forward pass pnp runs: cat(noisy, constant sigma map) through the U-Net."""
    smap = sigma.view(-1, 1, 1, 1).expand(-1, 1, *noisy.shape[2:])
    return model.forward_unet(torch.cat([noisy, smap], 1))


def psnr(a, b):
    return -10.0 * math.log10(float(F.mse_loss(a.clamp(0, 1), b)))


def lr_at(step, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def state_digest(model):
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(a.seed)
    import deepinv

    os.makedirs(a.out, exist_ok=True)
    logf = open(os.path.join(a.out, "train.log"), "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    levels, names, files = load_pyramid(a.images, a.min_side)
    model = deepinv.models.DRUNet(in_channels=3, out_channels=3, nc=a.widths, nb=a.nb, pretrained=None)
    # deepinv's init (orthogonal, gain 0.2) plus an identity path: the head copies
    # RGB into its first 3 channels and the tail reads them back (centre taps), so
    # the untrained network starts near D(y) = y instead of near 0 (DRUNet has no
    # global residual) and training learns the correction.
    with torch.no_grad():
        for c in range(3):
            model.m_head.weight[c, c, 1, 1] += 1.0
            model.m_tail.weight[c, c, 1, 1] += 1.0
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    data_gen = torch.Generator().manual_seed(a.seed + 1)
    # monitor: fixed noisy patches of the TRAINING photos (a sanity check of the
    # fit, not a test score), at 15, 25 and 50 /255
    mon_gen = torch.Generator().manual_seed(a.seed + 2)
    mon_clean, _, _ = sample_batch(levels, 24, 128, 0.0, mon_gen)
    mon = []
    for s in (15, 25, 50):
        sig = torch.full((24,), s / 255.0)
        mon.append((s, mon_clean + sig.view(-1, 1, 1, 1) * torch.randn(mon_clean.shape, generator=mon_gen), sig))

    step, spent = 0, 0.0
    ckpt = os.path.join(a.out, "checkpoint.pt")
    if a.resume:
        c = torch.load(ckpt, weights_only=False)
        if c["args"] != {k: v for k, v in vars(a).items() if k not in ("resume", "pnp", "h5")}:
            sys.exit(f"train_drunet.py: {ckpt} was made with other arguments: {c['args']}")
        model.load_state_dict(c["model"])
        opt.load_state_dict(c["opt"])
        data_gen.set_state(c["data_gen"])
        step, spent = c["step"], c["seconds"]
        log(f"resumed at step {step} ({spent:.0f} s spent before)")
    else:
        nparams = sum(p.numel() for p in model.parameters())
        log(f"train_drunet.py {' '.join(sys.argv[1:])}")
        log(f"torch {torch.__version__}, deepinv {deepinv.__version__}, {a.threads} thread(s), seed {a.seed}")
        log(f"DRUNet widths {a.widths}, {a.nb} blocks per level, {nparams} parameters, "
            f"{len(model.state_dict())} tensors")
        log(f"training photos: {', '.join(os.path.basename(f) for f in files)}; "
            f"pyramid levels: {', '.join(f'{n} {x.shape[2]}x{x.shape[1]}' for n, x in zip(names, levels))}")

    def save_checkpoint():
        tmp = ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "data_gen": data_gen.get_state(),
                    "step": step, "seconds": spent,
                    "args": {k: v for k, v in vars(a).items() if k not in ("resume", "pnp", "h5")}}, tmp)
        os.replace(tmp, ckpt)

    def monitor():
        model.eval()
        with torch.no_grad():
            r = [f"{s}: {psnr(denoise(model, y, sig), mon_clean):.2f} dB (noisy {psnr(y, mon_clean):.2f})"
                 for s, y, sig in mon]
        model.train()
        return "monitor (training-photo patches) " + ", ".join(r)

    model.train()
    t0, run_loss, run_n = time.time(), 0.0, 0
    while step < a.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a)
        clean, noisy, sigma = sample_batch(levels, a.batch, a.patch, a.sigma_max, data_gen)
        loss = F.l1_loss(denoise(model, noisy, sigma), clean)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        run_loss += float(loss)
        run_n += 1
        if step % a.log_every == 0 or step == a.steps:
            now = time.time()
            spent += now - t0
            t0 = now
            log(f"step {step}/{a.steps} loss {run_loss / run_n:.5f} lr {lr_at(step - 1, a):.2e} "
                f"elapsed {spent:.0f} s ({spent / step:.3f} s/step)")
            run_loss, run_n = 0.0, 0
        if step % a.monitor_every == 0 or step == a.steps:
            log(monitor())
            t0 = time.time()  # monitoring time is not training time
        if step % a.checkpoint_every == 0 or step == a.steps:
            save_checkpoint()

    final = os.path.join(a.out, "final.pth")
    torch.save(model.state_dict(), final)
    log(f"done: {step} steps, {spent:.0f} s of training; wrote {final}; sha256 of the weights {state_digest(model)}")
    if a.pnp:
        subprocess.run([a.pnp, "weights", "convert", final, a.h5], check=True)
        import h5py
        with h5py.File(a.h5, "r+") as f:
            f.attrs["trained_by"] = "weights/train_drunet.py (see weights/README.md)"
            f.attrs["training_args"] = json.dumps({k: v for k, v in vars(a).items()
                                                   if k not in ("resume", "pnp", "h5", "out", "images")})
            f.attrs["training_photos"] = ", ".join(os.path.basename(x) for x in files)
            f.attrs["training_steps"] = step
            f.attrs["training_seconds"] = round(spent)
            f.attrs["torch_version"] = str(torch.__version__)
            f.attrs["weights_sha256"] = state_digest(model)
        log(f"wrote {a.h5}")


if __name__ == "__main__":
    main()
