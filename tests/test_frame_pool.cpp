// tests/test_frame_pool.cpp: free frames handed out lowest first, by preference when free,
// and the most recently freed otherwise.
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

TEST(FramePool, AWantedFrameWhenFreeElseTheLastFreed) {
  FramePool pool(8);
  for (int i = 0; i < 8; ++i) pool.take();
  pool.give(5);
  pool.give(2);
  pool.give(6);
  EXPECT_EQ(pool.take(5), 5u);  // wanted and free
  EXPECT_EQ(pool.take(5), 6u);  // wanted but taken: the last freed
  EXPECT_EQ(pool.take(FramePool::kNone), 2u);
  EXPECT_TRUE(pool.empty());
  pool.give(3);
  EXPECT_EQ(pool.take(99), 3u);  // out of range: no preference
}

TEST(FramePool, PreferenceUnderChurnNeverHandsAFrameOutTwice) {
  FramePool pool(16);
  std::vector<uint32_t> held;
  std::vector<bool> out(16, false);
  for (int round = 0; round < 10000; ++round) {
    if (!pool.empty() && (held.size() < 8 || round % 3 != 0)) {
      uint32_t wanted = held.empty() ? FramePool::kNone : held.back() + 1;
      uint32_t f = pool.take(wanted);
      ASSERT_LT(f, 16u);
      ASSERT_FALSE(out[f]) << "frame " << f << " handed out twice";
      out[f] = true;
      held.push_back(f);
    } else if (!held.empty()) {
      uint32_t f = held[round % held.size()];
      held.erase(held.begin() + round % held.size());
      out[f] = false;
      pool.give(f);
    }
    ASSERT_EQ(pool.size() + held.size(), 16u);
  }
}

}  // namespace
}  // namespace tiermem::detail
