// tiermem/frame_pool.hpp: a tier's free frames, handed out with a preference.
//
// Asked for a frame, the pool gives the one wanted (the frame after the one that holds the
// previous page of the same tensor) when it is free, else the lowest free frame. So a
// tensor's pages tend to sit in consecutive frames, and a pin of several of them can use the
// frames' own contiguous addresses where mapping them elsewhere costs (the gpu tier: see
// FrameArena::maps_lazily). Not thread-safe: the migration engine's mutex guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tiermem::detail {

class FramePool {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Frames 0 .. frames-1, all free.
  explicit FramePool(uint32_t frames = 0);

  bool empty() const noexcept { return free_count_ == 0; }
  uint32_t size() const noexcept { return free_count_; }

  // A free frame: wanted if it is free, else the lowest free one. The pool must not be empty.
  uint32_t take(uint32_t wanted = kNone);
  // Gives back a frame that was taken.
  void give(uint32_t frame);

 private:
  bool is_free(uint32_t frame) const noexcept { return (words_[frame / 64] >> (frame % 64)) & 1; }

  std::vector<uint64_t> words_;  // bit f set: frame f is free
  uint32_t frames_ = 0;
  uint32_t free_count_ = 0;
  size_t lowest_word_ = 0;  // no free frame lies below this word
};

}  // namespace tiermem::detail
