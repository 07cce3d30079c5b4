// tiermem/frame_pool.cpp: a free bitmap beside a stack that frames taken by preference leave
// stale entries in, dropped when met and swept when the stack grows too long.
#include "tiermem/frame_pool.hpp"

#include <cassert>
#include <cstddef>

namespace tiermem::detail {

FramePool::FramePool(uint32_t frames) : free_(frames, 1), free_count_(frames) {
  stack_.reserve(2 * static_cast<size_t>(frames));
  for (uint32_t f = frames; f > 0; --f) stack_.push_back(f - 1);
}

uint32_t FramePool::take(uint32_t wanted) {
  assert(free_count_ > 0 && "take from an empty frame pool");
  if (wanted < free_.size() && free_[wanted]) {
    free_[wanted] = 0;
    --free_count_;
    return wanted;  // its stack entry is now stale
  }
  for (;;) {
    uint32_t frame = stack_.back();
    stack_.pop_back();
    if (free_[frame]) {
      free_[frame] = 0;
      --free_count_;
      return frame;
    }
  }
}

void FramePool::give(uint32_t frame) {
  assert(frame < free_.size() && !free_[frame] && "give of a frame that is free");
  free_[frame] = 1;
  ++free_count_;
  if (stack_.size() >= 2 * free_.size()) {  // mostly stale: keep only the free frames
    std::erase_if(stack_, [&](uint32_t f) { return !free_[f]; });
  }
  stack_.push_back(frame);
}

}  // namespace tiermem::detail
