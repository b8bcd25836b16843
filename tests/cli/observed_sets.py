#!/usr/bin/python3
"""observed_sets.py - observed data sets with a known truth, made with numpy
alone (no PyTorch, no imaging library): the reference the tests of
`dataset: observed` (issue 16) compare pnp against.

    observed_sets.py golden OUT.h5   the data-term golden file (tests/golden/data_term.h5,
                                      read by tests/unit/test_data_term.c)
    observed_sets.py sets DIR        small observed sets in every file format (tests/cli/test_observed.sh)
    observed_sets.py bad DIR         bad inputs of every kind pnp must refuse (the same test)

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


# ------------------------------------------------------------ writers


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


def write_png(path, img, alpha=None):
    """img [H,W] or [C,H,W] of uint8 or uint16 (C 1 or 3); alpha [H,W] of the
    same type adds an alpha channel (for the refusal test)."""
    a = np.asarray(img)
    a = a[None] if a.ndim == 2 else a
    C, H, W = a.shape
    depth = 16 if a.dtype == np.uint16 else 8
    planes = [a[c] for c in range(C)] + ([np.asarray(alpha, a.dtype)] if alpha is not None else [])
    color = {1: 0, 2: 4, 3: 2, 4: 6}[len(planes)]
    pix = np.stack(planes, axis=-1).astype(">u2" if depth == 16 else "u1")  # [H, W, channels], big-endian
    raw = b"".join(b"\x00" + pix[y].tobytes() for y in range(H))  # filter 0 (none) on every row
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, depth, color, 0, 0, 0)))
        f.write(_png_chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(_png_chunk(b"IEND", b""))


def read_png(path):
    """A PNG as written by libpng (any filter), grey or RGB, 8 or 16 bits -> [C,H,W] integers."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    W, H, depth, color = ihdr[:4]
    C = {0: 1, 2: 3}[color]
    bpp = C * depth // 8
    raw = zlib.decompress(idat)
    stride = W * bpp
    out = np.zeros((H, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(H):
        ft = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 0:
                p = 0
            elif ft == 1:
                p = a
            elif ft == 2:
                p = b
            elif ft == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + p) & 0xff
        out[y] = cur
        prev = cur
    pix = out.reshape(H, W * C * depth // 8)
    if depth == 16:
        pix = pix.reshape(H, -1, 2).astype(np.uint16)
        pix = (pix[..., 0] << 8) | pix[..., 1]
    return pix.reshape(H, W, C).transpose(2, 0, 1)


def write_tiff(path, pages):
    """Little-endian baseline TIFF, one uncompressed strip per page. pages: a
    list of [H,W] or [C,H,W] arrays (uint8, uint16, int16, float32)."""
    fmt = {np.dtype(np.uint8): 1, np.dtype(np.uint16): 1, np.dtype(np.int16): 2, np.dtype(np.float32): 3}
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    prev_link = 4  # where the previous IFD offset goes
    for page in pages:
        a = np.asarray(page)
        a = a[None] if a.ndim == 2 else a
        C, H, W = a.shape
        bps = a.dtype.itemsize * 8
        data = np.ascontiguousarray(a.transpose(1, 2, 0)).astype(a.dtype.newbyteorder("<")).tobytes()
        while len(out) % 2:
            out += b"\x00"
        data_at = len(out)
        out += data
        while len(out) % 2:
            out += b"\x00"
        bps_at = len(out)
        out += struct.pack("<%dH" % C, *([bps] * C))
        fmt_at = len(out)
        out += struct.pack("<%dH" % C, *([fmt[a.dtype]] * C))
        tags = [(256, 4, 1, W), (257, 4, 1, H), (258, 3, C, bps if C == 1 else bps_at), (259, 3, 1, 1),
                (262, 3, 1, 2 if C == 3 else 1), (273, 4, 1, data_at), (277, 3, 1, C), (278, 4, 1, H),
                (279, 4, 1, len(data)), (284, 3, 1, 1), (339, 3, C, fmt[a.dtype] if C == 1 else fmt_at)]
        ifd_at = len(out)
        struct.pack_into("<I", out, prev_link, ifd_at)
        out += struct.pack("<H", len(tags))
        for tag, typ, count, value in tags:
            packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 and count == 1 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, typ, count) + packed
        prev_link = len(out)
        out += b"\x00\x00\x00\x00"
    open(path, "wb").write(bytes(out))


def read_tiff(path):
    """The first page of an uncompressed, contiguous TIFF (as pnp export writes it) -> [C,H,W]."""
    d = open(path, "rb").read()
    e = "<" if d[:2] == b"II" else ">"
    ifd = struct.unpack(e + "I", d[4:8])[0]
    n = struct.unpack(e + "H", d[ifd:ifd + 2])[0]
    tags = {}
    for k in range(n):
        tag, typ, count = struct.unpack(e + "HHI", d[ifd + 2 + 12 * k:ifd + 10 + 12 * k])
        size = {3: 2, 4: 4}[typ]
        raw = d[ifd + 10 + 12 * k:ifd + 14 + 12 * k]
        if size * count > 4:
            raw = d[struct.unpack(e + "I", raw)[0]:][:size * count]
        tags[tag] = struct.unpack(e + ("H" if typ == 3 else "I") * count, raw[:size * count])
    W, H, C, bps = tags[256][0], tags[257][0], tags[277][0], tags[258][0]
    assert tags[259][0] == 1, "compressed"
    dt = {8: "u1", 16: "u2", 32: "f4"}[bps]
    fmt = tags.get(339, (1,))[0]
    if bps == 32:
        assert fmt == 3
    buf = b"".join(d[o:o + c] for o, c in zip(tags[273], tags[279]))
    return np.frombuffer(buf, np.dtype(dt).newbyteorder(e), H * W * C).reshape(H, W, C).transpose(2, 0, 1)


def write_fits(path, a, kind="float32"):
    """A 2-D [H,W] or 3-D [N,H,W] primary image: kind float32, float64, uint8,
    uint16 (BITPIX 16 with BZERO 32768) or int32 (for the refusal test)."""
    a = np.asarray(a)
    bitpix, data = {
        "float32": (-32, a.astype(">f4")), "float64": (-64, a.astype(">f8")), "uint8": (8, a.astype("u1")),
        "uint16": (16, (a.astype(np.int32) - 32768).astype(">i2")), "int32": (32, a.astype(">i4"))}[kind]
    cards = ["SIMPLE  = %20s" % "T", "BITPIX  = %20d" % bitpix, "NAXIS   = %20d" % a.ndim]
    for k, n in enumerate(reversed(a.shape)):
        cards.append("NAXIS%-3d= %20d" % (k + 1, n))
    if kind == "uint16":
        cards += ["BZERO   = %20d" % 32768, "BSCALE  = %20d" % 1]
    cards.append("END")
    head = "".join(c.ljust(80) for c in cards)
    head += " " * (-len(head) % 2880)
    body = data.tobytes()
    body += b"\x00" * (-len(body) % 2880)
    open(path, "wb").write(head.encode("ascii") + body)


def read_fits(path):
    """A float32 primary image (as pnp export writes it) -> its array (reversed NAXIS order)."""
    d = open(path, "rb").read()
    hdr, end = {}, 0
    for i in range(0, len(d) // 80):
        c = d[80 * i:80 * i + 80].decode("ascii")
        if c.startswith("END"):
            end = i
            break
        if "=" in c[:10]:
            hdr[c[:8].strip()] = c[10:].split("/")[0].strip()
    start = -(-(end + 1) * 80 // 2880) * 2880
    shape = [int(hdr["NAXIS%d" % k]) for k in range(int(hdr["NAXIS"]), 0, -1)]
    assert int(hdr["BITPIX"]) == -32
    return np.frombuffer(d, ">f4", int(np.prod(shape)), start).reshape(shape)


def write_bundle(path, measurements, kernels, truth=None):
    """The layout `pnp dataset` writes (include/pnp/bundle.h)."""
    with h5py.File(path, "w") as f:
        f["measurements"] = np.asarray(measurements, np.float32)
        f["kernels"] = np.asarray(kernels, np.float32)
        if truth is not None:
            f["ground_truth"] = np.asarray(truth, np.float32)


# ------------------------------------------------------------ the sets


def quant(a, dtype):
    """float [0,1] -> the integer type (round to nearest)."""
    top = np.iinfo(dtype).max
    return np.round(np.clip(a, 0, 1) * top).astype(dtype)


def as_read(q):
    """What pnp reads from integers: float32(v) / float32(top), float32 arithmetic as pnp's C does."""
    return q.astype(np.float32) / np.float32(np.iinfo(q.dtype).max)


def problem(C, H, W, psfs, noise, seed):
    """Truth on the extended domain, its measured region, and y_i = valid conv + noise."""
    kh, kw = psfs[0].shape[-2:]
    ext = scene(C, H + kh - 1, W + kw - 1, seed)
    oy, ox = region_offset(kh, kw)
    truth = ext[:, oy:oy + H, ox:ox + W]
    rng = np.random.default_rng(seed + 1)
    ys = np.stack([np.clip(conv_valid(ext, k) + noise * rng.standard_normal((C, H, W)), 0, 1) for k in psfs])
    return ext, truth, ys


def sets(d):
    os.makedirs(d, exist_ok=True)
    ref = {}  # what each file must read back as (float32), for check_observed.py

    def keep(name, arr):
        ref[name] = np.asarray(arr, np.float32)

    # --- A: colour, 4 operators, odd non-square PSFs 13x15: the reconstruction set, in PNG 8-bit + npy PSFs
    C, H, W = 3, 96, 128
    psfs = np.stack([gaussian_psf(13, 15, 2.2, 1.2, a) for a in (0, 45, 90)] + [motion_psf(13, 15, 9, 20)])
    ext, truth, ys = problem(C, H, W, psfs, 0.01, 7)
    os.makedirs(f"{d}/A", exist_ok=True)
    for i, y in enumerate(ys):
        q = quant(y, np.uint8)
        write_png(f"{d}/A/blurred_{i}.png", q)
        keep(f"A/blurred_{i}.png", as_read(q))
        np.save(f"{d}/A/psf_{i}.npy", psfs[i] * 3.0)  # not summing to 1: pnp normalises and says so
    keep("A/psfs", psfs)
    write_png(f"{d}/A/truth.png", quant(truth, np.uint8))
    keep("A/truth.png", as_read(quant(truth, np.uint8)))
    np.save(f"{d}/A/truth_extended.npy", ext.astype(np.float32))

    # --- B: grey, 3 operators, even PSFs 12x10, many formats of the same data
    C, H, W = 1, 64, 80
    psfs = np.stack([gaussian_psf(12, 10, 1.8, 1.1, a) for a in (10, 70)] + [motion_psf(12, 10, 7, -30)])
    ext, truth, ys = problem(C, H, W, psfs, 0.01, 11)
    os.makedirs(f"{d}/B", exist_ok=True)
    q16 = quant(ys, np.uint16)
    for i in range(3):  # PNG 16-bit grey files
        write_png(f"{d}/B/png16_{i}.png", q16[i, 0])
    keep("B/png16", as_read(q16))
    write_tiff(f"{d}/B/stack_f32.tif", [ys[i, 0].astype(np.float32) for i in range(3)])  # one multi-page stack
    keep("B/stack_f32.tif", ys.astype(np.float32))
    q8 = quant(ys, np.uint8)
    for i in range(3):
        write_tiff(f"{d}/B/page_u8_{i}.tif", [q8[i, 0]])
    keep("B/page_u8", as_read(q8))
    write_fits(f"{d}/B/cube_f32.fits", ys[:, 0], "float32")  # a 3-D cube
    keep("B/cube_f32.fits", ys.astype(np.float32))
    for i in range(3):
        write_fits(f"{d}/B/img_u16_{i}.fits", q16[i, 0], "uint16")
        write_fits(f"{d}/B/img_f64_{i}.fits", ys[i, 0], "float64")
        write_fits(f"{d}/B/img_u8_{i}.fits", q8[i, 0], "uint8")
    keep("B/img_u16", as_read(q16))
    keep("B/img_f64", ys.astype(np.float32))
    keep("B/img_u8", as_read(q8))
    np.save(f"{d}/B/all_f64.npy", ys)  # [N, 1, H, W] float64
    keep("B/all_f64.npy", ys.astype(np.float32))
    for i in range(3):
        np.save(f"{d}/B/hw_u16_{i}.npy", q16[i, 0])  # [H, W] uint16
        np.save(f"{d}/B/be_f32_{i}.npy", ys[i].astype(">f4"))  # [1, H, W] big-endian float32
    keep("B/hw_u16", as_read(q16))
    keep("B/be_f32", ys.astype(np.float32))
    np.save(f"{d}/B/psfs.npy", psfs)  # [N, kh, kw] float64: N PSFs
    write_tiff(f"{d}/B/psfs.tif", [p.astype(np.float32) for p in psfs])
    write_fits(f"{d}/B/psfs.fits", psfs, "float64")
    write_png(f"{d}/B/psf_png.png", quant(psfs[0] / psfs[0].max(), np.uint16))
    keep("B/psfs", psfs)
    write_tiff(f"{d}/B/truth_u16.tif", [quant(truth[0], np.uint16)])
    keep("B/truth_u16.tif", as_read(quant(truth, np.uint16)))
    write_bundle(f"{d}/B/bundle.h5", ys, psfs, truth)
    keep("B/bundle.h5", ys.astype(np.float32))

    # --- C: colour with one PSF per channel (npy [N, C, kh, kw]), RGB TIFF uint16 and FITS-cube reference
    C, H, W = 3, 48, 64
    psfs = np.stack([np.stack([gaussian_psf(7, 9, 1.0 + 0.4 * c, 1.3, 30 * i) for c in range(3)]) for i in range(2)])
    ext = scene(C, H + 6, W + 8, 5)
    oy, ox = region_offset(7, 9)
    truth = ext[:, oy:oy + H, ox:ox + W]
    rng = np.random.default_rng(6)
    ys = np.stack([np.clip(conv_valid(ext, k) + 0.01 * rng.standard_normal((C, H, W)), 0, 1) for k in psfs])
    os.makedirs(f"{d}/C", exist_ok=True)
    q = quant(ys, np.uint16)
    for i in range(2):
        write_tiff(f"{d}/C/rgb16_{i}.tif", [q[i]])
    keep("C/rgb16", as_read(q))
    np.save(f"{d}/C/psfs.npy", psfs)
    keep("C/psfs", psfs)
    write_fits(f"{d}/C/truth.fits", truth, "float32")  # 3 planes: one RGB reference
    keep("C/truth.fits", truth.astype(np.float32))
    np.savez(f"{d}/ref.npz", **ref)


def bad(d):
    """Files pnp must refuse, beside good companions (each case's good files)."""
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 1, (3, 40, 48))
    k = gaussian_psf(5, 5, 1.0, 1.0, 0)
    np.save(f"{d}/psf.npy", k)  # a good PSF
    np.save(f"{d}/y.npy", y.astype(np.float32))  # a good measurement [3,40,48]
    for name, arr in (("shape", [y, y[:, :, :40]]), ("chan", [y, y[:1]])):
        os.makedirs(f"{d}/{name}", exist_ok=True)
        for i, a in enumerate(arr):
            write_png(f"{d}/{name}/y{i}.png", quant(a, np.uint8))
            np.save(f"{d}/{name}/p{i}.npy", k)
    np.save(f"{d}/psf_big.npy", np.ones((1, 41, 5)))
    np.save(f"{d}/psf_zero.npy", np.zeros((1, 5, 5)))
    neg = k.copy()
    neg[1, 2] = -0.01
    np.save(f"{d}/psf_neg.npy", neg)
    nan = k.copy()
    nan[2, 2] = np.nan
    np.save(f"{d}/psf_nan.npy", nan)
    np.save(f"{d}/psf_2ch.npy", np.stack([k, k])[None])  # 2 channels for 3-channel data
    for name, v in (("nan", np.nan), ("inf", np.inf)):
        a = y.astype(np.float32).copy()
        a[1, 7, 9] = v
        np.save(f"{d}/y_{name}.npy", a)
    np.save(f"{d}/ref_nan.npy", np.where(y > 0.99, np.nan, y).astype(np.float32))
    np.save(f"{d}/ref_shape.npy", y[:, :30].astype(np.float32))
    write_png(f"{d}/alpha.png", quant(y, np.uint8), alpha=np.full((40, 48), 255, np.uint8))
    open(f"{d}/garbage.png", "w").write("this is not an image\n")
    np.save(f"{d}/y_int32.npy", (y * 1000).astype(np.int32))
    write_tiff(f"{d}/y_int16.tif", [(y[0] * 1000).astype(np.int16)])
    write_fits(f"{d}/y_int32.fits", y[0] * 1000, "int32")
    # truncated files of each format: a valid file cut short
    write_png(f"{d}/full.png", quant(y, np.uint8))
    write_tiff(f"{d}/full.tif", [y[0].astype(np.float32)])
    write_fits(f"{d}/full.fits", y[0], "float32")
    write_bundle(f"{d}/full.h5", y[None], k[None])
    for ext in ("png", "tif", "fits", "h5"):
        data = open(f"{d}/full.{ext}", "rb").read()
        open(f"{d}/trunc.{ext}", "wb").write(data[:len(data) // 2])
    data = open(f"{d}/y.npy", "rb").read()
    open(f"{d}/trunc.npy", "wb").write(data[:len(data) - 100])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "golden":
        golden(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "sets":
        sets(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "bad":
        bad(sys.argv[2])
    else:
        sys.exit(__doc__)
