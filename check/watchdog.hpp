// check/watchdog.hpp: names a call that runs too long, so that a hang is a report, not a
// silent CI time-out.
//
// Each worker thread owns a slot and says what it is about to call; a monitor thread looks at
// every slot a few times a second. A call that has run longer than the limit is printed with
// its thread, its arguments, the seed and the replay command, and the process aborts (a hung
// thread cannot be taken back).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tiermem::check {

class Watchdog {
 public:
  // slots: one per thread that reports calls. context: printed with a hang (seed, replay).
  Watchdog(size_t slots, double limit_seconds, std::string context);
  ~Watchdog();  // stops the monitor
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The thread of slot is entering a call; what describes it. Thread safety: one thread per
  // slot.
  void enter(size_t slot, std::string what);
  void leave(size_t slot);

 private:
  struct Slot {
    std::mutex mutex;
    std::string what;
    uint64_t since_ns = 0;  // 0: not in a call
  };

  void monitor();

  std::vector<std::unique_ptr<Slot>> slots_;
  const uint64_t limit_ns_;
  const std::string context_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread monitor_;  // last: started once the rest is built
};

// Enters a call on construction and leaves it on destruction.
class WatchedCall {
 public:
  WatchedCall(Watchdog& watchdog, size_t slot, std::string what)
      : watchdog_(watchdog), slot_(slot) {
    watchdog_.enter(slot_, std::move(what));
  }
  ~WatchedCall() { watchdog_.leave(slot_); }
  WatchedCall(const WatchedCall&) = delete;
  WatchedCall& operator=(const WatchedCall&) = delete;

 private:
  Watchdog& watchdog_;
  size_t slot_;
};

}  // namespace tiermem::check
