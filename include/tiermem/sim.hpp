// tiermem/sim.hpp: the policy simulator: replays a trace against eviction and prefetch
// policies and tier capacities, with simulated devices on a virtual clock.
//
// The same policy code runs here and inside a live pool. The simulator is deterministic: the
// same trace and Config give the same Result, field for field, on every run.
//
// Model: tiers gpu and dram hold whole pages; nvme holds everything and starts with every
// page. A gpu access of a page missing from gpu reads it through dram (which keeps a copy).
// Writes make the written tier's copy the only valid one; evicting a dirty page writes it one
// tier down first and frees its frame when that write completes. Each link (nvme<->dram,
// dram<->gpu) has two independent directions, each a queue of page requests: at most
// queue_depth in service, each waiting latency_us before streaming at the link's bandwidth,
// one at a time. An access pins its pages until all have arrived; the time it waits is stall.
// Then the application computes for the access's compute_ns while transfers go on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tiermem/export.h"
#include "tiermem/trace.hpp"

namespace tiermem::sim {

struct TIERMEM_API Link {
  double gbps = 2.0;          // bandwidth, 1e9 bytes per second
  double write_gbps = 0;      // bandwidth down (writes); 0: same as gbps
  double latency_us = 100.0;  // before each request streams
  uint32_t queue_depth = 32;  // requests in service at once

  // Parses "gbps=2,write_gbps=1.5,lat_us=100,qd=32" (any subset) over this link's values.
  // Throws Error(invalid_argument) naming an unknown key or a value out of its range.
  static Link parse(std::string_view text, Link base);
  // Checks the ranges parse() accepts: gbps in [1e-6, 1e6], write_gbps in [0, 1e6],
  // latency_us in [0, 1e9], queue_depth in [1, 65536] (never NaN or infinite). Throws
  // Error(invalid_argument) naming the link (name, e.g. "nvme"), the field, its value and
  // the range.
  void validate(std::string_view name) const;
};

enum class Future { trace, schedule };

// The next use of every page access of one trace (8 bytes each) and the first of every page:
// what Belady's MIN needs when next uses come from the trace. From scan_trace().
struct NextUses;

struct Config {
  std::string eviction = "lru";  // registry spec; one policy instance per tier
  std::string prefetch = "none";
  uint64_t gpu_bytes = 0;                   // 0: no gpu tier; gpu accesses then go to dram
  uint64_t dram_bytes = 0;                  // at least one page
  Link nvme{2.0, 0, 100.0, 32};             // nvme <-> dram
  Link pcie{55.0, 0, 10.0, 4};              // dram <-> gpu
  uint64_t prefetch_budget = 256ull << 20;  // prefetch bytes in flight at most
  // Replay the trace's prefetch records (the application's Tensor::prefetch, e.g. a router's
  // choices) as a pool takes them; false ignores them. Belady's baseline ignores them: it is
  // the optimum of the accesses alone.
  bool trace_prefetches = true;
  // The application's registered access order (one iteration) for prefetch policies that
  // follow one; null: they learn it from the trace. Tensor ids are the trace's.
  std::shared_ptr<const Trace> schedule;
  // Where policies that want next uses (Belady) learn them: the trace's own future (an
  // oracle), or the registered schedule, as a live pool would (needs schedule).
  Future future = Future::trace;
  // Also replay Belady's MIN without prefetch (next uses from the trace), to report the gap to
  // the optimum.
  bool belady_baseline = true;
  // Bytes the replay may give to tables indexed by page id (reckoned at 64 per page declared:
  // the tiers' state, the policies' nodes, the oracle) and, for next uses from the trace, by
  // page access (8 each: the only cost that grows with the requests). Tensor sizes come from
  // the trace file, so this is what keeps a malformed one from taking all memory: a trace that
  // needs more is refused before anything is allocated. It bounds each replay: replays run at
  // once (a sweep on several threads) share the next uses but have tables of their own.
  uint64_t memory_limit = 4ull << 30;
  // The trace's next uses, from scan_trace() of the same file, shared by the replays of a sweep;
  // null: a replay that needs them computes its own.
  std::shared_ptr<const NextUses> next_uses;
  // Called by simulate(path, ...), on the replaying thread, after each block replayed, with the
  // page accesses replayed in it: progress on long runs. Null: none.
  std::function<void(uint64_t page_accesses)> progress;
};

struct TierResult {
  uint64_t capacity_pages = 0;
  uint64_t hits = 0;        // demand accesses that found the page (arrived or in flight)
  uint64_t misses = 0;      // demand accesses that had to bring the page in
  uint64_t prefetched = 0;  // pages the prefetch policy brought in
  uint64_t evictions = 0;
  uint64_t writebacks = 0;  // dirty evictions, written one tier down
  uint64_t bytes_in = 0;    // bytes read into this tier from the one below
  uint64_t bytes_out = 0;   // bytes written from this tier to the one below
};

// Receives every figure of a Result by name; text, CSV and JSON are built from it.
class TIERMEM_API ResultVisitor {
 public:
  virtual ~ResultVisitor() = default;
  virtual void label(std::string_view name, std::string_view value) = 0;
  virtual void counter(std::string_view name, uint64_t value) = 0;
  virtual void ratio(std::string_view name, double value) = 0;
};

struct TIERMEM_API Result {
  std::string eviction;
  std::string prefetch;
  uint64_t page_size = 0;
  uint64_t accesses = 0;  // page accesses
  uint64_t hits = 0;      // in the tier accessed
  uint64_t misses = 0;
  TierResult gpu;
  TierResult dram;
  uint64_t bytes_read = 0;      // from nvme
  uint64_t bytes_written = 0;   // to nvme
  uint64_t bytes_fetched = 0;   // into gpu and dram together: demand_bytes + prefetch_bytes
  uint64_t demand_fetches = 0;  // pages read into a tier for a demand access (both tiers)
  uint64_t demand_bytes = 0;
  uint64_t prefetch_fetches = 0;  // pages read into a tier by prefetch (stops in dram included)
  uint64_t prefetch_bytes = 0;
  uint64_t elapsed_ns = 0;  // virtual time of the whole replay
  uint64_t compute_ns = 0;
  uint64_t stall_ns = 0;  // waiting for pages: I/O not hidden behind compute
  uint64_t io_ns = 0;     // busiest link direction's transfer time: the I/O alone, pipelined
  double overlap_efficiency = 1;  // 1 - stall_ns / io_ns, in [0, 1]: share of I/O hidden
  double accesses_per_sec = 0;    // page accesses per virtual second
  uint64_t prefetch_issued = 0;   // pages, of the prefetch policy and the trace's prefetches
  uint64_t prefetch_useful = 0;   // arrived before their first access
  uint64_t prefetch_late = 0;     // accessed while still in flight
  uint64_t prefetch_useless = 0;  // evicted, overwritten or never accessed
  uint64_t prefetch_dropped = 0;  // proposed (or the trace's prefetches) but over budget or
                                  // without a free frame
  bool has_baseline = false;      // Belady's MIN without prefetch, same capacities
  uint64_t belady_misses = 0;
  uint64_t belady_bytes_fetched = 0;

