// tools/io_bench.cpp: IoBench, the measuring loop of `tiermem io` and `tiermem tune`.
//
// qd x threads chains each keep one request in flight: a request's callback records its
// latency and starts the chain's next request, so the engine never waits for this loop. The
// blocks are split into one contiguous region per thread, as fio's numjobs with
// offset_increment splits a file: chain c works in region c % threads, and since the engine
// keeps a request started from a completion on that completion's ring, each ring streams
// through a region of its own, and its neighbouring requests can merge in the block layer.
#include "tools/io_bench.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <numeric>
#include <random>

#include "tiermem/config.hpp"
#include "tiermem/error.hpp"
#include "tiermem/file_io.hpp"
#include "tools/latency_histogram.hpp"

namespace tiermem::tools {

namespace {

constexpr uint64_t kHugePage = 2ull << 20;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

Error system_error(const std::string& what, int error) {
  return Error(Errc::system, fmt::format("{}: {}", what, std::strerror(error)), error);
}

// One trial in flight: the chains, the counters and the histogram.
class Run {
 public:
  Run(const IoTrial& trial, std::vector<IoFile>& files, std::byte* buffer, uint64_t slots,
      uint64_t blocks_per_file)
      : trial_(trial),
        files_(files),
        buffer_(buffer),
        slots_(slots),
        total_(blocks_per_file * files.size()),
        chains_(trial.queue_depth * trial.threads),
        regions_(trial.threads),
        started_(chains_) {
    for (uint32_t r = 0; r < trial.threads; ++r) {
      regions_[r].begin = total_ * r / trial.threads;
      regions_[r].length = total_ * (r + 1) / trial.threads - regions_[r].begin;
    }
    if (trial.random) {
      order_.resize(total_);
      std::iota(order_.begin(), order_.end(), uint64_t{0});
      std::shuffle(order_.begin(), order_.end(), std::mt19937_64(42));
    }
  }

  IoOutcome go() {
    start_ns_ = now_ns();
    deadline_ns_ = start_ns_ + static_cast<uint64_t>(trial_.seconds * 1e9);
    active_ = chains_;
    for (uint32_t c = 0; c < chains_; ++c) issue(c);
    {
      std::unique_lock lock(mutex_);
      idle_.wait(lock, [this] { return active_ == 0; });
    }
    if (error_) std::rethrow_exception(error_);
    IoOutcome outcome;
    outcome.requests = completed_.load();
    outcome.bytes = outcome.requests * trial_.block;
    outcome.seconds = static_cast<double>(end_ns_ - start_ns_) / 1e9;
    outcome.gbps = static_cast<double>(outcome.bytes) / 1e9 / outcome.seconds;
    outcome.iops = static_cast<double>(outcome.requests) / outcome.seconds;
    outcome.p50_us = latency_.quantile_ns(0.50) / 1e3;
    outcome.p99_us = latency_.quantile_ns(0.99) / 1e3;
    outcome.max_us = static_cast<double>(latency_.max_ns()) / 1e3;
    return outcome;
  }

 private:
  void issue(uint32_t chain) {
    Region& region = regions_[chain % regions_.size()];
    uint64_t k = region.next.fetch_add(1, std::memory_order_relaxed);
    bool over = trial_.seconds > 0 ? now_ns() >= deadline_ns_ : k >= region.length;
    if (over || region.length == 0 || failed_.load(std::memory_order_relaxed)) {
      end_chain();
      return;
    }
    uint64_t position = region.begin + k % region.length;
    uint64_t block = trial_.random ? order_[position] : position;
    IoFile& file = files_[block % files_.size()];
    uint64_t offset = (block / files_.size()) * trial_.block;
    std::span<std::byte> memory(buffer_ + (chain % slots_) * trial_.block, trial_.block);
    started_[chain] = now_ns();
    auto done = [this, chain](std::exception_ptr error) { finish(chain, error); };
    try {
      if (trial_.write) {
        file.write_async(memory, offset, std::move(done));
      } else {
        file.read_async(memory, offset, std::move(done));
      }
    } catch (...) {
      fail(std::current_exception());
      end_chain();
    }
  }

  void finish(uint32_t chain, std::exception_ptr error) {
    latency_.record(now_ns() - started_[chain]);
    if (error) {
      fail(error);
    } else {
      completed_.fetch_add(1, std::memory_order_relaxed);
    }
    issue(chain);
  }

  void fail(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = error;
    failed_.store(true, std::memory_order_relaxed);
  }

  void end_chain() {
    std::lock_guard lock(mutex_);
    if (--active_ == 0) {
      end_ns_ = now_ns();
      idle_.notify_all();
    }
  }

