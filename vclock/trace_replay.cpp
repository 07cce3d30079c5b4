// vclock/trace_replay.cpp: a trace replayed through a data-less Pool on the virtual clock, so
// that the migration engine itself makes every decision, timed by the same link model as the
// fast simulator (sim/simulator.cpp). `tiermem sim --model pool` runs it; comparing the two is
// the fast model's test (tests/test_sim_agreement.cpp).
//
// Each access is a pin, waited for by running the clock's events, released, then the clock runs
// through the access's compute; a prefetch record is the application's Tensor::prefetch. Where the
// two models count differently, docs/DESIGN.md says.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <vector>

#include "policies/registry.hpp"
#include "sim/channel.hpp"
#include "sim/simulator.hpp"
#include "tiermem/error.hpp"
#include "tiermem/pool.hpp"
#include "tiermem/virtual_clock.hpp"

namespace tiermem::sim {

namespace {

// What a data-less pool on a virtual clock holds per page (the page table entry, the
// policies' nodes, the NVMe slot), rounded up from the 67 bytes measured (bench/RESULTS.md),
// and per page access of a schedule registered for next uses. memory_limit is reckoned with
// them.
constexpr uint64_t kPoolBytesPerPage = 80;
constexpr uint64_t kScheduleBytesPerAccess = 16;

Access to_access(TraceOp op) {
  return op == TraceOp::read    ? Access::read
         : op == TraceOp::write ? Access::write
                                : Access::read_write;
}

class PoolReplay {
 public:
  PoolReplay(const Trace& trace, const Config& config)
      : trace_(trace),
        config_(config),
        page_size_(trace.page_size),
        pool_(pool_config(), devices()) {
    tensors_.reserve(trace.tensor_pages.size());
    for (size_t t = 0; t < trace.tensor_pages.size(); ++t) {
      const uint32_t pages = trace.tensor_pages[t];
      // A tensor of no pages takes no page ids, as in the fast model; no access names it.
      tensors_.push_back(pages == 0 ? std::nullopt
                                    : std::optional<Tensor>(pool_.allocate(
                                          {pages * page_size_}, DType::u8, fmt::format("t{}", t))));
    }
    register_schedule();
  }

  Result run() {
    uint64_t stall = 0, compute = 0, accesses = 0;
    for (size_t i = 0; i < trace_.accesses.size(); ++i) {
      const TraceAccess& access = trace_.accesses[i];
      const uint64_t start = pool_.now_ns();
      const ByteRange range{uint64_t{access.first} * page_size_,
                            uint64_t{access.count} * page_size_};
      if (access.op == TraceOp::prefetch) {
        if (config_.trace_prefetches) tensors_[access.tensor]->prefetch(tier_of(access), range);
        if (access.compute_ns != 0) pool_.advance(start + access.compute_ns);
        compute += access.compute_ns;
        continue;
      }
      try {
        std::future<Pin> later =
            tensors_[access.tensor]->pin_async(tier_of(access), to_access(access.op), range);
        while (later.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
          run_next_event();
        }
        later.get().reset();
      } catch (const Error& e) {
        throw Error(e.code(), fmt::format("trace access {} (tensor {}, pages {}+{}): {}", i,
                                          access.tensor, access.first, access.count, e.what()));
      }
      stall += pool_.now_ns() - start;
      if (access.compute_ns != 0) pool_.advance(pool_.now_ns() + access.compute_ns);
      compute += access.compute_ns;
      accesses += access.count;
    }
    const uint64_t elapsed = pool_.now_ns();
    // Write-backs and prefetches still under way are counted, as the fast model counts them
    // when it starts them; the time they take after the last access is not the replay's.
    while (pool_.next_event_ns()) run_next_event();
    return result(pool_.stats(), elapsed, stall, compute, accesses);
  }

 private:
  Tier tier_of(const TraceAccess& access) const {
    return access.tier == Tier::gpu && config_.gpu_bytes >= page_size_ ? Tier::gpu : Tier::dram;
  }

