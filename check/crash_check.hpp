// check/crash_check.hpp: the model-checked workload on a persistent pool, killed (SIGKILL) at
// random moments, the pool opened again after each kill: it must hold exactly the tensors of
// one flush, with the bytes that flush made durable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "check/model_check.hpp"
#include "tiermem/config.hpp"

namespace tiermem::check {

struct CrashReport {
  uint64_t seed = 0;
  uint32_t rounds = 0;           // children started
  uint32_t killed = 0;           // of them, killed (the others ended their run first)
  uint64_t flushes = 0;          // flushes the children reported done
  uint64_t failed_flushes = 0;   // and failed (io.faults)
  uint64_t tensors_checked = 0;  // tensors found and compared after the kills
  uint64_t pages_verified = 0;   // pages Pool::verify() checked after the kills
  double seconds = 0;
  std::vector<std::string> failures;  // the first round that failed says why; rounds stop then

  bool ok() const noexcept { return failures.empty(); }
  std::string to_text() const;
  std::string to_json() const;
};

// Runs rounds until options.seconds have passed (one at least). In each, a child process runs
// run_model(config, options) with options.persistent, for a round's time (an eighth of
// options.seconds, from 0.2 s to 2 s), telling this process through a pipe what each flush
// makes durable (ModelOptions::on_flush); this process kills it at a random moment of the
// round (or a little after: then the child must have ended its run ok), opens the pool without
// io.faults and checks that it holds exactly the tensors of the last flush the child reported
// done, or of one it started after that (the kill may have come as it published), each with
// the bytes the model had then, and that Pool::verify() passes. It then releases every tensor
// and closes the pool, so that the next child starts from an empty one. With io.faults, a
// flush that failed must have left the manifest as it was: its state is not accepted.
// Throws Error(invalid_argument) for more than 64 tensors (max_tensors: the state of a flush
// must fit one atomic pipe write) and what model_pool_config throws; Error(system) when a
// process or pipe cannot be made.
CrashReport run_crash_check(const Config& config, const ModelOptions& options);

}  // namespace tiermem::check
