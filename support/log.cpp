// support/log.cpp: creation and level of the "tiermem" logger.
#include "support/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "tiermem/error.hpp"

namespace tiermem::support {

namespace {

std::optional<spdlog::level::level_enum> find_level(std::string_view name) {
  for (int i = spdlog::level::trace; i < spdlog::level::n_levels; ++i) {
    auto level = static_cast<spdlog::level::level_enum>(i);
    if (spdlog::level::to_string_view(level) == name) return level;
  }
  if (name == "warn") return spdlog::level::warn;
  return std::nullopt;
}

spdlog::level::level_enum parse_level(std::string_view name) {
  if (auto level = find_level(name)) return *level;
  throw Error(Errc::config, "unknown log level '" + std::string(name) +
                                "' (known: " + std::string(kLogLevels) + ")");
}

// $TIERMEM_LOG when set, else warn.
std::string_view default_level() {
  const char* env = std::getenv("TIERMEM_LOG");
  return env != nullptr && *env != '\0' ? std::string_view(env) : std::string_view("warn");
}

std::shared_ptr<spdlog::logger> make_logger() {
  // The sink goes to stderr so that tools can keep stdout for their results.
  auto logger = spdlog::get("tiermem");
  if (!logger) {
    logger = spdlog::stderr_color_mt("tiermem");
  }
  logger->set_level(parse_level(default_level()));
  return logger;
}

}  // namespace

spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = make_logger();
  return *logger;
}

void set_log_level(std::string_view level) {
  log().set_level(parse_level(level.empty() ? default_level() : level));
}

bool is_log_level(std::string_view name) noexcept {
  return !name.empty() && find_level(name).has_value();
}

}  // namespace tiermem::support
