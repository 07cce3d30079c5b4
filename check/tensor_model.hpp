// check/tensor_model.hpp: the reference model of one tensor: the bytes every pin of it must
// show, and the lock that orders the workload's own use of it.
//
// A thread that writes (a write or read_write pin) or releases holds the lock exclusively for
// the whole call and the writing; every other call on the tensor holds it shared. So the
// model is exact whenever a thread looks at it. Pins that outlive the lock (futures dropped
// unread) only read or re-pin, never write, so they cannot make the model wrong.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <shared_mutex>
#include <string>
#include <vector>

#include "tiermem/tensor.hpp"

namespace tiermem::check {

struct TensorModel {
  Tensor handle;
  std::string name;
  uint64_t bytes = 0;
  uint64_t pages = 0;
  std::vector<uint8_t> expected;  // starts as zeros: a new tensor reads as zeros
  std::shared_mutex lock;
  bool released = false;  // set under the lock held exclusively; calls check it once locked
};

// Fills out with bytes drawn from seed (a fast xorshift, 8 bytes at a time).
inline void fill_pattern(uint8_t* out, uint64_t size, uint64_t seed) {
  uint64_t x = seed | 1;
  for (uint64_t at = 0; at < size; at += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out + at, &x, std::min<uint64_t>(8, size - at));
  }
}

// Counts the bytes of seen that differ from expected; first gets the offset of the first.
inline uint64_t count_differences(const uint8_t* seen, const uint8_t* expected, uint64_t size,
                                  uint64_t& first) {
  if (std::memcmp(seen, expected, size) == 0) return 0;
  uint64_t differ = 0;
  for (uint64_t i = size; i-- > 0;) {
    if (seen[i] != expected[i]) {
      ++differ;
      first = i;
    }
  }
  return differ;
}

}  // namespace tiermem::check
