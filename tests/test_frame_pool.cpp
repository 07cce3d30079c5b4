// tests/test_frame_pool.cpp: free frames handed out by preference when free, else the lowest
// free one.
#include <gtest/gtest.h>

#include "tiermem/frame_pool.hpp"

namespace tiermem::detail {
namespace {

TEST(FramePool, FreshFramesComeLowestFirst) {
  FramePool pool(4);
  EXPECT_EQ(pool.size(), 4u);
  EXPECT_EQ(pool.take(), 0u);
  EXPECT_EQ(pool.take(), 1u);
  EXPECT_EQ(pool.take(), 2u);
  EXPECT_EQ(pool.take(), 3u);
  EXPECT_TRUE(pool.empty());
}

TEST(FramePool, AWantedFrameWhenFreeElseTheLowestFree) {
  FramePool pool(200);
  for (int i = 0; i < 200; ++i) pool.take();
  pool.give(150);
  pool.give(70);
  pool.give(151);
  EXPECT_EQ(pool.take(150), 150u);  // wanted and free
  EXPECT_EQ(pool.take(150), 70u);   // wanted but taken: the lowest free
  EXPECT_EQ(pool.take(FramePool::kNone), 151u);
  EXPECT_TRUE(pool.empty());
  pool.give(3);
  EXPECT_EQ(pool.take(999), 3u);  // out of range: no preference
}

TEST(FramePool, RefilledPoolsHandOutRunsAgain) {
  FramePool pool(100);
  for (int i = 0; i < 100; ++i) pool.take();
  for (uint32_t f = 100; f > 0; --f) pool.give(f - 1);  // given back last first
  uint32_t first = pool.take();
  EXPECT_EQ(first, 0u);
  for (uint32_t i = 1; i < 100; ++i) EXPECT_EQ(pool.take(first + i), first + i);
}

TEST(FramePool, PreferenceUnderChurnNeverHandsAFrameOutTwice) {
  FramePool pool(130);
  std::vector<uint32_t> held;
  std::vector<bool> out(130, false);
  for (int round = 0; round < 20000; ++round) {
    if (!pool.empty() && (held.size() < 60 || round % 3 != 0)) {
      uint32_t wanted = held.empty() ? FramePool::kNone : held.back() + 1;
      uint32_t f = pool.take(wanted);
      ASSERT_LT(f, 130u);
      ASSERT_FALSE(out[f]) << "frame " << f << " handed out twice";
      out[f] = true;
      held.push_back(f);
    } else if (!held.empty()) {
      size_t i = static_cast<size_t>(round) % held.size();
      out[held[i]] = false;
      pool.give(held[i]);
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
    }
    ASSERT_EQ(pool.size() + held.size(), 130u);
  }
}

}  // namespace
}  // namespace tiermem::detail
