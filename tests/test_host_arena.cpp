// tests/test_host_arena.cpp: frames, how they reach tensor views, and the arena's choices.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <cstring>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "support/memory_usage.hpp"
#include "tests/test_support.hpp"
#include "tiermem/host_arena.hpp"

namespace tiermem::detail {
namespace {

HostArenaOptions options(std::string huge_pages = "off") {
  return {.name = "test",
          .frame_size = 2 << 20,
          .frames = 4,
          .huge_pages = std::move(huge_pages),
          .lock = true,
          .numa_node = -1,
          .view_pages = 8};
}

TEST(HostArena, FramesAreDistinctZeroedMemory) {
  HostArena arena(options());
  for (uint32_t f = 0; f < arena.frame_count(); ++f) {
    EXPECT_EQ(arena.frame_address(f), arena.base() + f * arena.frame_size());
    EXPECT_EQ(arena.frame_address(f)[12345], std::byte{0});
  }
  EXPECT_EQ(arena.bytes(), 8u << 20);
}

TEST(HostArena, APlaceInTheViewSharesTheFramesBytes) {
  HostArena arena(options());
  std::byte* view = arena.view_base();
  arena.map(view + arena.frame_size(), 2);  // page id 1 shows frame 2
  std::memset(arena.frame_address(2), 0x5a, 64);
  EXPECT_EQ(view[arena.frame_size() + 63], std::byte{0x5a});
  view[arena.frame_size()] = std::byte{0x11};
  EXPECT_EQ(arena.frame_address(2)[0], std::byte{0x11});
  arena.unmap(view + arena.frame_size(), arena.frame_size());
  arena.map(view + 7 * arena.frame_size(), 2);  // the same frame, elsewhere: the bytes follow
  EXPECT_EQ(view[7 * arena.frame_size()], std::byte{0x11});
  arena.unmap(view, 8 * arena.frame_size());
}

TEST(HostArena, AnonymousFramesMoveToTheirPlacesAndBackHome) {
  HostArena arena(options());
  const uint64_t size = arena.frame_size();
  std::byte* place = arena.view_base() + 3 * size;
  std::memset(arena.frame_address(1), 0x42, size);
  arena.map(place, 1);
  EXPECT_EQ(arena.frame_address(1), place);
  EXPECT_EQ(arena.home_address(1), arena.base() + size);
  EXPECT_EQ(place[size - 1], std::byte{0x42});
  place[0] = std::byte{0x17};
  // A range with empty places: only the places that show frames give them back.
  arena.unmap(arena.view_base(), 8 * size);
  EXPECT_EQ(arena.frame_address(1), arena.base() + size);
  EXPECT_EQ(arena.frame_address(1)[0], std::byte{0x17});
  EXPECT_EQ(arena.frame_address(1)[size - 1], std::byte{0x42});
}

TEST(HostArena, AFrameStillAtAnOldPlaceMovesOnFromThere) {
  // What a failed unmap leaves: the frame at its old place, handed out again.
  HostArena arena(options());
  const uint64_t size = arena.frame_size();
  arena.map(arena.view_base(), 0);
  arena.frame_address(0)[5] = std::byte{0x33};
  arena.map(arena.view_base() + 5 * size, 0);
  EXPECT_EQ(arena.frame_address(0), arena.view_base() + 5 * size);
  EXPECT_EQ(arena.frame_address(0)[5], std::byte{0x33});
  arena.unmap(arena.view_base(), size);  // the old place no longer shows it
  EXPECT_EQ(arena.frame_address(0), arena.view_base() + 5 * size);
  arena.unmap(arena.view_base() + 5 * size, size);
  EXPECT_EQ(arena.frame_address(0), arena.base());
}

TEST(HostArena, MovesNeverLeaveAddressesThatAnotherMappingCouldTake) {
  // A move that unmapped its old addresses before reserving them again let another thread's
  // mmap (a new thread's stack, in the crash check) be given them, then overwrote it. Another
  // thread maps, fills and checks memory while frames move back and forth.
  HostArena arena(options());
  const uint64_t size = arena.frame_size();
  std::atomic<bool> moving{true};
  std::atomic<uint64_t> clobbered{0};
  std::thread mapper([&] {
    while (moving.load()) {
      void* raw = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      ASSERT_NE(raw, MAP_FAILED);
      auto* bytes = static_cast<volatile unsigned char*>(raw);
      const auto at = reinterpret_cast<uintptr_t>(raw);
      const auto arena_start = reinterpret_cast<uintptr_t>(arena.base());
      const auto views_start = reinterpret_cast<uintptr_t>(arena.view_base());
      if ((at >= arena_start && at < arena_start + arena.bytes()) ||
          (at >= views_start && at < views_start + 8 * size)) {
        ++clobbered;  // given addresses the arena owns
      }
      bytes[0] = 0xab;
      bytes[size - 1] = 0xcd;
      munmap(raw, size);
    }
  });
  for (int round = 0; round < 3000; ++round) {
    for (uint32_t f = 0; f < arena.frame_count(); ++f) {
      arena.map(arena.view_base() + (2 * f + round % 2) * size, f);
    }
    arena.unmap(arena.view_base(), 8 * size);
  }
  moving = false;
  mapper.join();
  EXPECT_EQ(clobbered.load(), 0u);
}

std::string thp_enabled() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(HostArena, MovedFramesKeepTheirHugePagesAndCostNothingMore) {
  if (thp_enabled().empty() || thp_enabled().find("[never]") != std::string::npos) {
    GTEST_SKIP() << "transparent huge pages are off here";
  }
  HostArenaOptions thp = options("thp");
  thp.view_pages = 64;
  HostArena arena(thp);
  ASSERT_EQ(arena.huge_pages(), "thp");
  ASSERT_GT(arena.huge_bytes(), 0u);
  const uint64_t size = arena.frame_size(), view_bytes = thp.view_pages * size;
  auto footprint = [&] {
    return support::memory_usage(arena.base(), arena.bytes()).resident +
           support::memory_usage(arena.view_base(), view_bytes).resident;
  };
  EXPECT_EQ(footprint(), arena.bytes());
  const uint32_t places[] = {40, 7, 63, 8};  // scattered, in no order
  for (uint32_t f = 0; f < arena.frame_count(); ++f) {
    arena.map(arena.view_base() + places[f] * size, f);
  }
  EXPECT_EQ(support::memory_usage(arena.view_base(), view_bytes).anonymous_huge,
            arena.huge_bytes());
  EXPECT_EQ(footprint(), arena.bytes());
  for (uint32_t f = 0; f < arena.frame_count(); ++f) {
    arena.unmap(arena.view_base() + places[f] * size, size);
  }
  EXPECT_EQ(support::memory_usage(arena.base(), arena.bytes()).anonymous_huge, arena.huge_bytes());
  EXPECT_EQ(footprint(), arena.bytes());
}

TEST(HostArena, SaysWhichHugePagesItGot) {
  HostArena off(options("off"));
  EXPECT_EQ(off.huge_pages(), "none");
  EXPECT_EQ(off.huge_bytes(), 0u);
  HostArena automatic(options("auto"));
  EXPECT_TRUE(automatic.huge_pages() == "none" || automatic.huge_pages() == "thp" ||
              automatic.huge_pages() == "hugetlb");
}

TEST(HostArena, RefusesImpossibleChoicesByName) {
  HostArenaOptions small = options("hugetlb");
  small.frame_size = 64 << 10;
  testing::expect_error([&] { HostArena a(small); }, Errc::invalid_argument, {"hugetlb", "64KiB"});
  HostArenaOptions numa = options();
  numa.numa_node = 4096;
  try {
    HostArena a(numa);
    ADD_FAILURE() << "NUMA node 4096 was accepted";
  } catch (const Error& e) {
    // Either the node does not exist or the machine has no NUMA support at all.
    EXPECT_TRUE(e.code() == Errc::invalid_argument || e.code() == Errc::unsupported);
    EXPECT_NE(std::string(e.what()).find("numa_node 4096"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tiermem::detail
