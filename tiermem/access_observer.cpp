// tiermem/access_observer.cpp: telling the policies, following the schedule, writing the
// trace, measuring fill bandwidth.
#include "tiermem/access_observer.hpp"

#include <utility>

#include "support/log.hpp"
#include "tiermem/error.hpp"
#include "tiermem/page_state.hpp"

namespace tiermem::detail {

namespace {

// Collects the prefetch policy's proposals.
struct ProposalSink final : policy::PrefetchSink {
  std::vector<policy::PrefetchProposal>& out;
  explicit ProposalSink(std::vector<policy::PrefetchProposal>& o) : out(o) {}
  void propose(const policy::PrefetchProposal& proposal) override { out.push_back(proposal); }
};

}  // namespace

AccessObserver::AccessObserver(const PageTable& pages, TensorTable& tensors,
                               policy::EvictionPolicy* const (&eviction)[2],
                               policy::PrefetchPolicy& prefetch, uint64_t page_size,
                               const Clock& clock)
    : pages_(pages),
      tensors_(tensors),
      eviction_(eviction),
      prefetch_(prefetch),
      page_size_(page_size),
      clock_(clock) {}

policy::AccessEvent AccessObserver::event(PageId page, Tier tier, bool write, uint64_t time) const {
  const PageEntry& entry = pages_[page];
  return {.page = page,
          .time = time,
          .next_use = next_uses_ ? cursor_.next_use(page) : policy::kNever,
          .tensor = entry.tensor,
          .index = entry.index,
          .tensor_pages = tensors_[entry.tensor].page_count,
          .tier = static_cast<uint8_t>(tier),
          .write = write};
}

void AccessObserver::access(const AccessRecord& record, uint64_t now,
                            std::vector<policy::PrefetchProposal>& proposals) {
  const uint64_t time = record.time != 0 ? record.time : now;
  if (trace_) {
    const TraceOp op = record.access == Access::read    ? TraceOp::read
                       : record.access == Access::write ? TraceOp::write
                                                        : TraceOp::read_write;
    trace_record(record.page, time, record.tier, op);
  }
  if (next_uses_) cursor_.follow(record.page);
  policy::AccessEvent e = event(record.page, record.tier, record.access != Access::read, time);
  PageState s{pages_[record.page].state.load(std::memory_order_acquire)};
  if (s.tracked(record.tier)) eviction_[at(record.tier)]->touch(e);
  ProposalSink sink(proposals);
  prefetch_.on_access(e, sink);
}

void AccessObserver::announced(PageId page, Tier tier, uint64_t time) {
  if (trace_) trace_record(page, time, tier, TraceOp::prefetch);
}

policy::AccessEvent AccessObserver::arrival(PageId page, Tier tier, bool prefetched) {
  policy::AccessEvent e = event(page, tier, false, clock_.now_ns());
  e.prefetched = prefetched;
  return e;
}

void AccessObserver::set_schedule(std::shared_ptr<const policy::Schedule> schedule) {
  prefetch_.set_schedule(schedule);
  bool wanted = false;
  for (policy::EvictionPolicy* policy : eviction_) {
    wanted |= policy != nullptr && policy->wants_next_use();
  }
  next_uses_ = wanted && schedule != nullptr;
  cursor_.reset(next_uses_ ? std::move(schedule) : nullptr);
}

// ---- trace -------------------------------------------------------------------------------

void AccessObserver::start_trace(std::unique_ptr<TraceWriter> writer,
                                 const std::vector<std::pair<uint32_t, uint32_t>>& live) {
  if (trace_) throw Error(Errc::busy, "a trace is being recorded already; stop it first");
  for (const auto& [slot, pages] : live) writer->tensor(slot, pages);
  trace_ = std::move(writer);
  tracing_.store(true, std::memory_order_relaxed);
}

void AccessObserver::stop_trace(uint64_t time) noexcept {
  if (!trace_) return;
  end_of_batch();
  try {
    if (std::exchange(span_open_, false)) trace_->compute_end(time);  // ends with the trace
    trace_->close();
  } catch (const Error& e) {
    support::log().error("trace: {}", e.what());
  }
  trace_.reset();
  tracing_.store(false, std::memory_order_relaxed);
}

void AccessObserver::trace_tensor(uint32_t slot, uint32_t pages) {
  if (trace_) trace_->tensor(slot, pages);
}

void AccessObserver::trace_compute(bool begin, uint64_t time) {
  // Several threads may compute at once: the trace gets one span from the first begin to the
  // last end. An end without a begin is ignored.
  if (!begin && compute_depth_ == 0) return;
  compute_depth_ += begin ? 1 : -1;
  if (!trace_ || (begin ? compute_depth_ != 1 : (compute_depth_ != 0 || !span_open_))) return;
  end_of_batch();
  try {
    if (begin) {
      trace_->compute_begin(time);
    } else {
      trace_->compute_end(time);
    }
    span_open_ = begin;
  } catch (const Error& e) {
    trace_failed(e);
  }
}

void AccessObserver::trace_record(PageId page, uint64_t time, Tier tier, TraceOp op) {
  const PageEntry& entry = pages_[page];
  PendingAccess& p = pending_;
  if (p.count > 0 && p.time == time && p.tensor == entry.tensor && p.op == op && p.tier == tier &&
      p.first + p.count == entry.index) {
    ++p.count;
    return;
  }
  end_of_batch();
  p = {time, entry.tensor, entry.index, 1, op, tier};
}

void AccessObserver::end_of_batch() {
  if (!trace_ || pending_.count == 0) return;
  try {
    trace_->access(pending_.time, pending_.tensor, pending_.first, pending_.count, pending_.op,
                   pending_.tier);
  } catch (const Error& e) {
    trace_failed(e);
  }
  pending_.count = 0;
}

// A trace that cannot be written stops; the pool goes on.
void AccessObserver::trace_failed(const Error& error) noexcept {
  support::log().error("trace: {}; recording stops", error.what());
  trace_.reset();
  span_open_ = false;
  tracing_.store(false, std::memory_order_relaxed);
}

// ---- fill throughput ---------------------------------------------------------------------

void AccessObserver::fill_started(Tier tier) {
  Throughput& t = fill_[at(tier)];
  if (t.active++ == 0) t.busy_since = clock_.now_ns();
}

// Every 32 pages filled, the prefetch policy hears the tier's fill bandwidth over the time
// fetches into it were under way.
void AccessObserver::fill_ended(Tier tier, bool filled) {
  Throughput& t = fill_[at(tier)];
  uint64_t now = clock_.now_ns();
  if (--t.active == 0) t.busy_ns += now - t.busy_since;
  if (filled) t.bytes += page_size_;
  if (t.bytes < 32 * page_size_) return;
  uint64_t busy = t.busy_ns + (t.active > 0 ? now - t.busy_since : 0);
  if (t.active > 0) t.busy_since = now;
  if (busy > 0) {
    prefetch_.observe_bandwidth(static_cast<uint8_t>(tier),
                                static_cast<double>(t.bytes) * 1e9 / static_cast<double>(busy));
  }
  t.bytes = 0;
  t.busy_ns = 0;
}

}  // namespace tiermem::detail
