// tiermem/migration_engine.cpp: page requests, the fetch and write-back operations they
// start, frame allocation with eviction, and the work carried out after the mutex is released.
#include "tiermem/migration_engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <optional>
#include <thread>

#include "persist/checksum.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"
#include "vclock/event_clock.hpp"

namespace tiermem::detail {

namespace {

Tier other(Tier tier) {
  return tier == Tier::gpu ? Tier::dram : Tier::gpu;
}

// The pages of tier the engine may evict now: tracked, unpinned, not busy; with clean_only
// only those with a copy below (their frame is free at once); while spare_announced, not
// those the application announced and has not pinned since (a dram state).
struct EvictableIn final : policy::VictimFilter {
  const PageTable& pages;
  Tier tier;
  bool clean_only;
  bool spare_announced = true;
  EvictableIn(const PageTable& p, Tier t, bool c) : pages(p), tier(t), clean_only(c) {}
  bool evictable(policy::PageId page) const override {
    PageState s{pages[page].state.load(std::memory_order_acquire)};
    return s.tracked(tier) && s.pins(tier) == 0 && !s.busy() && !s.writing() &&
           !(clean_only && s.only_copy_from(tier)) && !(spare_announced && s.announced());
  }
};

}  // namespace

// One change of one page under way: a fetch into a tier or a write-back out of one.
struct MigrationEngine::PageOp final : io::Completion {
  enum class Kind : uint8_t { fetch, writeback };
  enum class Step : uint8_t {
    wait_frame,  // queued for a frame of frame_tier
    nvme_read,   // nvme -> the dram frame being filled
    nvme_write,  // the page's dram frame -> nvme
    gpu_in,      // the page's dram frame -> the gpu frame being filled
    gpu_out,     // the page's gpu frame -> the dram frame being filled
    gpu_zero,    // zero the gpu frame being filled
    gpu_direct,  // nvme -> the gpu frame being filled (GPUDirect Storage)
    host_zero,   // zero the dram frame being filled
    skip,        // nothing to copy: the caller overwrites the whole page
  };

  MigrationEngine* engine = nullptr;
  PageId page = 0;
  Kind kind = Kind::fetch;
  Tier tier = Tier::dram;        // fetch: into; write-back: out of
  Tier frame_tier = Tier::dram;  // the tier whose frame the operation fills (nvme: none)
  Step step = Step::wait_frame;
  bool evicting = false;      // write-back: free the tier's frame once the copy below is there
  bool prefetch = false;      // started by prefetch: counted against the prefetch budget
  bool announced = false;     // the prefetch was the application's (Goal::announce)
  bool claimed = false;       // a pin joined this prefetch: the page is not "prefetched"
  bool skip_read = false;     // fetch: the old bytes are not copied (see Step::skip)
  bool clean_ok = false;      // flush: no write pin was active when the copy began
  uint8_t epoch = 0;          // flush: the page's write epoch when the copy began
  uint8_t side = 0;           // persistent pools' nvme write: which of the page's slots
  bool corrupt = false;       // persistent pools' nvme read: the bytes failed their checksum
  uint64_t checksum = 0;      // persistent pools' nvme write: of the bytes written
  uint32_t frame = kNoFrame;  // the frame being filled, once given
  // waiters[0] started this operation: a failure is its own. The others joined it: they did
  // not ask for this operation, so when it fails they are advanced again instead (and start
  // their own, whose failure is theirs).
  bool started_by_waiter = false;
  std::vector<PageRequest> waiters;

  void complete(const io::Result& result) noexcept override { engine->step_done(*this, result); }
};

// What a critical section decided, to be carried out after the mutex is released.
struct MigrationEngine::Actions {
  std::vector<PageOp*> launch;  // operations whose current step is to be started
  std::vector<Job*> finished;   // jobs whose last request ended
  std::vector<policy::PrefetchProposal> proposals;  // from the prefetch policy
};

// Counts a call into the engine from its start to its return, so that the destructor can
// wait for the work a call carries out after releasing the mutex (a job told of its end, which
// touches the pool's tables), not only for the operations in ops_.
class MigrationEngine::Entry {
 public:
  explicit Entry(MigrationEngine& engine) : entered_(engine.entered_) {
    entered_.fetch_add(1, std::memory_order_relaxed);
  }
  ~Entry() { entered_.fetch_sub(1, std::memory_order_release); }
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;

