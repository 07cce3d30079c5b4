// tests/test_persistence.cpp: persistent pools: reopening, names, the directory lock, the
// geometry check, damaged manifests and pages, and crashes at random moments (during flushes
// and checkpoint saves).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/test_support.hpp"
#include "tiermem/tiermem.hpp"

namespace tiermem {
namespace {

using testing::expect_error;
using testing::ScratchDir;

Config persistent_config(const ScratchDir& dir, uint64_t dram_pages = 16) {
  Config config = testing::small_config(dir, dram_pages);
  config.nvme.persistent = true;
  return config;
}

constexpr uint64_t kPage = 64 << 10;

// Page by page, so that tensors larger than the dram tier fit.
void fill(const Tensor& tensor, uint8_t value) {
  for (uint64_t at = 0; at < tensor.size_bytes(); at += kPage) {
    Pin pin =
        tensor.pin(Tier::dram, Access::write, {at, std::min(kPage, tensor.size_bytes() - at)});
    std::memset(pin.data(), value, pin.size());
  }
}

// The value every byte of tensor holds, or -1 when they differ.
int uniform_value(const Tensor& tensor) {
  int value = -1;
  for (uint64_t at = 0; at < tensor.size_bytes(); at += kPage) {
    Pin pin = tensor.pin(Tier::dram, Access::read, {at, std::min(kPage, tensor.size_bytes() - at)});
    for (uint8_t b : pin.as<const uint8_t>()) {
      if (value == -1) value = b;
      if (b != value) return -1;
    }
  }
  return value;
}

// ThreadSanitizer cannot start threads in a child forked from a process that has run threads,
// and a pool starts some: the tests that fork are left to the other builds there.
#if defined(__SANITIZE_THREAD__)
#define SKIP_FORK_UNDER_TSAN() GTEST_SKIP() << "ThreadSanitizer cannot run a pool in a forked child"
#else
#define SKIP_FORK_UNDER_TSAN() (void)0
#endif

// Runs body in a child process, which ends with _exit when body returns (or itself calls
// _exit), and returns its exit status: 0 when body returned, 2 when it threw.
template <class Body>
int in_child(Body&& body) {
  pid_t child = fork();
  if (child == 0) {
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      _exit(2);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// prefix and i, built by appending (GCC 12 warns falsely about "literal" + std::string).
std::string numbered(const char* prefix, int i) {
  std::string name = prefix;
  name += std::to_string(i);
  return name;
}

std::string manifest_path(const ScratchDir& dir) {
  return dir.path() + "/tiermem.manifest";
}

TEST(Persistence, AFlushedTensorIsThereWhenTheDirectoryIsOpenedAgain) {
  ScratchDir dir;
  {
    Pool pool(persistent_config(dir));
    Tensor w = pool.allocate({3, 100'000}, DType::f32, "layer0.w");
    fill(w, 0x42);
    pool.flush();
  }
  Pool pool(persistent_config(dir));
  Tensor w = pool.find("layer0.w");
  ASSERT_TRUE(w);
  EXPECT_EQ(w.shape(), (std::vector<uint64_t>{3, 100'000}));
  EXPECT_EQ(w.dtype(), DType::f32);
  EXPECT_EQ(uniform_value(w), 0x42);
  EXPECT_FALSE(pool.find("layer1.w"));
  EXPECT_EQ(pool.verify(), w.page_count());
}

TEST(Persistence, ClosingFlushesAndEvictedPagesComeBackFromTheirLatestSlot) {
  ScratchDir dir;
  {
    Pool pool(persistent_config(dir, 4));  // 4 frames: most pages go down and up again
    std::vector<Tensor> tensors;
    for (int i = 0; i < 6; ++i) {
      tensors.push_back(pool.allocate({4 << 16}, DType::u8, numbered("t", i)));
      fill(tensors.back(), static_cast<uint8_t>(i + 1));
    }
    pool.flush();
    for (int i = 0; i < 6; ++i) fill(tensors[i], static_cast<uint8_t>(i + 10));
    for (int i = 0; i < 6; ++i) EXPECT_EQ(uniform_value(tensors[i]), i + 10);
  }  // no flush: the destructor's
  Pool pool(persistent_config(dir, 4));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(uniform_value(pool.find(numbered("t", i))), i + 10);
}

TEST(Persistence, WhatIsNotFlushedBeforeACrashIsNotThereAndWhatWasIs) {
  SKIP_FORK_UNDER_TSAN();
  ScratchDir dir;
  ASSERT_EQ(in_child([&] {
              Pool pool(persistent_config(dir, 4));
              Tensor a = pool.allocate({8 << 16}, DType::u8, "a");
              fill(a, 1);
              pool.flush();
              fill(a, 2);  // most pages are written back to their second slots, none published
              Tensor b = pool.allocate({1 << 16}, DType::u8, "b");
              fill(b, 3);
              _exit(0);  // a crash: the pool's destructor, which flushes, never runs
            }),
            0);
  Pool pool(persistent_config(dir, 4));
  EXPECT_EQ(uniform_value(pool.find("a")), 1);
  EXPECT_FALSE(pool.find("b"));
}

// A manifest naming every copy evictions wrote would bring `a` back torn, half old and half new
// (found by the model check's crash test): a tensor's flush publishes that tensor alone.
TEST(Persistence, ATensorsFlushMakesItDurableAndLeavesTheOthersAsTheirFlushesLeftThem) {
  SKIP_FORK_UNDER_TSAN();
  ScratchDir dir;
  ASSERT_EQ(in_child([&] {
              Pool pool(persistent_config(dir, 4));  // 4 frames: writes are evicted as they go
              Tensor a = pool.allocate({8 << 16}, DType::u8, "a");
              Tensor b = pool.allocate({8 << 16}, DType::u8, "b");
              fill(a, 1);
              fill(b, 2);
              pool.flush();
              Tensor c = pool.allocate({2 << 16}, DType::u8, "c");
              fill(c, 3);  // never flushed
              fill(a, 4);  // most of its pages written back by evictions, none flushed
              fill(b, 5);
              b.flush();
              _exit(0);  // a crash
            }),
            0);
  Pool pool(persistent_config(dir, 4));
  EXPECT_EQ(uniform_value(pool.find("a")), 1);
  EXPECT_EQ(uniform_value(pool.find("b")), 5);
  EXPECT_FALSE(pool.find("c"));
}

TEST(Persistence, NamesAreUniqueAndAReleasedTensorsSpaceIsReusedOnlyAfterTheNextFlush) {
  ScratchDir dir;
  Config config = persistent_config(dir);
  config.nvme.capacity = 16 * config.page_size;  // 8 pages of data, two slots each
  {
    Pool pool(config);
    Tensor a = pool.allocate({8 << 16}, DType::u8, "a");
    expect_error([&] { pool.allocate({1}, DType::u8, "a"); }, Errc::invalid_argument,
                 {"'a'", "exists already", "unique"});
    fill(a, 7);
    pool.flush();
    a.release();
    // The manifest on disk still names a's pages: their slots are not free until it is
    // replaced.
    expect_error([&] { pool.allocate({8 << 16}, DType::u8, "b"); }, Errc::out_of_space, {"'b'"});
    pool.flush();
    Tensor b = pool.allocate({8 << 16}, DType::u8, "b");
    fill(b, 9);
    pool.flush();
  }
  Pool pool(config);
  EXPECT_FALSE(pool.find("a"));
  EXPECT_EQ(uniform_value(pool.find("b")), 9);
}

TEST(Persistence, ASecondPoolOnTheDirectoriesIsRefused) {
  ScratchDir dir;
  Pool pool(persistent_config(dir));
  expect_error([&] { Pool second(persistent_config(dir)); }, Errc::busy,
               {dir.path(), "in use by another pool", std::to_string(getpid())});
  SKIP_FORK_UNDER_TSAN();  // the same refusal in another process
  EXPECT_EQ(in_child([&] {
              expect_error([&] { Pool other(persistent_config(dir)); }, Errc::busy,
                           {"in use by another pool"});
              if (::testing::Test::HasFailure()) _exit(1);
            }),
            0);
}

TEST(Persistence, AnotherGeometryIsRefusedNamingTheField) {
  ScratchDir dir;
  { Pool pool(persistent_config(dir)); }
  Config config = persistent_config(dir);
  config.page_size = 128 << 10;
  expect_error([&] { Pool pool(config); }, Errc::invalid_argument,
               {"page_size is 128KiB", "made with 64KiB"});
  config = persistent_config(dir);
  config.nvme.capacity *= 2;
  expect_error([&] { Pool pool(config); }, Errc::invalid_argument, {"nvme.capacity"});
}

TEST(Persistence, ConfigsAPoolCannotKeepAreRefused) {
  Config config;
  config.nvme.persistent = true;
  expect_error([&] { config.validate(); }, Errc::invalid_argument,
               {"nvme.persistent", "nvme.dirs"});
  config.nvme.dirs = {"/tmp"};
  expect_error([&] { config.validate_virtual(); }, Errc::invalid_argument,
               {"nvme.persistent", "virtual clock"});
}

// Writes a persistent pool with tensors "first" and "second" (4 pages each, bytes 1 and 2).
void write_two_tensors(const ScratchDir& dir) {
  Pool pool(persistent_config(dir));
  fill(pool.allocate({4 << 16}, DType::u8, "first"), 1);
  fill(pool.allocate({4 << 16}, DType::u8, "second"), 2);
  pool.flush();
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  file.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(&c, 1);
}

TEST(Persistence, ADamagedManifestIsRefusedNamingWhatIsDamaged) {
  ScratchDir dir;
  write_two_tensors(dir);
  const std::string path = manifest_path(dir);
  const uint64_t size = std::filesystem::file_size(path);

  flip_byte(path, 20);  // the header
  expect_error([&] { Pool pool(persistent_config(dir)); }, Errc::corrupt,
               {path, "header fails its checksum"});
  flip_byte(path, 20);

  flip_byte(path, size - 12);  // a page record of the second tensor
  expect_error([&] { Pool pool(persistent_config(dir)); }, Errc::corrupt,
               {path, "tensor 'second'", "fails its checksum"});
  flip_byte(path, size - 12);

  std::filesystem::resize_file(path, size - 100);
  expect_error([&] { Pool pool(persistent_config(dir)); }, Errc::corrupt,
               {path, "ends inside tensor record 1 (after 'first')"});
  std::filesystem::resize_file(path, 10);
  expect_error([&] { Pool pool(persistent_config(dir)); }, Errc::corrupt, {path, "the header"});
}

TEST(Persistence, ADamagedPageFailsItsPinAndVerifyNamingTensorAndPage) {
  ScratchDir dir;
  write_two_tensors(dir);
  // Each tensor takes a run of first slots, then a run of second ones: first's pages are in
  // slots 0-3 (and 4-7), second's in 8-11 (and 12-15), and the first write of a page goes to
  // its first slot. Page 2 of "second" is in slot 10.
  flip_byte(dir.path() + "/tiermem.0.data", 10 * (64 << 10) + 100);
  Pool pool(persistent_config(dir));
  EXPECT_EQ(uniform_value(pool.find("first")), 1);
  expect_error([&] { pool.find("second").pin(Tier::dram, Access::read); }, Errc::corrupt,
               {"page 2 of tensor 'second'", "tiermem.0.data", "checksum"});
  expect_error([&] { pool.verify(); }, Errc::corrupt,
               {"1 of 8 pages", "page 2 of tensor 'second'", "tiermem.0.data"});
  // The other pages of the tensor are still there.
  Pin page1 = pool.find("second").pin(Tier::dram, Access::read, {64 << 10, 64 << 10});
  EXPECT_EQ(page1.as<const uint8_t>()[0], 2);
}

// A child writes every tensor at version v, flushes, tells the parent v, saves a checkpoint of
// the tensors every third version, and goes on with v+1, releasing and allocating a tensor now
// and then; the parent kills it at a random moment, 200 times, and opens the pool after each:
// every tensor must hold one version whole, one the child had flushed (or was flushing), with
// every page matching its checksum; and the checkpoint file, once there, must be whole, each
// tensor at the one version the save began with.
TEST(Persistence, KilledAtRandomMomentsEveryTensorIsAtAFlushedVersion) {
  SKIP_FORK_UNDER_TSAN();
  ScratchDir dir;
  constexpr int kTensors = 4;
  constexpr uint64_t kBytes = 5 * (64 << 10) + 1000;  // 6 pages, the last one partial
  auto name = [](int t) { return numbered("tensor", t); };
  auto word = [](uint64_t version, int t, uint64_t i) {
    return version << 40 | uint64_t(t) << 32 | i;
  };
  const std::string checkpoint = dir.path() + "/tensors.safetensors";
  ScratchDir reader_dir;
  std::mt19937_64 random(12345);
  uint64_t last_acknowledged = 0;
  // The version every tensor of the checkpoint holds, checked whole; 0 when there is none.
  auto checkpoint_version = [&]() -> uint64_t {
    if (!std::filesystem::exists(checkpoint)) return 0;
    EXPECT_EQ(check_checkpoint(checkpoint).checksums_verified, uint64_t{kTensors});
    Pool reader(testing::small_config(reader_dir));
    uint64_t version = 0;
    for (const Tensor& tensor : open_checkpoint(reader, checkpoint)) {
      const int t = tensor.name().back() - '0';
      Pin pin = tensor.pin(Tier::dram, Access::read);
      auto words = pin.as<const uint64_t>();
      if (version == 0) version = words[0] >> 40;
      for (uint64_t i = 0; i < words.size(); ++i) {
        EXPECT_EQ(words[i], word(version, t, i))
            << tensor.name() << " in the checkpoint, word " << i;
        if (words[i] != word(version, t, i)) break;
      }
    }
    return version;
  };
  uint64_t checkpoints_seen = 0;
  for (int round = 0; round < 200; ++round) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const uint64_t first_version = last_acknowledged + 1;
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(pipe_fds[0]);
      // A throw must not go on with the other tests in this child: it ends it.
      try {
        Pool pool(persistent_config(dir, 8));  // 8 frames for 24 pages: write-backs all along
        for (uint64_t v = first_version;; ++v) {
          for (int t = 0; t < kTensors; ++t) {
            Tensor tensor = pool.find(name(t));
            if (tensor && (v + t) % 7 == 0) {
              tensor.release();
              tensor = Tensor();
            }
            if (!tensor) tensor = pool.allocate({kBytes / 8}, DType::i64, name(t));
            Pin pin = tensor.pin(Tier::dram, Access::write);
            auto words = pin.as<uint64_t>();
            for (uint64_t i = 0; i < words.size(); ++i) words[i] = word(v, t, i);
          }
          pool.flush();
          if (write(pipe_fds[1], &v, sizeof v) != sizeof v) _exit(3);
          if (v % 3 == 0) {
            std::vector<Tensor> tensors;
            for (int t = 0; t < kTensors; ++t) tensors.push_back(pool.find(name(t)));
            CheckpointOptions small;  // staging for these 2 MiB, not the default 64 MiB
            small.staging_bytes = 1 << 20;
            small.staging_buffers = 2;
            save_checkpoint(tensors, checkpoint, small).get();
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: %s\n", e.what());
        _exit(2);
      }
    }
    close(pipe_fds[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 60'000));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    uint64_t acknowledged = 0;
    while (read(pipe_fds[0], &acknowledged, sizeof acknowledged) == sizeof acknowledged) {
      last_acknowledged = acknowledged;
    }
    close(pipe_fds[0]);

    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": the child ended by itself";
    Pool pool(persistent_config(dir, 8));
    int found = 0;
    for (int t = 0; t < kTensors; ++t) {
      Tensor tensor = pool.find(name(t));
      if (!tensor && last_acknowledged == 0) continue;  // no flush before the kill
      ++found;
      ASSERT_TRUE(tensor) << "round " << round << ": " << name(t) << " is missing";
      Pin pin = tensor.pin(Tier::dram, Access::read);
      auto words = pin.as<const uint64_t>();
      const uint64_t version = words[0] >> 40;
      ASSERT_TRUE(version == last_acknowledged || version == last_acknowledged + 1)
          << "round " << round << ": " << name(t) << " is at version " << version
          << ", the last flush acknowledged was " << last_acknowledged;
      for (uint64_t i = 0; i < words.size(); ++i) {
        ASSERT_EQ(words[i], word(version, t, i))
            << "round " << round << ": " << name(t) << " is torn at word " << i;
      }
    }
    if (found > 0) {
      EXPECT_EQ(pool.verify(), found * 6u);
    }
    if (const uint64_t saved = checkpoint_version(); saved != 0) {
      ++checkpoints_seen;
      EXPECT_EQ(saved % 3, 0u) << "round " << round;
      EXPECT_LE(saved, last_acknowledged) << "round " << round;
    }
    pool.flush();  // with a version the next child's numbers continue from
    if (Tensor t0 = pool.find(name(0))) {
      last_acknowledged = std::max(last_acknowledged,
                                   t0.pin(Tier::dram, Access::read).as<const uint64_t>()[0] >> 40);
    }
  }
  EXPECT_GT(last_acknowledged, 20u) << "the children flushed too rarely to test anything";
  EXPECT_GT(checkpoints_seen, 100u) << "the children saved too rarely to test anything";
}

}  // namespace
}  // namespace tiermem
