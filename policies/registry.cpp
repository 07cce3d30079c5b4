// policies/registry.cpp: the tables that build policies by name, the built-in rows first, and
// registering more of them (tiermem/policy.hpp).
#include "policies/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "policies/builtin.hpp"
#include "tiermem/error.hpp"

namespace tiermem::policy {

// Out of line, so that the vtables and type information live in the library, once.
EvictionPolicy::~EvictionPolicy() = default;
PrefetchPolicy::~PrefetchPolicy() = default;

}  // namespace tiermem::policy

namespace tiermem::policies {

namespace {

// Names a spec can carry: no ':', ',' or '=' (the spec's separators), nothing a shell or a
// configuration file would need quoted.
void check_name(std::string_view kind, std::string_view name) {
  constexpr size_t kMaxName = 64;
  auto valid = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  };
  if (name.empty() || name.size() > kMaxName || !std::ranges::all_of(name, valid)) {
    throw Error(Errc::invalid_argument,
                fmt::format("{} policy name '{}' is not 1 to {} letters, digits, '_' or '-'", kind,
                            name, kMaxName));
  }
}

// The rows of one kind of policy. Registration may come from any thread while owners build
// policies on others; factories run without the lock, so that a slow one holds up no one.
template <class Policy, class Factory>
class Table {
 public:
  Table(std::string_view kind, std::vector<Entry<Factory>> builtins)
      : kind_(kind), entries_(std::move(builtins)) {}

  void add(Entry<Factory> entry) {
    check_name(kind_, entry.name);
    if (!entry.make) {
      throw Error(Errc::invalid_argument,
                  fmt::format("{} policy '{}' has no factory", kind_, entry.name));
    }
    std::unique_lock lock(mutex_);
    for (const Entry<Factory>& existing : entries_) {
      if (existing.name == entry.name) {
        throw Error(Errc::invalid_argument,
                    fmt::format("{} policy '{}' is registered already", kind_, entry.name));
      }
    }
    entries_.push_back(std::move(entry));
  }

  std::vector<Entry<Factory>> list() const {
    std::shared_lock lock(mutex_);
    return entries_;
  }

  std::unique_ptr<Policy> make(std::string_view spec, const Context& context) const {
    const Params params = Params::parse(spec);
    const std::string& name = params.name();
    std::unique_ptr<Policy> policy;
    try {
      policy = factory(name)(params, context);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(Errc::config,
                  fmt::format("{} policy '{}' failed to build: {}", kind_, name, e.what()));
    }
    params.check_all_asked();
    if (!policy) {
      throw Error(Errc::config,
                  fmt::format("{} policy '{}': its factory returned no policy", kind_, name));
    }
    if (policy->name() != name) {
      throw Error(Errc::config, fmt::format("{} policy '{}': its factory built one named '{}'",
                                            kind_, name, policy->name()));
    }
    return policy;
  }

 private:
  Factory factory(std::string_view name) const {
    std::shared_lock lock(mutex_);
    std::string known;
    for (const Entry<Factory>& entry : entries_) {
      if (entry.name == name) return entry.make;
      known += known.empty() ? "" : ", ";
      known += entry.name;
    }
    throw Error(Errc::config,
                fmt::format("unknown {} policy '{}' (known: {})", kind_, name, known));
  }

