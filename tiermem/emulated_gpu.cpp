// tiermem/emulated_gpu.cpp: the gpu tier emulated in host memory, for machines without a GPU.
//
// Copies run in order on a thread of their own, the way a CUDA copy stream runs them, so that
// they finish later than they were started and the rest of the pool sees the same timing of
// completions as with a device (a synchronous memcpy would hide races that a GPU shows).
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

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
                                .view_pages = view_pages}),
        copier_([this] { run_copies(); }) {}

  ~EmulatedGpu() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    queued_.notify_one();
    copier_.join();  // runs what was queued first
  }

  std::string_view name() const noexcept override { return "emulated"; }
  FrameArena& arena() noexcept override { return arena_; }

  void copy_in(uint32_t frame, const std::byte* host, uint64_t bytes,
               io::Completion& done) override {
    enqueue({arena_.frame_address(frame), host, bytes, &done});
  }
  void copy_out(std::byte* host, uint32_t frame, uint64_t bytes, io::Completion& done) override {
    enqueue({host, arena_.frame_address(frame), bytes, &done});
  }
  void zero(uint32_t frame, io::Completion& done) override {
    enqueue({arena_.frame_address(frame), nullptr, arena_.frame_size(), &done});
  }

 private:
  struct Copy {
    std::byte* to;
    const std::byte* from;  // null: fill with zeros
    uint64_t bytes;
    io::Completion* done;
  };

  void enqueue(const Copy& copy) {
    {
      std::lock_guard lock(mutex_);
      copies_.push_back(copy);
    }
    queued_.notify_one();
  }

  void run_copies() {
    std::unique_lock lock(mutex_);
    for (;;) {
      queued_.wait(lock, [&] { return stopping_ || !copies_.empty(); });
      if (copies_.empty()) return;
      Copy copy = copies_.front();
      copies_.pop_front();
      lock.unlock();
      if (copy.from == nullptr) {
        std::memset(copy.to, 0, copy.bytes);
      } else {
        std::memcpy(copy.to, copy.from, copy.bytes);
      }
      copy.done->complete({.bytes = copy.bytes});
      lock.lock();
    }
  }

  HostArena arena_;
  std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<Copy> copies_;
  bool stopping_ = false;
  std::thread copier_;  // last: started once the rest is built
};

}  // namespace

std::unique_ptr<GpuBackend> make_emulated_gpu(uint32_t frames, uint64_t frame_size,
                                              uint64_t view_pages) {
  return std::make_unique<EmulatedGpu>(frames, frame_size, view_pages);
}

}  // namespace tiermem::detail