 private:
  std::atomic<uint32_t>& entered_;
};

MigrationEngine::MigrationEngine(const Parts& parts)
    : parts_(parts),
      observer_(parts.pages, parts.tensors, parts_.eviction, parts.prefetch, parts.page_size,
                parts.clock) {
  for (Tier tier : {Tier::gpu, Tier::dram}) {
    if (tier == Tier::gpu && parts_.gpu == nullptr) continue;
    free_frames_[at(tier)] = FramePool(arena(tier).frame_count());
  }
}

MigrationEngine::~MigrationEngine() {
  wait_idle();
}

template <class Pred>
void MigrationEngine::wait_until(std::unique_lock<std::mutex>& lock, Pred pred) {
  if (parts_.events == nullptr) return idle_.wait(lock, pred);
  while (!pred()) {
    lock.unlock();
    const bool ran = parts_.events->step();
    lock.lock();
    if (!ran) {
      // Nothing scheduled can end what is awaited: operations waiting for frames that no
      // event will free. Say so rather than spin.
      support::log().critical("virtual clock: nothing is scheduled, yet operations are waiting");
      return;
    }
  }
}

void MigrationEngine::wait_idle() {
  {
    std::unique_lock lock(mutex_);
    wait_until(lock, [this] { return ops_.empty(); });
  }
  // A completion that ended the last operation entered before it took the mutex; what it
  // still carries out is short (telling jobs), so a yield loop suffices.
  while (entered_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

FrameArena& MigrationEngine::arena(Tier tier) noexcept {
  return tier == Tier::gpu ? parts_.gpu->arena() : static_cast<FrameArena&>(parts_.dram);
}

std::byte* MigrationEngine::view_place(PageId page, Tier tier) noexcept {
  return arena(tier).view_base() + page * parts_.page_size;
}

std::byte* MigrationEngine::host_for_gpu(uint32_t dram_frame) noexcept {
  return parts_.gpu->copies_through_registration() ? parts_.dram.home_address(dram_frame)
                                                   : parts_.dram.frame_address(dram_frame);
}

PageState MigrationEngine::update(PageId page, auto&& change) {
  std::atomic<uint64_t>& word = parts_.pages[page].state;
  uint64_t old = word.load(std::memory_order_relaxed);
  PageState s;
  do {
    s.word = old;
    change(s);
  } while (!word.compare_exchange_weak(old, s.word, std::memory_order_acq_rel,
                                       std::memory_order_relaxed));
  return s;
}

bool MigrationEngine::set_busy_if_unpinned(PageId page, Tier tier) {
  std::atomic<uint64_t>& word = parts_.pages[page].state;
  uint64_t old = word.load(std::memory_order_relaxed);
  PageState s;
  do {
    s.word = old;
    if (s.busy() || s.writing() || s.pins(tier) != 0) return false;
    s.set_busy(true);
  } while (!word.compare_exchange_weak(old, s.word, std::memory_order_acq_rel,
                                       std::memory_order_relaxed));
  return true;
}

std::string MigrationEngine::describe(PageId page) const {
  const PageEntry& entry = parts_.pages[page];
  return fmt::format("page {} of tensor '{}'", entry.index, parts_.tensors[entry.tensor].name);
}

std::string MigrationEngine::io_failure(const PageOp& op, const io::Result& result) const {
  std::string where;
  if (op.step == PageOp::Step::nvme_read || op.step == PageOp::Step::nvme_write ||
      op.step == PageOp::Step::gpu_direct) {
    where = fmt::format(" ({} at offset {})", nvme_copy(op.page).file->path, result.error_offset);
  }
  if (op.corrupt) {
    return fmt::format(
        "bringing {} into {} failed{}: its bytes do not match their checksum, so "
        "the file was damaged after they were written",
        describe(op.page), to_string(op.tier), where);
  }
  if (op.kind == PageOp::Kind::fetch) {
    return fmt::format("bringing {} into {} failed{}: {}", describe(op.page), to_string(op.tier),
                       where, std::strerror(result.error));
  }
  return fmt::format("writing {} down from {} failed{}: {}; the page stays valid in {}",
                     describe(op.page), to_string(op.tier), where, std::strerror(result.error),
                     to_string(op.tier));
}

// ---- requests ----------------------------------------------------------------------------

void MigrationEngine::submit(std::span<const PageRequest> requests) {
  Entry entered(*this);
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    drain_log(actions);
    const uint64_t now = parts_.clock.now_ns();
    for (const PageRequest& request : requests) {
      if (request.goal == Goal::pin) {
        // A pin comes here from its first page that could not be pinned at once; later pages
        // may be resident, and a hit then, unless they are on their way out of the tier.
        TierStats& counts = counters_.tiers[at(request.tier)];
        ++(resident(request.page, request.tier) ? counts.hits : counts.misses);
        Access access = !request.write      ? Access::read
                        : request.skip_read ? Access::write
                                            : Access::read_write;
        observer_.access({request.page, now, request.tier, access}, now, actions.proposals);
      } else if (request.goal == Goal::announce) {
        observer_.announced(request.page, request.tier, now);
      }
    }
    observer_.end_of_batch();
    for (const PageRequest& request : requests) advance(request, actions);
    settle(actions);
  }
  run(actions);
}

void MigrationEngine::drain(bool wait) {
  Entry entered(*this);
  Actions actions;
  {
    std::unique_lock lock(mutex_, std::defer_lock);
    if (wait) {
      lock.lock();
    } else if (!lock.try_lock()) {
      return;
    }
    drain_log(actions);
    settle(actions);
  }
  run(actions);
}

void MigrationEngine::drain_log(Actions& actions) {
  drained_.clear();
  parts_.log.drain(drained_);
  // Stripes are drained one after another; a trace wants the accesses in the order they were
  // made, which their timestamps give.
  if (observer_.tracing()) {
    std::stable_sort(drained_.begin(), drained_.end(),
                     [](const AccessRecord& a, const AccessRecord& b) { return a.time < b.time; });
  }
  const uint64_t now = parts_.clock.now_ns();
  for (const AccessRecord& record : drained_) observer_.access(record, now, actions.proposals);
  observer_.end_of_batch();
}

// ---- schedule and trace: the observer's, under the mutex ----------------------------------

void MigrationEngine::set_schedule(std::shared_ptr<const policy::Schedule> schedule) {
  std::lock_guard lock(mutex_);
  observer_.set_schedule(std::move(schedule));
}

void MigrationEngine::start_trace(std::unique_ptr<TraceWriter> writer,
                                  const std::vector<std::pair<uint32_t, uint32_t>>& live) {
  Entry entered(*this);
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    drain_log(actions);  // accesses before now are not part of the trace
    observer_.start_trace(std::move(writer), live);
    settle(actions);
  }
  run(actions);
}

void MigrationEngine::stop_trace() {
  Entry entered(*this);
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    drain_log(actions);
    observer_.stop_trace(parts_.clock.now_ns());
    settle(actions);
  }
  run(actions);
}

void MigrationEngine::trace_tensor(uint32_t slot, uint32_t pages) {
  std::lock_guard lock(mutex_);
  observer_.trace_tensor(slot, pages);
}

void MigrationEngine::trace_compute(bool begin) {
  Entry entered(*this);
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    drain_log(actions);  // the accesses before the mark come first
    observer_.trace_compute(begin, parts_.clock.now_ns());
    settle(actions);
  }
  run(actions);
}

void MigrationEngine::advance(const PageRequest& request, Actions& actions) {
  switch (request.goal) {
    case Goal::pin:
      return advance_pin(request, actions);
    case Goal::prefetch:
    case Goal::announce:
      counters_.prefetch_dropped += !advance_prefetch(request, actions);
      return;
    case Goal::evict:
      return advance_evict(request, actions);
    case Goal::flush:
      return advance_flush(request, actions);
  }
}

// Whether a fetch into tier has to bring the page into dram first: into gpu, it comes from
// nvme through dram unless the backend reads nvme directly.
bool MigrationEngine::stops_in_dram(PageId page, PageState s, Tier tier) const {
  // The backend reads only the pool's own files directly (they are registered with it).
  return tier == Tier::gpu && !s.valid(Tier::dram) && s.valid(Tier::nvme) &&
         (!parts_.gpu->reads_direct() || parts_.tensors[parts_.pages[page].tensor].source);
}

// What became of the pages prefetched so far, for the governor (policies/prefetch_governor.hpp).
policies::PrefetchRecord MigrationEngine::prefetch_record(uint64_t logged_useful) const {
  return {.issued = counters_.prefetch_issued,
          .used = counters_.prefetch_useful + logged_useful + counters_.prefetch_late,
          .wasted = counters_.prefetch_useless,
          .demand = counters_.tiers[at(Tier::gpu)].misses + counters_.tiers[at(Tier::dram)].misses};
}

// Whether tier holds the page and keeps it: valid there, and not being evicted from there.
bool MigrationEngine::resident(PageId page, Tier tier) const {
  if (!PageState{parts_.pages[page].state.load(std::memory_order_acquire)}.valid(tier)) {
    return false;
  }
  auto it = ops_.find(page);
  return it == ops_.end() || !(it->second->kind == PageOp::Kind::writeback &&
                               it->second->evicting && it->second->tier == tier);
}

