// tests/test_nvme_store.cpp: private backing files, striping, space accounting and refusals.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/engine.hpp"
#include "tests/test_support.hpp"
#include "tiermem/nvme_store.hpp"
#include "tiermem/tiermem.hpp"

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

// A small filesystem of a given type in a file, loop-mounted on a scratch directory: only for
// root, and only where loop devices work (the tests skip otherwise). Paths are the tests' own.
class LoopMount {
 public:
  LoopMount(const std::string& type, uint64_t mib) {
    if (geteuid() != 0) return;
    const std::string image = image_dir_.path() + "/fs.img";
    std::string make = "truncate -s " + std::to_string(mib) + "M " + image + " && mkfs." + type +
                       " " + image + " >/dev/null 2>&1";
    if (std::system(make.c_str()) != 0) return;
    mounted_ =
        std::system(("mount -o loop " + image + " " + dir_.path() + " 2>/dev/null").c_str()) == 0;
  }
  ~LoopMount() {
    if (mounted_) std::system(("umount " + dir_.path()).c_str());
  }
  bool mounted() const { return mounted_; }
  const std::string& path() const { return dir_.path(); }
  uint64_t free_bytes() const {
    struct statvfs fs {};
    statvfs(path().c_str(), &fs);
    return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }

 private:
  testing::ScratchDir image_dir_, dir_;
  bool mounted_ = false;
};

// Defect 6: ext2 has no fallocate; the space must still be reserved up front, so that a disk
// filled by others later cannot fail the pool's write-backs.
TEST(NvmeStoreSpace, WithoutFallocateTheSpaceIsWrittenUpFront) {
  LoopMount fs("ext2", 32);
  if (!fs.mounted()) GTEST_SKIP() << "needs root and loop devices";
  const uint64_t before = fs.free_bytes();
  Config config;
  config.page_size = kPage;
  config.dram.capacity = 4 * kPage;
  config.nvme.dirs = {fs.path()};
  config.nvme.capacity = 128 * kPage;  // 8 MiB
  config.log_level = "error";
  Pool pool(config);
  EXPECT_GE(before - fs.free_bytes(), 128 * kPage) << "the space was not reserved";
  {
    // Someone else fills the disk.
    std::FILE* hog = std::fopen((fs.path() + "/hog").c_str(), "w");
    ASSERT_NE(hog, nullptr);
    std::vector<char> chunk(1 << 20, 1);
    while (std::fwrite(chunk.data(), 1, chunk.size(), hog) == chunk.size()) {
    }
    std::fclose(hog);
  }
  Tensor t = pool.allocate({100 * kPage}, DType::u8, "t");
  for (uint64_t page = 0; page < 100; ++page) {  // every page written, most written down
    std::memset(t.pin(Tier::dram, Access::write, {page * kPage, kPage}).data(),
                static_cast<int>(page), kPage);
  }
  pool.flush();
  for (uint64_t page = 0; page < 100; ++page) {
    Pin pin = t.pin(Tier::dram, Access::read, {page * kPage, kPage});
    const auto* bytes = static_cast<const uint8_t*>(pin.data());
    ASSERT_EQ(std::count(bytes, bytes + kPage, static_cast<uint8_t>(page)),
              static_cast<long>(kPage));
  }
}

// Makes every later open() or openat() with O_TMPFILE in this process fail with EOPNOTSUPP,
// as on a filesystem without it (vfat, some network filesystems); this machine's kernels have
// none such to mount. A seccomp filter: call only in a child process.
bool refuse_o_tmpfile() {
  const uint32_t tmpfile_bits = static_cast<uint32_t>(__O_TMPFILE & ~O_DIRECTORY);
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 2),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),  // flags
      BPF_STMT(BPF_JMP | BPF_JA, 2),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),  // flags
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, tmpfile_bits),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, tmpfile_bits, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EOPNOTSUPP & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {static_cast<unsigned short>(std::size(filter)), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

// What a pool whose files are not kept leaves in dir after it closes: "" when nothing.
std::string leftovers_of_a_pool_in(const std::string& dir) {
  Config config;
  config.page_size = kPage;
  config.dram.capacity = 8 * kPage;
  config.nvme.dirs = {dir};
  config.nvme.capacity = 32 * kPage;
  config.log_level = "error";
  {
    Pool pool(config);
    Tensor t = pool.allocate({8 * kPage}, DType::u8, "t");
    std::memset(t.pin(Tier::dram, Access::write).data(), 1, 8 * kPage);
    pool.flush();
  }
  std::string left;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    left += entry.path().string() + " ";
  return left;
}

// Defect 10: a pool whose files are not kept leaves nothing in its directory, also where the
// filesystem has no O_TMPFILE (every run used to leave an empty tiermem.XXXXXX directory).
TEST(NvmeStoreSpace, UnkeptFilesLeaveNothingBehind) {
  testing::ScratchDir plain;
  EXPECT_EQ(leftovers_of_a_pool_in(plain.path()), "");
  testing::ScratchDir without_tmpfile;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!refuse_o_tmpfile()) _exit(2);
    if (open(without_tmpfile.path().c_str(), O_TMPFILE | O_RDWR, 0600) >= 0 ||
        errno != EOPNOTSUPP) {
      _exit(3);
    }
    _exit(leftovers_of_a_pool_in(without_tmpfile.path()).empty() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "seccomp filters are not allowed here";
  EXPECT_NE(WEXITSTATUS(status), 3) << "the filter did not refuse O_TMPFILE";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "files left behind in " << without_tmpfile.path();
  std::string left;
  for (const auto& entry : std::filesystem::directory_iterator(without_tmpfile.path())) {
    left += entry.path().string() + " ";
  }
  EXPECT_EQ(left, "");
}

}  // namespace
}  // namespace tiermem::detail
