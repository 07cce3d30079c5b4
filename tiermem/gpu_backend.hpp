// tiermem/gpu_backend.hpp: what the gpu tier is made of: its frames and the copies between
// them and host memory.
//
// Two backends: CUDA (device memory, copies on dedicated streams; tiermem/cuda_gpu.cpp) and an
// emulation in host memory for machines without a GPU, so that the three-tier logic runs and
// is tested anywhere.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "io/engine.hpp"
#include "tiermem/config.hpp"
#include "tiermem/frame_arena.hpp"
#include "tiermem/pin.hpp"

namespace tiermem::detail {

class GpuBackend {
 public:
  virtual ~GpuBackend() = default;

  // "cuda" or "emulated".
  virtual std::string_view name() const noexcept = 0;
  virtual FrameArena& arena() noexcept = 0;

  // Each starts one copy and calls done.complete() once it is finished: later, from another
  // thread, or before returning. host is a frame of the DRAM tier. A copy out of or into a
  // frame starts only after the callers' work on it recorded by end_use has finished.
  virtual void copy_in(uint32_t frame, const std::byte* host, uint64_t bytes,
                       io::Completion& done) = 0;
  virtual void copy_out(std::byte* host, uint32_t frame, uint64_t bytes, io::Completion& done) = 0;
  virtual void zero(uint32_t frame, io::Completion& done) = 0;
  // Whether the copies reach the DRAM tier through the region registered at start: host is
  // then the frame's home address (FrameArena::home_address), else where it is now.
  virtual bool copies_through_registration() const noexcept { return false; }

  // Direct NVMe reads into frames (GPUDirect Storage). attach_storage is called at pool start
  // with every file of the NVMe tier, and with none before the files close; reads_direct()
  // then says whether read_direct may be used for them. read_direct tells done like the
  // copies.
  virtual void attach_storage(std::span<const io::File* const>) {}
  virtual bool reads_direct() const noexcept { return false; }
  virtual void read_direct(uint32_t /*frame*/, const io::File& /*file*/, uint64_t /*offset*/,
                           uint64_t /*bytes*/, io::Completion& /*done*/) {}

  // Ordering with the callers' streams (see Tensor::pin_on_stream). check_stream throws
  // Error(unsupported) for a backend without streams, Error(invalid_argument) for a stream the
  // backend cannot use. begin_use orders a pin's start after earlier users of its frames: on
  // the device for a stream, on the host (blocking) for stream == null. begin_needed() is
  // false when a pin without a stream need not call it (no recorded work may still run).
  // end_use records the end of a stream pin's work on its frames; copies out of or into them
  // wait for it. Errors throw Error(system).
  virtual void check_stream(GpuStream stream) const;
  virtual bool begin_needed() const noexcept { return false; }
  virtual void begin_use(std::span<const uint32_t> /*frames*/, const GpuStream* /*stream*/) {}
  virtual void end_use(std::span<const uint32_t> /*frames*/, GpuStream /*stream*/) {}
};

// The backend config.backend asks for: "emulated", "cuda", or "auto" (CUDA when a device is
// present, else the emulation, with a log line). Throws Error(unsupported) for "cuda" where it
// cannot be had, naming why, and Error(invalid_argument) for a page size CUDA cannot map or,
// whenever CUDA is present (under "auto" too), for a gpu.device the driver does not see.
// view_pages: places in the arena's view region (see frame_arena.hpp). host: the DRAM tier's
// region, which copies come from and go to (the CUDA backend registers it).
std::unique_ptr<GpuBackend> make_gpu_backend(const GpuTierConfig& config, uint32_t frames,
                                             uint64_t frame_size, uint64_t view_pages,
                                             std::span<std::byte> host);

// The host-memory emulation: frames in a HostArena, copies by memcpy on a thread of its own.
std::unique_ptr<GpuBackend> make_emulated_gpu(uint32_t frames, uint64_t frame_size,
                                              uint64_t view_pages);

#ifdef TIERMEM_HAVE_CUDA
// Device memory of config.device; the driver must be loaded (cuda_driver() not null).
std::unique_ptr<GpuBackend> make_cuda_gpu(const GpuTierConfig& config, uint32_t frames,
                                          uint64_t frame_size, uint64_t view_pages,
                                          std::span<std::byte> host);
#endif

}  // namespace tiermem::detail
