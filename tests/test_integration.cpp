// tests/test_integration.cpp: random data in tensors totalling 4x the DRAM tier, pinned back
// in random order from several threads, every byte checked (tools/stress.cpp's workload).
#include "tests/test_support.hpp"
#include "tiermem/pool.hpp"
#include "tools/stress.hpp"

namespace tiermem {
namespace {

// Tensors totalling 4x the dram tier, 1500 pins from 4 threads; every byte must come back.
tools::StressReport stress_loses_no_byte(Pool& pool, const Config& config, uint64_t seed) {
  tools::StressOptions options;
  options.total_bytes = 4 * config.dram.capacity;
  options.threads = 4;
  options.max_operations = 1500;
  options.seed = seed;
  tools::StressReport report = tools::run_stress(pool, options);
  EXPECT_EQ(report.mismatches, 0u);
  EXPECT_GE(report.bytes_checked, options.total_bytes);
  return report;
}

TEST(Integration, FourTimesOversubscribedFromFourThreadsLosesNoByte) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 64, 0, 1024);  // 4 MiB of dram
  Pool pool(config);
  tools::StressReport report = stress_loses_no_byte(pool, config, 42);
  EXPECT_GT(report.write_pins, 0u);
  Stats stats = pool.stats();
  EXPECT_GT(stats.moves[1][2], 0u) << "nothing was written down to nvme";
  EXPECT_GT(stats.moves[2][1], 0u) << "nothing was read back from nvme";
  EXPECT_EQ(stats.io_errors, 0u);
}

TEST(Integration, ThreeTiersFromFourThreadsLoseNoByte) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 32, 16, 1024);
  Pool pool(config);
  tools::StressReport report = stress_loses_no_byte(pool, config, 7);
  EXPECT_GT(report.write_pins, 0u);
  Stats stats = pool.stats();
  EXPECT_GT(stats.moves[1][0], 0u) << "nothing reached the gpu tier";
  EXPECT_GT(stats.moves[0][1], 0u) << "nothing was written down from the gpu tier";
}

}  // namespace
}  // namespace tiermem
