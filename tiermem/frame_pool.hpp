// tiermem/frame_pool.hpp: a tier's free frames, handed out with a preference.
//
// Asked for a frame, the pool gives the one wanted (the frame after the one that holds the
// previous page of the same tensor) when it is free, else the most recently freed. So a
// tensor's pages tend to sit in consecutive frames, and a pin of several of them can use the
// frames' own contiguous addresses where mapping them elsewhere costs (the gpu tier: see
// FrameArena::maps_lazily). Not thread-safe: the migration engine's mutex guards it.
#pragma once

#include <cstdint>
#include <vector>

namespace tiermem::detail {

class FramePool {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Frames 0 .. frames-1, all free, handed out lowest first.
  explicit FramePool(uint32_t frames = 0);

  bool empty() const noexcept { return free_count_ == 0; }
  uint32_t size() const noexcept { return free_count_; }

  // A free frame: wanted if it is free, else the most recently given back. The pool must not
  // be empty.
  uint32_t take(uint32_t wanted = kNone);
  // Gives back a frame that was taken.
  void give(uint32_t frame);

 private:
  std::vector<uint8_t> free_;    // per frame
  std::vector<uint32_t> stack_;  // free frames, most recent last; may hold frames taken since
  uint32_t free_count_ = 0;
};

}  // namespace tiermem::detail
