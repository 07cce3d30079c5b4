// tiermem/io_config.hpp: the io engine settings an IoConfig asks for, shared by the pool and
// FileIo so that both build their engines alike.
#pragma once

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

}  // namespace tiermem::detail
