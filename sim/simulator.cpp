// sim/simulator.cpp: the replay engine behind sim::simulate(): tiers of page frames run by
// eviction policies, a prefetch policy, and simulated links on a virtual clock.
//
// Per-page state lives in tables indexed by dense page id: a flags byte per page (so the flags
// of many pages share a cache line), and a ready time read only when the flags say kBusy.
// Policies are the registry's, called once per page access. Nothing depends on wall time or
// addresses, so a replay is deterministic.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "policies/huge_pages.hpp"
#include "policies/prefetch_governor.hpp"
#include "policies/registry.hpp"
#include "policies/schedule_cursor.hpp"
#include "sim/channel.hpp"
#include "sim/next_uses.hpp"
#include "sim/page_map.hpp"
#include "sim/simulator.hpp"
#include "sim/trace_io.hpp"
#include "tiermem/error.hpp"
#include "tiermem/sim.hpp"

namespace tiermem::sim {

namespace {

using policy::AccessEvent;
using policy::kNever;
using policy::PageId;

enum Flag : uint8_t {
  kResident = 1,     // the tier holds the page (arrived or arriving)
  kDirty = 2,        // newer than the tier below
  kPrefetched = 4,   // brought in by prefetch and not yet accessed
  kInFlight = 8,     // prefetched, arriving at its ready time
  kPinned = 16,      // pinned by the access being replayed
  kBusy = 32,        // its frame is busy (arriving, or being copied out) until its ready time
  kArriving = 64,    // on its way: the eviction policy hears of it when it arrives
  kAnnounced = 128,  // with kPrefetched, in dram: the application's prefetch (a trace record)
};

constexpr int kGpu = 0;
constexpr int kDram = 1;

struct TierState {
  uint64_t capacity = 0;  // pages
  uint64_t used = 0;
  // Per page: Flag bits, one byte so that the flags of a million pages stay in cache; and the
  // ready time, read only where kBusy says it may lie ahead.
  policies::PageTable<uint8_t> flags;
  policies::PageTable<uint64_t> ready_at;
  std::unique_ptr<policy::EvictionPolicy> policy;
  // Pages on their way, by arrival (ties in the order they were sent): a page enters the
  // eviction policy when it arrives, as in a pool, not when it is asked for.
  struct Arrival {
    uint64_t at;
    uint64_t sequence;
    PageId page;
    bool operator>(const Arrival& other) const {
      return at != other.at ? at > other.at : sequence > other.sequence;
    }
  };
  std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>> arriving;
  // Times at which frames stop being busy, to wait for when every frame is busy.
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> busy;
  TierResult counts;

  // The page's frame is busy until `until`: arriving by prefetch, or being copied out. (A
  // page a demand access brings in needs no mark: it stays pinned until it has arrived.)
  void mark_busy(PageId page, uint64_t until, uint64_t now) {
    if (until <= now) return;
    ready_at[page] = std::max(ready(page), until);
    flags[page] |= kBusy;
    busy.push(until);
    latest_ready = std::max(latest_ready, until);
  }
  uint64_t ready(PageId page) const { return flags[page] & kBusy ? ready_at[page] : 0; }
  bool has(PageId page, uint8_t flag) const { return (flags[page] & flag) != 0; }
  void add(PageId page, uint8_t flag) { set(page, flags[page], flags[page] | flag); }
  void drop(PageId page, uint8_t flag) { set(page, flags[page], flags[page] & ~flag); }
  // Sets the flags of a page whose flags were `before`.
  void set(PageId page, uint8_t before, uint8_t after) {
    flags[page] = after;
    counted += ((after & kCounted) != 0) - ((before & kCounted) != 0);
    announced += ((after & kAnnounced) != 0) - ((before & kAnnounced) != 0);
  }
  void reset(PageId page, uint8_t after) { set(page, flags[page], after); }

