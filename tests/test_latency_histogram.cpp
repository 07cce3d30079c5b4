// tests/test_latency_histogram.cpp: the latency histogram of `tiermem io` gives percentiles
// within its bucket width (1/32 of a power of two), from many threads at once.
#include "tools/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tiermem::tools {
namespace {

TEST(LatencyHistogram, PercentilesLieWithinOneBucketOfTheTruth) {
  LatencyHistogram histogram;
  // 1..100000 ns once each: the q-quantile is about q * 100000.
  for (uint64_t ns = 1; ns <= 100'000; ++ns) histogram.record(ns);
  for (double q : {0.01, 0.5, 0.9, 0.99}) {
    double truth = q * 100'000;
    EXPECT_NEAR(histogram.quantile_ns(q), truth, truth / 32 + 1) << q;
  }
  EXPECT_EQ(histogram.max_ns(), 100'000u);
  EXPECT_LE(histogram.quantile_ns(1.0), 100'000.0);
}

TEST(LatencyHistogram, SmallValuesAreExactAndEmptyIsZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.quantile_ns(0.5), 0.0);
  for (int i = 0; i < 3; ++i) histogram.record(7);
  histogram.record(20);
  EXPECT_NEAR(histogram.quantile_ns(0.5), 7, 0.5);
  EXPECT_NEAR(histogram.quantile_ns(1.0), 20, 0.5);
}

TEST(LatencyHistogram, CountsEveryRecordFromManyThreads) {
  LatencyHistogram histogram;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10'000; ++i) histogram.record(t < 2 ? 1'000 : 1'000'000);
    });
  }
  for (auto& thread : threads) thread.join();
  // Half at 1 us, half at 1 ms.
  EXPECT_NEAR(histogram.quantile_ns(0.25), 1'000, 1'000 / 32);
  EXPECT_NEAR(histogram.quantile_ns(0.75), 1'000'000, 1'000'000 / 32);
  EXPECT_EQ(histogram.max_ns(), 1'000'000u);
}

}  // namespace
}  // namespace tiermem::tools
