// policies/eviction_policy.hpp: the interface of every eviction policy.
//
// A policy manages the resident set of one tier, as page ids and events, never frames or
// files. Its owner tells it of inserts, accesses and departures, and asks it for victims.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tiermem::policies {

// Dense page ids: every tensor's pages have consecutive ids.
using PageId = uint64_t;
inline constexpr uint64_t kNever = UINT64_MAX;

// One access to one page, as policies hear of it.
struct AccessEvent {
  PageId page = 0;
  uint64_t time = 0;           // ns, on the owner's clock (steady or virtual); never decreases
  uint64_t next_use = kNever;  // time of this page's next access where known (a trace or a
                               // schedule), else kNever; Belady needs it
  uint32_t tensor = 0;         // owning tensor
  uint32_t index = 0;          // page index within the tensor: page - index is its first page
  uint32_t tensor_pages = 0;   // pages in the tensor
  uint8_t tier = 0;            // the tier accessed (0 gpu, 1 dram)
  bool write = false;
};

// Says whether the owner can evict a page now (it is not pinned, not in flight).
class VictimFilter {
 public:
  virtual bool evictable(PageId page) const = 0;

 protected:
  ~VictimFilter() = default;
};

// Not thread-safe: the owner serialises calls.
class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;

  virtual std::string_view name() const noexcept = 0;

  // The page became resident (it was not tracked).
  virtual void insert(const AccessEvent& event) = 0;
  // A tracked page was accessed.
  virtual void touch(const AccessEvent& event) = 0;
  // The page the policy would evict next among the tracked pages that filter accepts, or
  // nullopt if it accepts none. Peeks: the page stays tracked. A policy may update aging
  // state while looking (CLOCK clears reference bits), but never drops a page here.
  virtual std::optional<PageId> victim(const VictimFilter& filter) = 0;
  // The tracked page was evicted to make room (adaptive policies remember it as a ghost).
  virtual void evict(PageId page) = 0;
  // The tracked page left for another reason (released, invalidated): forget it entirely.
  virtual void remove(PageId page) = 0;

  // Tracked pages.
  virtual uint64_t size() const noexcept = 0;

  // A hint that page will be inserted or touched soon: a policy may start loading its
  // metadata into the cache. Never changes the policy's state.
  virtual void will_access(PageId page) const noexcept { (void)page; }

  // Whether the policy reads AccessEvent::next_use. An owner for whom next_use costs something
  // to compute (a reverse pass over a trace, a schedule lookup) computes it only when asked.
  virtual bool wants_next_use() const noexcept { return false; }
};

}  // namespace tiermem::policies