  const IoTrial& trial_;
  std::vector<IoFile>& files_;
  std::byte* const buffer_;
  const uint64_t slots_;
  const uint64_t total_;
  const uint32_t chains_;
  std::vector<uint64_t> order_;  // the blocks in random order, for random trials
  struct alignas(64) Region {    // positions [begin, begin + length) of the order
    uint64_t begin = 0;
    uint64_t length = 0;
    std::atomic<uint64_t> next{0};
  };
  std::vector<Region> regions_;
  std::vector<uint64_t> started_;  // per chain: when its request was started
  uint64_t start_ns_ = 0;
  uint64_t deadline_ns_ = 0;
  std::atomic<uint64_t> completed_{0};
  std::atomic<bool> failed_{false};
  LatencyHistogram latency_;

  std::mutex mutex_;
  std::condition_variable idle_;
  uint32_t active_ = 0;
  uint64_t end_ns_ = 0;
  std::exception_ptr error_;
};

}  // namespace

// Anonymous memory advised for transparent huge pages and touched once, so that every page
// is there (and huge where the kernel could) before anything is measured.
class IoBench::Buffer {
 public:
  explicit Buffer(uint64_t bytes) : size_((bytes + kHugePage - 1) / kHugePage * kHugePage) {
    mapped_ = size_ + kHugePage;
    void* raw = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw system_error(fmt::format("mapping {} bytes", mapped_), errno);
    raw_ = static_cast<std::byte*>(raw);
    auto at = reinterpret_cast<uintptr_t>(raw_);
    data_ = raw_ + ((at + kHugePage - 1) / kHugePage * kHugePage - at);
    madvise(data_, size_, MADV_HUGEPAGE);
    std::memset(data_, 0x5a, size_);
  }
  ~Buffer() { munmap(raw_, mapped_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  std::byte* data() const noexcept { return data_; }
  uint64_t size() const noexcept { return size_; }

 private:
  uint64_t size_;
  uint64_t mapped_ = 0;
  std::byte* raw_ = nullptr;
  std::byte* data_ = nullptr;
};

IoBench::IoBench(const IoTarget& target, uint64_t buffer_bytes) : size_(target.size) {
  if (target.dirs.empty() && target.files.empty()) {
    throw Error(Errc::invalid_argument, "no --dir and no --file: nowhere to do I/O");
  }
  try {
    for (const std::string& dir : target.dirs) {
      // Unnamed, so that nothing is left behind however the run ends; every trial opens it
      // anew (with its own flags) through /proc/self/fd.
      int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (fd < 0) throw system_error(fmt::format("creating an unnamed file in {}", dir), errno);
      scratch_fds_.push_back(fd);
      paths_.push_back(fmt::format("/proc/self/fd/{}", fd));
    }
    for (const std::string& path : target.files) paths_.push_back(path);
    buffer_ = std::make_unique<Buffer>(buffer_bytes);
  } catch (...) {
    for (int fd : scratch_fds_) ::close(fd);
    throw;
  }
}

IoBench::~IoBench() {
  for (int fd : scratch_fds_) ::close(fd);
}

void IoBench::prepare_reads(const IoTrial& like) {
  uint64_t share = size_ / paths_.size();
  bool short_file = false;
  for (const std::string& path : paths_) {
    struct stat st {};
    short_file |= stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) < share;
  }
  if (!short_file) return;
  IoTrial layout = like;
  layout.write = true;
  layout.random = false;
  layout.seconds = 0;
  run(layout);
}

IoOutcome IoBench::run(const IoTrial& trial) {
  uint64_t blocks_per_file = trial.block == 0 ? 0 : size_ / paths_.size() / trial.block;
  if (blocks_per_file == 0) {
    throw Error(Errc::invalid_argument,
                fmt::format("--size {} leaves each of the {} files less than one block of {}",
                            format_size(size_), paths_.size(), format_size(trial.block)));
  }
  if (trial.block > buffer_->size()) {
    throw Error(Errc::invalid_argument,
                fmt::format("--block {} is larger than the buffer of {}", format_size(trial.block),
                            format_size(buffer_->size())));
  }
  IoConfig config;
  config.engine = trial.engine;
  config.threads = trial.threads;
  config.queue_depth = trial.queue_depth;
  config.block_size = trial.block;
  config.sqpoll = trial.sqpoll;
  FileIo io(config);
  BufferRegistration registration;
  if (trial.register_buffers) {
    registration = io.register_buffer({buffer_->data(), buffer_->size()});
  }
  std::vector<IoFile> files;
  bool direct = true;
  for (const std::string& path : paths_) {
    files.push_back(
        io.open(path, trial.write ? OpenMode::read_write : OpenMode::read, trial.direct));
    direct &= files.back().direct();
  }
  uint64_t slots = std::min<uint64_t>(buffer_->size() / trial.block,
                                      uint64_t{trial.queue_depth} * trial.threads);
  IoOutcome outcome = Run(trial, files, buffer_->data(), slots, blocks_per_file).go();
  outcome.engine = io.engine();
  outcome.direct = direct;
  outcome.fixed_buffers = registration.active();
  return outcome;
}

}  // namespace tiermem::tools
