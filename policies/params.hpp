// policies/params.hpp: what the built-in policies' makers read besides Params' getters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "policies/registry.hpp"

namespace tiermem::policies {

// The "tier" parameter (gpu or dram) as 0 or 1, or nullopt when absent. Throws Error(config)
// naming any other text.
std::optional<uint8_t> param_tier(const Params& params);

// A parameter that names one of a few variants: the index of its text in choices, 0 (the
// first, the default) when the spec does not give it. Throws Error(config) naming the policy,
// the parameter, its text and the choices when the text is none of them.
size_t param_choice(const Params& params, std::string_view key,
                    std::initializer_list<std::string_view> choices);

// The context's capacity_pages / page_size, for policies that cannot work without them.
// Throw Error(config) naming the policy when the owner gave 0.
uint64_t required_capacity(const Params& params, const Context& context);
uint64_t required_page_size(const Params& params, const Context& context);

}  // namespace tiermem::policies
