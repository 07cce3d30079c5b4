// vclock/virtual_gpu.cpp: the gpu backend on the virtual clock.
#include "vclock/virtual_gpu.hpp"

#include <cstring>

#include "tiermem/host_arena.hpp"
#include "vclock/null_arena.hpp"

namespace tiermem::detail {

namespace {

class VirtualGpu final : public GpuBackend {
 public:
  VirtualGpu(EventClock& clock, const sim::Link& pcie, std::unique_ptr<FrameArena> arena)
      : clock_(clock),
        arena_(std::move(arena)),
        up_(pcie.gbps, pcie.latency_us, pcie.queue_depth, arena_->frame_size()),
        down_(pcie.write_gbps > 0 ? pcie.write_gbps : pcie.gbps, pcie.latency_us, pcie.queue_depth,
              arena_->frame_size()) {}

  std::string_view name() const noexcept override { return "virtual"; }
  FrameArena& arena() noexcept override { return *arena_; }

  void copy_in(uint32_t frame, const std::byte* host, uint64_t bytes,
               io::Completion& done) override {
    copy(up_, arena_->frame_address(frame), host, bytes, done);
  }
  void copy_out(std::byte* host, uint32_t frame, uint64_t bytes, io::Completion& done) override {
    copy(down_, host, arena_->frame_address(frame), bytes, done);
  }
  // A fill on the device costs no link time.
  void zero(uint32_t frame, io::Completion& done) override {
    std::byte* to = arena_->frame_address(frame);
    const uint64_t bytes = arena_->frame_size();
    clock_.schedule(clock_.now_ns(), [to, bytes, &done] {
      if (to != nullptr) std::memset(to, 0, bytes);
      done.complete({.bytes = bytes});
    });
  }

 private:
  void copy(sim::Channel& link, std::byte* to, const std::byte* from, uint64_t bytes,
            io::Completion& done) {
    clock_.schedule(link.submit(clock_.now_ns()), [to, from, bytes, &done] {
      if (to != nullptr && from != nullptr) std::memcpy(to, from, bytes);
      done.complete({.bytes = bytes});
    });
  }

  EventClock& clock_;
  std::unique_ptr<FrameArena> arena_;
  sim::Channel up_, down_;
};

}  // namespace

std::unique_ptr<GpuBackend> make_virtual_gpu(EventClock& clock, const sim::Link& pcie,
                                             uint32_t frames, uint64_t frame_size,
                                             uint64_t view_pages, bool data) {
  std::unique_ptr<FrameArena> arena;
  if (data) {
    arena = std::make_unique<HostArena>(HostArenaOptions{.name = "gpu (virtual)",
                                                         .frame_size = frame_size,
                                                         .frames = frames,
                                                         .huge_pages = "off",
                                                         .lock = false,
                                                         .numa_node = -1,
                                                         .view_pages = view_pages});
  } else {
    arena = std::make_unique<NullArena>(frames, frame_size);
  }
  return std::make_unique<VirtualGpu>(clock, pcie, std::move(arena));
}

}  // namespace tiermem::detail
