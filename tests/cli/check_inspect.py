"""check_inspect.py - check `pnp inspect --json` and `pnp report` against the
result files, read with h5py.

    check_inspect.py json JSONFILE FILE...    the JSON parses, has one object per
                                              FILE in order, and its numbers equal
                                              those recomputed from the file
    check_inspect.py report DIR FILE...       every figure and preview is a valid,
                                              non-trivial PNG; index.html shows each
                                              one and the table (once) with a row
                                              per file

Recomputed as `pnp inspect` documents (plain left-to-right sums, as the C
code, so equality is exact): for [iterations, ranks] traces each rank's mean
over iterations ("per_rank"), their mean over ranks (the split: gradient_time,
denoise_time, wait_time, comm_time; other_time the wall time minus them), and
the slowest rank's (the max over ranks per iteration, then the mean over
iterations); peak memory: each rank's max over iterations; wall time per
iteration: the last /traces/elapsed / iterations.
Prints ok/not ok lines (tests/run.sh counts them); exit 1 on any failure."""
import json
import os
import struct
import sys

import h5py
import numpy as np

failed = 0
FIGURES = ("psnr_vs_iteration.png", "psnr_vs_time.png", "ssim_vs_iteration.png", "residual_vs_iteration.png",
           "time_split.png", "scaling.png", "memory_per_rank.png")


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what)
    failed += not cond


def mean_of_slowest(a):
    if a.shape[0] == 0:
        return None
    total = 0.0
    for row in a:
        total += float(row.max())
    return total / a.shape[0]


def rank_means(a):
    """Each rank's mean over iterations of a [iterations, ranks] trace, summed in order."""
    out = []
    for q in range(a.shape[1]):
        total = 0.0
        for k in range(a.shape[0]):
            total += float(a[k, q])
        out.append(total / a.shape[0])
    return out


def check_json(jpath, files):
    try:
        with open(jpath) as fh:
            doc = json.load(fh)
    except ValueError as err:
        check(False, f"--json output parses as JSON ({err})")
        return
    check(isinstance(doc, list) and len(doc) == len(files), f"--json: an array of {len(files)} objects")
    if not isinstance(doc, list):
        return
    for obj, path in zip(doc, files):
        name = os.path.basename(os.path.dirname(path))
        with h5py.File(path, "r") as f:
            a, tr = f.attrs, f["traces"]
            check(obj["file"] == path and obj["status"] == a["status"] and obj["grid_row"] == a["grid_row"]
                  and obj["backend"] == a["backend"] and obj["denoiser"] == a["denoiser"],
                  f"{name}: file, status, grid_row, backend, denoiser as in the file")
            check(all(isinstance(obj[k], int) for k in ("ranks", "iterations", "grid_row_index"))
                  and obj["ranks"] == int(a["ranks"]) and obj["iterations"] == int(a["iterations"])
                  and obj["grid_row_index"] == int(a["grid_row_index"]),
                  f"{name}: ranks {obj['ranks']}, iterations {obj['iterations']}, grid row as integers")
            check(all(obj[k] == float(a[k]) for k in ("final_psnr", "initial_psnr", "total_time", "setup_time")),
                  f"{name}: final PSNR {obj['final_psnr']!r} (and initial PSNR, total and setup time) equal "
                  "the root attributes exactly")
            el = tr["elapsed"][...]
            check(obj["iteration_time"] == float(el[-1]) / len(el), f"{name}: wall time per iteration "
                  "= last /traces/elapsed / iterations")
            other = obj["iteration_time"]
            for key in ("gradient_time", "denoise_time", "wait_time", "comm_time"):
                per_rank = rank_means(tr[key][...])
                total = 0.0
                for v in per_rank:
                    total += v
                want = total / len(per_rank)
                other -= want
                near = abs(obj[key] - float(np.mean(tr[key][...]))) <= 1e-12 * max(1.0, want)
                check(obj["per_rank"][key] == per_rank and obj[key] == want and near,
                      f"{name}: {key} {obj[key]!r} = the mean over ranks of each rank's mean over iterations "
                      f"(per_rank {obj['per_rank'][key]}) of /traces/{key}")
                want = mean_of_slowest(tr[key][...])
                check(obj["slowest"][key] == want,
                      f"{name}: slowest.{key} {want!r} = mean over iterations of the max over ranks")
            check(obj["other_time"] == other, f"{name}: other_time {obj['other_time']!r} = wall - the split")
            for key in ("bytes_sent", "bytes_received"):
                check(obj["per_rank"][key] == rank_means(tr[key][...]),
                      f"{name}: per_rank.{key} {obj['per_rank'][key]} = each rank's mean of /traces/{key}")
            tiled = "slab_combine" in a
            check(obj["slab_combine"] == (a["slab_combine"] if tiled else None)
                  and obj["patch_size"] == (int(a["patch_size"]) if tiled else None)
                  and obj["comm_overlap"] == (bool(a["comm_overlap"]) if tiled else False)
                  and obj["pixels_owned"] == ([float(v) for v in tr["pixels_owned"][...]] if tiled else None),
                  f"{name}: slab_combine {obj['slab_combine']}, patch_size {obj['patch_size']}, comm_overlap "
                  f"{obj['comm_overlap']}, pixels_owned {obj['pixels_owned']} as in the file")
            peak = tr["peak_memory"][...].max(axis=0)
            check(isinstance(obj["peak_memory"], list) and len(obj["peak_memory"]) == int(a["ranks"])
                  and obj["peak_memory"] == [float(v) for v in peak],
                  f"{name}: peak memory per rank {obj['peak_memory']} = max over iterations of /traces/peak_memory")
            check(obj["operators_owned"] == [float(v) for v in tr["operators_owned"][...]]
                  and obj["windows_owned"] == [float(v) for v in tr["windows_owned"][...]],
                  f"{name}: operators and windows owned per rank as in /traces")
            check(obj["planned_memory"] == [float(v) for v in tr["planned_memory"][...]],
                  f"{name}: planned memory per rank {obj['planned_memory']} = /traces/planned_memory")
            check(obj["traces"]["psnr"] == [float(v) for v in tr["psnr"][...]]
                  and obj["traces"]["elapsed"] == [float(v) for v in tr["elapsed"][...]],
                  f"{name}: traces.psnr and traces.elapsed equal /traces/psnr and /traces/elapsed exactly")
            images = obj["images"]
            check(set(images) == {"ground_truth", "measurement", "reconstruction", "reconstruction_extended"}
                  and images["reconstruction_extended"] is None  # boundary circular: x is the measured region
                  and all(images[k] in f and f[images[k]].shape == f["reconstruction"].shape for k in images
                          if images[k]),
                  f"{name}: images {images} name the [3,H,W] datasets of the file")


