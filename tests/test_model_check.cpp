// tests/test_model_check.cpp: the model-checked workload (check/model_check.hpp) over pools of
// every shape: random calls from the whole public API on several threads, every byte compared
// with the model, every error's code checked, no hang, no leak across open and close; and the
// same with injected I/O faults, where nothing reported written may be lost; and persistent
// pools, reopened in the run and killed at random moments (check/crash_check.hpp).
//
// TIERMEM_MODEL_SECONDS sets how long each run issues calls (default 4); the sanitizer presets
// run these tests like any other.
#include <cstdlib>
#include <optional>
#include <string>

#include "check/crash_check.hpp"
#include "check/model_check.hpp"
#include "tests/test_support.hpp"

namespace tiermem {
namespace {

double model_seconds() {
  const char* text = std::getenv("TIERMEM_MODEL_SECONDS");
  return text != nullptr && *text != '\0' ? std::atof(text) : 4.0;
}

check::ModelReport run(const Config& config, const testing::ScratchDir& dir, uint64_t seed,
                       uint32_t threads = 8, std::optional<VirtualDevices> devices = {},
                       bool persistent = false) {
  check::ModelOptions options;
  options.devices = devices;
  options.persistent = persistent;
  options.threads = threads;
  options.seconds = model_seconds();
  options.seed = seed;
  options.scratch_dir = dir.path();
  check::ModelReport report = check::run_model(config, options);
  EXPECT_TRUE(report.ok()) << report.to_text();
  EXPECT_EQ(report.mismatches, 0u);
  EXPECT_EQ(report.lost_bytes, 0u);
  EXPECT_GE(report.bytes_checked, 1u);
  return report;
}

uint64_t made(const check::ModelReport& report, check::Call call) {
  return report.calls[static_cast<size_t>(call)].made;
}

TEST(ModelCheck, DramAndNvmeFourTimesOversubscribed) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 64, 0, 2048);  // 4 MiB of dram
  check::ModelReport report = run(config, dir, 42);
  EXPECT_GT(report.stats.moves[1][2], 0u) << "nothing was written down to nvme";
  EXPECT_GT(report.stats.moves[2][1], 0u) << "nothing was read back from nvme";
  EXPECT_EQ(report.stats.io_errors, 0u);
}

TEST(ModelCheck, EveryCallOnThreeTiersWithTheEmulatedGpu) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 8, 2048);
  config.policy.prefetch = "sequential:depth=2";
  check::ModelReport report = run(config, dir, 7);
  for (size_t call = 0; call < check::kCallCount; ++call) {
    // Virtual clocks only; persistent pools only.
    if (static_cast<check::Call>(call) == check::Call::advance ||
        static_cast<check::Call>(call) == check::Call::reopen) {
      continue;
    }
    EXPECT_GT(report.calls[call].made, 0u)
        << "the workload never made " << check::to_string(static_cast<check::Call>(call));
  }
  EXPECT_GT(report.stats.moves[1][0], 0u) << "nothing reached the gpu tier";
  EXPECT_GT(report.stats.moves[0][1], 0u) << "nothing was written down from the gpu tier";
}

// The same calls on a pool on a virtual clock (bytes kept), where every wait runs the clock
// and the host also advances it at random: no byte lost, no thread started.
TEST(ModelCheck, EveryCallOnAVirtualClock) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 8, 2048);
  config.policy.eviction = "s3fifo";
  config.policy.prefetch = "sequential:depth=2";
  VirtualDevices devices;
  devices.nvme = {.gbps = 1.0, .write_gbps = 0.5, .latency_us = 50, .queue_depth = 4};
  check::ModelReport report = run(config, dir, 11, 1, devices);
  for (size_t call = 0; call < check::kCallCount; ++call) {
    if (static_cast<check::Call>(call) == check::Call::reopen) continue;  // persistent pools only
    EXPECT_GT(report.calls[call].made, 0u)
        << "the workload never made " << check::to_string(static_cast<check::Call>(call));
  }
  EXPECT_EQ(report.stats.io_engine, "virtual");
  EXPECT_GT(report.stats.moves[1][2], 0u) << "nothing was written down to nvme";
  EXPECT_GT(report.stats.moves[2][1], 0u) << "nothing was read back from nvme";
  EXPECT_GT(report.stats.moves[1][0], 0u) << "nothing reached the gpu tier";
}

// Belady judging next uses by the schedules the workload registers, with the schedule
// prefetcher reading ahead along them: prefetches that would push out a page needed sooner are
// dropped (MigrationEngine::evict_one), among every other call.
TEST(ModelCheck, BeladyWithTheSchedulePrefetcher) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 8, 2048);
  config.policy.eviction = "belady";
  config.policy.prefetch = "schedule";
  check::ModelReport report = run(config, dir, 29);
  EXPECT_GT(made(report, check::Call::schedule), 0u);
  EXPECT_GT(report.stats.prefetch_issued, 0u) << "the schedule prefetcher never read ahead";
}

