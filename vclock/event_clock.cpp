// vclock/event_clock.cpp: running the events of the virtual clock in time order.
#include "vclock/event_clock.hpp"

#include <algorithm>
#include <utility>

namespace tiermem::detail {

void EventClock::schedule(uint64_t at, std::function<void()> fn) {
  events_.push({std::max(at, now_), scheduled_++, std::move(fn)});
}

bool EventClock::step() {
  if (events_.empty()) return false;
  // Moved out before it runs: running it may schedule others.
  Event event = std::move(const_cast<Event&>(events_.top()));
  events_.pop();
  now_ = event.at;
  event.fn();
  return true;
}

uint64_t EventClock::advance(uint64_t until) {
  uint64_t ran = 0;
  while (!events_.empty() && events_.top().at <= until) ran += step();
  now_ = std::max(now_, until);
  return ran;
}

std::optional<uint64_t> EventClock::next_event_ns() const {
  if (events_.empty()) return std::nullopt;
  return events_.top().at;
}

}  // namespace tiermem::detail