  // Pages with kDirty or kPrefetched. While there are none, evicting a page needs no look at
  // its flags (a cache miss saved per eviction).
  static constexpr uint8_t kCounted = kDirty | kPrefetched;
  uint64_t counted = 0;
  uint64_t announced = 0;           // pages with kAnnounced
  uint64_t latest_ready = 0;        // no page is busy after this time
  uint64_t demand_waits_until = 0;  // a fetch or write-back waits for a frame until then
};

class Engine final : policy::VictimFilter, policy::PrefetchSink {
 public:
  Engine(uint64_t page_size, const Config& config)
      : config_(config),
        page_size_(page_size),
        nvme_up_(config.nvme.gbps, config.nvme.latency_us, config.nvme.queue_depth, page_size_),
        nvme_down_(write_gbps(config.nvme), config.nvme.latency_us, config.nvme.queue_depth,
                   page_size_),
        pcie_up_(config.pcie.gbps, config.pcie.latency_us, config.pcie.queue_depth, page_size_),
        pcie_down_(write_gbps(config.pcie), config.pcie.latency_us, config.pcie.queue_depth,
                   page_size_) {
    tiers_[kGpu].capacity = config.gpu_bytes / page_size_;
    tiers_[kDram].capacity = config.dram_bytes / page_size_;
    if (tiers_[kDram].capacity == 0) {
      throw Error(Errc::invalid_argument,
                  fmt::format("dram capacity {} bytes is below one page ({} bytes)",
                              config.dram_bytes, page_size_));
    }
    for (int t : {kGpu, kDram}) {
      TierState& tier = tiers_[t];
      if (tier.capacity == 0) continue;
      tier.policy = policies::make_eviction_policy(config.eviction, {tier.capacity, page_size_});
      wants_next_use_ |= tier.policy->wants_next_use();
    }
    prefetch_ =
        policies::make_prefetch_policy(config.prefetch, {tiers_[kDram].capacity, page_size_});
    prefetch_->observe_bandwidth(kDram, config.nvme.gbps * 1e9);
    prefetch_->observe_bandwidth(kGpu, std::min(config.nvme.gbps, config.pcie.gbps) * 1e9);
    prefetching_ = prefetch_->name() != "none";
  }

  bool wants_next_use() const noexcept { return wants_next_use_; }
  uint64_t replayed_pages() const noexcept { return ordinal_; }

  // Tensors declared so far (a prefix grows as a streamed trace declares more).
  void declare(const std::vector<uint32_t>& tensor_pages) {
    uint64_t pages = base_.back();
    for (size_t t = tensor_pages_.size(); t < tensor_pages.size(); ++t) pages += tensor_pages[t];
    check_table_memory(pages, 0, config_.memory_limit);
    if (next_ && pages > next_->first.size()) throw foreign_next_uses();
    for (size_t t = tensor_pages_.size(); t < tensor_pages.size(); ++t) {
      tensor_pages_.push_back(tensor_pages[t]);
      base_.push_back(base_.back() + tensor_pages[t]);
    }
    for (TierState& tier : tiers_) {
      if (tier.capacity == 0) continue;
      tier.flags.resize(base_.back(), 0);
      tier.ready_at.resize(base_.back(), 0);
    }
  }

  // The future, for policies that want it: the whole trace's next uses.
  void set_oracle(std::shared_ptr<const NextUses> uses) {
    if (uses->first.size() < base_.back()) throw foreign_next_uses();
    check_table_memory(uses->first.size(), uses->size, config_.memory_limit);
    next_ = std::move(uses);
    upcoming_.resize(next_->first.size());
    std::transform(next_->first.begin(), next_->first.end(), upcoming_.begin(), as_next_use);
  }

  // The registered order: for the prefetch policy, and with future, for next uses too.
  void set_schedule(const Trace& order, bool future) {
    std::shared_ptr<const policy::Schedule> schedule = to_schedule(order);
    prefetch_->set_schedule(schedule);
    if (future) future_.reset(schedule);
  }

  void replay(std::span<const TraceAccess> accesses) {
    uint64_t& ordinal = ordinal_;
    for (size_t i = 0; i < accesses.size(); ++i) {
      const TraceAccess& access = accesses[i];
      int t = access.tier == Tier::gpu && tiers_[kGpu].capacity > 0 ? kGpu : kDram;
      if (i + kLookahead < accesses.size()) warm(accesses[i + kLookahead]);
      if (access.op == TraceOp::prefetch) {
        arrive(now_);
        ++replayed_;
        if (config_.trace_prefetches)
          announced(t, base_[access.tensor] + access.first, access.count);
        now_ += access.compute_ns;
        result_.compute_ns += access.compute_ns;
        continue;
      }
      check(access, t);
      arrive(now_);
      ++replayed_;
      uint64_t done = now_;
      AccessEvent event;
      event.time = now_;
      event.tensor = access.tensor;
      event.tensor_pages = tensor_pages_[access.tensor];
      event.tier = static_cast<uint8_t>(t);
      event.write = access.op != TraceOp::read;
      PageId first = base_[access.tensor] + access.first;
      for (uint32_t k = 0; k < access.count; ++k, ++ordinal) {
        event.page = first + k;
        event.index = access.first + k;
        if (!future_.empty()) {
          future_.follow(event.page);
          event.next_use = future_.next_use(event.page);
        } else if (next_) {
          if (ordinal >= next_->size) throw foreign_next_uses();
          event.next_use = as_next_use((*next_)[ordinal]);
          upcoming_[event.page] = event.next_use;
        }
        if (tiers_[t].has(event.page, kResident)) {
          ++result_.hits;
          done = std::max(done, use(t, access.op, event));
        } else {
          ++result_.misses;
          missed_.push_back(event);
        }
        if (prefetching_) prefetch_->on_access(event, *this);
      }
      // As a pool starts an access's fetches together: frames for all its misses first (the
      // policy's victims in turn), handed to the pages in the order they come free.
      frees_.clear();
      for (size_t k = 0; k < missed_.size(); ++k) {
        frees_.push_back(*take_frame(t, missed_[k].page, now_, true));
      }
      std::sort(frees_.begin(), frees_.end());
      for (size_t k = 0; k < missed_.size(); ++k) {
        done = std::max(done, bring_in(t, access.op, missed_[k], frees_[k]));
      }
      missed_.clear();
      evict_dropped(t);
      // After the whole access is under way, as a pool starts it: a policy reading ahead of
      // page k does not take the pages k+1... of the same access from their demand fetches.
      if (prefetching_) issue_proposals();
      if (done > now_) {
        result_.stall_ns += done - now_;
        now_ = done;
      }
      // Every pinned page has arrived by now. (A frame busy being copied out stays kBusy
      // until a look at its ready time finds it past.)
      for (auto [tier, page] : pinned_) tiers_[tier].flags[page] &= ~(kPinned | kInFlight);
      pinned_.clear();
      now_ += access.compute_ns;
      result_.compute_ns += access.compute_ns;
    }
  }

