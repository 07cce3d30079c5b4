// tools/stress.cpp: the stress workload: tensors, threads of random pins, verification.
#include "tools/stress.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tiermem/error.hpp"

namespace tiermem::tools {

namespace {

struct StressTensor {
  Tensor tensor;
  uint64_t bytes;
  std::vector<uint32_t> versions;  // per page; written only by the owning thread
};

// The expected 8-byte word at word index `word` of a page at a version: zeros until first
// written. Words are counted from the page's start, so every byte has exactly one word.
uint64_t expected_word(uint64_t tensor, uint64_t page, uint32_t version, uint64_t word) {
  if (version == 0) return 0;
  uint64_t x = (tensor * 0x9E3779B97F4A7C15ull) ^ (page * 0xC2B2AE3D27D4EB4Full) ^
               (uint64_t{version} * 0x165667B19E3779F9ull) ^ (word * 0xBF58476D1CE4E5B9ull);
  x ^= x >> 29;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 32);
}

// The expected byte at byte offset `at` of a page.
uint8_t expected(uint64_t tensor, uint64_t page, uint32_t version, uint64_t at) {
  return static_cast<uint8_t>(expected_word(tensor, page, version, at / 8) >> (8 * (at % 8)));
}

// Compares [begin, end) of the pinned bytes (byte offsets within the tensor) with versions:
// whole words where they fit, bytes at the ragged ends. Returns the bytes that differ.
uint64_t check(const Pin& pin, uint64_t pin_offset, uint64_t begin, uint64_t end, uint64_t index,
               const StressTensor& t, uint64_t page_size) {
  uint64_t bad = 0;
  const auto* bytes = static_cast<const uint8_t*>(pin.data());
  for (uint64_t at = begin; at < end;) {
    const uint64_t page = at / page_size, in_page = at % page_size;
    const uint32_t version = t.versions[page];
    const uint64_t stop = std::min(end, (page + 1) * page_size);
    uint64_t i = in_page;
    for (; i % 8 != 0 && at < stop; ++i, ++at) {
      bad += bytes[at - pin_offset] != expected(index, page, version, i);
    }
    for (; at + 8 <= stop; i += 8, at += 8) {
      uint64_t word;
      std::memcpy(&word, bytes + (at - pin_offset), 8);
      if (word != expected_word(index, page, version, i / 8)) {
        for (uint64_t k = 0; k < 8; ++k) {
          bad += static_cast<uint8_t>(word >> (8 * k)) != expected(index, page, version, i + k);
        }
      }
    }
    for (; at < stop; ++i, ++at) bad += bytes[at - pin_offset] != expected(index, page, version, i);
  }
  return bad;
}

class Worker {
 public:
  Worker(std::vector<StressTensor>& tensors, const StressOptions& options, uint32_t id,
         uint64_t page_size, bool has_gpu)
      : tensors_(tensors),
        options_(options),
        id_(id),
        page_size_(page_size),
        has_gpu_(has_gpu && options.use_gpu),
        random_(options.seed * 7919 + id) {}

  void run(std::chrono::steady_clock::time_point deadline) {
    for (uint64_t n = 0; options_.max_operations == 0 || n < options_.max_operations; ++n) {
      if (options_.max_operations == 0 && std::chrono::steady_clock::now() >= deadline) break;
      try {
        step();
      } catch (const Error& e) {
        if (e.code() == Errc::io && options_.retry_io_errors) {
          ++counters_.io_errors;
        } else if (e.code() == Errc::busy || e.code() == Errc::tier_full) {
          ++counters_.retries;
        } else {
          throw;
        }
      }
    }
  }

  const StressReport& counters() const { return counters_; }

 private:
  uint64_t below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(random_); }

  void step() {
    uint64_t index = below(tensors_.size());
    StressTensor& t = tensors_[index];
    const uint64_t pages = (t.bytes + page_size_ - 1) / page_size_;
    const bool mine = index % options_.threads == id_;
    const bool write = mine && below(100) < 40;
    const Tier tier = has_gpu_ && below(100) < 30 ? Tier::gpu : Tier::dram;
    uint64_t first = below(pages);
    uint64_t count = 1 + below(std::min<uint64_t>(options_.max_pin_pages, pages - first));
    uint64_t offset = first * page_size_;
    uint64_t end = std::min((first + count) * page_size_, t.bytes);
    if (!write) {  // reads take any byte range inside those pages
      offset += below(std::min(page_size_, end - offset));
      end -= below(end - offset);
    }
    ByteRange range{offset, end - offset};
    Access access = !write ? Access::read : below(2) == 0 ? Access::write : Access::read_write;
    Pin pin = below(5) == 0 ? t.tensor.pin_async(tier, access, range).get()
                            : t.tensor.pin(tier, access, range);
    ++counters_.operations;
    counters_.bytes_pinned += range.length;
    // Only the writer knows its tensor's versions while others run.
    if (mine && options_.verify && access != Access::write) {
      counters_.mismatches += check(pin, offset, offset, end, index, t, page_size_);
      counters_.bytes_checked += end - offset;
    }
    if (!write) {
      ++counters_.read_pins;
      return;
    }
    ++counters_.write_pins;
    auto* bytes = static_cast<uint8_t*>(pin.data());
    for (uint64_t page = first; page < first + count; ++page) {
      uint32_t version = ++t.versions[page];
      uint64_t page_bytes = std::min((page + 1) * page_size_, t.bytes) - page * page_size_;
      uint8_t* out = bytes + (page * page_size_ - offset);
      for (uint64_t i = 0; i < page_bytes; i += 8) {
        uint64_t word = expected_word(index, page, version, i / 8);
        std::memcpy(out + i, &word, std::min<uint64_t>(8, page_bytes - i));
      }
    }
  }

