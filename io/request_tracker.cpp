// io/request_tracker.cpp: batch checking, splitting into pieces and result merging shared by
// the engines.
#include "io/request_tracker.hpp"

#include <fmt/format.h>

#include <cassert>

#include "support/align.hpp"
#include "tiermem/error.hpp"

namespace tiermem::io {

namespace {

void check(const Request& request, size_t index) {
  const char* missing = request.file == nullptr                           ? "file"
                        : request.done == nullptr                         ? "completion"
                        : request.buffer == nullptr && request.length > 0 ? "buffer"
                                                                          : nullptr;
  if (missing != nullptr) {
    throw Error(Errc::invalid_argument,
                fmt::format("request {} of the batch has no {}", index, missing));
  }
  if (request.offset + request.length < request.offset) {
    throw Error(Errc::invalid_argument,
                fmt::format("request {} of the batch: offset {} + length {} overflows", index,
                            request.offset, request.length));
  }
}

}  // namespace

void RequestTracker::start(std::span<const Request> batch, std::vector<Piece>& pieces) {
  for (size_t i = 0; i < batch.size(); ++i) check(batch[i], i);
  outstanding_.fetch_add(batch.size(), std::memory_order_relaxed);
  std::vector<RequestState*> empty;
  for (const Request& request : batch) {
    auto* state = new RequestState;
    state->request = request;
    uint64_t count = support::div_ceil(request.length, block_size_);
    state->pieces_left.store(count, std::memory_order_relaxed);
    if (count == 0) {
      empty.push_back(state);
      continue;
    }
    auto* base = static_cast<std::byte*>(request.buffer);
    for (uint64_t at = 0; at < request.length; at += block_size_) {
      Piece piece;
      piece.request = state;
      piece.op = request.op;
      piece.file = request.file;
      piece.offset = request.offset + at;
      piece.buffer = base + at;
      piece.length = std::min(block_size_, request.length - at);
      pieces.push_back(piece);
    }
  }
  for (RequestState* state : empty) complete(state);
}

void RequestTracker::finish(const Piece& piece) noexcept {
  RequestState* state = piece.request;
  state->bytes.fetch_add(piece.done, std::memory_order_relaxed);
  if (piece.error != 0) {
    // The lowest failing offset wins, so that the report does not depend on thread timing.
    std::lock_guard lock(state->error_mutex);
    if (piece.error_offset < state->error_offset) {
      state->error = piece.error;
      state->error_offset = piece.error_offset;
    }
  }
  if (state->pieces_left.fetch_sub(1, std::memory_order_acq_rel) == 1) complete(state);
}

void RequestTracker::complete(RequestState* state) noexcept {
  Result result;
  // No lock: every piece wrote its bytes and error before its acq_rel fetch_sub of
  // pieces_left, and those RMWs form one release sequence that the last one acquires; a request
  // with no pieces is completed by the thread that made its state.
  result.bytes = state->bytes.load(std::memory_order_relaxed);
  result.error = state->error;
  result.error_offset = state->error != 0 ? state->error_offset : 0;
  assert(result.error != 0 || result.bytes == state->request.length);
  Completion* done = state->request.done;
  delete state;
  done->complete(result);
  // Counted down only after complete() returned: a request it submits keeps the count above
  // zero, so wait_idle() cannot return while a chain of requests is still going.
  if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard lock(idle_mutex_);
    idle_.notify_all();
  }
}

void RequestTracker::wait_idle() {
  std::unique_lock lock(idle_mutex_);
  idle_.wait(lock, [this] { return outstanding_.load(std::memory_order_acquire) == 0; });
}

}  // namespace tiermem::io