  std::string_view kind_;
  mutable std::shared_mutex mutex_;
  std::vector<Entry<Factory>> entries_;
};

// Built on first use, so that registrations from static initialisers find them.
Table<EvictionPolicy, EvictionFactory>& eviction_table() {
  static Table<EvictionPolicy, EvictionFactory> table(
      "eviction",
      {
          {"lru", "", "least recently used", make_lru},
          {"fifo", "", "first in, first out; accesses do not reorder", make_fifo},
          {"clock", "", "second chance: a reference bit per page, cleared by the hand", make_clock},
          {"lfu", "", "least frequently used (counts saturate at 250), LRU among equals", make_lfu},
          {"2q", "kin=0.25 (A1in share of capacity), kout=0.5 (A1out ghosts per capacity)",
           "2Q: new pages in a FIFO, pages seen again after leaving it in an LRU", make_two_q},
          {"arc",
           "adapt=room|insert (p adapts to a remembered page when room is made for it, as in "
           "the paper and libCacheSim; or when it is inserted)",
           "adaptive replacement cache: recency and frequency lists sized by ghost hits", make_arc},
          {"s3fifo",
           "small=0.1 (small FIFO share), ghost=0.9 (ghost ids per capacity), move=2 (accesses "
           "to promote)",
           "S3-FIFO: small FIFO for one-hit pages, main FIFO with 2-bit counts, ghost FIFO",
           make_s3fifo},
          {"belady", "",
           "Belady's MIN: evicts the page used farthest in the future (needs next use)",
           make_belady},
          {"lirs",
           "hir=0.01 (share of frames for HIR pages), ghost=2 (non-resident ids per frame), "
           "stack=2 (entries of S per frame), qhit=demote|stay (an HIR page S forgot, used "
           "again: demotes S's least recent LIR page, as libCacheSim; or only moves), "
           "lir=recent|oldest (the LIR page that goes when no HIR page can), drops=evict|hold "
           "(an HIR page pushed out on a hit: evicted at once by the simulator, as libCacheSim "
           "does; or held as the next victim, as a pool does)",
           "LIRS: reuse distance decides; a loop larger than the tier keeps part of itself "
           "resident",
           make_lirs},
          {"sieve", "", "SIEVE: FIFO with a visited bit and a hand that leaves survivors in place",
           make_sieve},
          {"moe", "period=32 (counts halve every period x tracked pages accesses)",
           "mixture-of-experts weights: access counts with decay, the most recent among equals "
           "goes",
           make_moe},
          {"wtinylfu",
           "window=0.01 (LRU window share), protected=0.8 (of the main space), sketch=cbf|cms "
           "(libCacheSim's counting Bloom filter and contests; or tiermem's earlier count-min "
           "sketch, one contest per victim), sample=32 with cbf, 10 with cms (main-space hits per "
           "main-space page, or accesses per frame, between agings of the sketch), drops=evict|"
           "hold with cbf (pages let go on a hit: evicted at once by the simulator, as "
           "libCacheSim does; or held as the next victims, as a pool does)",
           "W-TinyLFU: an LRU window, a segmented LRU main space, admission by a frequency sketch",
           make_wtinylfu},
      });
  return table;
}

Table<PrefetchPolicy, PrefetchFactory>& prefetch_table() {
  static Table<PrefetchPolicy, PrefetchFactory> table(
      "prefetch",
      {
          {"none", "", "never prefetches", make_no_prefetch},
          {"sequential", "depth=8 (pages ahead), tier=gpu|dram (default: the accessed tier)",
           "the next pages of the tensor accessed", make_sequential},
          {"stride", "depth=4 (strides ahead), confirm=2 (repeats before trusting), tier=gpu|dram",
           "a constant stride between accesses to each tensor", make_stride},
          {"schedule",
           "lead=2 (x read time), depth=8 (steps ahead at most), gbps=0 (bandwidth; 0: "
           "measured), max_steps=1048576 (learning limit), tier=gpu|dram",
           "follows the registered access order, or the one learned from the first iteration, "
           "reading just early enough for the measured bandwidth",
           make_schedule},
          {"markov", "width=2 (successors kept per page), depth=2 (chain length), tier=gpu|dram",
           "history: likeliest successors of each page, learned from past transitions",
           make_markov},
      });
  return table;
}

}  // namespace

std::vector<EvictionEntry> eviction_policies() {
  return eviction_table().list();
}
std::vector<PrefetchEntry> prefetch_policies() {
  return prefetch_table().list();
}

std::unique_ptr<EvictionPolicy> make_eviction_policy(std::string_view spec,
                                                     const Context& context) {
  return eviction_table().make(spec, context);
}

std::unique_ptr<PrefetchPolicy> make_prefetch_policy(std::string_view spec,
                                                     const Context& context) {
  return prefetch_table().make(spec, context);
}

// A maker is the one place that knows a policy's parameters and their ranges, so checking a
// spec builds the policy and drops it. That is cheap: a policy's tables grow with the pages it
// sees, never with its capacity.
void validate_eviction_spec(std::string_view spec, const Context& context) {
  make_eviction_policy(spec, context);
}

void validate_prefetch_spec(std::string_view spec, const Context& context) {
  make_prefetch_policy(spec, context);
}

}  // namespace tiermem::policies

namespace tiermem::policy {

void register_eviction_policy(std::string_view name, std::string_view params, std::string_view doc,
                              EvictionFactory factory) {
  policies::eviction_table().add(
      {std::string(name), std::string(params), std::string(doc), std::move(factory)});
}

void register_prefetch_policy(std::string_view name, std::string_view params, std::string_view doc,
                              PrefetchFactory factory) {
  policies::prefetch_table().add(
      {std::string(name), std::string(params), std::string(doc), std::move(factory)});
}

}  // namespace tiermem::policy
