// tiermem/gpu_backend.hpp: what the gpu tier is made of: its frames and the copies between
// them and host memory.
//
// Two backends: CUDA (device memory, copies on dedicated streams) and an emulation in host
// memory for machines without a GPU, so that the three-tier logic runs and is tested anywhere.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "io/engine.hpp"
#include "tiermem/config.hpp"
#include "tiermem/frame_arena.hpp"

namespace tiermem::detail {

class GpuBackend {
 public:
  virtual ~GpuBackend() = default;

  // "cuda" or "emulated".
  virtual std::string_view name() const noexcept = 0;
  virtual FrameArena& arena() noexcept = 0;

  // Each starts one copy and calls done.complete() once it is finished: later, from another
  // thread, or before returning. host is a frame of the DRAM tier.
  virtual void copy_in(uint32_t frame, const std::byte* host, uint64_t bytes,
                       io::Completion& done) = 0;
  virtual void copy_out(std::byte* host, uint32_t frame, uint64_t bytes, io::Completion& done) = 0;
  virtual void zero(uint32_t frame, io::Completion& done) = 0;
};

// The backend config.backend asks for: "emulated", "cuda", or "auto" (CUDA when a device is
// present, else the emulation, with a log line). Throws Error(unsupported) for "cuda" where it
// cannot be had.
// view_pages: places in the arena's view region (see frame_arena.hpp).
std::unique_ptr<GpuBackend> make_gpu_backend(const GpuTierConfig& config, uint32_t frames,
                                             uint64_t frame_size, uint64_t view_pages);

// The host-memory emulation: frames in a HostArena, copies by memcpy on the calling thread.
std::unique_ptr<GpuBackend> make_emulated_gpu(uint32_t frames, uint64_t frame_size,
                                              uint64_t view_pages);

}  // namespace tiermem::detail
