// policies/registry.cpp: the spec parser and the tables that build policies by name.
#include "policies/registry.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string>

#include "policies/builtin.hpp"
#include "policies/params.hpp"
#include "tiermem/error.hpp"

namespace tiermem::policies {

namespace {

constexpr EvictionEntry kEviction[] = {
    {"lru", "", "least recently used", make_lru},
    {"fifo", "", "first in, first out; accesses do not reorder", make_fifo},
    {"clock", "", "second chance: a reference bit per page, cleared by the hand", make_clock},
    {"lfu", "", "least frequently used (counts saturate at 250), LRU among equals", make_lfu},
    {"2q", "kin=0.25 (A1in share of capacity), kout=0.5 (A1out ghosts per capacity)",
     "2Q: new pages in a FIFO, pages seen again after leaving it in an LRU", make_two_q},
    {"arc", "", "adaptive replacement cache: recency and frequency lists sized by ghost hits",
     make_arc},
    {"s3fifo",
     "small=0.1 (small FIFO share), ghost=0.9 (ghost ids per capacity), move=2 (accesses to "
     "promote)",
     "S3-FIFO: small FIFO for one-hit pages, main FIFO with 2-bit counts, ghost FIFO", make_s3fifo},
    {"belady", "", "Belady's MIN: evicts the page used farthest in the future (needs next use)",
     make_belady},
    {"lirs", "hir=0.01 (share of frames for HIR pages), ghost=2 (non-resident ids per frame)",
     "LIRS: reuse distance decides; a loop larger than the tier keeps part of itself resident",
     make_lirs},
    {"sieve", "", "SIEVE: FIFO with a visited bit and a hand that leaves survivors in place",
     make_sieve},
    {"moe", "period=32 (counts halve every period x tracked pages accesses)",
     "mixture-of-experts weights: access counts with decay, the most recent among equals goes",
     make_moe},
    {"wtinylfu",
     "window=0.01 (LRU window share), protected=0.8 (of the main space), sample=10 (accesses "
     "per capacity between agings of the sketch)",
     "W-TinyLFU: an LRU window, a segmented LRU main space, admission by a frequency sketch",
     make_wtinylfu},
};

constexpr PrefetchEntry kPrefetch[] = {
    {"none", "", "never prefetches", make_no_prefetch},
    {"sequential", "depth=8 (pages ahead), tier=gpu|dram (default: the accessed tier)",
     "the next pages of the tensor accessed", make_sequential},
    {"stride", "depth=4 (strides ahead), confirm=2 (repeats before trusting), tier=gpu|dram",
     "a constant stride between accesses to each tensor", make_stride},
    {"schedule",
     "lead=2 (x read time), depth=8 (steps ahead at most), gbps=0 (bandwidth; 0: measured), "
     "max_steps=1048576 (learning limit), tier=gpu|dram",
     "follows the registered access order, or the one learned from the first iteration, "
     "reading just early enough for the measured bandwidth",
     make_schedule},
    {"markov", "width=2 (successors kept per page), depth=2 (chain length), tier=gpu|dram",
     "history: likeliest successors of each page, learned from past transitions", make_markov},
};

template <class Entry>
const Entry& find(std::span<const Entry> table, const PolicySpec& spec, std::string_view kind) {
  std::string known;
  for (const Entry& entry : table) {
    if (entry.name == spec.name) return entry;
    known += known.empty() ? "" : ", ";
    known += entry.name;
  }
  throw Error(Errc::config,
              fmt::format("unknown {} policy '{}' (known: {})", kind, spec.name, known));
}

}  // namespace

PolicySpec PolicySpec::parse(std::string_view text) {
  PolicySpec spec;
  size_t colon = text.find(':');
  spec.name = std::string(text.substr(0, colon));
  auto fault = [&](size_t pos, std::string_view what) {
    return Error(Errc::config, fmt::format("policy spec '{}': {} at position {}", text, what, pos));
  };
  if (spec.name.empty()) throw fault(0, "missing policy name");
  if (colon == std::string_view::npos) return spec;
  size_t pos = colon + 1;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    size_t eq = item.find('=');
    if (eq == 0 || eq == std::string_view::npos || eq + 1 == item.size()) {
      throw fault(pos, "expected key=value");
    }
    auto [it, inserted] =
        spec.params.emplace(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    if (!inserted) throw fault(pos, fmt::format("parameter '{}' given twice", it->first));
    pos = comma + 1;
  }
  return spec;
}

std::span<const EvictionEntry> eviction_policies() noexcept {
  return kEviction;
}
std::span<const PrefetchEntry> prefetch_policies() noexcept {
  return kPrefetch;
}

std::unique_ptr<EvictionPolicy> make_eviction_policy(std::string_view text,
                                                     const PolicyContext& context) {
  PolicySpec spec = PolicySpec::parse(text);
  return find(eviction_policies(), spec, "eviction").make(spec, context);
}

std::unique_ptr<PrefetchPolicy> make_prefetch_policy(std::string_view text,
                                                     const PolicyContext& context) {
  PolicySpec spec = PolicySpec::parse(text);
  return find(prefetch_policies(), spec, "prefetch").make(spec, context);
}

// A maker is the one place that knows a policy's parameters and their ranges, so checking a
// spec builds the policy and drops it. That is cheap: a policy's tables grow with the pages it
// sees, never with its capacity.
void validate_eviction_spec(std::string_view spec, const PolicyContext& context) {
  make_eviction_policy(spec, context);
}

void validate_prefetch_spec(std::string_view spec, const PolicyContext& context) {
  make_prefetch_policy(spec, context);
}

void check_params(const PolicySpec& spec, std::initializer_list<std::string_view> accepted) {
  for (const auto& [key, value] : spec.params) {
    bool ok = false;
    for (std::string_view name : accepted) ok |= name == key;
    if (!ok) {
      std::string known;
      for (std::string_view name : accepted) {
        known += known.empty() ? "" : ", ";
        known += name;
      }
      throw Error(Errc::config, fmt::format("policy '{}' has no parameter '{}' (accepted: {})",
                                            spec.name, key, known.empty() ? "none" : known));
    }
  }
}

double param_double(const PolicySpec& spec, std::string_view key, double fallback, double min,
                    double max) {
  auto it = spec.params.find(key);
  if (it == spec.params.end()) return fallback;
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != it->second.size() || !(value >= min && value <= max)) {
    throw Error(Errc::config, fmt::format("policy '{}': {}={} is not a number in [{}, {}]",
                                          spec.name, key, it->second, min, max));
  }
  return value;
}

