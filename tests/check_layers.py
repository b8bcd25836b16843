#!/usr/bin/env python3
"""check_layers.py - the architecture of src/ and kernels/ as a test.

Who depends on whom is read from what the build made, not from guesses: for
every object file of the library and the program, `nm` says which symbols it
defines and which it needs; an object that needs a symbol another one defines
depends on that file. (That is what an include means in C: a file includes a
header to call what another file defines. backend.c including backend.h,
implemented partly in backend_cpu.c, while backend_cpu.c calls back into
backend.c, is a cycle through the header; this check sees it as the two calls.)
Private headers (src/**/*.h) are checked from the include lines themselves.

It fails (exit 1, one line per problem) when
  - two files depend on each other, directly or round a longer cycle;
  - a folder depends on a folder above it in LAYERS (which also rules out
    cycles between folders), or a file sits in a folder LAYERS does not name;
  - a file includes another folder's private header from below it, or the
    include lines of headers form a cycle.
Prints "ok - ..." lines (tests/run.sh counts them).

usage: check_layers.py BUILD_DIR   (run from the repository root; make test does)
"""
import os
import re
import subprocess
import sys

# Lowest first. A folder may use its own files and those of folders before it.
LAYERS = [
    "src/core",             # errors, version, the counter-based RNG (header-only)
    "src/io",               # YAML config, images, HDF5 helpers, the result file
    "src/backends/common",  # what every backend shares
    "kernels",              # CUDA kernels (host launchers) of the CUDA backend
    "src/backends/cpu",     # the CPU backend
    "src/backends/cuda",    # the CUDA backend (cuFFT, cuDNN)
    "src/backends",         # the dispatcher: a backend by name
    "src/comm",             # MPI and NCCL communicators
    "src/nets",             # state_dicts, weights files, .pth reader, denoiser graphs
    "src/recon",            # problem, blur kernels, tiling, solver
    "src/cli",              # main and one file per subcommand
]
RANK = {d: i for i, d in enumerate(LAYERS)}


def objects(build):
    """{source path: object path} for every object the Makefile built."""
    out = {}
    for root, _, files in os.walk(os.path.join(build, "obj")):
        for f in files:
            if not f.endswith(".o"):
                continue
            obj = os.path.join(root, f)
            rel = os.path.relpath(obj, os.path.join(build, "obj"))[:-2]
            for ext in (".c", ".cu"):
                if os.path.exists(rel + ext):
                    out[rel + ext] = obj
    return out


def symbols(obj):
    """(defined, undefined) external symbols of an object file."""
    text = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind in "TDBRCGSV" or kind in "W":  # upper case: external definitions
            defined.add(name)
    return defined, undefined


def find_cycle(nodes, edges):
    """One cycle (a list of nodes) in the graph, or None."""
    colour = {n: 0 for n in nodes}
    stack = []

    def visit(n):
        colour[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if colour.get(m, 0) == 1:
                return stack[stack.index(m):] + [m]
            if colour.get(m, 0) == 0:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(nodes):
        if colour[n] == 0:
            found = visit(n)
            if found:
                return found
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    objs = objects(build)
    problems = []
    if len(objs) < 10:
        problems.append(f"only {len(objs)} objects in {build}/obj: build first (make)")

    folder = {src: os.path.dirname(src) for src in objs}
    for src, d in folder.items():
        if d not in RANK:
            problems.append(f"{src}: folder {d} is not in LAYERS of {sys.argv[0]}")

    defined_by, needs = {}, {}
    for src, obj in objs.items():
        defined, undefined = symbols(obj)
        needs[src] = undefined
        for s in defined:
            defined_by.setdefault(s, src)
    deps = {src: {defined_by[s] for s in needs[src] if s in defined_by and defined_by[s] != src} for src in objs}
    nedges = sum(len(v) for v in deps.values())

    # files: no cycle
    cycle = find_cycle(objs.keys(), deps)
    if cycle:
        problems.append("files depend on each other: " + " -> ".join(cycle))

    # folders: only downwards (or sideways within one folder)
    for src, targets in sorted(deps.items()):
        for t in sorted(targets):
            a, b = folder[src], folder[t]
            if a in RANK and b in RANK and RANK[b] > RANK[a]:
                used = sorted(s for s in needs[src] if defined_by.get(s) == t)
                problems.append(f"{src} ({a}) uses {t} ({b}), a layer above it: {', '.join(used[:4])}")

    # private headers: from the own folder or a folder above the header's
    include_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    sources = [os.path.join(r, f) for top in ("src", "kernels", "include") for r, _, fs in os.walk(top) for f in fs
               if f.endswith((".c", ".cu", ".h"))]
    header_edges = {}
    for path in sources:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        here = os.path.dirname(path)
        for inc in include_re.findall(text):
            target = None
            for cand in (os.path.join(here, inc), os.path.join("src", inc), os.path.join("include", inc),
                         os.path.join("kernels", inc)):
                if os.path.exists(cand):
                    target = os.path.normpath(cand)
                    break
            if target is None:
                continue
            if path.endswith(".h"):
                header_edges.setdefault(path, set()).add(target)
            tdir = os.path.dirname(target)
            if target.startswith("src/") and tdir != here and here in RANK and tdir in RANK \
                    and RANK[tdir] > RANK[here]:
                problems.append(f"{path} includes {target}, the private header of a layer above it")
    cycle = find_cycle(header_edges.keys(), header_edges)
    if cycle:
        problems.append("headers include each other: " + " -> ".join(cycle))

    for p in problems:
        print(f"not ok - layers: {p}")
    if not problems:
        nfolders = len({folder[s] for s in objs})
        print(f"ok - layers: {len(objs)} files in {nfolders} folders, {nedges} file dependencies (nm): "
              "no cycle, every folder uses only itself and the layers below it")
        print("ok - layers: private headers included only from their folder or above; no header include cycle")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
