// io/engines.hpp: the makers of the concrete engines, for make_engine and for tests.
#pragma once

#include <memory>

#include "io/engine.hpp"

namespace tiermem::io {

class TransferHook;  // io/transfer_hook.hpp

// Throws tiermem::Error(invalid_argument) naming a config value outside its range (see
// check_config), Error(unsupported) when io_uring cannot be set up here. hook, when given, is
// consulted before every system call (tests only: see io/fault_engine.hpp); it must outlive
// the engine.
std::unique_ptr<Engine> make_uring_engine(const EngineConfig& config, TransferHook* hook = nullptr);
std::unique_ptr<Engine> make_psync_engine(const EngineConfig& config, TransferHook* hook = nullptr);

// Throws Error(invalid_argument) naming the first value outside its range: threads 1 to 256,
// queue_depth 1 to 4096, block_size a multiple of 4 KiB from 4 KiB to 1 GiB.
void check_config(const EngineConfig& config);

}  // namespace tiermem::io
