#!/usr/bin/env python3
"""rewrite_cu.py - turn a kernels/*.cu file into host C++ for the CUDA emulation
(tests/cuda_emu/README.md; kernel_shim.h defines what the output calls).

    rewrite_cu.py IN.cu OUT.cpp

- `name<<<grid, block[, shmem[, stream]]>>>(args);` becomes
  `::emu::launch({"name", __FILE__, __LINE__, barrier}, ::emu::config(grid, block, ...),
  [=]() { name(args); }, args);` where barrier says whether the body of the
  __global__ function `name` calls __syncthreads (its threads then run
  concurrently, meeting at a real barrier);
- `__shared__ T name[N]...;` becomes `EMU_SHARED(T, name, [N]...);` (per-block storage).

Line numbers are kept (a `#line` directive, no line added or removed), so
compiler messages and the emulation's reports name the .cu file and line. Any
launch or __shared__ declaration this script cannot parse stops the build."""
import re
import sys


def matching(text, i, open_ch, close_ch):
    """Index just past the bracket closing the one at text[i]."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_ch:
            depth += 1
        elif text[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j + 1
    sys.exit(f"rewrite_cu.py: unbalanced {open_ch}{close_ch} at offset {i}")


def kernels_with_barrier(text):
    """Names of the __global__ functions whose body calls __syncthreads."""
    names = set()
    for m in re.finditer(r"__global__\s+void\s+(\w+)\s*\(", text):
        params_end = matching(text, m.end() - 1, "(", ")")
        body = text.index("{", params_end)
        if "__syncthreads" in text[body:matching(text, body, "{", "}")]:
            names.add(m.group(1))
    return names


def rewrite(text, path):
    barrier = kernels_with_barrier(text)
    out, pos = [], 0
    launch = re.compile(r"\b([A-Za-z_]\w*)\s*<<<")
    while True:
        m = launch.search(text, pos)
        if not m:
            break
        cfg_end = text.find(">>>", m.end())
        if cfg_end < 0:
            sys.exit(f"{path}: launch of {m.group(1)} without >>>")
        cfg = text[m.end():cfg_end]
        paren = cfg_end + 3
        while text[paren].isspace():
            paren += 1
        if text[paren] != "(":
            sys.exit(f"{path}: launch of {m.group(1)}: no argument list after >>>")
        args_end = matching(text, paren, "(", ")")
        args = text[paren + 1:args_end - 1]
        name = m.group(1)
        flat = " ".join(args.split())
        out.append(text[pos:m.start()])
        out.append(f'::emu::launch({{"{name}", __FILE__, __LINE__, {"true" if name in barrier else "false"}}}, '
                   f"::emu::config({' '.join(cfg.split())}), [=]() {{ {name}({args}); }}"
                   f"{', ' + flat if flat else ''})")
        pos = args_end
    out.append(text[pos:])
    text = "".join(out)
    shared = re.compile(r"__shared__\s+([A-Za-z_][\w:<> ]*?)\s+([A-Za-z_]\w*)\s*((?:\[[^\]]+\]\s*)+);")
    text = shared.sub(lambda s: f"EMU_SHARED({s.group(1)}, {s.group(2)}, {s.group(3).strip()});", text)
    for bad in ("<<<", "__shared__"):
        i = text.find(bad)
        if i >= 0:
            line = text.count("\n", 0, i) + 1
            sys.exit(f"{path}:{line}: rewrite_cu.py cannot rewrite this {bad} (see tests/cuda_emu/README.md)")
    return f'#line 1 "{path}"\n' + text


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        text = f.read()
    with open(dst, "w") as f:
        f.write(rewrite(text, src))


if __name__ == "__main__":
    main()
