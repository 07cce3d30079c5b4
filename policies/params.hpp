// policies/params.hpp: how a policy's maker reads its spec parameters, with range checks.
#pragma once

#include <cstdint>
#include <initializer_list>
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

}  // namespace tiermem::policies