 private:
  static double write_gbps(const Link& link) {
    return link.write_gbps > 0 ? link.write_gbps : link.gbps;
  }
  // What became of the pages prefetched so far, for the governor.
  policies::PrefetchRecord record() const {
    const Result& r = result_;
    return {.issued = r.prefetch_issued,
            .used = r.prefetch_useful + r.prefetch_late,
            .wasted = r.prefetch_useless,
            .demand = r.misses + r.prefetch_late};
  }

  static Error foreign_next_uses() {
    return Error(Errc::invalid_argument,
                 "Config::next_uses are of another trace (fewer pages or page accesses)");
  }
  static uint64_t as_next_use(int64_t position) {
    return position < 0 ? kNever : static_cast<uint64_t>(position);
  }
  bool knows_next_uses() const noexcept { return next_ != nullptr || !future_.empty(); }
  uint64_t upcoming(PageId page) const {
    if (!future_.empty()) return future_.next_use(page);
    return upcoming_.empty() ? kNever : upcoming_[page];
  }

  std::shared_ptr<const policy::Schedule> to_schedule(const Trace& order) const {
    auto schedule = std::make_shared<policy::Schedule>();
    for (size_t i = 0; i < order.accesses.size(); ++i) {
      const TraceAccess& a = order.accesses[i];
      if (a.op == TraceOp::prefetch) continue;  // an announcement, not a step
      if (a.tensor >= tensor_pages_.size() ||
          uint64_t{a.first} + a.count > tensor_pages_[a.tensor]) {
        throw Error(Errc::invalid_argument,
                    fmt::format("schedule step {} (tensor {}, pages {}+{}) is not in the trace", i,
                                a.tensor, a.first, a.count));
      }
      schedule->steps.push_back({base_[a.tensor] + a.first, a.count, static_cast<uint8_t>(a.tier)});
    }
    return schedule;
  }

  // Accesses are mostly cache misses on the per-page state of scattered pages: start loading
  // the state of an access this many ahead while the current one is replayed.
  static constexpr size_t kLookahead = 8;
  static constexpr size_t kFewPins = 8;

  void warm(const TraceAccess& access) const {
    if (access.tensor >= tensor_pages_.size()) return;
    PageId page = base_[access.tensor] + access.first;
    for (const TierState& tier : tiers_) {
      if (tier.capacity == 0 || page >= tier.flags.size()) continue;
      __builtin_prefetch(&tier.flags[page]);
      tier.policy->will_access(page);
    }
  }

  // The access's tiers can hold all its pages at once. (That it lies within its tensor was
  // checked by Trace::validate or, streamed, by TraceReader.)
  void check(const TraceAccess& access, int t) const {
    auto fault = [&](const std::string& what) {
      return Error(Errc::invalid_argument,
                   fmt::format("trace access {} (tensor {}, pages {}+{}): {}", replayed_,
                               access.tensor, access.first, access.count, what));
    };
    for (int tier = t; tier <= kDram; ++tier) {
      if (access.count > tiers_[tier].capacity) {
        throw fault(fmt::format("pins {} pages at once, but the {} tier holds {}", access.count,
                                tier_name(static_cast<Tier>(tier)), tiers_[tier].capacity));
      }
    }
  }

