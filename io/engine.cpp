// io/engine.cpp: make_engine, which picks an engine by name and falls back where allowed.
#include "io/engine.hpp"

#include <fmt/format.h>

#include "io/engines.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"

namespace tiermem::io {

void check_config(const EngineConfig& config) {
  if (config.threads < 1 || config.threads > 256) {
    throw Error(Errc::invalid_argument,
                fmt::format("io.threads {} is outside 1 to 256", config.threads));
  }
  if (config.queue_depth < 1 || config.queue_depth > 4096) {
    throw Error(Errc::invalid_argument,
                fmt::format("io.queue_depth {} is outside 1 to 4096", config.queue_depth));
  }
  if (config.block_size < (4u << 10) || config.block_size > (1u << 30) ||
      config.block_size % (4u << 10) != 0) {
    throw Error(Errc::invalid_argument,
                fmt::format("io.block_size {} is not a multiple of 4 KiB from 4 KiB to 1 GiB",
                            config.block_size));
  }
}

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
