// tiermem/access_observer.hpp: what the policies and a recorded trace hear of page accesses.
//
// The migration engine hands this observer every access (drained from the access log, or a
// pin that had to wait) and every page's arrival in a tier. The observer tells the tier's
// eviction policy (when it tracks the page) and the prefetch policy, follows a registered
// schedule to give next uses to policies that want them (Belady), records accesses to a trace
// file when asked, and measures how fast each tier fills, for prefetch timing.
//
// Not thread-safe: the migration engine's mutex serialises every call but tracing().
#pragma once

#include <atomic>
#include <memory>
#include <utility>
#include <vector>

#include "policies/schedule_cursor.hpp"
#include "tiermem/access_log.hpp"
#include "tiermem/clock.hpp"
#include "tiermem/page_table.hpp"
#include "tiermem/policy.hpp"
#include "tiermem/tensor_table.hpp"
#include "tiermem/trace.hpp"

namespace tiermem::detail {

class AccessObserver {
 public:
  // eviction: the policies of gpu (null without a gpu tier) and dram.
  AccessObserver(const PageTable& pages, TensorTable& tensors,
                 policy::EvictionPolicy* const (&eviction)[2], policy::PrefetchPolicy& prefetch,
                 uint64_t page_size, const Clock& clock);

  // Accesses, in the order they were made; the prefetch policy's proposals are appended to
  // proposals. now: the time of records without one (the lock-free path stamps them only
  // while tracing), read once per batch by the caller. A trace holds back the last access to
  // merge it with neighbours until end_of_batch().
  void access(const AccessRecord& record, uint64_t now,
              std::vector<policy::PrefetchProposal>& proposals);
  // The application asked for page in tier ahead of need (Tensor::prefetch) at time: a trace
  // records it; the policies hear of the page when it arrives.
  void announced(PageId page, Tier tier, uint64_t time);
  void end_of_batch();

  // The event a policy hears when page arrives in tier (with its next use where known);
  // prefetched: it came by prefetch, not for an access.
  policy::AccessEvent arrival(PageId page, Tier tier, bool prefetched = false);

  // Follows schedule from now on (null: none); the prefetch policy gets it too.
  void set_schedule(std::shared_ptr<const policy::Schedule> schedule);
  // Whether next uses are known (a schedule, followed for an eviction policy that wants them),
  // and when the schedule next uses page (ScheduleCursor::next_use).
  bool knows_next_uses() const noexcept { return next_uses_; }
  uint64_t next_use(PageId page) const { return cursor_.next_use(page); }

  // Records accesses through writer from now on, after declaring the live tensors
  // (slot, pages). Throws Error(busy) while recording already.
  void start_trace(std::unique_ptr<TraceWriter> writer,
                   const std::vector<std::pair<uint32_t, uint32_t>>& live);
  // Closes the trace file, ending a compute span still open at time (errors are logged);
  // no-op when not recording.
  void stop_trace(uint64_t time) noexcept;
  bool tracing() const noexcept { return tracing_.load(std::memory_order_relaxed); }
  void trace_tensor(uint32_t slot, uint32_t pages);
  void trace_compute(bool begin, uint64_t time);

  // A fetch into tier started / ended (filled: it brought a page).
  void fill_started(Tier tier);
  void fill_ended(Tier tier, bool filled);

 private:
  policy::AccessEvent event(PageId page, Tier tier, bool write, uint64_t time) const;
  void trace_record(PageId page, uint64_t time, Tier tier, TraceOp op);
  void trace_failed(const Error& error) noexcept;

  const PageTable& pages_;
  TensorTable& tensors_;
  policy::EvictionPolicy* const (&eviction_)[2];
  policy::PrefetchPolicy& prefetch_;
  uint64_t page_size_;
  const Clock& clock_;

  // The registered schedule, followed along the accesses when an eviction policy wants to
  // know next uses.
  policies::ScheduleCursor cursor_;
  bool next_uses_ = false;

  // Trace recording; accesses of consecutive pages at one moment become one record.
  std::unique_ptr<TraceWriter> trace_;
  uint32_t compute_depth_ = 0;  // compute_begin calls not yet ended, from every thread
  bool span_open_ = false;      // the trace has a compute span begun and not yet ended
  std::atomic<bool> tracing_{false};
  struct PendingAccess {
    uint64_t time = 0;
    uint32_t tensor = 0, first = 0, count = 0;
    TraceOp op = TraceOp::read;
    Tier tier = Tier::dram;
  } pending_;

  // Fill throughput of each tier while fetches into it are under way.
  struct Throughput {
    uint32_t active = 0;
    uint64_t busy_since = 0;
    uint64_t busy_ns = 0;
    uint64_t bytes = 0;
  };
  Throughput fill_[2];
};

}  // namespace tiermem::detail
