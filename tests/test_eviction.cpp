// tests/test_eviction.cpp: golden miss counts for every eviction policy, worked out by hand,
// victim filtering, and the property that Belady never misses more than any other policy.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "policies/registry.hpp"

namespace tiermem::policies {
namespace {

struct AcceptAll final : VictimFilter {
  bool evictable(PageId) const override { return true; }
};

struct Refuse final : VictimFilter {
  std::set<PageId> pinned;
  bool evictable(PageId page) const override { return !pinned.contains(page); }
};

// A demand-paged cache of `capacity` pages driven by `policy`: on a miss with the cache full
// it names the page it makes room for, evicts the victim, then inserts the page (the order a
// pool uses).
struct Replay {
  uint64_t misses = 0;
  std::set<PageId> resident;
};

Replay replay(const std::string& spec, uint64_t capacity, const std::vector<PageId>& trace) {
  auto policy = make_eviction_policy(spec, {capacity, 4096});
  // next_use[i]: the position of the next access to trace[i], as a trace oracle gives it.
  std::vector<uint64_t> next_use(trace.size(), kNever);
  std::vector<uint64_t> seen;
  for (size_t i = trace.size(); i-- > 0;) {
    if (trace[i] >= seen.size()) seen.resize(trace[i] + 1, kNever);
    next_use[i] = seen[trace[i]];
    seen[trace[i]] = i;
  }
  Replay result;
  AcceptAll all;
  for (size_t i = 0; i < trace.size(); ++i) {
    AccessEvent event{.page = trace[i], .time = i, .next_use = next_use[i]};
    if (result.resident.contains(trace[i])) {
      policy->touch(event);
      continue;
    }
    ++result.misses;
    if (result.resident.size() == capacity) {
      policy->make_room_for(trace[i]);
      std::optional<PageId> victim = policy->victim(all);
      if (!victim) {
        ADD_FAILURE() << spec << " named no victim with " << capacity << " pages resident";
        return result;
      }
      EXPECT_TRUE(result.resident.contains(*victim)) << spec << " named untracked " << *victim;
      policy->evict(*victim);
      result.resident.erase(*victim);
    }
    policy->insert(event);
    EXPECT_EQ(policy->size(), result.resident.size() + 1) << spec;
    result.resident.insert(trace[i]);
  }
  return result;
}

// Pages 0 .. pages-1 in order, passes times over.
std::vector<PageId> loop(int passes, PageId pages) {
  std::vector<PageId> trace;
  for (int pass = 0; pass < passes; ++pass) {
    for (PageId page = 0; page < pages; ++page) trace.push_back(page);
  }
  return trace;
}

// The classic reference string of Belady's anomaly.
const std::vector<PageId> kTrace = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};

TEST(Golden, Lru) {
  // C=3. 1 2 3 miss; 4 evicts 1, 1 evicts 2, 2 evicts 3, 5 evicts 4 -> [1 2 5];
  // 1 hit, 2 hit -> order 5 1 2; 3 evicts 5, 4 evicts 1, 5 evicts 2 -> {3 4 5}. 10 misses.
  Replay r = replay("lru", 3, kTrace);
  EXPECT_EQ(r.misses, 10u);
  EXPECT_EQ(r.resident, (std::set<PageId>{3, 4, 5}));
}

TEST(Golden, LruLargerCache) {
  // C=4. 1 2 3 4 miss; 1 2 hit -> order 3 4 1 2; 5 evicts 3; 1 2 hit -> 4 5 1 2;
  // 3 evicts 4, 4 evicts 5, 5 evicts 1 -> {2 3 4 5}. 8 misses.
  Replay r = replay("lru", 4, kTrace);
  EXPECT_EQ(r.misses, 8u);
  EXPECT_EQ(r.resident, (std::set<PageId>{2, 3, 4, 5}));
}

TEST(Golden, Fifo) {
  // C=3. 4 evicts 1, 1 evicts 2, 2 evicts 3, 5 evicts 4 -> queue 1 2 5; 1 2 hit (no
  // reorder); 3 evicts 1, 4 evicts 2 -> 5 3 4; 5 hit. 9 misses (Belady's anomaly: C=4 has 10).
  Replay r = replay("fifo", 3, kTrace);
  EXPECT_EQ(r.misses, 9u);
  EXPECT_EQ(r.resident, (std::set<PageId>{3, 4, 5}));
  EXPECT_EQ(replay("fifo", 4, kTrace).misses, 10u);
}

TEST(Golden, Clock) {
  // C=3, pages enter with a clear bit. 4, 1, 2, 5 each find the hand on a clear bit and evict
  // 1, 2, 3, 4 -> ring 1 2 5. 1 and 2 hit and set their bits. 3: the hand clears 1 and 2 and
  // evicts 5 -> ring 1 2 3 (all clear); 4 evicts 1, 5 evicts 2 -> {3 4 5}. 10 misses.
  Replay r = replay("clock", 3, kTrace);
  EXPECT_EQ(r.misses, 10u);
  EXPECT_EQ(r.resident, (std::set<PageId>{3, 4, 5}));
}

TEST(Golden, ClockSecondChance) {
  // C=2. 1 2 miss; 1 hit sets its bit; 3: hand clears 1 (moves on), evicts 2 -> ring 1 3;
  // 1 hit sets the bit again; 4: clears 1, evicts 3 -> {1 4}. LRU would do the same here, FIFO
  // would have evicted 1 at 3. 4 misses.
  Replay r = replay("clock", 2, {1, 2, 1, 3, 1, 4});
  EXPECT_EQ(r.misses, 4u);
  EXPECT_EQ(r.resident, (std::set<PageId>{1, 4}));
  EXPECT_EQ(replay("fifo", 2, {1, 2, 1, 3, 1, 4}).misses, 5u);
}

TEST(Golden, Lfu) {
  // C=3, all counts 1 until the hits: 4, 1, 2, 5 evict the oldest count-1 pages 1, 2, 3, 4;
  // 1 and 2 hit (count 2); 3 evicts 5, 4 evicts 3, 5 evicts 4 (the only count-1 page each
  // time) -> {1 2 5}. 10 misses.
  Replay r = replay("lfu", 3, kTrace);
  EXPECT_EQ(r.misses, 10u);
  EXPECT_EQ(r.resident, (std::set<PageId>{1, 2, 5}));
}

TEST(Golden, TwoQ) {
  // C=4: A1in share 1 page, A1out 2 ids. 1 2 3 4 miss into A1in; 1 2 hit (A1in: no change).
  // 5: A1in over its share, evict 1 -> A1out [1]. 1: evict 2 -> A1out [1 2], 1 was in A1out
  // -> Am [1]. 2: evict 3 -> A1out, 2 -> Am [1 2]. 3: evict 4, 3 -> Am [1 2 3]. A1in holds 5
  // alone (at its share): 4 evicts Am's LRU 1, 4 was in A1out -> Am [2 3 4]. 5 hits in A1in.
  // 9 misses, {2 3 4 5}.
  Replay r = replay("2q", 4, kTrace);
  EXPECT_EQ(r.misses, 9u);
  EXPECT_EQ(r.resident, (std::set<PageId>{2, 3, 4, 5}));
}

TEST(Golden, Arc) {
  // C=3, p=0. 1 2 3 into T1. 4, 1, 2, 5 each find |T1| + |B1| = c with B1 empty: T1's LRU
  // goes, not remembered (case IV). 1 2 hit -> T2 [1 2], T1 [5]. 3 evicts 5 -> B1 [5]; 4
  // evicts 3 -> B1 [5 3]. 5 is in B1: p = 1 before REPLACE, so |T1| = 1 is not above p and T2's
  // LRU, 1, goes -> B2 [1]; 5 -> T2. 10 misses, {2 4 5}.
  Replay r = replay("arc", 3, kTrace);
  EXPECT_EQ(r.misses, 10u);
  EXPECT_EQ(r.resident, (std::set<PageId>{2, 4, 5}));
}

TEST(Golden, ArcAdaptingOnInsert) {
  // C=3, p=0. 1 2 3 into T1. 4, 1, 2, 5 each evict T1's LRU (|T1| > p) into B1, whose entry
  // is dropped again because |T1|+|B1| > c. 1 2 hit -> T2 [1 2], T1 [5]. 3 evicts 5 -> B1 [5];
  // 4 evicts 3 -> B1 [5 3]; 5 evicts 4 -> B1 [5 3 4], then 5 is a B1 hit: p = 1, 5 -> T2.
  // 10 misses, {1 2 5}.
  Replay r = replay("arc:adapt=insert", 3, kTrace);
  EXPECT_EQ(r.misses, 10u);
  EXPECT_EQ(r.resident, (std::set<PageId>{1, 2, 5}));
}

TEST(Golden, S3Fifo) {
  // C=3: S share 1 page, G 2 ids, promotion after 1 access. 1 2 3 into S. 4 evicts 1 -> G
  // [1]. 1 evicts 2 -> G [1 2]; 1 is a ghost -> M [1]. 2 evicts 3; 2 ghost -> M [1 2], G [3].
  // 5 evicts 4 -> G [3 4], S [5]. 1 2 hit (count 1). 3 evicts 5 -> G [3 4 5]; 3 ghost -> M
  // [1 2 3], G [4 5]. 4: S empty, M's hand gives 1 and 2 another pass (count 0), evicts 3;
  // 4 ghost -> M [1 2 4]. 5: M evicts 1; 5 ghost -> M [2 4 5]. 10 misses, {2 4 5}.
  Replay r = replay("s3fifo:move=1", 3, kTrace);
  EXPECT_EQ(r.misses, 10u);
  EXPECT_EQ(r.resident, (std::set<PageId>{2, 4, 5}));
}

TEST(Golden, S3FifoPromotesAfterTwoAccessesByDefault) {
  // libCacheSim's threshold: a page leaves the small FIFO for the main one after 2 accesses.
  // C=3: 1 2 3 in S, 1 hit once. 4: the scan from S's tail finds 1 with one access: with
  // move=1 it goes to M and 2 is evicted, so the last 1 hits (4 misses); by default 1 is
  // evicted, and the last 1 misses (5).
  const std::vector<PageId> trace = {1, 2, 3, 1, 4, 1};
  EXPECT_EQ(replay("s3fifo:move=1", 3, trace).misses, 4u);
  EXPECT_EQ(replay("s3fifo", 3, trace).misses, 5u);
  // The same on the reference string: 10 misses, {2 4 5}, reached another way (1 and 2 enter
  // M as ghosts rather than by promotion).
  Replay r = replay("s3fifo", 3, kTrace);
  EXPECT_EQ(r.misses, 10u);
  EXPECT_EQ(r.resident, (std::set<PageId>{2, 4, 5}));
}

TEST(Golden, Sieve) {
  // C=3, the hand starts at the oldest page. 1 2 3 in. 4 evicts 1 (hand to 2); 1 evicts 2;
  // 2 evicts 3; 5 evicts 4 (hand to 1): [5 2 1]. 1 2 hit: visited. 3: the hand clears 1 and 2,
  // evicts 5 and wraps to 1. 4 evicts 1, 5 evicts 2. 10 misses, {3 4 5}.
  Replay r = replay("sieve", 3, kTrace);
  EXPECT_EQ(r.misses, 10u);
  EXPECT_EQ(r.resident, (std::set<PageId>{3, 4, 5}));
}

TEST(Golden, Lirs) {
  // C=3: 2 LIR frames, 1 HIR. 1 2 become LIR, 3 HIR. 4 evicts 3 (a ghost in S), 4 HIR. 1 2
  // hit; S is pruned down to [2 1]. 5 evicts 4 (out of S: forgotten). 1 2 hit. 3 evicts 5, 4
  // evicts 3, 5 evicts 4. 8 misses, {1 2 5}: the LIR pages 1 and 2 never leave.
  Replay r = replay("lirs", 3, kTrace);
  EXPECT_EQ(r.misses, 8u);
  EXPECT_EQ(r.resident, (std::set<PageId>{1, 2, 5}));
}

TEST(Golden, LirsKeepsPartOfALoopLargerThanTheCache) {
  // Pages 0-9 in a loop, ten times, through 6 frames (5 LIR, 1 HIR). The first pass misses
  // all ten and leaves 0-4 LIR; each later pass hits 0-4 and misses 5-9, which take turns in
  // the one HIR frame: 10 + 9 x 5 = 55 misses. LRU misses all 100.
  EXPECT_EQ(replay("lirs", 6, loop(10, 10)).misses, 55u);
  EXPECT_EQ(replay("lru", 6, loop(10, 10)).misses, 100u);
}

TEST(Golden, LirsQHitDemotesByDefault) {
  // C=4 with hir=0.5: 2 LIR frames, 2 HIR. 1 2 become LIR, 3 4 HIR; 1 2 hit, and S is pruned
  // to [2 1]: 3 and 4 are only in Q. 3 hits. By default (libCacheSim), S's least recent LIR
  // page 1 becomes HIR, and Q [1 3], full, pushes 4 out: 4 is the next victim, and 5 takes its
  // frame as LIR (the LIR set has room). 6 evicts 3, 7 evicts 1, and the last 1 misses: 8.
  // qhit=stay: 3 only moves to Q's front; 5 evicts 4, 6 evicts 3, 7 evicts 5, and 1, LIR, hits.
  const std::vector<PageId> trace = {1, 2, 3, 4, 1, 2, 3, 5, 6, 7, 1};
  Replay demote = replay("lirs:hir=0.5", 4, trace);
  EXPECT_EQ(demote.misses, 8u);
  EXPECT_EQ(demote.resident, (std::set<PageId>{1, 2, 5, 7}));
  Replay stay = replay("lirs:hir=0.5,qhit=stay", 4, trace);
  EXPECT_EQ(stay.misses, 7u);
  EXPECT_EQ(stay.resident, (std::set<PageId>{1, 2, 6, 7}));
}

TEST(Golden, LirsStackBoundForgetsTheOldestGhosts) {
  // C=3: 1 2 LIR, 3 HIR; 4 evicts 3, a ghost: S [4 3 2 1]. By default (S holds 6) 3 is back
  // while remembered and becomes LIR, as 4 then does; the last 1, made HIR by them, was evicted
  // by 4: 7 misses. With stack=1 S holds 3 entries, forgets 3 at once, and later 4: both come
  // back HIR, each evicting the other, and 1 stays LIR: 6 misses.
  const std::vector<PageId> trace = {1, 2, 3, 4, 3, 4, 1};
  EXPECT_EQ(replay("lirs", 3, trace).misses, 7u);
  EXPECT_EQ(replay("lirs:stack=1", 3, trace).misses, 6u);
}

TEST(Victim, LirsTakesTheMostRecentLirPageWhenNoHirPageCanGo) {
  // C=3: 1 2 LIR, 3 HIR, pinned.
  Refuse refuse;
  refuse.pinned = {3};
  for (auto [spec, expected] : {std::pair{"lirs", 2}, std::pair{"lirs:lir=oldest", 1}}) {
    auto policy = make_eviction_policy(spec, {3, 4096});
    for (PageId page = 1; page <= 3; ++page) policy->insert({.page = page, .time = page});
    EXPECT_EQ(policy->victim(refuse), PageId(expected)) << spec;
  }
}

TEST(Golden, Moe) {
  // C=3, counts kept for pages that left; the least counted goes, the most recent among
  // equals. 1 2 3 in (count 1). 4 evicts 3, the newest count-1 page. 1 2 hit (count 2). 5
  // evicts 4. 1 2 hit (3). 3 (count 2 now) evicts 5; 4 (2) evicts 3; 5 (2) evicts 4. 8 misses.
  Replay r = replay("moe:period=1000", 3, kTrace);
  EXPECT_EQ(r.misses, 8u);
  EXPECT_EQ(r.resident, (std::set<PageId>{1, 2, 5}));
  // A loop's pages are all counted alike: the most recent goes, so 0-4 stay (as with LIRS).
  EXPECT_EQ(replay("moe:period=1000", 6, loop(10, 10)).misses, 55u);
}

TEST(Golden, WTinyLfu) {
  // C=3: the window's 1% rounds to no frame, so the main space has all 3 (probation 0, protected
  // 2), and the window is unbounded, as in libCacheSim. 1 2 3 fill the window. 4: the full tier
  // moves the window's oldest into the main space while it has room (1 2 into protected, 3
  // overflowing into probation); the window empty, the main space's victim, 3, goes. 1 2 hit in
  // protected. 5, 3, 4, 5 each move the page before them into probation, whence it goes. 8
  // misses, {1 2 5}.
  Replay r = replay("wtinylfu", 3, kTrace);
  EXPECT_EQ(r.misses, 8u);
  EXPECT_EQ(r.resident, (std::set<PageId>{1, 2, 5}));
}

// A pin of every frame leaves no window page to go: the main space lends its frames, here all
// of them. Once the pin is over it must win them back, or the policy is an LRU window for good:
// hot pages 0-4 between scans of 250 new pages, which an LRU of 200 frames misses every time.
TEST(Golden, WTinyLfuWinsBackTheFramesItLent) {
  constexpr uint64_t kFrames = 200;
  auto policy = make_eviction_policy("wtinylfu", {kFrames, 4096});
  Refuse filter;
  std::set<PageId> resident;
  uint64_t time = 0;
  uint64_t hot_misses = 0;
  auto access = [&](PageId page) {
    AccessEvent event{.page = page, .time = ++time};
    if (resident.contains(page)) return policy->touch(event);
    if (page < 5) ++hot_misses;
    if (resident.size() == kFrames) {
      policy->make_room_for(page);
      std::optional<PageId> victim = policy->victim(filter);
      ASSERT_TRUE(victim.has_value());
      policy->evict(*victim);
      resident.erase(*victim);
    }
    policy->insert(event);
    resident.insert(page);
  };
  PageId next = 1000;
  auto rounds = [&](int count) {
    hot_misses = 0;
    for (int round = 0; round < count; ++round) {
      for (PageId page = 0; page < 5; ++page) access(page);
      for (int k = 0; k < 250; ++k) access(next++);
    }
  };
  rounds(20);
  EXPECT_LE(hot_misses, 5u) << "the hot pages miss before any pin";
  for (uint64_t k = 0; k < kFrames; ++k) {  // each page pinned as it comes
    filter.pinned.insert(next);
    access(next++);
  }
  filter.pinned.clear();
  rounds(10);
  rounds(10);
  EXPECT_EQ(hot_misses, 0u) << "the hot pages still miss: the main space stayed lent";
}

TEST(Golden, WTinyLfuWithACountMinSketch) {
  // C=3: a window of 1, probation and protected (1) sharing 2. 1 2 3 fill it: window [3],
  // probation [2 1]. 4: the window's 3 (used once) contests probation's 1 (once): a tie, so 3
  // goes. 1 2 hit: protected, then 1 steps down to probation. 5: window's 4 (once) against 1
  // (twice): 4 goes. 1 2 hit. 3, 4, 5 (twice each by then) each lose to 1 (three times) and
  // evict the window's last newcomer. 8 misses, {1 2 5}.
  Replay r = replay("wtinylfu:sketch=cms", 3, kTrace);
  EXPECT_EQ(r.misses, 8u);
  EXPECT_EQ(r.resident, (std::set<PageId>{1, 2, 5}));
}

TEST(Golden, Belady) {
  // C=3. 4: next uses 1@4 2@5 3@9 -> evict 3. 1 2 hit. 5: 1@7 2@8 4@10 -> evict 4. 1 2 hit.
  // 3: 1 and 2 never again -> evict one; 4: evict a never-again page; 5 hits. 7 misses, the
  // optimum for this string.
  EXPECT_EQ(replay("belady", 3, kTrace).misses, 7u);
  EXPECT_EQ(replay("belady", 4, kTrace).misses, 6u);  // 5 evicts 3 or 4 (3@9 4@10): 4; +4.
}

TEST(Victim, SkipsRefusedPages) {
  AcceptAll all;
  Refuse refuse;
  for (const auto& entry : eviction_policies()) {
    auto policy = make_eviction_policy(entry.name, {4, 4096});
    for (PageId page = 0; page < 4; ++page) {
      policy->insert({.page = page, .time = page, .next_use = 100 + page});
    }
    std::optional<PageId> first = policy->victim(all);
    ASSERT_TRUE(first.has_value()) << entry.name;
    refuse.pinned = {*first};
    std::optional<PageId> second = policy->victim(refuse);
    ASSERT_TRUE(second.has_value()) << entry.name;
    EXPECT_NE(*second, *first) << entry.name;
    refuse.pinned = {0, 1, 2, 3};
    EXPECT_FALSE(policy->victim(refuse).has_value()) << entry.name;
    EXPECT_EQ(policy->size(), 4u) << entry.name << ": victim() must only peek";
    policy->remove(*second);
    policy->evict(*first);
    EXPECT_EQ(policy->size(), 2u) << entry.name;
    refuse.pinned = {};
    std::optional<PageId> third = policy->victim(refuse);
    ASSERT_TRUE(third.has_value());
    EXPECT_NE(*third, *first);
    EXPECT_NE(*third, *second);
  }
}

TEST(Property, BeladyNeverMissesMoreThanAnyPolicy) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 40; ++round) {
    uint64_t pages = 4 + rng() % 40;
    uint64_t capacity = 1 + rng() % pages;
    std::vector<PageId> trace(200 + rng() % 800);
    // Mix uniform, hot-set and looping references so that every policy gets its best case.
    for (size_t i = 0; i < trace.size(); ++i) {
      switch (rng() % 3) {
        case 0:
          trace[i] = rng() % pages;
          break;
        case 1:
          trace[i] = rng() % std::max<uint64_t>(1, pages / 4);
          break;
        default:
          trace[i] = i % pages;
          break;
      }
    }
    uint64_t optimum = replay("belady", capacity, trace).misses;
    for (const auto& entry : eviction_policies()) {
      EXPECT_LE(optimum, replay(std::string(entry.name), capacity, trace).misses)
          << entry.name << " beat Belady: round " << round << ", capacity " << capacity;
    }
  }
}

}  // namespace
}  // namespace tiermem::policies
