// check/model_check.hpp: the model-checked workload behind `tiermem stress` and the model test.
//
// Several threads issue random calls from the whole public API (allocate, release, pins of
// every access in gpu and dram, blocking and asynchronous, futures dropped unread, prefetch,
// evict, tensor and pool flush, residency, stats, schedules, trace recording, misuse that must
// be refused) against a reference model of every tensor's bytes. Every byte a pin shows must
// equal the model; every failure must be a tiermem::Error whose code the call's contract
// allows; no call may hang (a watchdog names the stuck call and aborts); opening and closing
// the pool must leave no file descriptor or thread behind. With io.faults set, Error(io) is an
// allowed outcome, counted per call, and the final check proves that nothing a call reported
// written was lost. In a persistent pool (ModelOptions::persistent) it also closes and reopens
// the pool, checking every tensor it finds again by name. Uses only the public API.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tiermem/config.hpp"
#include "tiermem/stats.hpp"
#include "tiermem/virtual_clock.hpp"

namespace tiermem::check {

// The calls the workload makes, for counting.
enum class Call : uint8_t {
  allocate,
  release,
  pin_read,
  pin_write,       // Access::write: every byte of the range is overwritten
  pin_read_write,  // read, checked, then rewritten
  pin_dropped,     // pin_async whose future is dropped unread
  prefetch,
  evict,
  flush_tensor,
  flush_pool,
  residency,
  stats,
  schedule,
  trace,    // start_trace or stop_trace
  compute,  // compute_begin / compute_end marks
  stale,    // a call on a released handle, which must fail with Error(released)
  misuse,   // bad tiers, accesses, ranges: must fail with Error(invalid_argument)
  advance,  // on a virtual clock: the host runs the clock (and tries to turn it back)
  reopen,   // persistent: the pool closed and opened again, every tensor found and read back
  verify,   // the final read of every byte
  close,    // the pool's destruction, with asynchronous pins in flight
};
inline constexpr size_t kCallCount = 21;
std::string_view to_string(Call call) noexcept;

// What a persistent pool's flush is about to make durable: each live tensor by name, with a
// hash of the bytes the model holds for it (digest()).
struct TensorDigest {
  std::string name;
  uint64_t hash = 0;
};
struct FlushEvent {
  enum class Stage : uint8_t { starting, done, failed } stage = Stage::starting;
  std::vector<TensorDigest> tensors;  // starting only: the state the flush makes durable
};
// The hash TensorDigest holds of a tensor's bytes.
uint64_t digest(const uint8_t* bytes, uint64_t size) noexcept;

struct ModelOptions {
  uint32_t threads = 8;
  double seconds = 10;           // how long the threads issue calls
  uint64_t max_operations = 0;   // per thread; 0: until seconds have passed
  uint64_t total_bytes = 0;      // tensor bytes live at once at most; 0: 4x the dram tier
  uint32_t max_tensors = 24;     // live tensors at most
  uint32_t max_pin_pages = 4;    // a pin covers up to this many pages
  double watchdog_seconds = 60;  // a call running longer is reported as hung
  uint64_t seed = 1;
  // Where traces are recorded; empty: tracing is left out.
  std::string scratch_dir;
  // Printed with the seed when something fails: the command line that replays the run.
  std::string replay_command;
  // Set: the pool runs on a virtual clock with these devices (data kept, so that every byte
  // can be checked), driven by one thread (threads is taken as 1); waits run the clock, and
  // the pool must start no thread.
  std::optional<VirtualDevices> devices;
  // The pool is persistent (nvme.persistent), its files in scratch_dir/pool (made if missing;
  // the pool there must hold no tensor). Names are unique. Pool::flush() is made only while no
  // write pin, allocation or release is under way, so the model knows exactly which bytes each
  // flush makes durable. Now and then a thread closes the pool while the others wait between
  // calls (after a flush, so that the bytes to come back are exactly the model's, whatever
  // the destructor's own flush meets), opens it again, and checks that every tensor is found
  // by name and holds the model's bytes, that released ones are gone, and that
  // Pool::verify() passes. Pins of dropped futures only read: a flush leaves pages pinned for
  // writing dirty, so their durable copies could be older than the model's bytes. Not on a
  // virtual clock (it keeps no files).
  bool persistent = false;
  // persistent: told, from the flushing thread, before every Pool::flush (starting, with the
  // state it makes durable) and after it (done or failed); and before the pool's destructor
  // flushes at the end (starting, with no outcome to follow). For crash checks
  // (check/crash_check.hpp): a process killed at any moment leaves one of the states of the
  // last flush done and of a flush started after it.
  std::function<void(const FlushEvent&)> on_flush;
};

struct CallCounts {
  uint64_t made = 0;       // calls issued
  uint64_t succeeded = 0;  // calls that returned normally
  uint64_t refused = 0;    // allowed errors other than io: busy, tier_full, out_of_space, ...
  uint64_t io_errors = 0;  // Error(io), allowed only under io.faults
};

struct ModelReport {
  uint64_t seed = 0;
  uint32_t threads = 0;
  double seconds = 0;
  std::array<CallCounts, kCallCount> calls{};
  uint64_t bytes_checked = 0;     // bytes compared with the model, during the run and at the end
  uint64_t mismatches = 0;        // bytes that differed from the model during the run
  uint64_t lost_bytes = 0;        // bytes that differed in the final check
  uint64_t unverified_bytes = 0;  // final check: bytes that could not be read (I/O faults)
  int leaked_fds = 0;             // descriptors open after the pool closed that were not before
  int leaked_threads = 0;
  std::vector<std::string> failures;  // what went wrong, first ones (mismatches, bad errors)
  Stats stats;                        // the pool's counters just before it closed

  bool ok() const noexcept {
    return mismatches == 0 && lost_bytes == 0 && failures.empty() && leaked_fds <= 0 &&
           leaked_threads <= 0;
  }
  uint64_t operations() const noexcept;
  // One line per call kind, then the totals.
  std::string to_text() const;
  std::string to_json() const;
};

// The config run_model opens its pool with: config itself, or for options.persistent a
// persistent pool in options.scratch_dir/pool (made if missing). Throws
// Error(invalid_argument) for a persistent run without scratch_dir or on a virtual clock.
Config model_pool_config(const Config& config, const ModelOptions& options);

// Opens a pool with config (on options.devices' virtual clock, if set), runs the workload,
// checks every byte, closes the pool (with asynchronous pins still in flight) and checks for
// leaked descriptors and threads. Throws what Pool's constructors throw; everything after that
// is reported, not thrown. Prints the seed and options.replay_command to stderr when the run
// fails.
ModelReport run_model(const Config& config, const ModelOptions& options);

}  // namespace tiermem::check
