#!/usr/bin/env python3
"""make_golden_pth.py - small PyTorch checkpoints for the C checkpoint reader
(src/nets/pth.c, tests/unit/test_pth.c), and their values as HDF5.

Made with PyTorch and h5py on CPU; the tests themselves never need Python.
Re-create with

    pip install torch h5py numpy
    python3 tests/golden/make_golden_pth.py

Files (small, committed; every value is fixed by torch.manual_seed, but the
legacy file's storage keys are memory addresses, so it differs run to run):
  pth_zip.pth      the state_dict below, torch.save default (zip archive, pickle protocol 2)
  pth_legacy.pth   the same, _use_new_zipfile_serialization=False (pre-1.6 format)
  pth_proto4.pth   the same, zip archive with pickle_protocol=4 (FRAME, MEMOIZE, ...)
  pth_values.h5    one float32 dataset per key, in file order, with the exact
                   values the reader must return (float16/bfloat16/float64
                   tensors converted to float32 as torch's .float() does);
                   the root attribute "keys" lists the keys in order
  pth_bigendian.pth  pth_zip.pth rewritten as a big-endian machine would save it
                   (ARCHIVE/byteorder "big", every storage byte-swapped per
                   element); torch.load reads it back to the same values
  pth_int64.pth    a state_dict holding an int64 tensor (BatchNorm's
                   num_batches_tracked): the reader must refuse it (unsupported dtype)

The state_dict is a real nn.Module's (OrderedDict with a _metadata attribute)
plus extra entries covering what the reader must honour: a transposed view,
a slice with a storage offset, two tensors sharing one storage, a stride-0
expanded tensor, a 0-d tensor, an empty tensor, 5-d, float16, bfloat16, float64.
"""
import collections
import io
import os
import pickle
import zipfile

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def state_dict():
    torch.manual_seed(1234)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1, bias=False))
    sd = net.state_dict()  # OrderedDict with _metadata
    assert hasattr(sd, "_metadata")
    base = torch.randn(6, 7)
    sd["transposed"] = torch.randn(5, 6).t()  # [6,5], stride (1,6)
    sd["slice"] = base[2:5, 1:4]  # [3,3], offset 15, stride (7,1)
    shared = torch.randn(30)
    sd["shared.a"] = shared[:10]  # the same storage as shared.b
    sd["shared.b"] = shared[10:].view(4, 5)  # offset 10
    sd["expanded"] = torch.randn(3, 1).expand(3, 4)  # stride (1, 0)
    sd["scalar"] = torch.tensor(3.25)
    sd["empty"] = torch.zeros(0, 3)
    sd["rank5"] = torch.randn(2, 1, 3, 2, 2)
    sd["half"] = torch.randn(2, 3).half()
    sd["bfloat16"] = torch.randn(4).bfloat16()
    sd["double"] = torch.randn(3, 2, dtype=torch.float64).t()  # also non-contiguous
    return sd


def big_endian_copy(src, dst):
    """Rewrite a zip checkpoint as saved on a big-endian machine."""
    zin = zipfile.ZipFile(src)
    prefix = zin.namelist()[0].split("/")[0]
    elsize = {}  # storage key -> element size, from the persistent ids in data.pkl

    class Scan(pickle.Unpickler):
        def persistent_load(self, pid):
            elsize[pid[2]] = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8}[pid[1].__name__]

        def find_class(self, module, name):
            if name.startswith("_rebuild_tensor"):
                return lambda *a: None
            return super().find_class(module, name)

    Scan(io.BytesIO(zin.read(prefix + "/data.pkl"))).load()
    # torch.load finds records by name, not position; keep the order, no compression
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            rel = info.filename[len(prefix) + 1:]
            if rel == "byteorder":
                data = b"big"
            elif rel.startswith("data/") and rel[5:] in elsize:
                e = elsize[rel[5:]]
                data = np.frombuffer(data, dtype=f"u{e}").byteswap().tobytes() if data else data
            zout.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0)), data)


def main():
    sd = state_dict()
    torch.save(sd, os.path.join(HERE, "pth_zip.pth"))
    torch.save(sd, os.path.join(HERE, "pth_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(sd, os.path.join(HERE, "pth_proto4.pth"), pickle_protocol=4)
    with h5py.File(os.path.join(HERE, "pth_values.h5"), "w") as f:
        f.attrs["keys"] = "\n".join(sd.keys())
        for k, v in sd.items():
            f.create_dataset(k, data=v.float().contiguous().numpy())
    big_endian_copy(os.path.join(HERE, "pth_zip.pth"), os.path.join(HERE, "pth_bigendian.pth"))
    bn = collections.OrderedDict(torch.nn.BatchNorm2d(2).state_dict())
    torch.save(bn, os.path.join(HERE, "pth_int64.pth"))
    # every file must read back with torch itself
    for name in ["pth_zip.pth", "pth_legacy.pth", "pth_proto4.pth", "pth_bigendian.pth"]:
        # torch's weights_only unpickler refuses protocol 4 (FRAME); our own file is trusted
        back = torch.load(os.path.join(HERE, name), weights_only=name != "pth_proto4.pth")
        assert list(back.keys()) == list(sd.keys())
        for k in sd:
            assert torch.equal(back[k], sd[k]), (name, k)
    with h5py.File(os.path.join(HERE, "pth_values.h5")) as f:
        for k, v in sd.items():
            assert np.array_equal(f[k][()], v.float().numpy())


if __name__ == "__main__":
    main()
