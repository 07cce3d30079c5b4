// tests/test_page_state.cpp: the state word's transitions taken by the lock-free pin.
#include <gtest/gtest.h>

#include "tiermem/page_state.hpp"

namespace tiermem::detail {
namespace {

PageState with(std::initializer_list<Tier> valid) {
  PageState s;
  for (Tier t : valid) s.set_valid(t, true);
  return s;
}

TEST(PageState, ReadPinNeedsAValidIdleCopy) {
  PageState s = with({Tier::nvme});
  EXPECT_FALSE(try_fast_pin(s, Tier::dram, false));
  s = with({Tier::dram, Tier::nvme});
  ASSERT_TRUE(try_fast_pin(s, Tier::dram, false));
  EXPECT_EQ(s.pins(Tier::dram), 1u);
  EXPECT_TRUE(s.valid(Tier::nvme));  // reading keeps the page clean
  s.set_busy(true);
  EXPECT_FALSE(try_fast_pin(s, Tier::dram, false));
}

TEST(PageState, WritePinMakesThePinnedCopyTheOnlyOneBelow) {
  PageState s = with({Tier::dram, Tier::nvme});
  uint8_t epoch = s.epoch();
  ASSERT_TRUE(try_fast_pin(s, Tier::dram, true));
  EXPECT_FALSE(s.valid(Tier::nvme));
  EXPECT_TRUE(s.dirty());
  EXPECT_EQ(s.writers(), 1u);
  EXPECT_NE(s.epoch(), epoch);
  s.drop_pin(Tier::dram, true);
  EXPECT_EQ(s.writers(), 0u);
  EXPECT_EQ(s.all_pins(), 0u);
}

TEST(PageState, WritePinLeavesOtherTiersToTheEngine) {
  PageState both = with({Tier::gpu, Tier::dram});
  EXPECT_FALSE(try_fast_pin(both, Tier::dram, true));  // the gpu copy must go first
  PageState writing = with({Tier::dram});
  writing.set_writing(true);
  EXPECT_FALSE(try_fast_pin(writing, Tier::dram, true));  // a flush is copying it
  EXPECT_TRUE(try_fast_pin(writing, Tier::dram, false));  // readers may go on
}

TEST(PageState, UnreadPinKeepsTheNvmeCopy) {
  PageState s = with({Tier::dram, Tier::nvme});
  ASSERT_TRUE(try_fast_pin(s, Tier::dram, true, true));
  EXPECT_TRUE(s.valid(Tier::nvme));
}

TEST(PageState, DirtyAndOnlyCopy) {
  EXPECT_FALSE(with({}).dirty());
  EXPECT_TRUE(with({Tier::gpu}).dirty());
  EXPECT_TRUE(with({Tier::gpu}).only_copy_from(Tier::gpu));
  EXPECT_FALSE(with({Tier::gpu, Tier::dram}).only_copy_from(Tier::gpu));
  EXPECT_TRUE(with({Tier::gpu, Tier::dram}).only_copy_from(Tier::dram));
  EXPECT_FALSE(with({Tier::dram, Tier::nvme}).only_copy_from(Tier::dram));
}

}  // namespace
}  // namespace tiermem::detail