  std::vector<StressTensor>& tensors_;
  const StressOptions& options_;
  uint32_t id_;
  uint64_t page_size_;
  bool has_gpu_;
  std::mt19937_64 random_;
  StressReport counters_;
};

}  // namespace

void StressReport::add(const StressReport& o) noexcept {
  operations += o.operations;
  read_pins += o.read_pins;
  write_pins += o.write_pins;
  retries += o.retries;
  io_errors += o.io_errors;
  bytes_pinned += o.bytes_pinned;
  bytes_checked += o.bytes_checked;
  mismatches += o.mismatches;
}

StressReport run_stress(Pool& pool, const StressOptions& options) {
  if (options.threads == 0) throw Error(Errc::invalid_argument, "stress needs at least 1 thread");
  const uint64_t page_size = pool.config().page_size;
  const uint64_t dram_pages = pool.config().dram.capacity / page_size;
  const bool has_gpu = pool.config().gpu.capacity >= page_size;
  // Every thread may hold one pin at a time; they must fit together in the smaller tier.
  uint64_t room = has_gpu && options.use_gpu
                      ? std::min(dram_pages, pool.config().gpu.capacity / page_size)
                      : dram_pages;
  if (uint64_t{options.max_pin_pages} * options.threads > room) {
    throw Error(Errc::invalid_argument,
                "stress: " + std::to_string(options.threads) + " threads pinning up to " +
                    std::to_string(options.max_pin_pages) + " pages each exceed the " +
                    std::to_string(room) + " frames of the smallest tier");
  }

  std::mt19937_64 random(options.seed);
  std::vector<StressTensor> tensors;
  uint64_t total = 0;
  while (total < options.total_bytes) {
    uint64_t pages = 1 + random() % 8;
    uint64_t bytes =
        std::min(pages * page_size - random() % page_size, options.total_bytes - total);
    bytes = std::max<uint64_t>(bytes, 1);
    std::string name = "stress." + std::to_string(tensors.size());
    tensors.push_back({pool.allocate({bytes}, DType::u8, name), bytes,
                       std::vector<uint32_t>((bytes + page_size - 1) / page_size, 0)});
    total += bytes;
  }

  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(options.seconds));
  std::vector<Worker> workers;
  workers.reserve(options.threads);
  for (uint32_t id = 0; id < options.threads; ++id) {
    workers.emplace_back(tensors, options, id, page_size, has_gpu);
  }
  std::vector<std::thread> threads;
  std::exception_ptr failure;
  std::mutex failure_mutex;
  for (Worker& worker : workers) {
    threads.emplace_back([&] {
      try {
        worker.run(deadline);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  if (failure) std::rethrow_exception(failure);

  StressReport report;
  for (const Worker& worker : workers) report.add(worker.counters());
  if (options.verify) {
    // Every byte of every tensor, a few pages at a time, in an order unlike the writes'.
    for (uint64_t i = tensors.size(); i > 0; --i) {
      StressTensor& t = tensors[i - 1];
      for (uint64_t offset = 0; offset < t.bytes; offset += options.max_pin_pages * page_size) {
        uint64_t end = std::min(t.bytes, offset + options.max_pin_pages * page_size);
        Pin pin;
        for (int attempt = 0; !pin; ++attempt) {
          try {
            pin = t.tensor.pin(Tier::dram, Access::read, {offset, end - offset});
          } catch (const Error& e) {
            if (e.code() != Errc::io || !options.retry_io_errors || attempt == 100) throw;
            ++report.io_errors;
          }
        }
        report.mismatches += check(pin, offset, offset, end, i - 1, t, page_size);
        report.bytes_checked += end - offset;
      }
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (StressTensor& t : tensors) t.tensor.release();
  report.tensors = tensors.size();
  return report;
}

}  // namespace tiermem::tools
