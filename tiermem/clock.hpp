// tiermem/clock.hpp: the clock a pool's engine reads: the steady clock in a live pool, or a
// clock the host advances in a pool on modelled devices (vclock/event_clock.hpp).
#pragma once

#include <cstdint>

#include "support/clock.hpp"

namespace tiermem::detail {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() const noexcept = 0;
};

class SteadyClock final : public Clock {
 public:
  uint64_t now_ns() const noexcept override { return support::now_ns(); }
};

}  // namespace tiermem::detail