std::optional<uint8_t> param_tier(const PolicySpec& spec) {
  auto it = spec.params.find("tier");
  if (it == spec.params.end()) return std::nullopt;
  if (it->second == "gpu") return uint8_t{0};
  if (it->second == "dram") return uint8_t{1};
  throw Error(Errc::config, fmt::format("policy '{}': tier={} is not a tier that can be "
                                        "prefetched into (gpu, dram)",
                                        spec.name, it->second));
}

uint64_t required_capacity(const PolicySpec& spec, const PolicyContext& context) {
  if (context.capacity_pages == 0) {
    throw Error(Errc::config, fmt::format("policy '{}' needs the tier's capacity in pages, "
                                          "and its owner gave 0",
                                          spec.name));
  }
  return context.capacity_pages;
}

uint64_t required_page_size(const PolicySpec& spec, const PolicyContext& context) {
  if (context.page_size == 0) {
    throw Error(Errc::config,
                fmt::format("policy '{}' needs the page size, and its owner gave 0", spec.name));
  }
  return context.page_size;
}

uint64_t param_uint(const PolicySpec& spec, std::string_view key, uint64_t fallback, uint64_t min,
                    uint64_t max) {
  auto it = spec.params.find(key);
  if (it == spec.params.end()) return fallback;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || value < min ||
      value > max) {
    throw Error(Errc::config, fmt::format("policy '{}': {}={} is not an integer in [{}, {}]",
                                          spec.name, key, it->second, min, max));
  }
  return value;
}

}  // namespace tiermem::policies
