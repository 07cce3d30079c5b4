// tiermem/policy.hpp: the eviction and prefetch policy interfaces, and registering a policy of
// one's own by name, so that pools and the simulator build it from a spec as they build theirs.
//
// A spec is a policy's name with optional parameters: "lru", "s3fifo:small=0.1",
// "sequential:depth=4,tier=gpu" (Config::policy, sim::Config, tiermem sim --eviction). Every
// owner of policies (a Pool, a pool on a virtual clock, sim::simulate) builds its own instances
// from one registry, which holds the built-in policies and those the program registered, so
// the same policy code runs in all of them unchanged.
//
// A policy sees pages as dense ids and events, never frames, files or tensors' data.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tiermem/export.h"

namespace tiermem::policy {

// Dense page ids: a tensor's pages have consecutive ids.
using PageId = uint64_t;
// A time that never comes: a next use or deadline that is not known.
inline constexpr uint64_t kNever = UINT64_MAX;

// One access to one page, as policies hear of it.
struct AccessEvent {
  PageId page = 0;
  uint64_t time = 0;           // ns, on the owner's clock (steady or virtual); never decreases
  uint64_t next_use = kNever;  // time of this page's next access where known (a trace or a
                               // schedule, and only for a policy that wants_next_use()), else
                               // kNever
  uint32_t tensor = 0;         // owning tensor
  uint32_t index = 0;          // page index within the tensor: page - index is its first page
  uint32_t tensor_pages = 0;   // pages in the tensor
  uint8_t tier = 0;            // the tier accessed (0 gpu, 1 dram)
  bool write = false;
  bool prefetched = false;  // insert() only: the page came by prefetch, not by an access of it
                            // (a policy that counts accesses should not count this one)
};

// Says whether the owner can evict a page now (it is not pinned, not in flight). Implemented
// by the owner; valid only during the victim() call it is passed to.
class TIERMEM_API VictimFilter {
 public:
  virtual bool evictable(PageId page) const = 0;

 protected:
  ~VictimFilter() = default;
};

// The resident set of one tier: its owner tells it of inserts, accesses and departures, and
// asks it for victims. Each tier (gpu, dram) of an owner has an instance of its own.
//
// Threads: not thread-safe, and need not be: the owner serialises every call to an instance.
// A Pool calls it under its migration engine's lock, from the application's threads and its
// own, so a method must not call back into the pool, and should be quick.
// Its methods should not throw: the owners do not expect them to.
class TIERMEM_API EvictionPolicy {
 public:
  virtual ~EvictionPolicy();

  // The name the policy was registered under.
  virtual std::string_view name() const noexcept = 0;

  // The page became resident in the tier (it was not tracked): it is tracked from now on.
  virtual void insert(const AccessEvent& event) = 0;
  // A tracked page was accessed. A Pool may report accesses of resident pages late, in
  // batches, but in order.
  virtual void touch(const AccessEvent& event) = 0;
  // The owner is about to ask for victims to make room for page, which the tier does not hold:
  // the victim() and evict() calls that follow, up to the next make_room_for(), are for it. Its
  // insert() usually follows them, but may not (a prefetch finding no clean victim, a failed
  // read). Not called when a frame is free, nor before evicting ahead of need, for no page in
  // particular. For a policy whose choice depends on the incoming page (ARC, as its paper has
  // it, adapts its target to a page it remembers as a ghost before replacing); the others
  // ignore it. Called as the other methods are (see the class's threads note).
  virtual void make_room_for(PageId page) { (void)page; }
  // The tracked page the policy would evict next among those filter accepts, or nullopt when
  // it accepts none. Peeks: the page stays tracked until evict(); the owner may not evict it
  // after all (it was pinned meanwhile) and ask again. A policy may age its state while looking
  // (CLOCK clears reference bits) but never drops a page here. Must return a tracked page.
  virtual std::optional<PageId> victim(const VictimFilter& filter) = 0;
  // A tracked page the policy has already dropped from its cache, among those filter accepts,
  // for the owner to evict now; nullopt when there is none. The default drops none: only a
  // policy that lets pages go while hearing of accesses has such pages (libCacheSim's
  // W-TinyLFU lets probation's oldest go on a hit that overflows protected, and lets several
  // go for one new page). Peeks, as victim() does; the owner evicts the page with evict(). The
  // fast simulator asks after each access, so that a use of such a page is a miss, as it is
  // for libCacheSim; a Pool, which hears of hits late, does not ask, and such a page is the
  // policy's next victim() instead.
  virtual std::optional<PageId> dropped(const VictimFilter& filter) {
    (void)filter;
    return std::nullopt;
  }
  // The tracked page was evicted to make room: it is no longer tracked (adaptive policies
  // remember it as a ghost).
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

// Pages a prefetch policy would bring into a tier ahead of need.
struct PrefetchProposal {
  PageId first = 0;  // first page; pages first..first+count-1 belong to one tensor
  uint32_t count = 1;
  uint8_t tier = 1;            // 0 gpu, 1 dram
  uint64_t deadline = kNever;  // when the pages are expected to be needed (same clock as
                               // AccessEvent::time); the owner issues the earliest first
};

// Takes a prefetch policy's proposals. Implemented by the owner; valid only during the
// on_access() call it is passed to. The owner enforces its in-flight byte budget and drops
// what does not fit, or what is resident already.
class TIERMEM_API PrefetchSink {
 public:
  virtual void propose(const PrefetchProposal& proposal) = 0;

