# Makefile - builds build/pnp and the tests.
#
#   make            the program (CPU backend; CUDA parts too when CUDA=1)
#   make test       build, then run the whole test suite (tests/run.sh)
#   make demo       build, then run the main job on the embedded default
#   make install    the program and its data under PREFIX (default /usr/local;
#                   DESTDIR honoured): bin/pnp, share/pnp/{configs,scripts,weights}
#   make bench      the benchmark programs (bench/*.c -> build/bench/*)
#   make CUDA=0     a CPU-only build whatever config.mk says
#   make cuda-emu   the CUDA backend on CPU stand-ins of its libraries, in
#                   build-emu/ (tests/cuda_emu/README.md; make test runs it)
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
PKGS := yaml-0.1 libpng fftw3f hdf5 libtiff-4 cfitsio

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

# ---------------------------------------------------------------- CUDA emulation
# `make cuda-emu` builds the CUDA backend (src/backends/cuda, src/comm/comm_nccl.c,
# kernels/) against CPU stand-ins for the CUDA runtime, cuFFT, cuDNN and NCCL
# (tests/cuda_emu/) into build-emu/ with CUDA=emu: build-emu/pnp and
# build-emu/tests/*. The host files compile against the toolkit's real headers,
# so every call's signature is checked; the kernels are rewritten into host C++
# (tests/cuda_emu/rewrite_cu.py). Only the headers are needed (CUDA_HOME,
# CUDNN_HOME, NCCL_HOME from config.mk, else /usr/local/cuda): without them it
# says why and builds nothing, and tests/cuda_emu/test_cuda_emu.sh skips.
# `make cuda-emu-asan`: the emulated parity test under AddressSanitizer, in
# build-emu-asan/.
EMU_CUDA_HOME := $(or $(CUDA_HOME),/usr/local/cuda)
EMU_CUDNN_HOME := $(or $(CUDNN_HOME),$(EMU_CUDA_HOME))
EMU_NCCL_HOME := $(or $(NCCL_HOME),$(EMU_CUDA_HOME))
EMU_HEADERS := $(EMU_CUDA_HOME)/include/cuda_runtime_api.h $(EMU_CUDA_HOME)/include/cuda_bf16.h \
               $(EMU_CUDA_HOME)/include/cufft.h $(EMU_CUDNN_HOME)/include/cudnn.h $(EMU_NCCL_HOME)/include/nccl.h
EMU_MISSING := $(filter-out $(wildcard $(EMU_HEADERS)),$(EMU_HEADERS))
ifeq ($(CUDA),emu)
ifneq ($(EMU_MISSING),)
$(error CUDA=emu needs the CUDA toolkit's headers; missing: $(EMU_MISSING))
endif
EMU_SAN ?=
CUDA_INC := -I$(EMU_CUDA_HOME)/include -I$(EMU_CUDNN_HOME)/include -I$(EMU_NCCL_HOME)/include
CFLAGS += -DPNP_WITH_CUDA $(EMU_SAN)
LDFLAGS += $(EMU_SAN)
EMU_CXX := mpicxx
EMU_CXXFLAGS := $(OPT) -std=c++17 -Wall -Wextra -Wno-unused-parameter -ffp-contract=off -fopenmp $(EMU_SAN) \
                -DOMPI_SKIP_MPICXX -DMPICH_SKIP_MPICXX -Iinclude -Ikernels -Itests/cuda_emu $(CUDA_INC)
EMU_OBJ := $(patsubst tests/cuda_emu/%.cpp,$(BUILD)/obj/emu/%.o,$(wildcard tests/cuda_emu/*.cpp))
LIB_OBJ += $(CUDA_C_SRC:%.c=$(BUILD)/obj/%.o) $(patsubst kernels/%.cu,$(BUILD)/obj/emu/kernels/%.o,\
           $(wildcard kernels/*.cu)) $(EMU_OBJ)
LDLIBS += -lstdc++ -lpthread
.SECONDARY: $(patsubst kernels/%.cu,$(BUILD)/gen/kernels/%.cpp,$(wildcard kernels/*.cu))

$(BUILD)/gen/kernels/%.cpp: kernels/%.cu tests/cuda_emu/rewrite_cu.py
	@mkdir -p $(@D)
	python3 tests/cuda_emu/rewrite_cu.py $< $@

$(BUILD)/obj/emu/kernels/%.o: $(BUILD)/gen/kernels/%.cpp tests/cuda_emu/kernel_shim.h kernels/*.h include/pnp/*.h \
                              $(BUILD)/flags
	@mkdir -p $(@D)
	$(EMU_CXX) $(EMU_CXXFLAGS) -include tests/cuda_emu/kernel_shim.h -c $< -o $@

$(BUILD)/obj/emu/%.o: tests/cuda_emu/%.cpp tests/cuda_emu/*.h $(BUILD)/flags
	@mkdir -p $(@D)
	$(EMU_CXX) $(EMU_CXXFLAGS) -c $< -o $@
endif

# (its make targets are at the end)
# ---------------------------------------------------------------- end of CUDA emulation

TEST_SRC := $(wildcard tests/unit/*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test demo bench clean deps install FORCE
all: $(BUILD)/pnp $(TEST_BIN)

# $(BUILD)/flags holds the flags the objects there were built with; it is
# rewritten (and so everything rebuilt) only when they change, so CUDA=0 and
# CUDA=1 objects never mix in one folder.
BUILD_FLAGS := CUDA=$(CUDA) CC=$(CC) CFLAGS=$(CFLAGS) NVFLAGS=$(NVFLAGS) EMU_CXXFLAGS=$(EMU_CXXFLAGS) LDLIBS=$(LDLIBS)
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

test: all cuda-emu
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
	install -m 644 weights/*.h5 weights/README.md $(SHARE)/weights/
	@echo "installed $(DESTDIR)$(PREFIX)/bin/pnp (data in $(SHARE))"

clean:
	rm -rf $(BUILD) build-emu build-emu-asan

FORCE:

# ---------------------------------------------------------------- CUDA emulation targets (see above)
.PHONY: cuda-emu cuda-emu-asan cuda-emu-missing
cuda-emu-missing: # what the emulation lacks here (nothing when it builds); tests/cuda_emu/test_cuda_emu.sh asks
	@echo $(EMU_MISSING)

cuda-emu:
ifeq ($(EMU_MISSING),)
	$(MAKE) CUDA=emu BUILD=build-emu all
else
	@echo "cuda-emu: not built: no CUDA toolkit headers ($(EMU_MISSING))"
endif

cuda-emu-asan:
ifeq ($(EMU_MISSING),)
	$(MAKE) CUDA=emu BUILD=build-emu-asan OPT="-O1 -g" EMU_SAN="-fsanitize=address -fno-omit-frame-pointer" \
	    build-emu-asan/tests/test_cuda_parity
else
	@echo "cuda-emu-asan: not built: no CUDA toolkit headers ($(EMU_MISSING))"
endif
