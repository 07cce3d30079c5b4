// tiermem/io_config.hpp: the I/O engine an IoConfig asks for, shared by the pool and FileIo so
// that both build their engines alike (io.faults included).
#pragma once

#include <memory>

#include "io/engine.hpp"
#include "tiermem/config.hpp"

namespace tiermem::detail {

inline io::EngineConfig engine_config(const IoConfig& config) {
  return {.kind = config.engine,
          .threads = config.threads,
          .queue_depth = config.queue_depth,
          .block_size = config.block_size,
          .sqpoll = config.sqpoll};
}

// The engine config.engine names, under a fault injector when config.faults is set. Throws
// what io::make_engine throws, and Error(config) for a bad io.faults value.
std::unique_ptr<io::Engine> make_io_engine(const IoConfig& config);

}  // namespace tiermem::detail
