// support/align.hpp: power-of-two and rounding arithmetic, checked against overflow.
#pragma once

#include <cstdint>

namespace tiermem::support {

constexpr bool is_pow2(uint64_t x) noexcept {
  return x != 0 && (x & (x - 1)) == 0;
}

// Rounds x up to a multiple of a power of two. The caller guarantees no overflow.
constexpr uint64_t round_up(uint64_t x, uint64_t pow2) noexcept {
  return (x + pow2 - 1) & ~(pow2 - 1);
}

constexpr uint64_t div_ceil(uint64_t x, uint64_t y) noexcept {
  return x / y + (x % y != 0);
}

}  // namespace tiermem::support