  void run_next_event() {
    std::optional<uint64_t> next = pool_.next_event_ns();
    if (!next) {
      throw Error(Errc::busy, "the pin waits for something no scheduled transfer will bring");
    }
    pool_.advance(*next);
  }

  tiermem::Config pool_config() const {
    uint64_t pages = 0;
    for (uint32_t p : trace_.tensor_pages) pages += p;
    const Trace* order = schedule_order();
    const uint64_t steps = order == nullptr ? 0 : order->page_accesses();
    const uint64_t limit = config_.memory_limit;
    // Divisions rather than products: counts from a hostile trace can be near 2^64.
    if (pages > limit / kPoolBytesPerPage ||
        steps > (limit - pages * kPoolBytesPerPage) / kScheduleBytesPerAccess) {
      throw Error(Errc::invalid_argument,
                  fmt::format("replaying {} pages through a pool{} needs about {:.0f} MiB ({} "
                              "bytes per page, {} per page access of the schedule), more than the "
                              "memory limit of {} MiB",
                              pages,
                              steps == 0 ? ""
                                         : fmt::format(" with a schedule of {} page "
                                                       "accesses",
                                                       steps),
                              (static_cast<double>(pages) * kPoolBytesPerPage +
                               static_cast<double>(steps) * kScheduleBytesPerAccess) /
                                  (1 << 20),
                              kPoolBytesPerPage, kScheduleBytesPerAccess, limit >> 20));
    }
    tiermem::Config c;
    c.page_size = page_size_;
    c.dram.capacity = config_.dram_bytes / page_size_ * page_size_;
    c.gpu.capacity = config_.gpu_bytes / page_size_ * page_size_;
    c.nvme.capacity = std::max<uint64_t>(pages, 1) * page_size_;
    c.policy.eviction = config_.eviction;
    c.policy.prefetch = config_.prefetch;
    c.policy.prefetch_budget = config_.prefetch_budget;
    return c;
  }

  VirtualDevices devices() const {
    return {.nvme = config_.nvme,
            .pcie = config_.pcie,
            .data = false,
            .tensors_start_on_nvme = true};  // as in the fast model, nvme holds every page
  }

  // The pool's one schedule: the registered order, or, for a policy that wants next uses from
  // the trace's future, the whole trace as one iteration (its next uses are the oracle's).
  const Trace* schedule_order() const {
    const bool wants_next_use = policies::make_eviction_policy(
                                    config_.eviction, {config_.dram_bytes / page_size_, page_size_})
                                    ->wants_next_use();
    return wants_next_use && config_.future == Future::trace ? &trace_ : config_.schedule.get();
  }

  void register_schedule() {
    const Trace* order = schedule_order();
    if (order == nullptr) return;
    std::vector<ScheduleStep> steps;
    steps.reserve(order->accesses.size());
    for (size_t i = 0; i < order->accesses.size(); ++i) {
      const TraceAccess& a = order->accesses[i];
      if (a.op == TraceOp::prefetch) continue;  // an announcement, not a step
      if (a.tensor >= tensors_.size() ||
          uint64_t{a.first} + a.count > trace_.tensor_pages[a.tensor]) {
        throw Error(Errc::invalid_argument,
                    fmt::format("schedule step {} (tensor {}, pages {}+{}) is not in the trace", i,
                                a.tensor, a.first, a.count));
      }
      steps.push_back({*tensors_[a.tensor],
                       {uint64_t{a.first} * page_size_, uint64_t{a.count} * page_size_},
                       tier_of(a)});
    }
    pool_.set_schedule(steps);
  }

