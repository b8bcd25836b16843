# Makefile - builds build/pnp and the tests.
#
#   make            the program (CPU backend; CUDA parts too when CUDA=1)
#   make test       build, then run the whole test suite (tests/run.sh)
#   make demo       build, then run the main job on the embedded default
#   make install    the program and its data under PREFIX (default /usr/local;
#                   DESTDIR honoured): bin/pnp, share/pnp/{configs,scripts,weights}
#   make bench      the benchmark programs (bench/*.c -> build/bench/*)
#   make CUDA=0     a CPU-only build whatever config.mk says
#
# Dependencies are Debian packages (scripts/deps.sh installs them). deps.sh
# also checks the optional CUDA toolkit and writes config.mk with CUDA = 1 or 0
# and where the toolkit is; without config.mk the build is CPU-only unless the
# command line says CUDA=1. Changing flags rebuilds everything in $(BUILD).

-include config.mk
CUDA ?= 0
BUILD ?= build
CC := mpicc
NVCC ?= nvcc
PKGS := yaml-0.1 libpng fftw3f hdf5

OPT ?= -O2 -g
CFLAGS := $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
          -ffp-contract=off -fopenmp -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS))
# EXTRA_LDLIBS: libraries a plain compiler needs where CC is not an MPI wrapper
# (bench/gpu.sh on a machine without mpicc: CC="gcc $(pkg-config --cflags ompi-c)")
LDLIBS := $(shell pkg-config --libs $(PKGS)) -lm $(EXTRA_LDLIBS)
LDFLAGS := -fopenmp

GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell \
              git diff --quiet HEAD 2>/dev/null || echo -dirty)

# Sources, by folder (README "Code map"; tests/check_layers.py checks that no
# folder or file depends on one above it). The library is everything but the
# command line; the files that need the CUDA toolkit build only with CUDA=1.
CUDA_C_SRC := $(wildcard src/backends/cuda/*.c) src/comm/comm_nccl.c
CLI_SRC := $(wildcard src/cli/*.c)
LIB_SRC := $(filter-out src/cli/% $(CUDA_C_SRC),$(wildcard src/*/*.c src/*/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/default_config.o
PRIVATE_H := $(wildcard src/*/*.h src/*/*/*.h)