// Joins the operation under way on the request's page; the request is advanced again when
// that operation ends.
void MigrationEngine::join(const PageRequest& request) {
  auto it = ops_.find(request.page);
  assert(it != ops_.end() && "a busy or writing page without its operation");
  PageOp* op = it->second;
  op->waiters.push_back(request);
  if (request.goal == Goal::pin && op->prefetch && !op->claimed) {
    op->claimed = true;
    ++counters_.prefetch_late;
  }
}

void MigrationEngine::advance_pin(const PageRequest& request, Actions& actions) {
  const Tier tier = request.tier;
  const Tier upper_or_lower = other(tier);
  std::atomic<uint64_t>& word = parts_.pages[request.page].state;
  for (;;) {
    PageState s{word.load(std::memory_order_acquire)};
    if (s.busy() || (request.write && s.writing())) {
      return join(request);
    }
    PageState pinned = s;
    if (try_fast_pin(pinned, tier, request.write, request.unread)) {
      if (!word.compare_exchange_strong(s.word, pinned.word, std::memory_order_acq_rel)) continue;
      if (s.prefetched()) ++counters_.prefetch_useful;
      done(request, nullptr, true, actions);
      return;
    }
    auto conflict = [&](std::string_view why) {
      Failure failure{Errc::busy,
                      fmt::format("cannot pin {} in {} for {}: {}", describe(request.page),
                                  to_string(tier), request.write ? "writing" : "reading", why)};
      done(request, &failure, false, actions);
    };
    // A read pin may meet a flush's write-back (the writing bit) and take the copy it reads
    // from; anything that would change residency waits for it, as the page has an operation.
    if (s.writing() && !s.valid(tier)) return join(request);
    if (s.valid(tier)) {
      // Present but not pinnable: counters full, or a write pin needs the other copy gone.
      if (s.pins(tier) == PageState::kPinMax || s.writers() == PageState::kWritersMax) {
        return conflict("it has reached the limit of 65535 pins");
      }
      if (s.pins(upper_or_lower) != 0) {
        return conflict(fmt::format("it is pinned in {}", to_string(upper_or_lower)));
      }
      if (set_busy_if_unpinned(request.page, upper_or_lower)) {
        drop_copy(request.page, upper_or_lower);
      }
      continue;
    }
    if (s.pins(upper_or_lower) != 0 && (request.write || s.writers() != 0)) {
      return conflict(fmt::format("it is pinned for {} in {}",
                                  s.writers() != 0 ? "writing" : "reading",
                                  to_string(upper_or_lower)));
    }
    PageRequest waiter = request;
    // Bytes that are only on nvme (or nowhere yet) need not come when they are all to be
    // overwritten; a copy in the other tier would go stale anyway, so it is copied as usual.
    waiter.unread = request.skip_read && (s.valid_mask() & ~PageState::tier_bit(Tier::nvme)) == 0;
    if (!waiter.unread && stops_in_dram(request.page, s, tier)) {
      // nvme -> dram first; the request comes back here when that is done.
      start_fetch(request.page, Tier::dram, Fetch::demand, false, &request, actions);
      return;
    }
    start_fetch(request.page, tier, Fetch::demand, waiter.unread, &waiter, actions);
    return;
  }
}

bool MigrationEngine::advance_prefetch(const PageRequest& request, Actions& actions) {
  PageState s{parts_.pages[request.page].state.load(std::memory_order_acquire)};
  if (s.busy() || s.writing() || s.valid(request.tier)) return true;
  // A page pinned for writing is being changed: a copy made now would be stale when the pin
  // ends, yet valid, beside the written one.
  if (s.writers() != 0) return true;
  if (prefetch_bytes_ + parts_.page_size > parts_.prefetch_budget) return false;
  const bool stop = stops_in_dram(request.page, s, request.tier);
  const Tier fill = stop ? Tier::dram : request.tier;
  // A prefetch takes a free frame or a clean victim's, and never waits for one, nor takes one
  // while a fetch or write-back waits for a frame of the tier (it would pass it on the link).
  if (!waiting_[at(fill)].empty()) return false;
  if (free_frames_[at(fill)].empty()) evict_one(fill, true, request.page, actions);
  if (free_frames_[at(fill)].empty()) return false;
  start_fetch(request.page, fill,
              request.goal == Goal::announce ? Fetch::announced : Fetch::prefetch, false,
              stop ? &request : nullptr, actions);
  return true;
}

void MigrationEngine::advance_evict(const PageRequest& request, Actions& actions) {
  const Tier tier = request.tier;
  for (;;) {
    PageState s{parts_.pages[request.page].state.load(std::memory_order_acquire)};
    if (s.busy() || s.writing()) {
      return join(request);
    }
    if (!s.valid(tier) || s.pins(tier) != 0) return done(request, nullptr, request.acted, actions);
    PageRequest waiter = request;
    waiter.acted = true;
    if (evict_page(request.page, tier, &waiter, actions)) return;
  }
}

void MigrationEngine::advance_flush(const PageRequest& request, Actions& actions) {
  PageState s{parts_.pages[request.page].state.load(std::memory_order_acquire)};
  if (s.busy() || s.writing()) {
    return join(request);
  }
  if (!s.dirty()) return done(request, nullptr, request.acted, actions);
  // A page pinned for writing is still being written: a copy now would be stale at once.
  if (s.writers() != 0) return done(request, nullptr, false, actions);
  PageRequest waiter = request;
  waiter.acted = true;
  // A gpu-only page goes to dram first; the request comes back and writes it on to nvme.
  start_writeback(request.page, s.valid(Tier::dram) ? Tier::dram : Tier::gpu, false, &waiter,
                  actions);
}

void MigrationEngine::done(const PageRequest& request, const Failure* failure, bool effect,
                           Actions& actions) {
  if (request.job == nullptr) return;
  std::exception_ptr error;
  if (failure != nullptr) {
    error = std::make_exception_ptr(Error(failure->code, failure->message, failure->sys_errno));
  }
  if (request.job->request_done(request, error, effect)) actions.finished.push_back(request.job);
}

// ---- operations --------------------------------------------------------------------------

