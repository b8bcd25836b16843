#!/usr/bin/env bash
# deps.sh - install (as root) or name (otherwise) the Debian 12 packages pnp
# needs to build, run and test. Does nothing when all are present.
# The CUDA toolkit is optional and not installed here. deps.sh looks for it
# (nvcc on PATH or in /usr/local/cuda, with cuDNN and NCCL beside it, or where
# CUDA_HOME / CUDNN_HOME / NCCL_HOME point), says what it found, and writes
# config.mk: the Makefile builds the CUDA backend exactly when config.mk (or
# the make command line) says CUDA = 1.
set -euo pipefail
PACKAGES=(
    build-essential pkg-config git      # compiler, make, build metadata
    libopenmpi-dev openmpi-bin          # MPI (mpicc, mpirun)
    libyaml-dev                         # configuration files
    libpng-dev                          # image input
    libtiff-dev libcfitsio-dev          # observed data: TIFF and FITS images and PSFs
    libfftw3-dev                        # CPU FFTs (single precision)
    libhdf5-dev hdf5-tools              # results, weights; h5dump
    python3 python3-h5py python3-numpy  # the tests read results back as users do
    python3-matplotlib                  # pnp report (scripts/pnp-report): figures
    slurm-wlm munge                     # a real Slurm for tests/cli/test_grid.sh (tests/slurm/harness.sh
                                        # starts private daemons during that test only)
    iproute2                            # ip: network namespaces for the two-node Slurm of
                                        # tests/cli/test_two_nodes.sh (nsenter, unshare: util-linux)
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PACKAGES[@]} Debian packages present"
elif [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: as root, run: apt-get install -y ${missing[*]}" >&2
    exit 1
else
    start=$(date +%s)
    echo "deps: installing ${#missing[@]} Debian packages (a few minutes on a fresh machine): ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "deps: apt-get update"
    apt-get update -q | sed -u 's/^/deps:   /'
    echo "deps: apt-get install (one line per package as it is set up)"
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" \
        > >(grep --line-buffered '^Setting up' | sed -u 's/^/deps:   /'); then
        echo "deps: apt-get install failed (its message is above)" >&2
        exit 1
    fi
    echo "deps: done: ${#missing[@]} packages installed in $(($(date +%s) - start)) s"
fi

# The CUDA toolkit: every piece the CUDA backend links, or the first one missing.
cd "$(dirname "$0")/.."
find_cuda() {
    local nvcc need
    if [ -n "${CUDA_HOME:-}" ]; then nvcc=$CUDA_HOME/bin/nvcc
    elif command -v nvcc >/dev/null; then nvcc=$(command -v nvcc)
    else nvcc=/usr/local/cuda/bin/nvcc; fi
    [ -x "$nvcc" ] || { why="no nvcc (not on PATH, not $nvcc)"; return 1; }
    cuda_home=$(dirname "$(dirname "$nvcc")")
    cudnn_home=${CUDNN_HOME:-$cuda_home}
    nccl_home=${NCCL_HOME:-$cuda_home}
    for need in "$cuda_home/lib64/libcufft.so" "$cuda_home/lib64/libcudart.so" \
                "$cudnn_home/include/cudnn_version.h" "$nccl_home/include/nccl.h"; do
        [ -e "$need" ] || { why="nvcc at $nvcc, but no $need"; return 1; }
    done
    for need in "$cudnn_home:libcudnn.so" "$nccl_home:libnccl.so"; do
        ls "${need%%:*}"/lib*/"${need#*:}" >/dev/null 2>&1 ||
            { why="nvcc at $nvcc, but no ${need#*:} in ${need%%:*}/lib*"; return 1; }
    done
    local major_minor='s/^#define \(CUDNN\|NCCL\)_\(MAJOR\|MINOR\) \([0-9]*\).*/\3/p'
    version="nvcc $("$nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')"
    version+=", cuDNN $(sed -n "$major_minor" "$cudnn_home/include/cudnn_version.h" | head -2 | paste -sd.)"
    version+=", NCCL $(sed -n "$major_minor" "$nccl_home/include/nccl.h" | head -2 | paste -sd.)"
}
header="# config.mk - written by scripts/deps.sh: what \`make\` builds on this machine.
# Edit or delete it, or say CUDA=0 / CUDA=1 to make, to decide otherwise."
if find_cuda; then
    printf '%s\nCUDA ?= 1\nCUDA_HOME ?= %s\nCUDNN_HOME ?= %s\nNCCL_HOME ?= %s\n' \
        "$header" "$cuda_home" "$cudnn_home" "$nccl_home" > config.mk
    echo "deps: CUDA toolkit at $cuda_home ($version): config.mk says CUDA = 1 (CPU and CUDA backends)"
else
    printf '%s\nCUDA ?= 0\n' "$header" > config.mk
    echo "deps: $why: config.mk says CUDA = 0 (CPU backend only)"
fi
