// tiermem/frame_pool.cpp: a bitmap of free frames, searched from the lowest word that may
// hold one.
#include "tiermem/frame_pool.hpp"

#include <bit>
#include <cassert>

namespace tiermem::detail {

FramePool::FramePool(uint32_t frames)
    : words_((frames + 63) / 64, ~uint64_t{0}), frames_(frames), free_count_(frames) {
  if (frames % 64 != 0) words_.back() = (uint64_t{1} << (frames % 64)) - 1;
}

uint32_t FramePool::take(uint32_t wanted) {
  assert(free_count_ > 0 && "take from an empty frame pool");
  uint32_t frame = wanted;
  if (wanted >= frames_ || !is_free(wanted)) {
    while (words_[lowest_word_] == 0) ++lowest_word_;
    frame = static_cast<uint32_t>(lowest_word_ * 64 + std::countr_zero(words_[lowest_word_]));
  }
  words_[frame / 64] &= ~(uint64_t{1} << (frame % 64));
  --free_count_;
  return frame;
}

void FramePool::give(uint32_t frame) {
  assert(frame < frames_ && !is_free(frame) && "give of a frame that is free");
  words_[frame / 64] |= uint64_t{1} << (frame % 64);
  ++free_count_;
  if (frame / 64 < lowest_word_) lowest_word_ = frame / 64;
}

}  // namespace tiermem::detail
