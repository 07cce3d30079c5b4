// policies/params.hpp: how a policy's maker reads its spec parameters, with range checks.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "policies/registry.hpp"

namespace tiermem::policies {

// Throws Error(config) naming a parameter of spec that is not in accepted.
void check_params(const PolicySpec& spec, std::initializer_list<std::string_view> accepted);

// The parameter's value, or fallback when absent. Throws Error(config) naming the parameter,
// its text and the range when it does not parse or lies outside [min, max].
double param_double(const PolicySpec& spec, std::string_view key, double fallback, double min,
                    double max);
uint64_t param_uint(const PolicySpec& spec, std::string_view key, uint64_t fallback, uint64_t min,
                    uint64_t max);
// The "tier" parameter (gpu or dram) as 0 or 1, or nullopt when absent. Throws Error(config)
// naming any other text.
std::optional<uint8_t> param_tier(const PolicySpec& spec);

// The context's capacity_pages / page_size, for policies that cannot work without them.
// Throw Error(config) naming the policy when the owner gave 0.
uint64_t required_capacity(const PolicySpec& spec, const PolicyContext& context);
uint64_t required_page_size(const PolicySpec& spec, const PolicyContext& context);

}  // namespace tiermem::policies
