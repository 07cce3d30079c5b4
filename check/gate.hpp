// check/gate.hpp: a shared/exclusive lock that lets a waiting exclusive holder in soon: the
// workload's quiet points (a pool flush that no write may overlap, a reopen that no call may).
//
// Eight threads taking std::shared_mutex shared for almost every call could keep an exclusive
// taker out for the whole run (glibc's rwlocks prefer readers). Here a waiting exclusive taker
// stops new shared ones. Meets SharedMutex's requirements, for std::unique_lock and
// std::shared_lock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace tiermem::check {

class Gate {
 public:
  void lock_shared() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !exclusive_ && waiting_ == 0; });
    ++shared_;
  }
  void unlock_shared() {
    std::lock_guard lock(mutex_);
    if (--shared_ == 0) changed_.notify_all();
  }
  void lock() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.wait(lock, [&] { return !exclusive_ && shared_ == 0; });
    --waiting_;
    exclusive_ = true;
  }
  void unlock() {
    std::lock_guard lock(mutex_);
    exclusive_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  uint32_t shared_ = 0;
  uint32_t waiting_ = 0;  // exclusive takers waiting: new shared takers wait behind them
  bool exclusive_ = false;
};

}  // namespace tiermem::check