void MigrationEngine::start_fetch(PageId page, Tier tier, Fetch why, bool skip_read,
                                  const PageRequest* waiter, Actions& actions) {
  const bool prefetch = why != Fetch::demand;
  auto* op = new PageOp();
  op->engine = this;
  op->page = page;
  op->kind = PageOp::Kind::fetch;
  op->tier = op->frame_tier = tier;
  op->prefetch = prefetch;
  op->announced = why == Fetch::announced;
  op->skip_read = skip_read;
  op->started_by_waiter = waiter != nullptr;
  if (waiter != nullptr) op->waiters.push_back(*waiter);
  update(page, [](PageState& s) {
    assert(!s.busy() && !s.writing());
    s.set_busy(true);
  });
  [[maybe_unused]] const bool added = ops_.emplace(page, op).second;
  assert(added && "a second operation on one page");
  if (prefetch) {
    assert(!free_frames_[at(tier)].empty() && "advance_prefetch found the frame");
    prefetch_bytes_ += parts_.page_size;
    uint32_t frame = free_frames_[at(tier)].take(wanted_frame(page, tier));
    if (op->waiters.empty()) {  // a stop on the way up is not one
      ++counters_.prefetch_issued;
      ++counters_.tiers[at(tier)].prefetched;
    }
    return give_frame(*op, frame, actions);
  }
  waiting_[at(tier)].push_back(op);
}

void MigrationEngine::start_writeback(PageId page, Tier from, bool evicting,
                                      const PageRequest* waiter, Actions& actions) {
  auto* op = new PageOp();
  op->engine = this;
  op->page = page;
  op->kind = PageOp::Kind::writeback;
  op->tier = from;
  op->frame_tier = from == Tier::gpu ? Tier::dram : Tier::nvme;
  op->evicting = evicting;
  op->started_by_waiter = waiter != nullptr;
  if (waiter != nullptr) op->waiters.push_back(*waiter);
  if (evicting) {
    assert(PageState{parts_.pages[page].state.load()}.busy());  // the caller made it busy
    ++freeing_[at(from)];
  } else {
    ++flushing_[at(from)];
    PageState s = update(page, [](PageState& n) {
      assert(!n.busy() && !n.writing());
      n.set_writing(true);
    });
    op->clean_ok = s.writers() == 0;
    op->epoch = s.epoch();
  }
  [[maybe_unused]] const bool added = ops_.emplace(page, op).second;
  assert(added && "a second operation on one page");
  if (from == Tier::dram) {
    op->step = PageOp::Step::nvme_write;
    if (parts_.persistent && !choose_slot(*op)) return parked_.push_back(op);
    actions.launch.push_back(op);
  } else {
    waiting_[at(Tier::dram)].push_back(op);
  }
}

bool MigrationEngine::choose_slot(PageOp& op) {
  DurablePage& d = parts_.pages.durable(op.page);
  for (uint8_t side : {0, 1}) {
    if (side == d.durable || side == d.pending) continue;
    d.current = side;
    parts_.pages[op.page].nvme_slot = d.slot[side];
    op.side = side;
    return true;
  }
  return false;
}

void MigrationEngine::give_frame(PageOp& op, uint32_t frame, Actions& actions) {
  op.frame = frame;
  ++in_flight_[at(op.frame_tier)];
  if (op.kind == PageOp::Kind::fetch) observer_.fill_started(op.tier);
  PageState s{parts_.pages[op.page].state.load(std::memory_order_acquire)};
  using Step = PageOp::Step;
  if (op.kind == PageOp::Kind::writeback) {
    op.step = Step::gpu_out;  // gpu -> dram; a dram write-back needs no frame
  } else if (op.skip_read) {
    // Without scrubbing, the frame shows what it held last, maybe another tensor's bytes: a
    // write pin overwrites them all (Access::write's contract).
    op.step = !parts_.scrub_frames    ? Step::skip
              : op.tier == Tier::dram ? Step::host_zero
                                      : Step::gpu_zero;
  } else if (op.tier == Tier::dram) {
    op.step = s.valid(Tier::gpu)    ? Step::gpu_out
              : s.valid(Tier::nvme) ? Step::nvme_read
                                    : Step::host_zero;
  } else {
    assert(!stops_in_dram(op.page, s, op.tier) &&
           "gpu fetches come through dram unless the backend reads nvme directly");
    op.step = s.valid(Tier::dram)   ? Step::gpu_in
              : s.valid(Tier::nvme) ? Step::gpu_direct
                                    : Step::gpu_zero;
  }
  actions.launch.push_back(&op);
}

// The frame after the one holding the previous page of the same tensor in tier (being filled
// or resident), so that consecutive pages tend to sit in consecutive frames; FramePool::kNone
// for a first page or one whose predecessor is not in tier.
uint32_t MigrationEngine::wanted_frame(PageId page, Tier tier) const {
  if (parts_.pages[page].index == 0) return FramePool::kNone;
  const PageId previous = page - 1;
  uint32_t frame = kNoFrame;
  if (auto it = ops_.find(previous); it != ops_.end() && it->second->frame_tier == tier) {
    frame = it->second->frame;
  }
  if (frame == kNoFrame &&
      PageState{parts_.pages[previous].state.load(std::memory_order_acquire)}.valid(tier)) {
    frame = parts_.pages[previous].frame[at(tier)];
  }
  return frame == kNoFrame ? FramePool::kNone : frame + 1;
}

// Hands free frames to waiting operations, evicting as needed; fails the waiters with
// tier_full when nothing can ever free a frame (every frame pinned, nothing under way).
// Returns whether it changed anything.
bool MigrationEngine::service_waiting(Tier tier, Actions& actions) {
  bool changed = false;
  std::deque<PageOp*>& waiting = waiting_[at(tier)];
  FramePool& free = free_frames_[at(tier)];
  while (!waiting.empty()) {
    if (!free.empty()) {
      PageOp* op = waiting.front();
      waiting.pop_front();
      give_frame(*op, free.take(wanted_frame(op->page, tier)), actions);
      changed = true;
      continue;
    }
    if (waiting.size() <= freeing_[at(tier)]) break;  // enough evictions already under way
    // The first waiter no eviction under way frees a frame for.
    if (evict_one(tier, false, waiting[freeing_[at(tier)]]->page, actions)) {
      changed = true;
      continue;
    }
    if (!may_free_later(tier)) {
      Failure failure{
          Errc::tier_full,
          fmt::format("no frame of the {} tier can be freed: all {} frames ({}) are pinned",
                      to_string(tier), arena(tier).frame_count(),
                      format_size(arena(tier).bytes()))};
      while (!waiting.empty()) {
        PageOp* op = waiting.front();
        waiting.pop_front();
        end_op(*op, &failure, actions);
      }
      changed = true;
    }
    break;
  }
  return changed;
}

// Whether an operation under way may still leave a frame of tier evictable when it ends. Any
// copy in flight counts, whichever tier it fills: a page copied up out of a dram frame is busy,
// so not evictable, until the copy ends. So does every write-back out of dram (they need no
// frame, so they are all running) and, for the gpu tier, its own write-backs; those waiting for
// a dram frame do not count for dram, being among its waiters.
bool MigrationEngine::may_free_later(Tier tier) const {
  const bool dram_writes = freeing_[at(Tier::dram)] != 0 || flushing_[at(Tier::dram)] != 0;
  const bool gpu_writes = freeing_[at(Tier::gpu)] != 0 || flushing_[at(Tier::gpu)] != 0;
  return in_flight_[at(Tier::gpu)] != 0 || in_flight_[at(Tier::dram)] != 0 || dram_writes ||
         (tier == Tier::gpu && gpu_writes);
}

