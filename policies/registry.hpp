// policies/registry.hpp: builds policies by name from spec strings, through one table.
//
// A spec is a name with optional parameters: "lru", "s3fifo:small=0.1",
// "sequential:depth=4,tier=gpu". Unknown names and parameters are errors, never ignored.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "policies/eviction_policy.hpp"
#include "policies/prefetch_policy.hpp"

namespace tiermem::policies {

// What a policy may know of its surroundings when it is built.
struct PolicyContext {
  uint64_t capacity_pages = 0;  // frames of the tier an eviction policy manages
  uint64_t page_size = 0;       // bytes
};

struct PolicySpec {
  std::string name;
  std::map<std::string, std::string, std::less<>> params;

  // Parses "name" or "name:key=value,key=value". Throws tiermem::Error(config) naming the
  // text and the position of the fault.
  static PolicySpec parse(std::string_view text);
};

// One row per policy: what it is called, what it takes, and how to build it.
struct EvictionEntry {
  std::string_view name;
  std::string_view params;  // e.g. "small=0.1 (fraction of capacity in the small queue)"
  std::string_view doc;
  std::unique_ptr<EvictionPolicy> (*make)(const PolicySpec&, const PolicyContext&);
};
struct PrefetchEntry {
  std::string_view name;
  std::string_view params;
  std::string_view doc;
  std::unique_ptr<PrefetchPolicy> (*make)(const PolicySpec&, const PolicyContext&);
};

std::span<const EvictionEntry> eviction_policies() noexcept;
std::span<const PrefetchEntry> prefetch_policies() noexcept;

// Build from a spec string. Throws tiermem::Error(config) naming an unknown policy (and
// listing the known ones) or an unknown or malformed parameter.
std::unique_ptr<EvictionPolicy> make_eviction_policy(std::string_view spec,
                                                     const PolicyContext& context);
std::unique_ptr<PrefetchPolicy> make_prefetch_policy(std::string_view spec,
                                                     const PolicyContext& context);

// Check a spec exactly as the makers above would, for owners that check a configuration
// before building anything (Config::validate). Throw what the makers throw.
void validate_eviction_spec(std::string_view spec, const PolicyContext& context);
void validate_prefetch_spec(std::string_view spec, const PolicyContext& context);

}  // namespace tiermem::policies
