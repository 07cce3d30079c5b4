// tests/test_locked_arena.cpp: the arena behind LockedBuffer: aligned runs, reuse of freed runs
// and chunks, merging of freed neighbours, large runs, many threads at once.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "tiermem/locked_arena.hpp"

namespace tiermem::detail {
namespace {

TEST(LockedArena, RunsAreWholeAlignedUnitsOfOneChunk) {
  LockedArena arena;  // a fresh one, not the process's, so that sizes are exact
  LockedArena::Run a = arena.allocate(100);
  EXPECT_EQ(a.size, LockedArena::kUnit);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % LockedArena::kUnit, 0u);
  LockedArena::Run b = arena.allocate(LockedArena::kUnit + 1);
  EXPECT_EQ(b.size, 2 * LockedArena::kUnit);
  EXPECT_EQ(b.data, a.data + a.size);  // first fit in the same chunk
  EXPECT_EQ(arena.mapped_bytes(), LockedArena::kChunk);
  std::memset(a.data, 1, a.size);
  std::memset(b.data, 2, b.size);
  arena.free(a.data, a.size);
  arena.free(b.data, b.size);
}

TEST(LockedArena, FreedRunsAreReusedAndMergedWithoutMappingMore) {
  LockedArena arena;
  constexpr size_t kRun = 512 << 10;  // four of them fill a chunk
  std::vector<LockedArena::Run> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(arena.allocate(kRun));
  EXPECT_EQ(arena.mapped_bytes(), LockedArena::kChunk);
  arena.free(runs[1].data, kRun);
  arena.free(runs[2].data, kRun);
  LockedArena::Run both = arena.allocate(2 * kRun);  // the two freed neighbours, merged
  EXPECT_EQ(both.data, runs[1].data);
  EXPECT_EQ(arena.mapped_bytes(), LockedArena::kChunk);
  arena.free(both.data, both.size);
  arena.free(runs[0].data, kRun);
  arena.free(runs[3].data, kRun);
}

TEST(LockedArena, ALargeRunGetsAChunkOfItsOwnThatIsKept) {
  LockedArena arena;
  LockedArena::Run small = arena.allocate(4096);
  constexpr size_t kLarge = 5 * LockedArena::kChunk + 4096;
  LockedArena::Run large = arena.allocate(kLarge);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large.data) % LockedArena::kChunk, 0u);
  EXPECT_EQ(arena.mapped_bytes(), LockedArena::kChunk + 6 * LockedArena::kChunk);
  std::memset(large.data, 3, large.size);
  arena.free(large.data, large.size);
  LockedArena::Run again = arena.allocate(kLarge);
  EXPECT_EQ(again.data, large.data);
  EXPECT_EQ(arena.mapped_bytes(), 7 * LockedArena::kChunk);
  arena.free(again.data, again.size);
  arena.free(small.data, small.size);
}

TEST(LockedArena, ThreadsAllocateAndFreeAtOnceWithoutSharingBytes) {
  LockedArena arena;
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        size_t bytes = 4096 * (1 + (i * 7 + t) % 64);
        LockedArena::Run run = arena.allocate(bytes);
        auto mark = static_cast<unsigned char>(t * 50 + i % 50);
        std::memset(run.data, mark, run.size);
        std::this_thread::yield();
        for (size_t k = 0; k < run.size; k += 512) {
          if (static_cast<unsigned char>(run.data[k]) != mark) ++bad[t];
        }
        arena.free(run.data, run.size);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace tiermem::detail
