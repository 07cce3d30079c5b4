// support/log.hpp: the named spdlog logger "tiermem" that every room logs through.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace tiermem::support {

// The "tiermem" logger, created on first use with the level from $TIERMEM_LOG (default warn).
spdlog::logger& log();

// Sets the level by name (trace, debug, info, warn, error, critical, off). An empty name means
// $TIERMEM_LOG, else warn. Throws tiermem::Error(config) naming an unknown level.
void set_log_level(std::string_view level);

}  // namespace tiermem::support