# CUDA parts: kernels/*.cu (nvcc, sm_90 plus PTX) and CUDA_C_SRC (host side:
# cuFFT, cuDNN, NCCL). cuDNN and NCCL are looked for beside the toolkit; point
# CUDNN_HOME / NCCL_HOME elsewhere, or give the link flags whole in CUDNN_LIBS /
# NCCL_LIBS (a pip wheel's nvidia/cudnn ships lib/libcudnn.so.9 without the
# plain .so link: CUDNN_LIBS="-L$$D/lib -l:libcudnn.so.9 -Wl,-rpath,$$D/lib").
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC)))
CUDNN_HOME ?= $(CUDA_HOME)
NCCL_HOME ?= $(CUDA_HOME)
CUDNN_LIBS ?= -L$(CUDNN_HOME)/lib64 -L$(CUDNN_HOME)/lib -lcudnn
NCCL_LIBS ?= -L$(NCCL_HOME)/lib64 -L$(NCCL_HOME)/lib -lnccl
CUDA_INC := -I$(CUDA_HOME)/include -I$(CUDNN_HOME)/include -I$(NCCL_HOME)/include
CU_SRC := $(wildcard kernels/*.cu)
LIB_OBJ += $(CU_SRC:%.cu=$(BUILD)/obj/%.o) $(CUDA_C_SRC:%.c=$(BUILD)/obj/%.o)
CFLAGS += -DPNP_WITH_CUDA
NVFLAGS := -O2 -std=c++17 -Iinclude -fmad=false \
           -gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_90,code=compute_90
# (an rpath to the toolkit: its cuFFT and runtime need no LD_LIBRARY_PATH)
LDLIBS += $(CUDNN_LIBS) $(NCCL_LIBS) -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcufft -lcudart -lstdc++
endif

TEST_SRC := $(wildcard tests/unit/*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test demo bench clean deps install FORCE
all: $(BUILD)/pnp $(TEST_BIN)

# $(BUILD)/flags holds the flags the objects there were built with; it is
# rewritten (and so everything rebuilt) only when they change, so CUDA=0 and
# CUDA=1 objects never mix in one folder.
BUILD_FLAGS := CUDA=$(CUDA) CC=$(CC) CFLAGS=$(CFLAGS) NVFLAGS=$(NVFLAGS) LDLIBS=$(LDLIBS)
$(BUILD)/flags: FORCE | $(BUILD)/obj
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@

$(BUILD)/obj/src/%.o: src/%.c $(PRIVATE_H) include/pnp/*.h $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(CUDA_C_SRC:%.c=$(BUILD)/obj/%.o): $(BUILD)/obj/%.o: %.c $(PRIVATE_H) kernels/*.h include/pnp/*.h $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ikernels $(CUDA_INC) -c $< -o $@

$(BUILD)/obj/kernels/%.o: kernels/%.cu kernels/*.h include/pnp/*.h $(BUILD)/flags
	@mkdir -p $(@D)
	$(NVCC) $(NVFLAGS) -c $< -o $@

# The commit is baked into version.o, rebuilt every time so it is never stale.
$(BUILD)/obj/src/core/version.o: src/core/version.c FORCE | $(BUILD)/obj
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DPNP_GIT_COMMIT_STR='"$(GIT_COMMIT)"' -c $< -o $@

# configs/default.yml compiled in as a C string.
$(BUILD)/obj/default_config.c: configs/default.yml | $(BUILD)/obj
	{ echo '/* generated from configs/default.yml by the Makefile */'; \
	  echo 'const char pnp_default_config_yaml[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@

$(BUILD)/obj/default_config.o: $(BUILD)/obj/default_config.c $(BUILD)/flags
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpnp.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pnp: $(CLI_OBJ) $(BUILD)/libpnp.a $(BUILD)/flags
	$(CC) $(LDFLAGS) $(filter-out %/flags,$^) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/*.h include/pnp/*.h $(BUILD)/libpnp.a | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libpnp.a $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/bench/%: bench/%.c include/pnp/*.h $(BUILD)/libpnp.a | $(BUILD)/bench
	$(CC) $(CFLAGS) $< $(BUILD)/libpnp.a $(LDFLAGS) $(LDLIBS) -o $@

# bench/conv_cpu.c times oneDNN beside pnp when Debian's libdnnl-dev is
# installed (bench only: the library never links it); without it, pnp alone.
ifneq ($(wildcard /usr/include/oneapi/dnnl/dnnl.h),)
$(BUILD)/bench/conv_cpu: private CFLAGS += -DHAVE_DNNL
$(BUILD)/bench/conv_cpu: private LDLIBS := -ldnnl $(LDLIBS)
endif

$(BUILD)/obj $(BUILD)/tests $(BUILD)/bench:
	mkdir -p $@

bench: $(BENCH_BIN)

deps:
	bash scripts/deps.sh

test: all
	bash tests/run.sh

demo: all
	bash scripts/demo.sh

# The installed pnp finds its data relative to itself (PREFIX/share/pnp, see
# pnp_cli_find_data), so a staged DESTDIR copy runs as well as the final one.
PREFIX ?= /usr/local
SHARE := $(DESTDIR)$(PREFIX)/share/pnp
install: $(BUILD)/pnp
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE)/configs $(SHARE)/scripts $(SHARE)/weights
	install -m 755 $(BUILD)/pnp $(DESTDIR)$(PREFIX)/bin/pnp
	install -m 644 configs/*.yml $(SHARE)/configs/
	install -m 755 scripts/pnp-report $(SHARE)/scripts/
	$(if $(wildcard weights/*.h5),install -m 644 $(wildcard weights/*.h5) $(SHARE)/weights/)
	@echo "installed $(DESTDIR)$(PREFIX)/bin/pnp (data in $(SHARE))"

clean:
	rm -rf $(BUILD)

FORCE:
