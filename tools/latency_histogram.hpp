// tools/latency_histogram.hpp: request latencies from many threads at once, in fixed memory,
// for percentiles within about 3 % (32 buckets per power of two, as fio's histogram does).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace tiermem::tools {

class LatencyHistogram {
 public:
  // Thread-safe and lock-free.
  void record(uint64_t ns) noexcept {
    buckets_[index(ns)].fetch_add(1, std::memory_order_relaxed);
    uint64_t seen = max_ns_.load(std::memory_order_relaxed);
    while (ns > seen && !max_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
    }
  }

  // The latency below which fraction q (0 to 1) of the recorded ones lie, in nanoseconds: the
  // middle of its bucket (at most the largest recorded). 0 when nothing was recorded. Call
  // when recording has stopped.
  double quantile_ns(double q) const noexcept {
    uint64_t total = 0;
    for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
    if (total == 0) return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank) {
        double middle = (static_cast<double>(low(i)) + static_cast<double>(low(i + 1))) / 2;
        return std::min(middle, static_cast<double>(max_ns()));
      }
    }
    return static_cast<double>(max_ns());
  }

  uint64_t max_ns() const noexcept { return max_ns_.load(std::memory_order_relaxed); }

 private:
  static constexpr unsigned kSubBits = 5;  // 32 buckets per power of two
  static constexpr size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

  // Values below 32 have a bucket each; above, the top 5 bits below the leading one choose
  // among the 32 buckets of its power of two.
  static size_t index(uint64_t v) noexcept {
    if (v < (1u << kSubBits)) return v;
    unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBits;
    return ((shift + 1) << kSubBits) + ((v >> shift) & ((1u << kSubBits) - 1));
  }
  // The smallest value of bucket i.
  static uint64_t low(size_t i) noexcept {
    if (i < (1u << kSubBits)) return i;
    unsigned shift = static_cast<unsigned>(i >> kSubBits) - 1;
    return ((1ull << kSubBits) | (i & ((1u << kSubBits) - 1))) << shift;
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> max_ns_{0};
};

}  // namespace tiermem::tools
