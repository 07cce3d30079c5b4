// support/log.hpp: the named spdlog logger "tiermem" that every room logs through.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace tiermem::support {

// The "tiermem" logger, created on first use with the level from $TIERMEM_LOG (default warn).
spdlog::logger& log();

// The level names set_log_level() takes ("warning" is taken for warn too).
inline constexpr std::string_view kLogLevels = "trace, debug, info, warn, error, critical, off";

// Sets the level by name (one of kLogLevels). An empty name means $TIERMEM_LOG, else warn.
// Throws tiermem::Error(config) naming an unknown level.
void set_log_level(std::string_view level);

// Whether set_log_level() takes name. Empty is not a name.
bool is_log_level(std::string_view name) noexcept;

}  // namespace tiermem::support