  // VictimFilter: pinned pages, pages busy after filter_time_, for a prefetch (which never
  // waits for a write-back, as in a pool) dirty pages, and while filter_spare_ the pages the
  // application announced and has not used yet, are not evictable.
  bool evictable(PageId page) const override {
    const TierState& tier = tiers_[filter_tier_];
    if (filter_clean_ && tier.has(page, kDirty)) return false;
    if (filter_spare_ && tier.announced > 0 && tier.has(page, kAnnounced)) return false;
    if (filter_time_ >= tier.latest_ready && pinned_.size() <= kFewPins) {
      // No page is busy: only the access's own pins count, and they are few to scan.
      for (auto [t, pinned] : pinned_) {
        if (pinned == page && t == filter_tier_) return false;
      }
      return true;
    }
    uint8_t flags = tier.flags[page];
    return (flags & kPinned) == 0 && (!(flags & kBusy) || tier.ready_at[page] <= filter_time_);
  }

  // PrefetchSink: collected, then issued earliest deadline first.
  void propose(const policy::PrefetchProposal& proposal) override {
    proposals_.push_back(proposal);
  }

  // Makes the page resident and pinned in tier t for a demand access; returns its arrival.
  uint64_t demand(int t, TraceOp op, const AccessEvent& event) {
    if (tiers_[t].has(event.page, kResident)) return use(t, op, event);
    return bring_in(t, op, event, *take_frame(t, event.page, now_, true));
  }

  // A demand access to a page tier t holds (arrived, or arriving by prefetch): pins it;
  // returns when it is there.
  uint64_t use(int t, TraceOp op, const AccessEvent& event) {
    TierState& tier = tiers_[t];
    PageId page = event.page;
    uint64_t done = now_;
    ++tier.counts.hits;
    if (tier.has(page, kInFlight)) {
      if (tier.ready(page) > now_) {
        done = tier.ready(page);
      } else {
        tier.drop(page, kInFlight);
      }
    }
    if (tier.has(page, kPrefetched)) {
      tier.drop(page, kPrefetched | kAnnounced);
      ++(done > now_ ? result_.prefetch_late : result_.prefetch_useful);
    }
    if (!tier.has(page, kArriving)) tier.policy->touch(event);  // else it arrives later
    pin(t, op, page);
    return done;
  }

  // A demand access brings the page into a frame of tier t taken for it, free at start; pins
  // it; returns when it has arrived.
  uint64_t bring_in(int t, TraceOp op, const AccessEvent& event, uint64_t start) {
    ++tiers_[t].counts.misses;
    uint64_t done = op == TraceOp::write ? start : fetch(t, start, event);
    admit(t, kResident, event.page, done);
    pin(t, op, event.page);
    return done;
  }

  void pin(int t, TraceOp op, PageId page) {
    TierState& tier = tiers_[t];
    tier.add(page, kPinned);
    pinned_.push_back({t, page});
    if (op != TraceOp::read) {
      tier.add(page, kDirty);
      invalidate(t == kGpu ? kDram : kGpu, page);
    }
  }

  // Reads the page into tier t from the tier below, starting no earlier than start.
  uint64_t fetch(int t, uint64_t start, const AccessEvent& event) {
    tiers_[t].counts.bytes_in += page_size_;
    ++result_.demand_fetches;
    if (t == kDram) return nvme_up_.submit(start);
    AccessEvent below = event;
    below.tier = kDram;
    uint64_t source = demand(kDram, TraceOp::read, below);
    return pcie_up_.submit(std::max(start, source));  // the source stays pinned meanwhile
  }

  // Makes the page resident in tier t with flags, in a frame taken for it; the eviction
  // policy hears of it when it arrives, at time at.
  void admit(int t, uint8_t flags, PageId page, uint64_t at) {
    TierState& tier = tiers_[t];
    tier.reset(page, flags | kArriving);
    tier.arriving.push({at, arrivals_++, page});
  }

  // Every page arrived by time enters its tier's eviction policy, in order of arrival.
  void arrive(uint64_t time) {
    for (int t : {kGpu, kDram}) {
      TierState& tier = tiers_[t];
      while (!tier.arriving.empty() && tier.arriving.top().at <= time) {
        const TierState::Arrival arrival = tier.arriving.top();
        tier.arriving.pop();
        // Gone meanwhile (a write elsewhere made it stale), or an earlier trip's arrival.
        if (!tier.has(arrival.page, kArriving)) continue;
        tier.drop(arrival.page, kArriving);
        AccessEvent event;
        event.page = arrival.page;
        event.time = arrival.at;
        event.next_use = upcoming(arrival.page);
        event.tier = static_cast<uint8_t>(t);
        event.prefetched = tier.has(arrival.page, kPrefetched);
        tier.policy->insert(event);
      }
    }
  }

  // A write elsewhere made this tier's copy stale.
  void invalidate(int t, PageId page) {
    TierState& tier = tiers_[t];
    if (tier.capacity == 0 || !tier.has(page, kResident)) return;
    if (tier.has(page, kPrefetched)) ++result_.prefetch_useless;
    if (!tier.has(page, kArriving)) tier.policy->remove(page);
    --tier.used;
    tier.reset(page, 0);
  }

