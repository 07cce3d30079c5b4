// check/watchdog.cpp: the monitor thread behind Watchdog.
#include "check/watchdog.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace tiermem::check {

namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

Watchdog::Watchdog(size_t slots, double limit_seconds, std::string context)
    : limit_ns_(static_cast<uint64_t>(limit_seconds * 1e9)),
      context_(std::move(context)),
      monitor_() {
  for (size_t i = 0; i < slots; ++i) slots_.push_back(std::make_unique<Slot>());
  monitor_ = std::thread([this] { monitor(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  monitor_.join();
}

void Watchdog::enter(size_t slot, std::string what) {
  Slot& s = *slots_[slot];
  std::lock_guard lock(s.mutex);
  s.what = std::move(what);
  s.since_ns = now_ns();
}

void Watchdog::leave(size_t slot) {
  Slot& s = *slots_[slot];
  std::lock_guard lock(s.mutex);
  s.since_ns = 0;
}

void Watchdog::monitor() {
  std::unique_lock lock(mutex_);
  while (!stop_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      std::lock_guard slot_lock(slots_[i]->mutex);
      const uint64_t since = slots_[i]->since_ns, now = now_ns();
      if (since == 0 || now - since < limit_ns_) continue;
      std::fputs(fmt::format("watchdog: thread {} has been in {} for {:.1f} s; {}\n", i,
                             slots_[i]->what, static_cast<double>(now - since) / 1e9, context_)
                     .c_str(),
                 stderr);
      std::fflush(stderr);
      std::abort();
    }
  }
}

}  // namespace tiermem::check
