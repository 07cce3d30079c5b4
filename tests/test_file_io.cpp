// tests/test_file_io.cpp: the public file I/O (tiermem/file_io.hpp): unaligned memory, offsets
// and lengths round-trip under O_DIRECT and buffered, neighbouring unaligned writes in flight
// at once, exact file sizes, errors that name file, offset and errno, per-request handles.
#include "tiermem/file_io.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <tuple>

#include "io_test_support.hpp"
#include "tiermem/error.hpp"
#include "tiermem/locked_buffer.hpp"

namespace tiermem {
namespace {

using testing::ScratchFile;

IoConfig small_config(const std::string& engine) {
  IoConfig config;
  config.engine = engine;
  config.threads = 2;
  config.queue_depth = 3;  // bounce windows smaller than the requests
  config.block_size = 64 << 10;
  return config;
}

std::vector<std::byte> read_whole(const std::string& path) {
  testing::OpenFile plain(path, false);
  std::vector<std::byte> bytes(static_cast<size_t>(lseek(plain.fd(), 0, SEEK_END)));
  EXPECT_EQ(pread(plain.fd(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  return bytes;
}

class FileIoTest : public ::testing::TestWithParam<std::tuple<std::string, bool>> {
 protected:
  const std::string& engine() const { return std::get<0>(GetParam()); }
  bool direct() const { return std::get<1>(GetParam()); }
};

TEST_P(FileIoTest, AnyMemoryOffsetAndLengthRoundTripsExactly) {
  constexpr uint64_t kSize = 3 << 20;
  ScratchFile scratch(kSize);
  FileIo io(small_config(engine()));
  IoFile file = io.open(scratch.path(), OpenMode::read_write, direct());
  if (direct() && testing::direct_supported()) {
    EXPECT_TRUE(file.direct());
  }
  std::vector<std::byte> model(kSize);
  LockedBuffer source = LockedBuffer::allocate(kSize + 8192);
  LockedBuffer target = LockedBuffer::allocate(kSize + 8192);
  std::mt19937_64 rng(5);
  // Lengths from one byte to well over a bounce window (3 x 64 KiB).
  for (int i = 0; i < 60; ++i) {
    uint64_t length = 1 + rng() % (i % 3 == 0 ? 700'000 : 9000);
    uint64_t offset = rng() % (kSize - length);
    // Memory: at the file offset's alignment (direct middle), or anywhere (bounce).
    uint64_t shift = i % 2 == 0 ? offset % 4096 : rng() % 4096;
    std::byte* out = source.data() + shift;
    std::byte* in = target.data() + (i % 2 == 0 ? shift : rng() % 4096);
    testing::fill_random(out, length, rng());
    std::copy(out, out + length, model.begin() + static_cast<ptrdiff_t>(offset));
    file.write({out, length}, offset);
    file.read({in, length}, offset);
    ASSERT_TRUE(std::equal(in, in + length, model.begin() + static_cast<ptrdiff_t>(offset)))
        << "request " << i << ": " << length << " bytes at " << offset << ", memory shift "
        << shift;
  }
  EXPECT_TRUE(read_whole(scratch.path()) == model);
}

TEST_P(FileIoTest, NeighbouringUnalignedWritesInFlightAtOnceKeepEveryByte) {
  // Tensors of odd sizes written back to back without waiting, as a checkpoint writer does:
  // neighbours share partial blocks while both are in flight.
  ScratchFile scratch;
  FileIo io(small_config(engine()));
  IoFile file = io.open(scratch.path(), OpenMode::read_write, direct());
  std::mt19937_64 rng(8);
  std::vector<uint64_t> lengths(300);
  uint64_t total = 0;
  for (uint64_t& length : lengths) total += length = 1 + rng() % 20000;
  LockedBuffer source = LockedBuffer::allocate(total);
  testing::fill_random(source.data(), total, 9);
  std::vector<std::future<void>> pending;
  uint64_t at = 0;
  for (uint64_t length : lengths) {
    pending.push_back(file.write_async({source.data() + at, length}, at));
    at += length;
  }
  for (auto& f : pending) f.get();
  EXPECT_EQ(file.size(), total);  // exactly: no block padding left at the end
  std::vector<std::byte> got = read_whole(scratch.path());
  ASSERT_EQ(got.size(), total);
  EXPECT_EQ(std::memcmp(got.data(), source.data(), total), 0);
}

TEST_P(FileIoTest, ReadPastTheEndNamesFileOffsetAndErrno) {
  ScratchFile scratch(10'000);
  FileIo io(small_config(engine()));
  IoFile file = io.open(scratch.path(), OpenMode::read, direct());
  std::vector<std::byte> buffer(20'000);
  try {
    file.read(buffer, 0);
    FAIL() << "a read past the end succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
    EXPECT_EQ(e.sys_errno(), ENODATA);
    std::string what = e.what();
    EXPECT_NE(what.find(scratch.path()), std::string::npos) << what;
    EXPECT_NE(what.find("ends at offset 10000"), std::string::npos) << what;
  }
}

TEST_P(FileIoTest, FailedRequestsReachTheirOwnHandleOnly) {
  ScratchFile scratch(8192);
  FileIo io(small_config(engine()));
  IoFile writer = io.open(scratch.path(), OpenMode::write, direct());
  LockedBuffer buffer = LockedBuffer::allocate(8192);
  // Reading a file opened for writing only fails with EBADF; the write beside it succeeds.
  std::future<void> bad = writer.read_async({buffer.data(), 4096}, 0);
  std::future<void> good = writer.write_async({buffer.data() + 4096, 4096}, 4096);
  EXPECT_NO_THROW(good.get());
  try {
    bad.get();
    FAIL() << "reading a write-only file succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
    EXPECT_EQ(e.sys_errno(), EBADF);
    std::string what = e.what();
    EXPECT_NE(what.find("reading " + scratch.path()), std::string::npos) << what;
    EXPECT_NE(what.find("at offset 0"), std::string::npos) << what;
  }
}

TEST_P(FileIoTest, CallbacksAreCalledOnceAndTheFileWaitsForThem) {
  ScratchFile scratch(1 << 20);
  FileIo io(small_config(engine()));
  LockedBuffer buffer = LockedBuffer::allocate(1 << 20);
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  {
    IoFile file = io.open(scratch.path(), OpenMode::read_write, direct());
    for (uint64_t i = 0; i < 100; ++i) {
      file.read_async({buffer.data() + i * 10'000, 9999}, i * 10'001,
                      [&](std::exception_ptr error) { (error ? failed : ok).fetch_add(1); });
    }
    // Past the end: fails.
    file.read_async({buffer.data(), 100}, (1 << 20) - 50,
                    [&](std::exception_ptr error) { (error ? failed : ok).fetch_add(1); });
  }  // closes only after every callback
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(failed.load(), 1);
}

TEST_P(FileIoTest, RegisteredMemoryWorksAndFilesOutliveTheirFileIo) {
  ScratchFile scratch(1 << 20);
  LockedBuffer memory = LockedBuffer::allocate(512 << 10);
  testing::fill_random(memory.data(), 256 << 10, 4);
  IoFile file;
  {
    FileIo io(small_config(engine()));
    BufferRegistration registration = io.register_buffer({memory.data(), memory.size()});
    if (engine() == "psync") {
      EXPECT_FALSE(registration.active());
    }
    file = io.open(scratch.path(), OpenMode::read_write, direct());
    file.write({memory.data(), 256 << 10}, 4096);
    file.read({memory.data() + (256 << 10), 256 << 10}, 4096);
    EXPECT_EQ(std::memcmp(memory.data(), memory.data() + (256 << 10), 256 << 10), 0);
  }
  // The FileIo is gone; the file keeps its engine.
  std::memset(memory.data() + (256 << 10), 0, 256 << 10);
  file.read({memory.data() + (256 << 10), 256 << 10}, 4096);
  EXPECT_EQ(std::memcmp(memory.data(), memory.data() + (256 << 10), 256 << 10), 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, FileIoTest,
                         ::testing::Combine(::testing::Values("uring", "psync"), ::testing::Bool()),
                         testing::engine_case_name);

TEST(FileIo, TmpfsRoundTripsUnalignedWhateverItSaysAboutODirect) {
  if (access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no /dev/shm";
  ScratchFile scratch(0, "/dev/shm");
  FileIo io(small_config("auto"));
  IoFile file = io.open(scratch.path(), OpenMode::read_write, true);
  std::vector<std::byte> out(123'457);
  std::vector<std::byte> in(out.size());
  testing::fill_random(out.data(), out.size(), 1);
  file.write(out, 3);
  file.read(in, 3);
  EXPECT_TRUE(in == out);
  EXPECT_EQ(file.size(), out.size() + 3);
}

TEST(FileIo, FallsBackToBufferedWhereODirectIsRefused) {
  // procfs refuses O_DIRECT on every file.
  FileIo io(small_config("auto"));
  IoFile file = io.open("/proc/sys/kernel/ostype", OpenMode::read, true);
  EXPECT_FALSE(file.direct());
  std::string text(6, '\0');
  file.read(std::as_writable_bytes(std::span(text)), 0);
  EXPECT_EQ(text, "Linux\n");
}

TEST(FileIo, BadArgumentsAreRefusedByName) {
  FileIo io(small_config("auto"));
  try {
    io.open("/nonexistent-dir/x", OpenMode::read);
    FAIL() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::system);
    EXPECT_EQ(e.sys_errno(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x"), std::string::npos);
  }
  IoFile closed;
  std::byte byte{};
  EXPECT_THROW(closed.read({&byte, 1}, 0), Error);
  ScratchFile scratch(4096);
  IoFile file = io.open(scratch.path(), OpenMode::read);
  try {
    file.read({&byte, 2}, UINT64_MAX);
    FAIL() << "an overflowing range was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("overflows"), std::string::npos) << e.what();
  }
  IoConfig bad = small_config("auto");
  bad.threads = 0;
  EXPECT_THROW(FileIo{bad}, Error);
}

TEST(FileIo, CreatesPrivateFilesAndNeverTruncates) {
  ScratchFile dir_probe;  // only for its directory
  std::string path = dir_probe.path() + ".new";
  FileIo io(small_config("auto"));
  {
    IoFile file = io.open(path, OpenMode::write);
    std::vector<std::byte> data(5000, std::byte{7});
    file.write(data, 0);
    file.sync();
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  {
    IoFile again = io.open(path, OpenMode::read_write);
    EXPECT_EQ(again.size(), 5000u);
    again.truncate(100);
    EXPECT_EQ(again.size(), 100u);
  }
  unlink(path.c_str());
}

}  // namespace
}  // namespace tiermem