// Evicts the policy's victim among the evictable pages of tier (clean_only: those with a copy
// below, which free their frame at once) to make room for incoming. Returns whether it evicted
// one.
bool MigrationEngine::evict_one(Tier tier, bool clean_only, PageId incoming, Actions& actions) {
  EvictableIn filter(parts_.pages, tier, clean_only);
  drain_log(actions);
  parts_.eviction[at(tier)]->make_room_for(incoming);
  policy::EvictionPolicy& eviction = *parts_.eviction[at(tier)];
  // A victim can be pinned between the filter's look and ours; then ask again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::optional<policy::PageId> victim = eviction.victim(filter);
    // A page the application announced and has not used goes only when no other page can, and
    // never for a prefetch (clean_only), which would evict what was fetched ahead of need.
    if (!victim && !clean_only && filter.spare_announced) {
      filter.spare_announced = false;
      victim = eviction.victim(filter);
    }
    if (!victim) return false;
    // Nor does a prefetch displace a page needed before the one it brings, where next uses
    // are known: the displaced page would be missed first (Cao et al.'s "do no harm").
    if (clean_only && observer_.knows_next_uses() &&
        observer_.next_use(*victim) <= observer_.next_use(incoming)) {
      return false;
    }
    if (evict_page(*victim, tier, nullptr, actions)) return true;
  }
  return false;
}

// Evicts page from tier unless it is pinned there or busy: a copy held below too is dropped at
// once, the only copy is written down first and its frame freed when that is confirmed. waiter
// (may be null) is told when the eviction is over. Returns false, with nothing changed, when
// the page could not be made busy.
bool MigrationEngine::evict_page(PageId page, Tier tier, const PageRequest* waiter,
                                 Actions& actions) {
  if (!set_busy_if_unpinned(page, tier)) return false;
  bool tracked = false;
  // Busy now, so the valid copies hold still: the state after this is what decides.
  const PageState s = update(page, [&](PageState& n) {
    tracked = n.tracked(tier);
    n.set_tracked(tier, false);
  });
  if (tracked) parts_.eviction[at(tier)]->evict(page);
  ++counters_.tiers[at(tier)].evictions;
  if (s.only_copy_from(tier)) {
    start_writeback(page, tier, true, waiter, actions);
  } else {
    drop_copy(page, tier);
    if (waiter != nullptr) done(*waiter, nullptr, true, actions);
  }
  return true;
}

// The page is busy (the caller set it) and another tier holds the same bytes: let the copy in
// tier go, put its frame on the free list, and make the page idle again. unread: the copy
// never held the page's bytes (a failed write pin's); the page may be left with no copy, that
// is unbacked, as it was before.
void MigrationEngine::drop_copy(PageId page, Tier tier, [[maybe_unused]] bool unread) {
  [[maybe_unused]] const PageState s{parts_.pages[page].state.load(std::memory_order_acquire)};
  assert(s.busy() && s.valid(tier) && s.pins(tier) == 0 &&
         (unread || (s.valid_mask() & ~PageState::tier_bit(tier)) != 0) &&
         "dropping the last copy");
  release_copy(page, tier);
  update(page, [](PageState& n) { n.set_busy(false); });
}

// The busy page's copy in tier goes: out of the eviction policy, its place closed, its frame
// free, its valid bit cleared. A dram copy that prefetch brought and no pin used was useless.
void MigrationEngine::release_copy(PageId page, Tier tier) {
  PageEntry& entry = parts_.pages[page];
  // Busy: no pin changes the bits read here.
  const PageState s{entry.state.load(std::memory_order_acquire)};
  if (s.tracked(tier)) parts_.eviction[at(tier)]->remove(page);
  try {
    arena(tier).unmap(view_place(page, tier), parts_.page_size);
  } catch (const Error& e) {
    support::log().critical("{}", e.what());  // the frame stays mapped; it is still reused
  }
  free_frames_[at(tier)].give(entry.frame[at(tier)]);
  entry.frame[at(tier)] = kNoFrame;
  if (s.prefetched() && tier == Tier::dram) ++counters_.prefetch_useless;
  update(page, [&](PageState& n) {
    n.set_valid(tier, false);
    n.set_tracked(tier, false);
    if (tier == Tier::dram) n.set_prefetched(false);
  });
}

void MigrationEngine::settle(Actions& actions) {
  bool changed = true;
  while (changed) {
    changed = false;
    // Demand first: operations waiting for frames get them, and start their I/O, before the
    // prefetches proposed meanwhile, which would otherwise queue ahead of them on the link.
    for (Tier tier : {Tier::gpu, Tier::dram}) {
      if (tier == Tier::gpu && parts_.gpu == nullptr) continue;
      changed |= service_waiting(tier, actions);
    }
    std::vector<policy::PrefetchProposal> proposals;
    proposals.swap(actions.proposals);
    // Pins of prefetched pages that found them arrived are counted in the access log, whose
    // stripes are read only when a page to prefetch is not there already.
    std::optional<uint64_t> logged_useful;
    for (const policy::PrefetchProposal& proposal : proposals) {
      if (proposal.first >= parts_.pages.capacity()) continue;
      const PageEntry& first = parts_.pages[proposal.first];
      const TensorRecord& record = parts_.tensors[first.tensor];
      // Proposals are trusted only inside one live tensor.
      if ((record.generation.load(std::memory_order_relaxed) & 1) == 0 ||
          record.first_page + first.index != proposal.first) {
        continue;
      }
      uint64_t end = std::min<uint64_t>(first.index + uint64_t{proposal.count}, record.page_count);
      Tier tier = proposal.tier == 0 && parts_.gpu != nullptr ? Tier::gpu : Tier::dram;
      // Up to the first page refused, as the fast model does: trying the rest would only make
      // the policy search again, and age its pages each time.
      for (uint64_t index = first.index; index < end; ++index) {
        const PageId page = record.first_page + index;
        const PageState s{parts_.pages[page].state.load(std::memory_order_acquire)};
        const bool there = s.busy() || s.writing() || s.valid(tier);
        if (!there && !logged_useful) logged_useful = parts_.log.counters().prefetch_useful;
        if (!there && !policies::prefetch_allowed(prefetch_record(*logged_useful))) {
          counters_.prefetch_dropped += end - index;
          break;
        }
        if (!advance_prefetch({.page = page, .goal = Goal::prefetch, .tier = tier}, actions)) {
          counters_.prefetch_dropped += end - index;
          break;
        }
      }
      changed = true;
    }
  }
}

// ---- completions -------------------------------------------------------------------------

