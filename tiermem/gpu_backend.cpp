// tiermem/gpu_backend.cpp: choosing the gpu tier's backend.
#include "tiermem/gpu_backend.hpp"

#include <fmt/format.h>

#include "support/log.hpp"
#include "tiermem/error.hpp"
#ifdef TIERMEM_HAVE_CUDA
#include "tiermem/cuda_driver.hpp"
#endif

namespace tiermem::detail {

void GpuBackend::check_stream(GpuStream) const {
  throw Error(Errc::unsupported,
              fmt::format("a pin on a CUDA stream needs the CUDA gpu backend; this pool's gpu "
                          "tier is {}",
                          name()));
}

std::unique_ptr<GpuBackend> make_gpu_backend(const GpuTierConfig& config, uint32_t frames,
                                             uint64_t frame_size, uint64_t view_pages,
                                             [[maybe_unused]] std::span<std::byte> host) {
  if (config.backend == "emulated") return make_emulated_gpu(frames, frame_size, view_pages);
#ifdef TIERMEM_HAVE_CUDA
  if (const CudaDriver* driver = cuda_driver(); driver != nullptr) {
    if (config.device < 0 || config.device >= driver->devices) {
      throw Error(Errc::invalid_argument,
                  fmt::format("gpu.device {} does not exist: the CUDA driver sees {} device{}",
                              config.device, driver->devices, driver->devices == 1 ? "" : "s"));
    }
    return make_cuda_gpu(config, frames, frame_size, view_pages, host);
  }
  const std::string& why = cuda_driver_why_not();
#else
  const std::string why =
      "this build of tiermem has no CUDA support (TIERMEM_CUDA=OFF, or the "
      "CUDA toolkit was not found)";
#endif
  if (config.backend == "cuda") {
    throw Error(Errc::unsupported, fmt::format("gpu.backend=cuda: {}", why));
  }
  support::log().info("gpu: no CUDA ({}); emulating the gpu tier in host memory", why);
  return make_emulated_gpu(frames, frame_size, view_pages);
}

}  // namespace tiermem::detail
