// tests/io_test_support.hpp: what the I/O tests share: scratch files that remove themselves,
// aligned memory, patterned bytes, and a completion a test can wait on.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "io/engine.hpp"

namespace tiermem::testing {

// The directory for scratch files: $TIERMEM_TEST_DIR, else /tmp.
inline std::string scratch_dir() {
  const char* dir = std::getenv("TIERMEM_TEST_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

// A file of the given size filled with zeros, removed by the destructor.
class ScratchFile {
 public:
  explicit ScratchFile(uint64_t size = 0, const std::string& dir = scratch_dir()) {
    std::string pattern = dir + "/tiermem-test-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    int fd = mkstemp(name.data());
    if (fd < 0) throw std::runtime_error("mkstemp in " + dir + ": " + std::strerror(errno));
    path_ = name.data();
    if (size > 0 && ftruncate(fd, static_cast<off_t>(size)) != 0) {
      close(fd);
      throw std::runtime_error("ftruncate " + path_);
    }
    close(fd);
  }
  ~ScratchFile() { unlink(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An io::File that owns its descriptor. O_DIRECT when asked and the file system allows it.
class OpenFile {
 public:
  OpenFile(const std::string& path, bool direct) {
    file_.path = path;
    file_.fd = open(path.c_str(), O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
    if (file_.fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    file_.direct = direct;
  }
  ~OpenFile() { close(file_.fd); }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  io::File& file() { return file_; }
  int fd() const { return file_.fd; }

 private:
  io::File file_;
};

// True when the file system of dir accepts O_DIRECT.
inline bool direct_supported(const std::string& dir = scratch_dir()) {
  ScratchFile probe(4096, dir);
  int fd = open(probe.path().c_str(), O_RDWR | O_DIRECT);
  if (fd < 0) return false;
  close(fd);
  return true;
}

// Page-aligned anonymous memory, unmapped by the destructor.
class AlignedBytes {
 public:
  explicit AlignedBytes(size_t size) : size_(size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    data_ = static_cast<std::byte*>(p);
  }
  ~AlignedBytes() { munmap(data_, size_); }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::byte* data_;
  size_t size_;
};

inline void fill_random(std::byte* p, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>(rng());
}

// A completion a test can wait on; counts its calls so tests can check "exactly once".
class Waiter final : public io::Completion {
 public:
  void complete(const io::Result& result) noexcept override {
    std::lock_guard lock(mutex_);
    result_ = result;
    ++calls_;
    done_.notify_all();
  }
  io::Result wait() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return calls_ > 0; });
    return result_;
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  io::Result result_;
  int calls_ = 0;
};

// Submits the batch with a Waiter for each request; returns the results in order, after
// checking that each completion was called exactly once.
inline std::vector<io::Result> run_batch(io::Engine& engine, std::vector<io::Request> batch) {
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (io::Request& request : batch) {
    waiters.push_back(std::make_unique<Waiter>());
    request.done = waiters.back().get();
  }
  engine.submit(batch);
  std::vector<io::Result> results;
  for (auto& waiter : waiters) results.push_back(waiter->wait());
  for (auto& waiter : waiters) EXPECT_EQ(waiter->calls(), 1);
  return results;
}

// Names the cases of a suite parameterised by (engine kind, O_DIRECT): "uring_direct".
inline std::string engine_case_name(
    const ::testing::TestParamInfo<std::tuple<std::string, bool>>& param) {
  return std::get<0>(param.param) + (std::get<1>(param.param) ? "_direct" : "_buffered");
}

}  // namespace tiermem::testing
