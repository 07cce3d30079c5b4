// tests/test_prefetch.cpp: what each prefetch policy proposes on small access patterns.
#include <gtest/gtest.h>

#include <vector>

#include "policies/prefetch_governor.hpp"
#include "policies/registry.hpp"
#include "policies/schedule_cursor.hpp"

namespace tiermem::policies {
namespace {

struct Recorder final : PrefetchSink {
  std::vector<PrefetchProposal> proposals;
  void propose(const PrefetchProposal& proposal) override { proposals.push_back(proposal); }
  // Every proposed page, in order.
  std::vector<PageId> pages() const {
    std::vector<PageId> out;
    for (const auto& p : proposals) {
      for (uint32_t k = 0; k < p.count; ++k) out.push_back(p.first + k);
    }
    return out;
  }
};

// An access to page `index` of a tensor whose pages start at `base`.
AccessEvent at(PageId base, uint32_t tensor, uint32_t index, uint32_t pages, uint64_t time = 0) {
  return {.page = base + index,
          .time = time,
          .tensor = tensor,
          .index = index,
          .tensor_pages = pages,
          .tier = 1};
}

TEST(Sequential, ProposesTheNextPagesOnceEach) {
  auto policy = make_prefetch_policy("sequential:depth=3", {0, 4096});
  Recorder sink;
  policy->on_access(at(100, 0, 0, 6), sink);
  EXPECT_EQ(sink.pages(), (std::vector<PageId>{101, 102, 103}));
  sink.proposals.clear();
  policy->on_access(at(100, 0, 1, 6), sink);  // the window moves by one page
  EXPECT_EQ(sink.pages(), (std::vector<PageId>{104}));
  sink.proposals.clear();
  policy->on_access(at(100, 0, 4, 6), sink);  // clipped at the tensor's end
  EXPECT_EQ(sink.pages(), (std::vector<PageId>{105}));
  sink.proposals.clear();
  policy->on_access(at(100, 0, 5, 6), sink);
  EXPECT_TRUE(sink.pages().empty());
}

TEST(Sequential, TierParameter) {
  auto policy = make_prefetch_policy("sequential:depth=1,tier=gpu", {0, 4096});
  Recorder sink;
  policy->on_access(at(0, 0, 0, 4), sink);
  ASSERT_EQ(sink.proposals.size(), 1u);
  EXPECT_EQ(sink.proposals[0].tier, 0);
}

TEST(Stride, FollowsAConfirmedStride) {
  auto policy = make_prefetch_policy("stride:depth=2,confirm=2", {0, 4096});
  Recorder sink;
  for (uint32_t index : {0u, 3u, 6u}) policy->on_access(at(0, 7, index, 20), sink);
  EXPECT_TRUE(sink.pages().empty()) << "stride 3 seen once after it was set: not yet trusted";
  policy->on_access(at(0, 7, 9, 20), sink);
  EXPECT_EQ(sink.pages(), (std::vector<PageId>{12, 15}));
  sink.proposals.clear();
  policy->on_access(at(0, 7, 12, 20), sink);
  EXPECT_EQ(sink.pages(), (std::vector<PageId>{18}));
  sink.proposals.clear();
  policy->on_access(at(0, 7, 13, 20), sink);  // the stride broke
  EXPECT_TRUE(sink.pages().empty());
}

TEST(Markov, LearnsTransitions) {
  auto policy = make_prefetch_policy("markov:width=2,depth=2", {0, 4096});
  Recorder sink;
  for (PageId page : {5, 9, 2, 5, 9}) policy->on_access({.page = page}, sink);
  sink.proposals.clear();
  policy->on_access({.page = 2}, sink);  // 2 -> 5 -> 9 learned
  EXPECT_EQ(sink.pages(), (std::vector<PageId>{5, 9}));
}

TEST(Schedule, LearnsTheFirstIterationThenLeads) {
  auto policy = make_prefetch_policy("schedule:depth=2", {0, 4096});
  Recorder sink;
  // Three tensors of two pages each (ids 0-1, 2-3, 4-5), accessed in order, three times.
  uint64_t time = 0;
  std::vector<size_t> proposed;  // proposals after each pass
  for (int round = 0; round < 3; ++round) {
    for (uint32_t tensor = 0; tensor < 3; ++tensor) {
      for (uint32_t index = 0; index < 2; ++index) {
        policy->on_access(at(2 * tensor, tensor, index, 2, time += 10), sink);
      }
    }
    proposed.push_back(sink.proposals.size());
  }
  // The first pass is recorded; in the second, the iteration is confirmed once its first three
  // steps came round again: entering step 2 proposes steps 0 and 1. In the third, entering
  // each step proposes the two after it.
  EXPECT_EQ(proposed, (std::vector<size_t>{0, 2, 8}));
  std::vector<PageId> firsts;
  for (const auto& p : sink.proposals) firsts.push_back(p.first);
  EXPECT_EQ(firsts, (std::vector<PageId>{0, 2, 2, 4, 4, 0, 0, 2}));
  EXPECT_EQ(sink.proposals[0].count, 2u);
}

TEST(Schedule, ARecurringStepAloneIsNotANewIteration) {
  // Steps A B A' C, where A' rewrites A's pages mid-iteration, then the iteration repeats.
  auto policy = make_prefetch_policy("schedule:depth=1", {0, 4096});
  Recorder sink;
  std::vector<PageId> order = {0, 10, 0, 20};
  for (int round = 0; round < 3; ++round) {
    for (PageId page : order) policy->on_access({.page = page}, sink);
  }
  // Learned A B A' C (4 steps, not A B): from C the next step proposed is A (page 0), from A
  // it is B (10), from B it is A' (0), from A' it is C (20).
  std::vector<PageId> firsts;
  for (const auto& p : sink.proposals) firsts.push_back(p.first);
  ASSERT_GE(firsts.size(), 4u);
  EXPECT_EQ(std::vector<PageId>(firsts.end() - 4, firsts.end()),
            (std::vector<PageId>{10, 0, 20, 0}));
}

TEST(Schedule, RegisteredOrderAndBandwidthLead) {
  // 1 GB/s, 4 KiB pages: a 1-page step takes 4.1 us to read. Steps take 100 us each, so with
  // lead=2 only steps due within 2 x their cumulative read time are proposed: none beyond the
  // next until durations are known, then only the next one.
  auto policy = make_prefetch_policy("schedule:depth=4,lead=2,gbps=1", {0, 4096});
  auto schedule = std::make_shared<Schedule>();
  for (PageId page = 0; page < 8; ++page) schedule->steps.push_back({page * 10, 1, 1});
  policy->set_schedule(schedule);
  Recorder sink;
  policy->on_access({.page = 0, .time = 0}, sink);
  EXPECT_EQ(sink.pages(), (std::vector<PageId>{10, 20, 30, 40})) << "durations unknown";
  sink.proposals.clear();
  for (PageId step = 1; step < 8; ++step) {
    policy->on_access({.page = step * 10, .time = step * 100'000}, sink);
  }
  sink.proposals.clear();
  policy->on_access({.page = 0, .time = 800'000}, sink);  // second pass: durations known
  EXPECT_TRUE(sink.pages().empty()) << "100 us until step 1 > 2 x 4.1 us";
  sink.proposals.clear();
  policy->on_access({.page = 10, .time = 899'999}, sink);
  EXPECT_TRUE(sink.pages().empty());
  policy->set_schedule(nullptr);  // withdrawn: back to learning, nothing proposed
  policy->on_access({.page = 20, .time = 900'000}, sink);
  EXPECT_TRUE(sink.pages().empty());
}

TEST(PrefetchGovernor, HoldsBackOnlyPrefetchersThatGuessWrong) {
  // No record yet: a few pages of slack.
  EXPECT_TRUE(prefetch_allowed({}));
  EXPECT_FALSE(prefetch_allowed({.issued = 20}));
  // Every guess used: never held back, however many are open.
  EXPECT_TRUE(prefetch_allowed({.issued = 10'000, .used = 5'000, .demand = 10}));
  // Every guess wasted: waste of 0.2% of the pages fetched for use, and the slack.
  EXPECT_TRUE(prefetch_allowed({.issued = 8, .wasted = 8, .demand = 100}));
  EXPECT_FALSE(prefetch_allowed({.issued = 20, .wasted = 20, .demand = 100}));
  EXPECT_TRUE(prefetch_allowed({.issued = 20, .wasted = 20, .demand = 6'000}));
  EXPECT_FALSE(prefetch_allowed({.issued = 20, .wasted = 20, .demand = 5'000}));
  // Half wasted: open pages count at that rate.
  EXPECT_TRUE(prefetch_allowed({.issued = 300, .used = 100, .wasted = 100, .demand = 100'000}));
  EXPECT_FALSE(prefetch_allowed({.issued = 300, .used = 100, .wasted = 100, .demand = 20'000}));
}

TEST(ScheduleCursor, FollowsPassesAndPredictsNextUses) {
  // Steps: A = pages 0-1, B = page 5, C = pages 0 and 9 (page 0 recurs), over and over.
  auto schedule = std::make_shared<Schedule>();
  schedule->steps = {{0, 2, 1}, {5, 1, 1}, {9, 1, 1}, {0, 1, 1}};
  ScheduleCursor cursor;
  cursor.reset(schedule);
  EXPECT_EQ(cursor.next_use(5), 1u) << "before any access: the first step holding it";
  EXPECT_EQ(cursor.follow(1), 0u);
  EXPECT_EQ(cursor.next_use(0), 3u) << "page 0 comes back at step 3 of this pass";
  EXPECT_EQ(cursor.next_use(1), 4u) << "page 1 only at step 0 of the next pass";
  EXPECT_EQ(cursor.follow(5), 1u);
  EXPECT_EQ(cursor.follow(0), 3u) << "page 0 is searched ahead of the cursor first";
  EXPECT_EQ(cursor.next_use(5), 5u);
  EXPECT_EQ(cursor.follow(0), 0u) << "used again: by step 0 of a new pass, which holds it next";
  EXPECT_EQ(cursor.follow(1), 0u) << "the same step";
  EXPECT_EQ(cursor.next_use(9), 6u);
  EXPECT_EQ(cursor.follow(9), 2u);
  EXPECT_EQ(cursor.follow(9), 2u) << "used again, and no other step holds it: the same step";
  EXPECT_EQ(cursor.next_use(0), 7u);
  EXPECT_EQ(cursor.follow(42), ScheduleCursor::kNoStep);
  EXPECT_EQ(cursor.next_use(42), kNever);
  EXPECT_EQ(cursor.step(), 2u);
  // One step, used over and over: each use of its first page again starts a pass.
  schedule->steps = {{0, 2, 1}};
  cursor.reset(schedule);
  cursor.follow(0);
  cursor.follow(1);
  EXPECT_EQ(cursor.next_use(0), 1u);
  EXPECT_EQ(cursor.follow(0), 0u);
  EXPECT_EQ(cursor.next_use(0), 2u) << "a second pass";
  cursor.reset(nullptr);
  EXPECT_TRUE(cursor.empty());
}

}  // namespace
}  // namespace tiermem::policies
