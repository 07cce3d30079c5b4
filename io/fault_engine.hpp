// io/fault_engine.hpp: an engine that wraps a real one and makes it fail on purpose, for tests.
//
// Users reach it through the io.faults configuration key (io/fault_spec.hpp).
//
// Two levels of faults:
//  - whole requests fail without being started (by their index, or by a seeded coin), so a
//    test can check that an error reaches exactly the request it was meant for;
//  - inside the wrapped engine, through its TransferHook, single system calls fail at chosen
//    file offsets, move fewer bytes than asked (a short transfer) or report EAGAIN/EINTR, so
//    that the engine's own continuation, retry and error-offset logic is what gets tested.
// Completions can also be delivered late, to shake out code that assumes I/O is quick.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "io/engine.hpp"
#include "io/transfer_hook.hpp"

namespace tiermem::io {

struct FaultPlan {
  // A byte range of every file where system calls fail. A call that starts before begin is cut
  // short at begin (keep begin aligned for O_DIRECT files); one that starts inside the range
  // fails with error. So the request reports exactly error_offset == begin.
  struct Range {
    uint64_t begin = 0;
    uint64_t end = 0;
    int error = EIO;
    bool reads = true;
    bool writes = true;
  };

  // The chance that a request of a kind (reads, writes or both) fails without being started,
  // with error; decided by (seed, index, which chance): repeatable.
  struct Chance {
    double probability = 0;
    int error = EIO;
    bool reads = true;
    bool writes = true;
  };

  // Requests that fail without being started, by their 0-based index in submission order
  // (every request of every batch given to this engine counts), with request_error.
  std::vector<uint64_t> fail_requests;
  int request_error = EIO;
  std::vector<Chance> chances;

  std::vector<Range> fail_ranges;
  // The chance that a system call moves only part of what it was asked (whole 4 KiB blocks on
  // O_DIRECT files), and that it reports EAGAIN or EINTR without being made.
  double short_probability = 0;
  double retry_probability = 0;

  // Every completion is delivered this much later, on the wrapper's own thread.
  std::chrono::microseconds latency{0};
  uint64_t seed = 1;
};

// What the wrapper did so far; tests check these to be sure a fault really happened.
struct FaultCounts {
  uint64_t failed_requests = 0;
  uint64_t failed_calls = 0;
  uint64_t short_calls = 0;
  uint64_t retried_calls = 0;
};

class FaultEngine final : public Engine, private TransferHook {
 public:
  // Wraps an engine of inner.kind ("uring" or "psync"; throws Error(invalid_argument) for
  // others) built with this engine as its hook.
  FaultEngine(FaultPlan plan, const EngineConfig& inner);
  ~FaultEngine() override;  // waits until every request was delivered

  std::string_view name() const noexcept override { return inner_->name(); }
  void submit(std::span<const Request> batch) override;
  bool register_buffer(void* base, size_t length) override;
  void unregister_buffer(void* base) override;
  bool register_file(File& file) override;
  void unregister_file(File& file) override;

  FaultCounts counts() const noexcept;

 private:
  class Forward;

  int64_t before_transfer(Op op, const File& file, uint64_t offset,
                          uint64_t length) noexcept override;
  // The errno a request fails with before it starts, or 0.
  int chosen_error(const Request& request, uint64_t index) const noexcept;
  // A uniform number in [0, 1) for the n-th decision of one kind.
  double coin(uint64_t kind, uint64_t n) const noexcept;
  void deliver(Forward* forward) noexcept;
  void delay(Forward* forward) noexcept;  // under mutex_
  void hand_over(Forward* forward) noexcept;
  void run_delivery();

  const FaultPlan plan_;
  std::atomic<uint64_t> next_request_{0};
  std::atomic<uint64_t> next_call_{0};
  std::atomic<uint64_t> failed_requests_{0};
  std::atomic<uint64_t> failed_calls_{0};
  std::atomic<uint64_t> short_calls_{0};
  std::atomic<uint64_t> retried_calls_{0};

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Forward*> delayed_;  // due in order: the latency is the same for all
  uint64_t outstanding_ = 0;      // submitted, not yet delivered
  bool stopping_ = false;
  std::thread delivery_;

  std::unique_ptr<Engine> inner_;  // last: destroyed first, while the rest is still there
};

}  // namespace tiermem::io
