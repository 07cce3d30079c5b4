// policies/prefetch_policy.hpp: the interface of every prefetch policy.
//
// A prefetch policy sees each access and proposes pages to bring into a tier ahead of need.
// Its owner enforces the in-flight byte budget and drops what does not fit.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "policies/eviction_policy.hpp"
#include "policies/schedule.hpp"

namespace tiermem::policies {

struct PrefetchProposal {
  PageId first = 0;  // first page; pages first..first+count-1 belong to one tensor
  uint32_t count = 1;
  uint8_t tier = 1;            // 0 gpu, 1 dram
  uint64_t deadline = kNever;  // when the pages are expected to be needed (same clock as
                               // AccessEvent::time); the owner issues the earliest first
};

class PrefetchSink {
 public:
  virtual void propose(const PrefetchProposal& proposal) = 0;

 protected:
  ~PrefetchSink() = default;
};

// Not thread-safe: the owner serialises calls.
class PrefetchPolicy {
 public:
  virtual ~PrefetchPolicy() = default;

  virtual std::string_view name() const noexcept = 0;

  // Sees every access, in order, and may propose prefetches.
  virtual void on_access(const AccessEvent& event, PrefetchSink& sink) = 0;

  // The application registered its future access order (replacing any earlier one; null
  // withdraws it). Policies that follow a schedule use it; the others ignore it.
  virtual void set_schedule(std::shared_ptr<const Schedule> schedule) { (void)schedule; }

  // The owner measured the bandwidth of the link that fills tier (0 gpu, 1 dram), in bytes
  // per second. Policies that time their proposals use the latest figure; the others ignore it.
  virtual void observe_bandwidth(uint8_t tier, double bytes_per_second) {
    (void)tier;
    (void)bytes_per_second;
  }
};

}  // namespace tiermem::policies
