// policies/registry.hpp: builds policies by name from spec strings, through one table per kind
// that holds the built-in policies and those the program registered (tiermem/policy.hpp).
//
// Unknown names and parameters are errors, never ignored.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tiermem/policy.hpp"

namespace tiermem::policies {

// The public interfaces are the policies' own (declared here, so that they hide the pool's
// tiermem::ScheduleStep).
using policy::AccessEvent;
using policy::Context;
using policy::EvictionFactory;
using policy::EvictionPolicy;
using policy::kNever;
using policy::PageId;
using policy::Params;
using policy::PrefetchFactory;
using policy::PrefetchPolicy;
using policy::PrefetchProposal;
using policy::PrefetchSink;
using policy::Schedule;
using policy::ScheduleStep;
using policy::VictimFilter;

// One row per policy: what it is called, what it takes, and how to build it.
template <class Factory>
struct Entry {
  std::string name;
  std::string params;  // e.g. "small=0.1 (fraction of capacity in the small queue)"
  std::string doc;
  Factory make;
};
using EvictionEntry = Entry<EvictionFactory>;
using PrefetchEntry = Entry<PrefetchFactory>;

// The rows as they are now: the built-ins first, then the registered ones in order.
std::vector<EvictionEntry> eviction_policies();
std::vector<PrefetchEntry> prefetch_policies();

// Build from a spec string. Throws tiermem::Error(config) naming an unknown policy (and
// listing the known ones), an unknown or malformed parameter, a factory's failure, or a
// factory that returned no policy or one of another name.
std::unique_ptr<EvictionPolicy> make_eviction_policy(std::string_view spec, const Context& context);
std::unique_ptr<PrefetchPolicy> make_prefetch_policy(std::string_view spec, const Context& context);

// Check a spec exactly as the makers above would, for owners that check a configuration
// before building anything (Config::validate). Throw what the makers throw.
void validate_eviction_spec(std::string_view spec, const Context& context);
void validate_prefetch_spec(std::string_view spec, const Context& context);

}  // namespace tiermem::policies
