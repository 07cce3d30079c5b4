// tiermem/io_config.cpp: building the I/O engine of an IoConfig, with its faults.
#include "tiermem/io_config.hpp"

#include "io/fault_engine.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"
#include "tiermem/fault_spec.hpp"

namespace tiermem::detail {

std::unique_ptr<io::Engine> make_io_engine(const IoConfig& config) {
  io::EngineConfig inner = engine_config(config);
  if (config.faults.empty()) return io::make_engine(inner);
  io::FaultPlan plan = parse_fault_spec(config.faults);
  support::log().warn("io.faults: injecting faults into every request: {}", config.faults);
  if (inner.kind != "auto") return std::make_unique<io::FaultEngine>(std::move(plan), inner);
  try {
    inner.kind = "uring";
    return std::make_unique<io::FaultEngine>(plan, inner);
  } catch (const Error& e) {
    support::log().info("io_uring is not available ({}); using the psync engine", e.what());
    inner.kind = "psync";
    return std::make_unique<io::FaultEngine>(std::move(plan), inner);
  }
}

}  // namespace tiermem::detail
