// io/request_tracker.hpp: what every engine does around the system calls: checks a batch,
// splits each request into block_size pieces, merges the pieces' results into one Result,
// calls the request's completion once, and lets the destructor wait for the last one.
#pragma once

#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "io/engine.hpp"
#include "io/piece.hpp"

namespace tiermem::io {

struct RequestState {
  Request request;
  std::atomic<uint64_t> pieces_left{0};
  std::atomic<uint64_t> bytes{0};
  std::mutex error_mutex;  // taken only by failed pieces, which may fail at once
  int error = 0;
  uint64_t error_offset = UINT64_MAX;
};

class RequestTracker {
 public:
  explicit RequestTracker(uint64_t block_size) : block_size_(block_size) {}
  // The engine calls wait_idle() and joins its threads first: a thread inside finish() must
  // not outlive the tracker.
  ~RequestTracker() { assert(outstanding_.load() == 0); }

  // Checks every request of the batch (throws Error(invalid_argument) naming the first bad one,
  // before anything starts), then appends the pieces of each to pieces. Requests of length 0
  // complete here, inline.
  void start(std::span<const Request> batch, std::vector<Piece>& pieces);

  // Records the end of one piece; the last piece of a request completes it (on this thread,
  // with no lock held).
  void finish(const Piece& piece) noexcept;

  // Blocks until every started request has completed, including requests that completions
  // start while it waits.
  void wait_idle();

 private:
  void complete(RequestState* state) noexcept;

  const uint64_t block_size_;
  std::atomic<uint64_t> outstanding_{0};
  std::mutex idle_mutex_;
  std::condition_variable idle_;
};

}  // namespace tiermem::io
