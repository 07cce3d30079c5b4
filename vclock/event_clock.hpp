// vclock/event_clock.hpp: the virtual clock of a pool on modelled devices, and the events due
// on it.
//
// Nothing moves by itself: the host advances the clock, and every transfer the modelled
// devices finish by then completes, in time order (ties in the order they were scheduled), on
// the host's thread. So the same calls give the same results on every run.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "tiermem/clock.hpp"

namespace tiermem::detail {

class EventClock final : public Clock {
 public:
  uint64_t now_ns() const noexcept override { return now_; }

  // Runs fn when the clock reaches at (now, if at is past). Thread safety: none; the pool on
  // a virtual clock has one thread, the host's.
  void schedule(uint64_t at, std::function<void()> fn);

  // Runs every event due at or before until, moving the clock to each, then to until (never
  // back). Events may schedule others; those due by until run too. Returns how many ran.
  uint64_t advance(uint64_t until);

  // Runs the earliest event, moving the clock to it. Returns false when none is scheduled.
  bool step();

  std::optional<uint64_t> next_event_ns() const;

 private:
  struct Event {
    uint64_t at;
    uint64_t sequence;
    std::function<void()> fn;
    bool operator>(const Event& other) const {
      return at != other.at ? at > other.at : sequence > other.sequence;
    }
  };

  uint64_t now_ = 0;
  uint64_t scheduled_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
};

}  // namespace tiermem::detail