  // Sets the belady_* figures from the replay of baseline_config(config).
  void add_baseline(const Result& optimum) noexcept;
  double miss_ratio() const noexcept;
  // (misses - belady_misses) / belady_misses, and the same for bytes_fetched; 0 without a
  // baseline or when Belady has none.
  double gap_misses() const noexcept;
  double gap_bytes() const noexcept;

  void visit(ResultVisitor& visitor) const;
  // Every figure as one JSON object, by the names visit() gives.
  std::string to_json() const;
};

// Replays trace under config. Throws Error(config) for an unknown policy or parameter,
// Error(invalid_argument) for a trace that does not validate, a capacity below one page, an
// access that pins more pages than its tier holds, or a trace whose tables would exceed
// memory_limit.
TIERMEM_API Result simulate(const Trace& trace, const Config& config);

// The same for a trace file of any form (see tiermem/trace.hpp; pages of page_size bytes where
// the form gives none). The file is streamed block by block: memory follows its pages (and for
// Belady, 8 bytes per page access of next uses, from config.next_uses or a pass of its own),
// never its requests, except tiermem's CSV, parsed whole, and with a schedule (Config::schedule
// or Future::schedule), where the trace is read whole first. The baseline is a replay of its
// own over the file. Throws what read_trace() and simulate() throw.
TIERMEM_API Result simulate(const std::string& path, const Config& config,
                            uint64_t page_size = 2ull << 20);

// Belady's MIN without prefetch, next uses from the trace, on config's tiers and links: the
// replay behind the belady_* figures (without a baseline of its own).
TIERMEM_API Config baseline_config(const Config& config);
// Whether a replay under config (its baseline included) needs the trace's next uses. Builds a
// probe of config's eviction policy, of one page, to ask it.
TIERMEM_API bool needs_next_uses(const Config& config);

// What one streamed pass over a trace file finds.
struct TraceScan {
  std::string format;  // as TraceReader::format() names it
  uint64_t page_size = 0;
  uint64_t pages = 0;  // declared
  uint64_t accesses = 0;
  uint64_t page_accesses = 0;
  uint64_t footprint_bytes = 0;               // the pages accessed
  std::shared_ptr<const NextUses> next_uses;  // when asked for
};
// Reads the file once (as simulate(path) does), and with next_uses builds them; progress, if
// any, hears of the page accesses of each block read. Throws what TraceReader throws, and
// Error(invalid_argument) when the tables a replay would need (as Config::memory_limit reckons
// them) exceed memory_limit.
TIERMEM_API TraceScan scan_trace(const std::string& path, uint64_t page_size, bool next_uses,
                                 uint64_t memory_limit,
                                 const std::function<void(uint64_t page_accesses)>& progress = {});

// The registry's rows, for listings: the built-in policies, then those the program registered
// (tiermem/policy.hpp), in the order registered. Thread-safe.
struct PolicyInfo {
  std::string name;
  std::string params;
  std::string doc;
};
TIERMEM_API std::vector<PolicyInfo> eviction_policies();
TIERMEM_API std::vector<PolicyInfo> prefetch_policies();

}  // namespace tiermem::sim