void MigrationEngine::step_done(PageOp& op, const io::Result& result) noexcept {
  Entry entered(*this);
  Actions actions;
  io::Result outcome = result;
  if (op.step == PageOp::Step::nvme_read) {
    // Checked before taking the mutex: the page is busy, so neither its frame nor its slots
    // change meanwhile.
    const FileSource::Read copy = nvme_copy(op.page);
    if (outcome.error == ENODATA && outcome.error_offset >= copy.offset + copy.valid) {
      outcome = {.bytes = copy.length};  // a streamed file's last page, read in whole blocks
    }
    op.corrupt = outcome.error == 0 && parts_.persistent && !read_intact(op);
    if (op.corrupt) outcome = {.error = EBADMSG, .error_offset = copy.offset};
  }
  {
    std::lock_guard lock(mutex_);
    if (outcome.error != 0) {
      fail_op(op, outcome, actions);
    } else if (op.kind == PageOp::Kind::fetch) {
      finish_fetch(op, actions);
    } else {
      finish_writeback(op, actions);
    }
    settle(actions);
  }
  run(actions);
}

FileSource::Read MigrationEngine::nvme_copy(PageId page) const noexcept {
  const PageEntry& entry = parts_.pages[page];
  const TensorRecord& record = const_cast<TensorTable&>(parts_.tensors)[entry.tensor];
  const uint64_t size = parts_.page_size;
  if (record.source) {
    const uint64_t start = uint64_t{entry.index} * size;
    return record.source->page(record.source_offset + start, std::min(size, record.bytes - start));
  }
  const NvmeStore::Location loc = parts_.nvme.locate(entry.nvme_slot);
  return {loc.file, loc.offset, size, size};
}

bool MigrationEngine::read_intact(const PageOp& op) const noexcept {
  if (const_cast<TensorTable&>(parts_.tensors)[parts_.pages[op.page].tensor].source) {
    return true;  // a streamed file's pages have no checksums of the pool's
  }
  const DurablePage& d = const_cast<PageTable&>(parts_.pages).durable(op.page);
  return persist::checksum(parts_.dram.frame_address(op.frame), parts_.page_size) ==
         d.checksum[d.current];
}

// The frame op filled becomes the page's copy in op.frame_tier: mapped at the page's place,
// valid, tracked by the tier's eviction policy. When mapping fails the frame goes back and op
// ends with the error (op is gone then); returns whether it succeeded.
bool MigrationEngine::install_frame(PageOp& op, bool prefetched, Actions& actions) {
  const Tier tier = op.frame_tier;
  try {
    arena(tier).map(view_place(op.page, tier), op.frame);
  } catch (const Error& e) {
    free_frames_[at(tier)].give(op.frame);
    op.frame = kNoFrame;
    Failure failure{e.code(), e.what(), e.sys_errno()};
    end_op(op, &failure, actions);
    return false;
  }
  parts_.pages[op.page].frame[at(tier)] = op.frame;
  op.frame = kNoFrame;  // the page owns it now
  update(op.page, [&](PageState& s) {
    s.set_valid(tier, true);
    s.set_tracked(tier, true);
    if (prefetched) s.set_prefetched(true, op.announced);
  });
  parts_.eviction[at(tier)]->insert(observer_.arrival(op.page, tier, prefetched));
  return true;
}

void MigrationEngine::finish_fetch(PageOp& op, Actions& actions) {
  const Tier tier = op.tier;
  const bool prefetched = op.prefetch && !op.claimed && op.waiters.empty() && tier == Tier::dram;
  if (!install_frame(op, prefetched, actions)) return;
  using Step = PageOp::Step;
  Tier from = op.step == Step::nvme_read || op.step == Step::gpu_direct ? Tier::nvme
              : op.step == Step::gpu_out                                ? Tier::gpu
                                                                        : Tier::dram;
  if (op.step == Step::host_zero || op.step == Step::gpu_zero) {
    ++counters_.zero_fills;
  } else if (op.step != Step::skip) {
    ++counters_.moves[at(from)][at(tier)];
    counters_.moved_bytes[at(from)][at(tier)] += parts_.page_size;
  }
  end_op(op, nullptr, actions);
}

void MigrationEngine::finish_writeback(PageOp& op, Actions& actions) {
  const Tier from = op.tier;
  const Tier below = from == Tier::gpu ? Tier::dram : Tier::nvme;
  PageState now{parts_.pages[op.page].state.load(std::memory_order_acquire)};
  // A flush's copy is good only if no write pin could have changed the bytes meanwhile.
  const bool copy_good =
      op.evicting || (op.clean_ok && now.writers() == 0 && now.epoch() == op.epoch);
  if (below == Tier::dram) {
    if (copy_good) {
      if (!install_frame(op, false, actions)) return;
    } else {
      free_frames_[at(Tier::dram)].give(op.frame);
      op.frame = kNoFrame;
    }
  } else if (copy_good) {
    update(op.page, [](PageState& s) { s.set_valid(Tier::nvme, true); });
    if (parts_.persistent) {
      DurablePage& d = parts_.pages.durable(op.page);
      d.checksum[op.side] = op.checksum;
      d.written = ++writebacks_;
    }
  }
  ++counters_.tiers[at(from)].writebacks;
  ++counters_.moves[at(from)][at(below)];
  counters_.moved_bytes[at(from)][at(below)] += parts_.page_size;
  if (op.evicting) release_copy(op.page, from);
  end_op(op, nullptr, actions);
}

void MigrationEngine::fail_op(PageOp& op, const io::Result& result, Actions& actions) {
  ++counters_.io_errors;
  Failure failure{op.corrupt ? Errc::corrupt : Errc::io, io_failure(op, result), result.error};
  support::log().warn("{}", failure.message);
  if (op.frame != kNoFrame) {
    free_frames_[at(op.frame_tier)].give(op.frame);
    op.frame = kNoFrame;
  }
  end_op(op, &failure, actions);
}