// W-TinyLFU with the schedule prefetcher: pages in flight hold frames the policy does not
// track and pins hold the window's pages, so its main space lends frames to the window and
// wins them back by contests (policies/wtinylfu.cpp), among every other call.
TEST(ModelCheck, WTinyLfuWithTheSchedulePrefetcher) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 8, 2048);
  config.policy.eviction = "wtinylfu";
  config.policy.prefetch = "schedule";
  check::ModelReport report = run(config, dir, 31);
  EXPECT_GT(report.stats.prefetch_issued, 0u) << "the schedule prefetcher never read ahead";
}

TEST(ModelCheck, ScrubbedFramesAndOnePageTensors) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 8, 4, 1024);
  config.scrub_frames = true;
  check::ModelReport report = run(config, dir, 3, 4);
  EXPECT_GT(made(report, check::Call::pin_write), 0u);
}

TEST(ModelCheck, InjectedFaultsOfEveryKindLoseNoReportedWrite) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 8, 2048);
  config.io.faults = "eio=0.01,enospc.write=0.01,short=0.01,retry=0.01,latency=200us,seed=5";
  config.log_level = "error";  // every failed request is a warning
  check::ModelReport report = run(config, dir, 11);
  EXPECT_GT(report.stats.io_errors, 0u) << "no fault was injected";
  uint64_t io_errors = 0;
  for (const check::CallCounts& c : report.calls) io_errors += c.io_errors;
  EXPECT_GT(io_errors, 0u) << "no injected fault reached a call";
}

TEST(ModelCheck, FaultsOnThePsyncEngine) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 0, 2048);
  config.io.engine = "psync";
  config.io.faults = "eio.read=0.02,eio.write=0.02,short=0.05";
  config.log_level = "error";
  run(config, dir, 19, 4);
}

// A persistent pool, closed and opened again now and then by one thread while the others wait:
// every tensor is found by name with every byte the model has, released ones are gone.
TEST(ModelCheck, APersistentPoolReopenedInTheRunFindsEveryTensorByName) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 8, 2048);
  check::ModelReport report = run(config, dir, 23, 8, {}, true);
  EXPECT_GT(made(report, check::Call::reopen), 0u);
  EXPECT_GT(report.calls[static_cast<size_t>(check::Call::reopen)].succeeded, 0u);
  EXPECT_GT(made(report, check::Call::flush_pool), 0u);
  EXPECT_GT(report.stats.moves[2][1], 0u) << "nothing was read back from nvme";
}

// Flushes of a persistent pool fail under injected write faults; the pool stays usable and a
// later flush and reopen bring back every byte.
TEST(ModelCheck, APersistentPoolWhoseFlushesFailUnderFaultsStaysUsable) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 0, 2048);
  config.io.faults = "eio.write=0.02,enospc.write=0.01,short=0.01,seed=3";
  config.log_level = "error";
  check::ModelReport report = run(config, dir, 29, 8, {}, true);
  EXPECT_GT(report.calls[static_cast<size_t>(check::Call::flush_pool)].io_errors, 0u)
      << "no flush met a fault";
  EXPECT_GT(report.calls[static_cast<size_t>(check::Call::reopen)].succeeded, 0u);
}

check::CrashReport crash(const Config& config, const testing::ScratchDir& dir, uint64_t seed) {
  check::ModelOptions options;
  options.threads = 4;
  options.seconds = model_seconds();
  options.seed = seed;
  options.scratch_dir = dir.path();
  check::CrashReport report = check::run_crash_check(config, options);
  EXPECT_TRUE(report.ok()) << report.to_text();
  EXPECT_GT(report.killed, 0u) << report.to_text();
  EXPECT_GT(report.flushes, 0u) << report.to_text();
  EXPECT_GT(report.tensors_checked, 0u) << report.to_text();
  return report;
}

// The workload's process killed at random moments: the pool holds the tensors of the last
// flush done (or of one under way), all of them, with the bytes the model had then.
TEST(ModelCheck, APersistentPoolKilledAtRandomMomentsHoldsWhatAFlushMadeDurable) {
  testing::ScratchDir dir;
  crash(testing::small_config(dir, 32, 8, 2048), dir, 31);
}

// The same with write faults: a flush that failed left the manifest on disk as it was.
TEST(ModelCheck, AFlushThatFailedUnderFaultsLeftTheDurableStateAsItWas) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 0, 2048);
  config.io.faults = "eio.write=0.03,seed=7";
  config.log_level = "error";
  check::CrashReport report = crash(config, dir, 37);
  EXPECT_GT(report.failed_flushes, 0u) << "no flush met a fault";
}

}  // namespace
}  // namespace tiermem
