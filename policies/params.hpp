// policies/params.hpp: what the built-in policies' makers read besides Params' getters.
#pragma once

#include <cstdint>
#include <optional>

#include "policies/registry.hpp"

namespace tiermem::policies {

// The "tier" parameter (gpu or dram) as 0 or 1, or nullopt when absent. Throws Error(config)
// naming any other text.
std::optional<uint8_t> param_tier(const Params& params);

// The context's capacity_pages / page_size, for policies that cannot work without them.
// Throw Error(config) naming the policy when the owner gave 0.
uint64_t required_capacity(const Params& params, const Context& context);
uint64_t required_page_size(const Params& params, const Context& context);

}  // namespace tiermem::policies