void MigrationEngine::end_op(PageOp& op, const Failure* failure, Actions& actions) {
  ops_.erase(op.page);
  if (op.step != PageOp::Step::wait_frame && op.frame_tier != Tier::nvme) {
    --in_flight_[at(op.frame_tier)];
    if (op.kind == PageOp::Kind::fetch) observer_.fill_ended(op.tier, failure == nullptr);
  }
  if (op.kind == PageOp::Kind::writeback && !op.evicting) --flushing_[at(op.tier)];
  if (op.kind == PageOp::Kind::writeback && op.evicting) {
    --freeing_[at(op.tier)];
    if (failure != nullptr) {
      // The victim stays where it was, evictable again; and the oldest operation waiting for
      // the frame it would have freed gets the error, so that eviction cannot retry forever
      // (on a failing disk, or a lower tier with every frame pinned).
      update(op.page, [&](PageState& s) { s.set_tracked(op.tier, true); });
      parts_.eviction[at(op.tier)]->insert(observer_.arrival(op.page, op.tier));
      std::deque<PageOp*>& waiting = waiting_[at(op.tier)];
      if (!waiting.empty()) {
        PageOp* starved = waiting.front();
        waiting.pop_front();
        // Told as its own failure to get a frame, with the victim's error as the cause.
        Failure starved_failure{
            failure->code,
            fmt::format("no frame of the {} tier could be freed for {}: evicting {} to make room "
                        "failed: {}",
                        to_string(op.tier), describe(starved->page), describe(op.page),
                        failure->message),
            failure->sys_errno};
        end_op(*starved, &starved_failure, actions);
      }
    }
  }
  if (op.prefetch) prefetch_bytes_ -= parts_.page_size;
  const bool flush = op.kind == PageOp::Kind::writeback && !op.evicting;
  update(op.page, [&](PageState& s) {
    if (flush) {
      s.set_writing(false);
    } else {
      s.set_busy(false);
    }
  });
  std::vector<PageRequest> waiters = std::move(op.waiters);
  const bool started_by_waiter = op.started_by_waiter;
  delete &op;
  for (size_t i = 0; i < waiters.size(); ++i) {
    if (failure != nullptr && i == 0 && started_by_waiter) {
      done(waiters[i], failure, false, actions);
    } else {
      advance(waiters[i], actions);
    }
  }
  idle_.notify_all();
}

// ---- carrying out ------------------------------------------------------------------------

void MigrationEngine::run(Actions& actions) noexcept {
  std::vector<io::Request> batch;
  for (PageOp* op : actions.launch) launch(*op, batch);
  if (!batch.empty()) parts_.io.submit(batch);
  for (Job* job : actions.finished) job->finish();
}

void MigrationEngine::launch(PageOp& op, std::vector<io::Request>& batch) noexcept {
  const PageEntry& entry = parts_.pages[op.page];
  const uint64_t size = parts_.page_size;
  FrameArena& dram = parts_.dram;
  using Step = PageOp::Step;
  switch (op.step) {
    case Step::nvme_read:
    case Step::nvme_write: {
      const FileSource::Read copy = nvme_copy(op.page);
      bool read = op.step == Step::nvme_read;
      // No write pin can change the frame until this write-back ends (it waits for kWriting),
      // and a flush whose copy began under one is not recorded (finish_writeback).
      if (!read && parts_.persistent) {
        op.checksum = persist::checksum(dram.frame_address(entry.frame[at(Tier::dram)]), size);
      }
      batch.push_back({.op = read ? io::Op::read : io::Op::write,
                       .file = copy.file,
                       .offset = copy.offset,
                       .buffer = dram.frame_address(read ? op.frame : entry.frame[at(Tier::dram)]),
                       .length = copy.length,
                       .done = &op});
      return;
    }
    case Step::gpu_in:
      return parts_.gpu->copy_in(op.frame, host_for_gpu(entry.frame[at(Tier::dram)]), size, op);
    case Step::gpu_out:
      return parts_.gpu->copy_out(host_for_gpu(op.frame), entry.frame[at(Tier::gpu)], size, op);
    case Step::gpu_zero:
      return parts_.gpu->zero(op.frame, op);
    case Step::gpu_direct: {
      NvmeStore::Location loc = parts_.nvme.locate(entry.nvme_slot);
      return parts_.gpu->read_direct(op.frame, *loc.file, loc.offset, size, op);
    }
    case Step::host_zero:
      if (std::byte* frame = dram.frame_address(op.frame)) std::memset(frame, 0, size);
      return op.complete({.bytes = size});
    case Step::skip:
      return op.complete({});
    case Step::wait_frame:
      break;
  }
  assert(false && "an operation waiting for a frame was launched");
}

// ---- tensors -----------------------------------------------------------------------------

void MigrationEngine::add_tensor(uint32_t slot, TensorRecord& record, bool on_nvme,
                                 const std::function<void(TensorRecord&)>& fill) {
  std::lock_guard lock(mutex_);
  fill(record);
  if (record.page_count == 0) {  // a streamed file's empty tensor
    record.first_page = 0;
    return;
  }
  const PageId first = take_page_ids(record);
  std::vector<uint64_t> slots;
  const uint32_t pages = record.page_count;
  try {
    if (!record.source) parts_.nvme.allocate(pages, record.name, slots);
    if (!record.source && parts_.persistent) {
      parts_.nvme.allocate(pages, record.name, slots);  // each page's second
    }
  } catch (...) {
    parts_.nvme.free(slots);
    parts_.pages.free(first, pages);
    throw;
  }
  for (uint32_t i = 0; i < pages; ++i) {
    PageEntry& entry = parts_.pages[first + i];
    const bool valid_in_nvme = on_nvme || record.source;
    entry.state.store(valid_in_nvme ? PageState::tier_bit(Tier::nvme) : 0,
                      std::memory_order_release);
    entry.nvme_slot = record.source ? 0 : slots[i];
    entry.tensor = slot;
    entry.index = i;
    if (parts_.persistent && !record.source) {
      DurablePage& d = parts_.pages.durable(first + i);
      d.slot[0] = slots[i];
      d.slot[1] = slots[pages + i];
    }
  }
  record.first_page = first;
}

PageId MigrationEngine::take_page_ids(const TensorRecord& record) {
  const std::optional<PageId> first = parts_.pages.allocate(record.page_count);
  if (!first) {
    throw Error(Errc::out_of_space,
                fmt::format("tensor '{}': no run of {} free page ids is left (the pool has {}, "
                            "4 per page of nvme.capacity: a larger nvme.capacity gives more)",
                            record.name, record.page_count, parts_.pages.capacity()));
  }
  return *first;
}

void MigrationEngine::restore_tensor(uint32_t slot, TensorRecord& record,
                                     std::span<const DurablePage> pages) {
  assert(parts_.persistent && pages.size() == record.page_count);
  std::lock_guard lock(mutex_);
  const PageId first = take_page_ids(record);
  std::vector<uint64_t> claimed;
  for (uint32_t i = 0; i < record.page_count; ++i) {
    for (uint64_t nvme_slot : pages[i].slot) {
      if (!parts_.nvme.claim(nvme_slot)) {
        parts_.nvme.free(claimed);
        parts_.pages.free(first, record.page_count);
        throw Error(Errc::corrupt,
                    fmt::format("tensor '{}': page {} names NVMe slot {}, which another page "
                                "already holds: the manifest is damaged",
                                record.name, i, nvme_slot));
      }
      claimed.push_back(nvme_slot);
    }
  }
  for (uint32_t i = 0; i < record.page_count; ++i) {
    const DurablePage& restored = pages[i];
    PageEntry& entry = parts_.pages[first + i];
    const bool backed = restored.durable != DurablePage::kNone;
    entry.state.store(backed ? PageState::tier_bit(Tier::nvme) : 0, std::memory_order_release);
    entry.nvme_slot = restored.slot[backed ? restored.durable : 0];
    entry.tensor = slot;
    entry.index = i;
    DurablePage& d = parts_.pages.durable(first + i);
    d = restored;
    d.current = backed ? restored.durable : 0;
    d.pending = DurablePage::kNone;
    d.written = 0;
  }
  record.first_page = first;
}

