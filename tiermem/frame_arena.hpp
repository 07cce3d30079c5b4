// tiermem/frame_arena.hpp: a tier's memory, cut into equal frames once at pool start, and the
// per-tensor views frames are mapped into.
//
// Every frame has a home address in the arena's linear region. Beside it the arena reserves,
// once, a region of addresses with one page-sized place per page id: page id p's place is
// view_base() + p * frame_size(). Tensors own consecutive page ids, so a tensor's pages have
// consecutive places, and the migration engine maps a frame at a page's place while the page
// is resident: a pin of many pages is one contiguous pointer. I/O and copies use
// frame_address, which is where the frame is now: its home, or, in an arena whose frames move
// to their places (anonymous host memory), its page's place. Implemented for host memory
// (host_arena) and, with CUDA, device memory. Thread safety: map and unmap may be called from
// any thread; the caller ensures a frame is mapped at one place at a time, and that nobody
// uses a frame's address while it is being mapped or unmapped.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tiermem::detail {

class FrameArena {
 public:
  FrameArena(uint32_t frames, uint64_t frame_size) : frames_(frames), frame_size_(frame_size) {}
  virtual ~FrameArena() = default;
  FrameArena(const FrameArena&) = delete;
  FrameArena& operator=(const FrameArena&) = delete;

  uint32_t frame_count() const noexcept { return frames_; }
  uint64_t frame_size() const noexcept { return frame_size_; }
  uint64_t bytes() const noexcept { return static_cast<uint64_t>(frames_) * frame_size_; }

  // Where the frame's bytes are addressed now.
  virtual std::byte* frame_address(uint32_t frame) const noexcept = 0;
  // The frame's address in the region registered at pool start (io_uring fixed buffers,
  // CUDA): whoever registered it holds the frame's memory and reaches it there wherever the
  // frame is mapped now. The same as frame_address in an arena whose frames stay home.
  virtual std::byte* home_address(uint32_t frame) const noexcept { return frame_address(frame); }

  // The place of page id 0; nothing is mapped anywhere in the region at first.
  virtual std::byte* view_base() const noexcept = 0;
  // The page whose place is `at` now lives in frame: the arena maps the frame there at once,
  // or, if it maps lazily, when show() asks. Throws Error(system) when the kernel refuses
  // (vm.max_map_count, for host memory).
  virtual void map(std::byte* at, uint32_t frame) = 0;
  // The pages of `bytes` from `at` (whole places) left: their places become inaccessible.
  virtual void unmap(std::byte* at, uint64_t bytes) = 0;

  // An arena whose mappings are costly (device memory: a mapping costs about as long as
  // copying a 2 MiB page over PCIe) maps a page's place only when a pin needs it there, that
  // is, when the pin's frames are not consecutive; a pin of one page, or of pages in
  // consecutive frames, uses the frames' own addresses: map() may do nothing, and
  // show(at, frame) maps the pinned page's frame at its place when a pin needs it there.
  virtual bool maps_lazily() const noexcept { return false; }
  virtual void show(std::byte* /*at*/, uint32_t /*frame*/) {}

 private:
  uint32_t frames_;
  uint64_t frame_size_;
};

}  // namespace tiermem::detail
