// io/engine.cpp: make_engine, which picks an engine by name and falls back where allowed.
#include "io/engine.hpp"

#include <fmt/format.h>

#include "io/engines.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"

namespace tiermem::io {

std::unique_ptr<Engine> make_engine(const EngineConfig& config) {
  if (config.kind == "uring") return make_uring_engine(config);
  if (config.kind == "psync") return make_psync_engine(config);
  if (config.kind == "auto") {
    try {
      return make_uring_engine(config);
    } catch (const Error& e) {
      support::log().info("io_uring is not available ({}); using the psync engine", e.what());
      return make_psync_engine(config);
    }
  }
  throw Error(Errc::invalid_argument,
              fmt::format("unknown I/O engine '{}' (known: auto, uring, psync)", config.kind));
}

}  // namespace tiermem::io
