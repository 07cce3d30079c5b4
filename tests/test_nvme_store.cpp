// tests/test_nvme_store.cpp: private backing files, striping, space accounting and refusals.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "io/engine.hpp"
#include "tests/test_support.hpp"
#include "tiermem/nvme_store.hpp"

namespace tiermem::detail {
namespace {

constexpr uint64_t kPage = 64 << 10;

NvmeTierConfig config_for(std::vector<std::string> dirs, uint64_t pages,
                          uint64_t stripe_pages = 0) {
  NvmeTierConfig config;
  config.dirs = std::move(dirs);
  config.capacity = pages * kPage;
  config.file_size = 8 * kPage;
  config.stripe = stripe_pages * kPage;
  return config;
}

class NvmeStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<io::Engine> engine = io::make_engine({.kind = "psync", .threads = 1});
  testing::ScratchDir a, b;
};

TEST_F(NvmeStoreTest, PagesStripeAcrossDirectoriesInStripes) {
  NvmeStore store(config_for({a.path(), b.path()}, 64, 2), kPage, *engine);
  EXPECT_EQ(store.slot_count(), 64u);
  std::vector<uint64_t> slots;
  store.allocate(6, "t", slots);
  ASSERT_EQ(slots.size(), 6u);
  // Pages 0,1 in the first directory, 2,3 in the second, 4,5 in the first again.
  for (uint64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(slots[i] / 32, (i / 2) % 2) << "page " << i;
  }
  EXPECT_EQ(slots[1], slots[0] + 1);
  EXPECT_EQ(slots[4], slots[1] + 1);
  NvmeStore::Location loc = store.locate(slots[2]);
  EXPECT_EQ(loc.offset, 0u);
  EXPECT_NE(loc.file, store.locate(slots[0]).file);
  EXPECT_EQ(store.free_slots(), 58u);
  store.free(slots);
  EXPECT_EQ(store.free_slots(), 64u);
}

TEST_F(NvmeStoreTest, AShortLastStripeAndMoreDirectoriesThanStripes) {
  testing::ScratchDir c;
  NvmeStore store(config_for({a.path(), b.path(), c.path()}, 96, 2), kPage, *engine);
  std::vector<uint64_t> slots;
  store.allocate(7, "odd", slots);  // stripes: {0,1} {2,3} {4,5} {6}
  const uint64_t expected_dir[] = {0, 0, 1, 1, 2, 2, 0};
  ASSERT_EQ(slots.size(), 7u);
  for (uint64_t i = 0; i < 7; ++i) EXPECT_EQ(slots[i] / 32, expected_dir[i]) << "page " << i;
  EXPECT_EQ(slots[6], slots[1] + 1);
  std::vector<uint64_t> one;
  store.allocate(1, "one", one);  // a single page: the first directory only
  EXPECT_EQ(one[0] / 32, 0u);
  EXPECT_EQ(store.free_slots(), 88u);
  store.free(slots);
  store.free(one);
  EXPECT_EQ(store.free_slots(), 96u);
}

TEST_F(NvmeStoreTest, SlotsFillFileAfterFile) {
  NvmeStore store(config_for({a.path()}, 20), kPage, *engine);
  std::vector<uint64_t> slots;
  store.allocate(10, "t", slots);
  EXPECT_EQ(store.locate(slots[7]).offset, 7 * kPage);
  EXPECT_EQ(store.locate(slots[8]).offset, 0u);  // files of 8 pages
  EXPECT_NE(store.locate(slots[8]).file, store.locate(slots[7]).file);
}

TEST_F(NvmeStoreTest, FullTierRefusesWholeTensorsAndKeepsTheRest) {
  NvmeStore store(config_for({a.path(), b.path()}, 8), kPage, *engine);
  std::vector<uint64_t> slots;
  store.allocate(6, "first", slots);
  testing::expect_error([&] { store.allocate(4, "second", slots); }, Errc::out_of_space,
                        {"'second'", "nvme tier is full"});
  EXPECT_EQ(slots.size(), 6u);
  EXPECT_EQ(store.free_slots(), 2u);
}

TEST_F(NvmeStoreTest, UnnamedFilesLeaveNothingBehind) {
  {
    NvmeStore store(config_for({a.path()}, 16), kPage, *engine);
    EXPECT_TRUE(std::filesystem::is_empty(a.path()));
  }
  EXPECT_TRUE(std::filesystem::is_empty(a.path()));
}

TEST_F(NvmeStoreTest, KeptFilesArePrivateAndStay) {
  NvmeTierConfig config = config_for({a.path()}, 16);
  config.keep_files = true;
  { NvmeStore store(config, kPage, *engine); }
  std::vector<std::filesystem::path> dirs{std::filesystem::directory_iterator(a.path()), {}};
  ASSERT_EQ(dirs.size(), 1u);
  struct stat st {};
  ASSERT_EQ(stat(dirs[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::vector<std::filesystem::path> files{std::filesystem::directory_iterator(dirs[0]), {}};
  ASSERT_EQ(files.size(), 2u);
  for (const auto& file : files) {
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), 8 * kPage);
  }
}

TEST_F(NvmeStoreTest, MissingOrUnusableDirectoriesAreNamed) {
  testing::expect_error([&] { NvmeStore s(config_for({a.path() + "/nope"}, 16), kPage, *engine); },
                        Errc::config, {a.path() + "/nope", "No such file"});
  std::string file = a.path() + "/plain";
  std::fclose(std::fopen(file.c_str(), "w"));
  testing::expect_error([&] { NvmeStore s(config_for({file}, 16), kPage, *engine); }, Errc::config,
                        {"is not a directory"});
  // /proc refuses new files even to root.
  testing::expect_error([&] { NvmeStore s(config_for({"/proc"}, 16), kPage, *engine); },
                        Errc::config, {"cannot create files in '/proc'"});
}

TEST_F(NvmeStoreTest, ReadOnlyDirectoriesAreRefused) {
  // Root ignores permission bits, so as root the directory is a read-only bind mount.
  std::string dir = b.path();
  bool mounted = false;
  if (geteuid() == 0) {
    std::string bind = "mount --bind " + a.path() + " " + dir + " 2>/dev/null";
    if (std::system(bind.c_str()) != 0) GTEST_SKIP() << "root, but cannot bind-mount here";
    std::string remount = "mount -o remount,ro,bind " + dir + " 2>/dev/null";
    mounted = std::system(remount.c_str()) == 0;
    if (!mounted) {
      std::system(("umount " + dir).c_str());  // the bind mount must not outlive the test
      GTEST_SKIP() << "root, but cannot make a bind mount read-only here";
    }
  } else {
    chmod(dir.c_str(), 0500);
  }
  testing::expect_error([&] { NvmeStore s(config_for({dir}, 16), kPage, *engine); }, Errc::config,
                        {"cannot create files in '" + dir + "'"});
  if (mounted) std::system(("umount " + dir).c_str());
  chmod(dir.c_str(), 0700);
}

TEST_F(NvmeStoreTest, TooLittleDiskSpaceIsRefusedUpFront) {
  testing::expect_error(
      [&] { NvmeStore s(config_for({a.path()}, uint64_t{1} << 40), kPage, *engine); },
      Errc::out_of_space, {a.path(), "free, but the pool needs"});
}

}  // namespace
}  // namespace tiermem::detail
