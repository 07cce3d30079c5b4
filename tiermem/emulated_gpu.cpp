// tiermem/emulated_gpu.cpp: the gpu tier emulated in host memory, for machines without a GPU.
#include <cstring>

#include "tiermem/gpu_backend.hpp"
#include "tiermem/host_arena.hpp"

namespace tiermem::detail {

namespace {

class EmulatedGpu final : public GpuBackend {
 public:
  EmulatedGpu(uint32_t frames, uint64_t frame_size, uint64_t view_pages)
      : arena_(HostArenaOptions{.name = "gpu (emulated)",
                                .frame_size = frame_size,
                                .frames = frames,
                                .huge_pages = "auto",
                                .lock = false,
                                .numa_node = -1,
                                .view_pages = view_pages}) {}

  std::string_view name() const noexcept override { return "emulated"; }
  FrameArena& arena() noexcept override { return arena_; }

  void copy_in(uint32_t frame, const std::byte* host, uint64_t bytes,
               io::Completion& done) override {
    std::memcpy(arena_.frame_address(frame), host, bytes);
    done.complete({.bytes = bytes});
  }
  void copy_out(std::byte* host, uint32_t frame, uint64_t bytes, io::Completion& done) override {
    std::memcpy(host, arena_.frame_address(frame), bytes);
    done.complete({.bytes = bytes});
  }
  void zero(uint32_t frame, io::Completion& done) override {
    std::memset(arena_.frame_address(frame), 0, arena_.frame_size());
    done.complete({.bytes = arena_.frame_size()});
  }

 private:
  HostArena arena_;
};

}  // namespace

std::unique_ptr<GpuBackend> make_emulated_gpu(uint32_t frames, uint64_t frame_size,
                                              uint64_t view_pages) {
  return std::make_unique<EmulatedGpu>(frames, frame_size, view_pages);
}

}  // namespace tiermem::detail