 protected:
  ~PrefetchSink() = default;
};

// One step of an application's access order, in page ids (Pool::set_schedule's steps).
struct ScheduleStep {
  PageId first = 0;    // first page; first..first+count-1 belong to one tensor
  uint32_t count = 1;  // pages
  uint8_t tier = 1;    // the tier the step accesses (0 gpu, 1 dram)
};

// One iteration of an access order that repeats: e.g. the layers of a model in forward
// order, each token.
struct Schedule {
  std::vector<ScheduleStep> steps;  // in order
};

// Sees each access and proposes pages to bring in ahead of need. One instance per owner.
// Threads: as EvictionPolicy's.
class TIERMEM_API PrefetchPolicy {
 public:
  virtual ~PrefetchPolicy();

  // The name the policy was registered under.
  virtual std::string_view name() const noexcept = 0;

  // Sees every access, in order, and may propose prefetches to sink.
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

// What a policy may know of its surroundings when it is built.
struct Context {
  uint64_t capacity_pages = 0;  // frames of the tier an eviction policy manages (the dram tier's
                                // for a prefetch policy); 0 where the owner does not know
  uint64_t page_size = 0;       // bytes; 0 where the owner does not know
};

// A spec's policy name and parameters, as a factory reads them. Each getter remembers the key
// it was asked for: after the factory returns, a parameter it never asked for is an error
// (Error(config) naming it and those asked for), so a factory asks for every parameter it
// accepts, every time. Not thread-safe: one factory call reads it.
class TIERMEM_API Params {
 public:
  // Parses "name" or "name:key=value,key=value". Throws Error(config) naming the text and the
  // position of the fault: a missing name, an item that is not key=value, a key given twice.
  static Params parse(std::string_view spec);

  // The policy's name.
  const std::string& name() const noexcept { return name_; }

  // The parameter's value, or fallback when the spec does not give it. Throw Error(config)
  // naming the policy, the parameter, its text and [min, max] when the text does not parse as
  // a number (an unsigned integer) or lies outside the range.
  double get_double(std::string_view key, double fallback, double min, double max) const;
  uint64_t get_uint(std::string_view key, uint64_t fallback, uint64_t min, uint64_t max) const;
  // The parameter's text, or nullopt when the spec does not give it. Valid while this lives.
  std::optional<std::string_view> get_string(std::string_view key) const;

  // Throws Error(config) naming a parameter that no getter was asked for, and those that were
  // (the registry calls it after the factory).
  void check_all_asked() const;

 private:
  std::string name_;
  std::map<std::string, std::string, std::less<>> values_;
  mutable std::vector<std::string> asked_;
};

// Build a policy from its parameters. May throw: tiermem::Error passes on unchanged (name the
// policy in it; Params' errors do); any other exception becomes Error(config) naming the
// policy and carrying its what(). Must return a policy whose name() is the registered name.
// Called on the thread that creates the owner (Pool's constructor, simulate), once per
// instance; owners may also build an instance only to query it and drop it (Config::validate
// checks a spec so). Owners created on several threads at once call it concurrently.
using EvictionFactory =
    std::function<std::unique_ptr<EvictionPolicy>(const Params& params, const Context& context)>;
using PrefetchFactory =
    std::function<std::unique_ptr<PrefetchPolicy>(const Params& params, const Context& context)>;

// Registers a policy under name, so that a spec naming it builds it with factory, in every Pool
// and simulation created afterwards; those created before keep the instances they have.
// params and doc describe it in listings (sim::eviction_policies(), tiermem sim --list):
// params as "key=default (meaning), ...", empty when it takes none. Registration lasts as long
// as the process, so the factory's code must stay loaded. Thread-safe: any thread, any time.
// Throws Error(invalid_argument) naming name when it is not 1 to 64 letters, digits, '_' or
// '-', when a policy of the same kind (eviction or prefetch) has it already (a built-in's
// name included), or when factory is empty.
TIERMEM_API void register_eviction_policy(std::string_view name, std::string_view params,
                                          std::string_view doc, EvictionFactory factory);
TIERMEM_API void register_prefetch_policy(std::string_view name, std::string_view params,
                                          std::string_view doc, PrefetchFactory factory);

}  // namespace tiermem::policy
