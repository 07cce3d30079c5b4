// tests/test_extent_allocator.cpp: first fit, runs, merging on free.
#include <gtest/gtest.h>

#include "tiermem/extent_allocator.hpp"

namespace tiermem::detail {
namespace {

TEST(ExtentAllocator, FirstFitAndExhaustion) {
  ExtentAllocator a(10);
  EXPECT_EQ(a.allocate(4), 0u);
  EXPECT_EQ(a.allocate(4), 4u);
  EXPECT_EQ(a.allocate(3), std::nullopt);
  EXPECT_EQ(a.allocate(2), 8u);
  EXPECT_EQ(a.free_units(), 0u);
}

TEST(ExtentAllocator, FreeMergesNeighboursBothWays) {
  ExtentAllocator a(12);
  a.allocate(4);
  a.allocate(4);
  a.allocate(4);
  a.free(0, 4);
  a.free(8, 4);
  EXPECT_EQ(a.allocate(8), std::nullopt);  // two holes of 4, not adjacent
  a.free(4, 4);                            // joins both
  EXPECT_EQ(a.allocate(12), 0u);
}

TEST(ExtentAllocator, RunsTakeWhatIsFreeLowestFirstOrNothing) {
  ExtentAllocator a(10);
  a.allocate(2);                  // [0,2)
  uint64_t mid = *a.allocate(3);  // [2,5)
  a.allocate(5);                  // [5,10)
  a.free(0, 2);
  a.free(mid + 1, 2);  // [3,5)
  std::vector<Extent> runs;
  EXPECT_FALSE(a.allocate_runs(5, runs));
  EXPECT_TRUE(runs.empty());
  EXPECT_EQ(a.free_units(), 4u);
  EXPECT_TRUE(a.allocate_runs(3, runs));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].first, 0u);
  EXPECT_EQ(runs[0].count, 2u);
  EXPECT_EQ(runs[1].first, 3u);
  EXPECT_EQ(runs[1].count, 1u);
  EXPECT_EQ(a.free_units(), 1u);
}

}  // namespace
}  // namespace tiermem::detail