  // Takes a frame of tier t for page, freeing one at or after time; returns when it is free.
  // Without wait, gives up (nullopt) rather than wait for busy frames or write a dirty victim
  // down.
  std::optional<uint64_t> take_frame(int t, PageId page, uint64_t time, bool wait) {
    std::optional<uint64_t> free = make_room(t, page, time, wait);
    if (!free) return free;
    ++tiers_[t].used;
    if (wait) tiers_[t].demand_waits_until = std::max(tiers_[t].demand_waits_until, *free);
    return free;
  }

  // Frees a frame of tier t for page at or after time; returns when it is free. Without wait,
  // gives up (nullopt) rather than wait for busy frames or write a dirty victim down.
  std::optional<uint64_t> make_room(int t, PageId page, uint64_t time, bool wait) {
    TierState& tier = tiers_[t];
    uint64_t avail = time;
    if (tier.used < tier.capacity) return avail;
    tier.policy->make_room_for(page);
    while (tier.used >= tier.capacity) {
      while (!tier.busy.empty() && tier.busy.top() <= avail) tier.busy.pop();
      arrive(avail);  // waiting for a frame, pages that arrive meanwhile may be victims
      filter_tier_ = t;
      filter_time_ = avail;
      filter_clean_ = !wait;
      // As a pool chooses: a page the application announced and has not used only when no
      // other page can go, and never for a prefetch (it would evict what was fetched ahead).
      filter_spare_ = true;
      std::optional<PageId> victim = tier.policy->victim(*this);
      if (!victim && wait) {
        filter_spare_ = false;
        victim = tier.policy->victim(*this);
      }
      // Nor does a prefetch displace a page needed before the one it brings, where next uses
      // are known (a pool does the same: MigrationEngine::evict_one).
      if (victim && !wait && knows_next_uses() && upcoming(*victim) <= upcoming(page)) {
        return std::nullopt;
      }
      if (victim) {
        avail = std::max(avail, evict(t, *victim, avail));
        continue;
      }
      if (!wait) return std::nullopt;
      if (tier.busy.empty()) {
        throw Error(Errc::invalid_argument,
                    fmt::format("the {} tier ({} pages) is too small: every page is pinned",
                                tier_name(static_cast<Tier>(t)), tier.capacity));
      }
      avail = tier.busy.top();
    }
    return avail;
  }

  // Evicts the clean pages the policy of tier t has dropped from its cache on hearing of the
  // access (EvictionPolicy::dropped), as libCacheSim would: a use of one later is a miss. A
  // dirty one, whose frame would stay busy for its write-back, waits to be a victim.
  void evict_dropped(int t) {
    TierState& tier = tiers_[t];
    if (tier.capacity == 0) return;
    filter_tier_ = t;
    filter_time_ = now_;
    filter_clean_ = true;
    filter_spare_ = true;
    while (std::optional<PageId> page = tier.policy->dropped(*this)) evict(t, *page, now_);
  }

  // Evicts a page of tier t at time, writing it down first if dirty; returns when its frame
  // is free.
  uint64_t evict(int t, PageId page, uint64_t time) {
    TierState& tier = tiers_[t];
    uint8_t flags = tier.counted > 0 ? tier.flags[page] : uint8_t{kResident};
    if (flags & kPrefetched) ++result_.prefetch_useless;
    tier.policy->evict(page);
    --tier.used;
    tier.set(page, flags, 0);
    ++tier.counts.evictions;
    if (!(flags & kDirty)) return time;
    ++tier.counts.writebacks;
    tier.counts.bytes_out += page_size_;
    if (t == kDram) return nvme_down_.submit(time);
    TierState& dram = tiers_[kDram];
    uint64_t start = time;
    const bool copy = !dram.has(page, kResident);
    if (copy) start = *take_frame(kDram, page, time, true);
    uint64_t done = pcie_down_.submit(start);
    if (copy) admit(kDram, kResident, page, done);
    dram.add(page, kDirty);
    dram.mark_busy(page, done, now_);
    return done;
  }

  void issue_proposals() {
    if (proposals_.empty()) return;
    auto earlier = [](const auto& a, const auto& b) { return a.deadline < b.deadline; };
    // stable_sort allocates a buffer per call; most accesses propose one range, or in order.
    if (proposals_.size() > 1 && !std::is_sorted(proposals_.begin(), proposals_.end(), earlier)) {
      std::stable_sort(proposals_.begin(), proposals_.end(), earlier);
    }
    for (const policy::PrefetchProposal& proposal : proposals_) {
      if (proposal.first >= base_.back()) continue;  // a policy's guess past the last page
      int t = proposal.tier == kGpu && tiers_[kGpu].capacity > 0 ? kGpu : kDram;
      // Within the tensor of its first page, as a pool takes proposals.
      const PageId end =
          std::min<PageId>(proposal.first + proposal.count,
                           *std::upper_bound(base_.begin(), base_.end(), proposal.first));
      for (PageId page = proposal.first; page < end; ++page) {
        if (!prefetch(t, page, Fetch::proposed)) {
          result_.prefetch_dropped += end - page;
          break;
        }
      }
    }
    proposals_.clear();
  }

