// io/fault_engine.cpp: the fault-injecting wrapper engine.
#include "io/fault_engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

#include "io/engines.hpp"
#include "support/clock.hpp"
#include "tiermem/error.hpp"

namespace tiermem::io {

namespace {

constexpr uint64_t kDirectBlock = 4096;

uint64_t mix(uint64_t x) noexcept {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

// Stands in for the caller's completion, so that every request passes through here.
class FaultEngine::Forward final : public Completion {
 public:
  Forward(FaultEngine& engine, Completion* done) : engine_(engine), done_(done) {}

  void complete(const Result& result) noexcept override {
    result_ = result;
    engine_.deliver(this);
  }

  Completion* done() const noexcept { return done_; }
  const Result& result() const noexcept { return result_; }
  void set_result(const Result& result) noexcept { result_ = result; }
  uint64_t due_ns = 0;

 private:
  FaultEngine& engine_;
  Completion* done_;
  Result result_;
};

FaultEngine::FaultEngine(FaultPlan plan, const EngineConfig& inner) : plan_(std::move(plan)) {
  if (inner.kind == "uring") {
    inner_ = make_uring_engine(inner, this);
  } else if (inner.kind == "psync") {
    inner_ = make_psync_engine(inner, this);
  } else {
    throw Error(Errc::invalid_argument,
                fmt::format("the fault engine wraps 'uring' or 'psync', not '{}'", inner.kind));
  }
  delivery_ = std::thread([this] { run_delivery(); });
}

FaultEngine::~FaultEngine() {
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return outstanding_ == 0; });
    stopping_ = true;
  }
  changed_.notify_all();
  delivery_.join();
  inner_.reset();
}

void FaultEngine::submit(std::span<const Request> batch) {
  std::vector<Request> forwarded(batch.begin(), batch.end());
  for (const Request& request : batch) {
    if (request.done == nullptr) {
      throw Error(Errc::invalid_argument, "a request of the batch has no completion");
    }
  }
  {
    std::lock_guard lock(mutex_);
    outstanding_ += batch.size();
  }
  std::vector<Forward*> failed;
  size_t kept = 0;
  for (const Request& request : batch) {
    auto* forward = new Forward(*this, request.done);
    if (int error = chosen_error(request, next_request_.fetch_add(1, std::memory_order_relaxed));
        error != 0) {
      failed_requests_.fetch_add(1, std::memory_order_relaxed);
      forward->set_result(Result{0, error, request.offset});
      failed.push_back(forward);
    } else {
      forwarded[kept] = request;
      forwarded[kept++].done = forward;
    }
  }
  forwarded.resize(kept);
  try {
    inner_->submit(forwarded);
  } catch (...) {
    // Nothing was started: take back what this call counted.
    for (Request& request : forwarded) delete static_cast<Forward*>(request.done);
    for (Forward* forward : failed) delete forward;
    std::lock_guard lock(mutex_);
    outstanding_ -= batch.size();
    changed_.notify_all();
    throw;
  }
  // Failed requests go through the delivery thread even without latency, never inline.
  std::lock_guard lock(mutex_);
  for (Forward* forward : failed) delay(forward);
}

bool FaultEngine::register_buffer(void* base, size_t length) {
  return inner_->register_buffer(base, length);
}
void FaultEngine::unregister_buffer(void* base) {
  inner_->unregister_buffer(base);
}
bool FaultEngine::register_file(File& file) {
  return inner_->register_file(file);
}
void FaultEngine::unregister_file(File& file) {
  inner_->unregister_file(file);
}

FaultCounts FaultEngine::counts() const noexcept {
  return FaultCounts{failed_requests_.load(), failed_calls_.load(), short_calls_.load(),
                     retried_calls_.load()};
}

int FaultEngine::chosen_error(const Request& request, uint64_t index) const noexcept {
  if (std::find(plan_.fail_requests.begin(), plan_.fail_requests.end(), index) !=
      plan_.fail_requests.end()) {
    return plan_.request_error;
  }
  for (size_t i = 0; i < plan_.chances.size(); ++i) {
    const FaultPlan::Chance& chance = plan_.chances[i];
    if (!(request.op == Op::read ? chance.reads : chance.writes)) continue;
    if (coin(16 + i, index) < chance.probability) return chance.error;
  }
  return 0;
}

double FaultEngine::coin(uint64_t kind, uint64_t n) const noexcept {
  return static_cast<double>(mix(plan_.seed ^ mix(kind ^ mix(n))) >> 11) * 0x1p-53;
}

int64_t FaultEngine::before_transfer(Op op, const File& file, uint64_t offset,
                                     uint64_t length) noexcept {
  for (const FaultPlan::Range& range : plan_.fail_ranges) {
    if (!(op == Op::read ? range.reads : range.writes)) continue;
    if (offset >= range.end || offset + length <= range.begin) continue;
    if (offset < range.begin) {
      short_calls_.fetch_add(1, std::memory_order_relaxed);
      return static_cast<int64_t>(range.begin - offset);
    }
    failed_calls_.fetch_add(1, std::memory_order_relaxed);
    return -range.error;
  }
  uint64_t n = next_call_.fetch_add(1, std::memory_order_relaxed);
  double retry = coin(2, n);
  if (retry < plan_.retry_probability) {
    retried_calls_.fetch_add(1, std::memory_order_relaxed);
    return retry < plan_.retry_probability / 2 ? -EAGAIN : -EINTR;
  }
  if (coin(3, n) < plan_.short_probability) {
    uint64_t unit = file.direct ? kDirectBlock : 1;
    uint64_t units = length / unit;
    if (units >= 2) {
      short_calls_.fetch_add(1, std::memory_order_relaxed);
      return static_cast<int64_t>((1 + mix(n ^ plan_.seed) % (units - 1)) * unit);
    }
  }
  return static_cast<int64_t>(length);
}

void FaultEngine::deliver(Forward* forward) noexcept {
  if (plan_.latency.count() == 0) {
    hand_over(forward);
    return;
  }
  std::lock_guard lock(mutex_);
  delay(forward);
}

void FaultEngine::delay(Forward* forward) noexcept {
  // Stamped under the lock, so that the queue stays in order of due time.
  forward->due_ns = support::now_ns() + static_cast<uint64_t>(plan_.latency.count()) * 1000;
  delayed_.push_back(forward);
  changed_.notify_all();
}

void FaultEngine::hand_over(Forward* forward) noexcept {
  forward->done()->complete(forward->result());
  delete forward;
  // After complete() returned: what it submitted is already counted.
  std::lock_guard lock(mutex_);
  assert(outstanding_ > 0);
  if (--outstanding_ == 0) changed_.notify_all();
}

void FaultEngine::run_delivery() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (delayed_.empty()) {
      if (stopping_) return;
      changed_.wait(lock);
      continue;
    }
    uint64_t now = support::now_ns();
    Forward* next = delayed_.front();
    if (next->due_ns > now) {
      changed_.wait_for(lock, std::chrono::nanoseconds(next->due_ns - now));
      continue;
    }
    delayed_.pop_front();
    lock.unlock();
    hand_over(next);
    lock.lock();
  }
}

}  // namespace tiermem::io
