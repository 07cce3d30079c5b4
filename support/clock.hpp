// support/clock.hpp: the steady clock in nanoseconds that timestamps events everywhere.
#pragma once

#include <chrono>
#include <cstdint>

namespace tiermem::support {

inline uint64_t now_ns() noexcept {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace tiermem::support
