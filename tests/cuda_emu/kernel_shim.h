/* kernel_shim.h - what the kernels (kernels/ *.cu) need to compile as host C++ in the CUDA
 * emulation (tests/cuda_emu/README.md). The build force-includes it into the
 * output of rewrite_cu.py, which turns every `kernel<<<grid, block, shmem,
 * stream>>>(args)` into emu::launch(...) and every `__shared__ T name[N];`
 * into EMU_SHARED(T, name, [N]). The toolkit's own headers still provide the
 * types (dim3, uint3, float2, __nv_bfloat16 with its host conversions) and
 * the runtime's declarations; the stand-ins (emu_runtime.cpp, emu_launch.cpp)
 * define them.
 *
 * A launch checks the driver's limits and that every pointer argument lies in
 * device memory, then queues the grid on its stream. When the stream runs,
 * each block runs on its own: its threads one after another (the kernel's
 * body has no __syncthreads), or as one OS thread each meeting at a real
 * barrier (it has), with per-block shared memory filled with 0xff. Blocks run
 * last to first and threads in reverse order, so a kernel that relies on an
 * order of execution shows it. */
#ifndef PNP_CUDA_EMU_KERNEL_SHIM_H
#define PNP_CUDA_EMU_KERNEL_SHIM_H

#define __global__
#define __device__
#define __host__
#define __shared__ __shared__not_rewritten_by_rewrite_cu_py
#define PNP_CUDA_EMU 1

#include <cuda_runtime.h>

#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;
void __syncthreads();

namespace emu {

struct LaunchSite {
    const char *kernel, *file;
    int line;
    bool barrier; /* the kernel's body calls __syncthreads */
};

struct LaunchConfig {
    dim3 grid, block;
    size_t shmem;
    cudaStream_t stream;
};

inline LaunchConfig config(dim3 grid, dim3 block, size_t shmem = 0, cudaStream_t stream = 0)
{
    return {grid, block, shmem, stream};
}

/* One kernel argument as the launch check sees it: a pointer (to be found in
 * device memory unless NULL) or not. */
struct Arg {
    bool pointer;
    const void *p;
};

void launch_kernel(const LaunchSite &site, const LaunchConfig &cfg, const std::vector<Arg> &args,
                   std::function<void()> body);
/* The block's shared array declared at file:line (bytes), the same for all its threads. */
void *shared_slot(size_t bytes, const char *file, int line);

template <class T> Arg arg(const T &a)
{
    if constexpr (std::is_pointer_v<T>) return {true, (const void *)a};
    else return {false, nullptr};
}

/* body runs the kernel for the thread in threadIdx / blockIdx; args are its
 * arguments again, evaluated at the launch, for the checks. */
template <class F, class... A> void launch(const LaunchSite &site, const LaunchConfig &cfg, F body, const A &...args)
{
    launch_kernel(site, cfg, std::vector<Arg>{arg(args)...}, std::function<void()>(std::move(body)));
}

} // namespace emu

#define EMU_SHARED(type, name, dims) \
    type(&name) dims = *static_cast<type(*) dims>(::emu::shared_slot(sizeof(type dims), __FILE__, __LINE__))

#endif
