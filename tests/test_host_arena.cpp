// tests/test_host_arena.cpp: frames, their aliases in tensor views, and the arena's choices.
#include <gtest/gtest.h>

#include <cstring>

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

TEST(HostArena, SaysWhichHugePagesItGot) {
  HostArena off(options("off"));
  EXPECT_EQ(off.huge_pages(), "none");
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