  // The application's prefetch of count pages from first (a trace's prefetch record): as a
  // pool takes Tensor::prefetch, page by page, past the governor, which judges only the
  // prefetch policy's guesses.
  void announced(int t, PageId first, uint32_t count) {
    for (uint32_t k = 0; k < count; ++k) {
      result_.prefetch_dropped += !prefetch(t, first + k, Fetch::announced);
    }
  }

  enum class Fetch {
    proposed,   // by the prefetch policy, through the governor
    announced,  // by the application
    stop,       // into dram on the way to gpu: not a prefetch of its own (nor counted one)
  };

  // Starts bringing the page into tier t; false when the budget or the frames are exhausted.
  bool prefetch(int t, PageId page, Fetch why) {
    const bool stop = why == Fetch::stop;
    TierState& tier = tiers_[t];
    if (tier.has(page, kResident)) return true;
    // Not while a fetch or write-back waits for a frame of the tier, as in a pool: the prefetch
    // would pass it on the link.
    if (tier.demand_waits_until > now_) return false;
    while (!in_flight_.empty() && in_flight_.top() <= now_) in_flight_.pop();
    if ((in_flight_.size() + 1) * page_size_ > config_.prefetch_budget) return false;
    if (why == Fetch::proposed && !policies::prefetch_allowed(record())) return false;
    // Into gpu through dram, which keeps the page even when gpu then has no frame for it.
    TierState& dram = tiers_[kDram];
    if (t == kGpu && !dram.has(page, kResident) && !prefetch(kDram, page, Fetch::stop))
      return false;
    std::optional<uint64_t> room = take_frame(t, page, now_, false);
    if (!room) return false;
    uint64_t done;
    if (t == kDram) {
      done = nvme_up_.submit(*room);
    } else {
      done = pcie_up_.submit(std::max(*room, dram.ready(page)));
      dram.mark_busy(page, done, now_);
    }
    tier.counts.bytes_in += page_size_;
    ++result_.prefetch_fetches;
    if (!stop) {
      ++tier.counts.prefetched;
      ++result_.prefetch_issued;
    }
    const uint8_t announced = why == Fetch::announced && t == kDram ? kAnnounced : 0;
    admit(t, kResident | kInFlight | (stop ? 0 : kPrefetched) | announced, page, done);
    tier.mark_busy(page, done, now_);
    in_flight_.push(done);
    return true;
  }

 public:
  Result finish() {
    uint64_t accesses = ordinal_;
    Result& r = result_;
    r.eviction = config_.eviction;
    r.prefetch = config_.prefetch;
    r.page_size = page_size_;
    r.accesses = accesses;
    for (int t : {kGpu, kDram}) {
      TierState& tier = tiers_[t];
      tier.counts.capacity_pages = tier.capacity;
      for (uint8_t flags : tier.flags) r.prefetch_useless += (flags & kPrefetched) != 0;
    }
    r.gpu = tiers_[kGpu].counts;
    r.dram = tiers_[kDram].counts;
    // Only dram reads from and writes to nvme; every page fetched lands in one tier.
    r.bytes_read = r.dram.bytes_in;
    r.bytes_written = r.dram.bytes_out;
    r.bytes_fetched = r.gpu.bytes_in + r.dram.bytes_in;
    r.demand_bytes = r.demand_fetches * page_size_;
    r.prefetch_bytes = r.prefetch_fetches * page_size_;
    r.elapsed_ns = now_;
    r.io_ns = std::max(
        {nvme_up_.busy_ns(), nvme_down_.busy_ns(), pcie_up_.busy_ns(), pcie_down_.busy_ns()});
    derive_rates(r);
    return r;
  }