def png_size(path):
    """(width, height) from the PNG signature and IHDR chunk, or None."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def check_report(outdir, files, names):
    pngs = list(FIGURES) + [f"preview_{n}.png" for n in names]
    try:
        import matplotlib.image as mpimg
    except ImportError:
        mpimg = None
    for png in pngs:
        p = os.path.join(outdir, png)
        size = png_size(p) if os.path.exists(p) else None
        ok = size is not None and size[0] >= 200 and size[1] >= 100 and os.path.getsize(p) > 2000
        if ok and mpimg is not None:
            img = mpimg.imread(p)
            ok = img.shape[:2] == (size[1], size[0]) and float(img[..., :3].std()) > 0.01  # not blank
        check(ok, f"report: {png} is a valid PNG ({size}, {os.path.getsize(p) if os.path.exists(p) else 0} "
              "bytes, not blank)")
    index = os.path.join(outdir, "index.html")
    text = open(index, encoding="utf-8").read() if os.path.exists(index) else ""
    check(all(f'src="{png}"' in text for png in pngs), "report: index.html shows every figure and preview")
    check(all(text.count(f"<td>{path}</td>") == 1 for path in files) and text.count("peak MiB per rank") == 1,
          "report: index.html has the table of pnp inspect once, with a row per file")
    check(text.count("<th>total speed-up</th>") == 1 and "<tr><td>1</td><td>1</td><td>1</td>" in text
          and "<tr><td>1</td><td>2</td><td>1</td>" in text and "<tr><td>2</td>" not in text,
          "report: index.html has the speed-up table: one problem, at 1 rank (1 run) and 2 ranks (1 run)")


def main():
    mode = sys.argv[1]
    if mode == "json":
        check_json(sys.argv[2], sys.argv[3:])
    elif mode == "report":
        # names as pnp-report makes them: parent folder + file name when the file names collide
        files = sys.argv[3:]
        names = [f"{os.path.basename(os.path.dirname(p))}_{os.path.splitext(os.path.basename(p))[0]}"
                 for p in files]
        check_report(sys.argv[2], files, names)
    else:
        sys.exit(f"unknown mode {mode}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
