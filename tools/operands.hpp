// tools/operands.hpp: leading operands (file names) of a subcommand, taken off before its
// options are parsed: `tiermem sim TRACE --eviction arc`.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tiermem/error.hpp"

namespace tiermem::tools {

// Moves up to max leading non-option arguments after args[0] into operands; returns args[0]
// followed by the rest, for parse_args.
inline std::vector<char*> take_operands(std::span<char*> args, size_t max,
                                        std::vector<std::string>& operands) {
  std::vector<char*> rest{args[0]};
  size_t i = 1;
  for (; i < args.size() && operands.size() < max && args[i][0] != '-'; ++i) {
    operands.emplace_back(args[i]);
  }
  rest.insert(rest.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return rest;
}

// Throws Error(invalid_argument) unless exactly count operands were given.
inline void require_operands(const std::vector<std::string>& operands, size_t count,
                             std::string_view usage) {
  if (operands.size() != count) {
    throw Error(Errc::invalid_argument, "expected " + std::string(usage));
  }
}

}  // namespace tiermem::tools
