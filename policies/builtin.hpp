// policies/builtin.hpp: the makers of the built-in policies, one per row of the registry.
#pragma once

#include <memory>

#include "policies/registry.hpp"

namespace tiermem::policies {

std::unique_ptr<EvictionPolicy> make_lru(const PolicySpec& spec, const PolicyContext& context);

std::unique_ptr<PrefetchPolicy> make_no_prefetch(const PolicySpec& spec,
                                                 const PolicyContext& context);

}  // namespace tiermem::policies
