// tiermem/gpu_backend.cpp: choosing the gpu tier's backend.
#include "tiermem/gpu_backend.hpp"

#include "support/log.hpp"
#include "tiermem/error.hpp"

namespace tiermem::detail {

std::unique_ptr<GpuBackend> make_gpu_backend(const GpuTierConfig& config, uint32_t frames,
                                             uint64_t frame_size, uint64_t view_pages) {
  if (config.backend == "cuda") {
    throw Error(Errc::unsupported, "gpu.backend=cuda: this build of tiermem has no CUDA support");
  }
  if (config.backend == "auto") {
    support::log().info(
        "gpu: no CUDA support in this build; emulating the gpu tier in host "
        "memory");
  }
  return make_emulated_gpu(frames, frame_size, view_pages);
}

}  // namespace tiermem::detail