 private:
  const Config& config_;
  uint64_t page_size_;
  std::vector<uint32_t> tensor_pages_;
  std::vector<uint64_t> base_{0};  // dense id of each tensor's first page; back(): all pages
  bool wants_next_use_ = false;
  uint64_t ordinal_ = 0;   // page accesses replayed
  uint64_t arrivals_ = 0;  // pages sent, to order arrivals at the same time
  uint64_t replayed_ = 0;  // trace accesses replayed
  Channel nvme_up_;
  Channel nvme_down_;
  Channel pcie_up_;
  Channel pcie_down_;
  TierState tiers_[2];
  std::unique_ptr<policy::PrefetchPolicy> prefetch_;
  bool prefetching_ = false;
  std::shared_ptr<const NextUses> next_;  // per page access: position of the next, or -1
  std::vector<uint64_t> upcoming_;        // per page: its next access from now on
  policies::ScheduleCursor future_;       // next uses by the registered schedule, if so configured
  std::vector<policy::PrefetchProposal> proposals_;
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> in_flight_;  // prefetch
  std::vector<std::pair<int, PageId>> pinned_;
  std::vector<AccessEvent> missed_;  // the pages of the access being replayed that missed
  std::vector<uint64_t> frees_;      // when the frames taken for them are free
  int filter_tier_ = kDram;
  uint64_t filter_time_ = 0;
  bool filter_clean_ = false;
  bool filter_spare_ = false;  // spare the pages announced and not yet used
  uint64_t now_ = 0;
  Result result_;
};

}  // namespace

namespace {

// The next uses of a trace in memory.
std::shared_ptr<const NextUses> next_uses_of(const Trace& trace, const Config& config) {
  PageMap map(trace);
  check_table_memory(map.pages(), trace.page_accesses(), config.memory_limit);
  std::vector<uint64_t> base(trace.tensor_pages.size() + 1, 0);
  for (size_t t = 0; t < trace.tensor_pages.size(); ++t) {
    base[t + 1] = base[t] + trace.tensor_pages[t];
  }
  NextUseBuilder builder;
  builder.add(trace.accesses, base);
  return builder.finish(map.pages());
}

// The replay under config is Belady's MIN without prefetch: the baseline itself.
bool is_baseline(const Config& config) {
  return config.eviction == "belady" && config.prefetch == "none" &&
         config.future == Future::trace && !config.trace_prefetches;
}

void check_schedule(const Config& config) {
  if (config.future == Future::schedule && !config.schedule) {
    throw Error(Errc::invalid_argument,
                "next uses from the schedule need a registered schedule (Config::schedule)");
  }
}

// One replay of the file, block by block, without the baseline.
Result stream(const std::string& path, const Config& config, uint64_t page_size) {
  TraceReader reader(path, page_size);
  Engine engine(reader.page_size(), config);
  if (engine.wants_next_use()) {
    engine.set_oracle(config.next_uses
                          ? config.next_uses
                          : scan_trace(path, page_size, true, config.memory_limit).next_uses);
  }
  for (auto batch = reader.next(); !batch.empty(); batch = reader.next()) {
    engine.declare(reader.tensor_pages());
    uint64_t before = engine.replayed_pages();
    engine.replay(batch);
    if (config.progress) config.progress(engine.replayed_pages() - before);
  }
  return engine.finish();
}

}  // namespace

Result replay(const Trace& trace, const Config& config) {
  Engine engine(trace.page_size, config);
  engine.declare(trace.tensor_pages);
  check_schedule(config);
  if (engine.wants_next_use() && config.future == Future::trace) {
    engine.set_oracle(config.next_uses ? config.next_uses : next_uses_of(trace, config));
  }
  if (config.schedule) {
    engine.set_schedule(*config.schedule,
                        engine.wants_next_use() && config.future == Future::schedule);
  }
  engine.replay(trace.accesses);
  return engine.finish();
}

void derive_rates(Result& r) {
  r.overlap_efficiency =
      r.io_ns == 0
          ? 1.0
          : std::clamp(1.0 - static_cast<double>(r.stall_ns) / static_cast<double>(r.io_ns), 0.0,
                       1.0);
  r.accesses_per_sec =
      r.elapsed_ns == 0 ? 0.0
                        : static_cast<double>(r.accesses) * 1e9 / static_cast<double>(r.elapsed_ns);
}

void check_table_memory(uint64_t pages, uint64_t page_accesses, uint64_t limit, bool so_far) {
  constexpr uint64_t kPageBytes = 64, kAccessBytes = 8;
  // Divisions rather than products: page accesses can be near 2^64 in a hostile trace.
  if (pages <= limit / kPageBytes && page_accesses <= (limit - pages * kPageBytes) / kAccessBytes) {
    return;
  }
  std::string oracle = page_accesses == 0 ? ""
                                          : fmt::format(" and next uses of {}{} page accesses",
                                                        so_far ? "at least " : "", page_accesses);
  throw Error(Errc::invalid_argument,
              fmt::format("replaying {} pages{} needs about {:.1f} MiB of tables ({} bytes per "
                          "page, {} per page access), more than the memory limit of {}",
                          pages, oracle,
                          (static_cast<double>(pages) * kPageBytes +
                           static_cast<double>(page_accesses) * kAccessBytes) /
                              (1 << 20),
                          kPageBytes, kAccessBytes,
                          limit % (1 << 20) == 0 ? fmt::format("{} MiB", limit >> 20)
                                                 : fmt::format("{} bytes", limit)));
}

Config baseline_config(const Config& config) {
  Config baseline = config;
  baseline.eviction = "belady";
  baseline.prefetch = "none";
  baseline.schedule = nullptr;
  baseline.future = Future::trace;
  baseline.trace_prefetches = false;
  baseline.belady_baseline = false;
  return baseline;
}

bool needs_next_uses(const Config& config) {
  if (config.belady_baseline) return true;
  if (config.future != Future::trace) return false;
  return policies::make_eviction_policy(config.eviction, {1, 4096})->wants_next_use();
}

void set_baseline(const Trace& trace, const Config& config, Result& result) {
  result.add_baseline(replay(trace, baseline_config(config)));
}

Result simulate(const Trace& trace, const Config& config) {
  trace.validate();
  check_schedule(config);
  Config own = config;
  if (!own.next_uses && needs_next_uses(own)) own.next_uses = next_uses_of(trace, own);
  Result result = replay(trace, own);
  if (config.belady_baseline) {
    result.add_baseline(is_baseline(config) ? result : replay(trace, baseline_config(own)));
  }
  return result;
}

Result simulate(const std::string& path, const Config& config, uint64_t page_size) {
  check_schedule(config);
  if (config.schedule) return simulate(read_trace(path, page_size), config);
  Config own = config;
  if (!own.next_uses && needs_next_uses(own)) {
    own.next_uses = scan_trace(path, page_size, true, config.memory_limit).next_uses;
  }
  Result result = stream(path, own, page_size);
  if (config.belady_baseline) {
    result.add_baseline(is_baseline(config) ? result
                                            : stream(path, baseline_config(own), page_size));
  }
  return result;
}

TraceScan scan_trace(const std::string& path, uint64_t page_size, bool next_uses,
                     uint64_t memory_limit, const std::function<void(uint64_t)>& progress) {
  TraceReader reader(path, page_size);
  TraceScan scan;
  scan.format = reader.format();
  scan.page_size = reader.page_size();
  std::vector<uint64_t> base{0};  // dense id of each tensor's first page
  NextUseBuilder builder;         // with next_uses
  std::vector<bool> touched;      // without: a bit per page
  uint64_t footprint = 0;
  for (auto batch = reader.next(); !batch.empty(); batch = reader.next()) {
    const std::vector<uint32_t>& tensor_pages = reader.tensor_pages();
    for (size_t t = base.size() - 1; t < tensor_pages.size(); ++t) {
      base.push_back(base.back() + tensor_pages[t]);
    }
    uint64_t batch_pages = 0;
    for (const TraceAccess& access : batch) {
      if (access.op != TraceOp::prefetch) batch_pages += access.count;
    }
    scan.accesses += batch.size();
    scan.page_accesses += batch_pages;
    check_table_memory(base.back(), next_uses ? scan.page_accesses : 0, memory_limit, true);
    if (progress) progress(batch_pages);
    if (next_uses) {
      builder.add(batch, base);
      continue;
    }
    touched.resize(base.back(), false);
    for (const TraceAccess& access : batch) {
      if (access.op == TraceOp::prefetch) continue;
      for (uint64_t page = base[access.tensor] + access.first, end = page + access.count;
           page < end; ++page) {
        footprint += !touched[page];
        touched[page] = true;
      }
    }
  }
  scan.pages = base.back();
  if (next_uses) {
    footprint = builder.touched();
    scan.next_uses = builder.finish(scan.pages);
  }
  scan.footprint_bytes = footprint * scan.page_size;
  return scan;
}

void NextUseBuilder::add(std::span<const TraceAccess> accesses, const std::vector<uint64_t>& base) {
  NextUses& uses = *uses_;
  uses.first.resize(base.back(), -1);
  last_.resize(base.back(), -1);
  for (const TraceAccess& access : accesses) {
    if (access.op == TraceOp::prefetch) continue;  // not a use
    for (uint64_t page = base[access.tensor] + access.first, end = page + access.count; page < end;
         ++page) {
      auto position = static_cast<int64_t>(uses.size);
      if (uses.size % NextUses::kChunk == 0) {
        uses.chunks.push_back(std::make_unique_for_overwrite<int64_t[]>(NextUses::kChunk));
      }
      uses.chunks.back()[uses.size % NextUses::kChunk] = -1;
      ++uses.size;
      int64_t& last = last_[page];
      if (last < 0) {
        uses.first[page] = position;
        ++touched_;
      } else {
        uses.chunks[static_cast<uint64_t>(last) >> NextUses::kChunkBits]
                   [static_cast<uint64_t>(last) & (NextUses::kChunk - 1)] = position;
      }
      last = position;
    }
  }
}

std::shared_ptr<const NextUses> NextUseBuilder::finish(uint64_t pages) {
  last_ = {};
  uses_->first.resize(pages, -1);
  return std::move(uses_);
}

}  // namespace tiermem::sim