void MigrationEngine::remove_tensor(TensorRecord& record) {
  Entry entered(*this);
  Actions actions;
  {
    std::unique_lock lock(mutex_);
    const PageId first = record.first_page, end = first + record.page_count;
    wait_until(lock, [&] {
      for (PageId page = first; page < end; ++page) {
        if (ops_.count(page) != 0) return false;
      }
      return true;
    });
    // The log may still hold accesses to these pages; heard after the slot and the ids go to
    // another tensor, they would be told (and traced) as that tensor's (a trace with accesses
    // beyond its tensor, found by the model test).
    drain_log(actions);
    uint64_t pinned = 0;
    for (PageId page = first; page < end; ++page) {
      pinned += PageState{parts_.pages[page].state.load(std::memory_order_acquire)}.all_pins() != 0;
    }
    if (pinned != 0) {
      throw Error(Errc::busy, fmt::format("tensor '{}' cannot be released: {} of its pages are "
                                          "pinned",
                                          record.name, pinned));
    }
    // Prefetch proposals check the generation under this mutex, so none can reach these pages.
    record.generation.fetch_add(1, std::memory_order_release);
    std::vector<uint64_t> slots;
    slots.reserve(record.page_count);
    bool mapped[2] = {false, false};
    for (PageId page = first; page < end; ++page) {
      PageEntry& entry = parts_.pages[page];
      PageState s{entry.state.load(std::memory_order_acquire)};
      for (Tier tier : {Tier::gpu, Tier::dram}) {
        if (!s.valid(tier)) continue;
        if (s.tracked(tier)) parts_.eviction[at(tier)]->remove(page);
        free_frames_[at(tier)].give(entry.frame[at(tier)]);
        mapped[at(tier)] = true;
      }
      if (s.prefetched()) ++counters_.prefetch_useless;
      entry.state.store(0, std::memory_order_release);
      if (record.source) continue;  // pages of a streamed file hold no slots
      if (!parts_.persistent) {
        slots.push_back(entry.nvme_slot);
        continue;
      }
      // The manifest on disk still names the durable copy: its slot stays until the next
      // manifest, which no longer holds the tensor, is published.
      const DurablePage& d = parts_.pages.durable(page);
      for (uint8_t side : {0, 1}) {
        (side == d.durable ? retired_slots_ : slots).push_back(d.slot[side]);
      }
    }
    if (parts_.persistent) std::sort(slots.begin(), slots.end());  // runs, for the allocator
    // The places of resident pages still show their old frames: close them before the ids
    // and frames are handed out again.
    for (Tier tier : {Tier::gpu, Tier::dram}) {
      if (!mapped[at(tier)]) continue;
      try {
        arena(tier).unmap(view_place(first, tier), record.page_count * parts_.page_size);
      } catch (const Error& e) {
        support::log().critical("{}", e.what());
      }
    }
    parts_.nvme.free(slots);
    if (record.page_count != 0) parts_.pages.free(first, record.page_count);
    record.source.reset();  // no operation reads it any more; the last tensor closes it
    settle(actions);
  }
  run(actions);
}

void MigrationEngine::undo_unread_pages(std::span<const PageId> pages, Tier tier, bool pinned) {
  Entry entered(*this);
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    for (PageId page : pages) {
      if (pinned) update(page, [&](PageState& s) { s.drop_pin(tier, true); });
      // Taken by someone else meanwhile: the copy stays (it is what they pinned).
      if (set_busy_if_unpinned(page, tier)) drop_copy(page, tier, true);
    }
    settle(actions);
  }
  run(actions);
}

// ---- publishing ---------------------------------------------------------------------------

uint64_t MigrationEngine::writebacks_completed() {
  std::lock_guard lock(mutex_);
  return writebacks_;
}

void MigrationEngine::begin_publish(
    uint64_t synced, const TensorRecord* only,
    const std::function<void(const TensorRecord&, const DurablePage*)>& visit) {
  std::lock_guard lock(mutex_);
  publishing_only_ = only;
  parts_.tensors.for_each_live([&](uint32_t, TensorRecord& record) {
    if (record.source) return;  // streamed from a file of its own, not the pool's
    const bool changing = only == nullptr || &record == only;
    if (!changing && !record.in_manifest) return;
    for (uint32_t i = 0; i < record.page_count; ++i) {
      const PageId page = record.first_page + i;
      DurablePage& d = parts_.pages.durable(page);
      assert(d.pending == DurablePage::kNone && "one publish at a time");
      const PageState s{parts_.pages[page].state.load(std::memory_order_acquire)};
      d.pending = changing && s.valid(Tier::nvme) && d.written <= synced ? d.current : d.durable;
    }
    visit(record, &parts_.pages.durable(record.first_page));
  });
}

void MigrationEngine::end_publish(bool published) {
  Entry entered(*this);
  Actions actions;
  {
    std::lock_guard lock(mutex_);
    parts_.tensors.for_each_live([&](uint32_t, TensorRecord& record) {
      if (record.source) return;
      if (publishing_only_ != nullptr && &record != publishing_only_ && !record.in_manifest) return;
      for (uint32_t i = 0; i < record.page_count; ++i) {
        DurablePage& d = parts_.pages.durable(record.first_page + i);
        if (published) d.durable = d.pending;
        d.pending = DurablePage::kNone;
      }
      if (published) record.in_manifest = true;
    });
    publishing_only_ = nullptr;
    if (published) {
      // The sort turns the slots of each released tensor back into runs for the allocator.
      std::sort(retired_slots_.begin(), retired_slots_.end());
      parts_.nvme.free(retired_slots_);
      retired_slots_.clear();
    }
    for (PageOp* op : parked_) {
      [[maybe_unused]] const bool chosen = choose_slot(*op);
      assert(chosen && "no manifest is being published now");
      actions.launch.push_back(op);
    }
    parked_.clear();
  }
  run(actions);
}

void MigrationEngine::fill_stats(Stats& stats) {
  std::lock_guard lock(mutex_);
  stats = counters_;
  for (int t = 0; t < 2; ++t) stats.tiers[t].free_frames = free_frames_[t].size();
  // NVMe slots are taken and given back under this mutex (add_tensor, remove_tensor).
  stats.tiers[at(Tier::nvme)].free_frames = parts_.nvme.free_slots();
}

}  // namespace tiermem::detail
