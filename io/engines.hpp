// io/engines.hpp: the makers of the concrete engines, for make_engine and for tests.
#pragma once

#include <memory>

#include "io/engine.hpp"

namespace tiermem::io {

// Throws tiermem::Error(unsupported) when io_uring cannot be set up here.
std::unique_ptr<Engine> make_uring_engine(const EngineConfig& config);
std::unique_ptr<Engine> make_psync_engine(const EngineConfig& config);

}  // namespace tiermem::io