  Result result(const Stats& s, uint64_t elapsed, uint64_t stall, uint64_t compute,
                uint64_t accesses) const {
    constexpr int gpu = 0, dram = 1, nvme = 2;
    Result r;
    r.eviction = config_.eviction;
    r.prefetch = config_.prefetch;
    r.page_size = page_size_;
    r.accesses = accesses;
    auto tier = [&](int t) {
      TierResult counts;
      counts.capacity_pages = s.tiers[t].frames;
      counts.hits = s.tiers[t].hits;
      counts.misses = s.tiers[t].misses;
      counts.prefetched = s.tiers[t].prefetched;
      counts.evictions = s.tiers[t].evictions;
      counts.writebacks = s.tiers[t].writebacks;
      return counts;
    };
    r.gpu = tier(gpu);
    r.dram = tier(dram);
    r.gpu.bytes_in = s.moved_bytes[dram][gpu] + s.moved_bytes[nvme][gpu];
    r.gpu.bytes_out = s.moved_bytes[gpu][dram];
    r.dram.bytes_in = s.moved_bytes[nvme][dram];
    r.dram.bytes_out = s.moved_bytes[dram][nvme];
    // The fast model counts a pin that finds its page arriving by prefetch as a hit (a late
    // prefetch); the pool, as a miss that waited for a fetch under way. Without a gpu tier
    // they are all dram's; with one, only the totals are moved (docs/DESIGN.md).
    if (config_.gpu_bytes < page_size_) {
      r.dram.hits += s.prefetch_late;
      r.dram.misses -= s.prefetch_late;
    }
    r.hits = s.tiers[gpu].hits + s.tiers[dram].hits + s.prefetch_late;
    r.misses = s.tiers[gpu].misses + s.tiers[dram].misses - s.prefetch_late;
    r.bytes_read = s.moved_bytes[nvme][dram] + s.moved_bytes[nvme][gpu];
    r.bytes_written = s.moved_bytes[dram][nvme];
    r.bytes_fetched = r.gpu.bytes_in + r.dram.bytes_in;
    // Whatever the pool fetched that was no prefetch, a demand fetched.
    r.prefetch_fetches = r.gpu.prefetched + r.dram.prefetched;
    r.demand_fetches = r.bytes_fetched / page_size_ - r.prefetch_fetches;
    r.prefetch_bytes = r.prefetch_fetches * page_size_;
    r.demand_bytes = r.demand_fetches * page_size_;
    r.elapsed_ns = elapsed;
    r.compute_ns = compute;
    r.stall_ns = stall;
    // Each direction of each link streams one page at a time: its busy time is its pages'.
    auto busy = [&](const Link& link, bool down, uint64_t pages) {
      const double gbps = down && link.write_gbps > 0 ? link.write_gbps : link.gbps;
      return pages * Channel(gbps, 0, 1, page_size_).transfer_ns();
    };
    r.io_ns = std::max({busy(config_.nvme, false, s.moves[nvme][dram] + s.moves[nvme][gpu]),
                        busy(config_.nvme, true, s.moves[dram][nvme]),
                        busy(config_.pcie, false, s.moves[dram][gpu]),
                        busy(config_.pcie, true, s.moves[gpu][dram])});
    derive_rates(r);
    r.prefetch_issued = s.prefetch_issued;
    r.prefetch_useful = s.prefetch_useful;
    r.prefetch_late = s.prefetch_late;
    r.prefetch_dropped = s.prefetch_dropped;
    // Every page prefetched and not pinned by the end was of no use, as the fast model counts.
    r.prefetch_useless = s.prefetch_issued - s.prefetch_useful - s.prefetch_late;
    return r;
  }

  const Trace& trace_;
  const Config& config_;
  const uint64_t page_size_;
  Pool pool_;
  std::vector<std::optional<Tensor>> tensors_;  // by the trace's tensor id
};

}  // namespace

Result simulate_on_pool(const Trace& trace, const Config& config) {
  trace.validate();
  Result result = PoolReplay(trace, config).run();
  if (config.belady_baseline) set_baseline(trace, config, result);
  return result;
}

}  // namespace tiermem::sim
