// tiermem/access_log.hpp: how lock-free pin hits reach the policies.
//
// A pin that finds its pages resident takes no lock, yet the eviction and prefetch policies
// must hear of the access. Each thread appends to one of a few stripes (batching in the manner
// of BP-Wrapper); the migration engine drains the stripes into the policies whenever it holds
// its mutex, and a thread whose stripe fills up drains it if the mutex is free. A record that
// finds its stripe full is counted as dropped. Threads are spread over the stripes by a hash of
// their id, so a stripe is contended mostly while it is being drained. The stripes also hold the
// hit and pin counters, so that counting costs no shared cache line.
#pragma once

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>

#include "tiermem/page_table.hpp"
#include "tiermem/types.hpp"

namespace tiermem::detail {

struct AccessRecord {
  PageId page;
  Tier tier;
  bool write;
};

struct AccessCounters {
  uint64_t hits[2] = {};  // pages found resident in gpu, dram
  uint64_t pins = 0;
  uint64_t prefetch_useful = 0;
  uint64_t dropped = 0;
};

class AccessLog {
  struct Stripe;

 public:
  static constexpr uint32_t kStripes = 16;
  static constexpr uint32_t kCapacity = 60;  // records per stripe

  // Holds the calling thread's stripe for the span of one pin call.
  class Writer {
   public:
    explicit Writer(AccessLog& log) noexcept : s_(log.stripe()) { lock(s_); }
    ~Writer() { s_.busy.store(false, std::memory_order_release); }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // One pinned page that was resident.
    void hit(PageId page, Tier tier, bool write, bool was_prefetched) noexcept {
      ++s_.counters.hits[static_cast<int>(tier)];
      s_.counters.prefetch_useful += was_prefetched;
      if (s_.count < kCapacity) {
        s_.records[s_.count++] = AccessRecord{page, tier, write};
      } else {
        ++s_.counters.dropped;
      }
    }
    void pin() noexcept { ++s_.counters.pins; }
    // The stripe is full and should be drained.
    bool full() const noexcept { return s_.count == kCapacity; }

   private:
    Stripe& s_;
  };

  // Hands every buffered record to fn, oldest first per stripe. The caller holds the
  // migration engine's mutex.
  template <class Fn>
  void drain(Fn&& fn) {
    std::array<AccessRecord, kCapacity> copy;
    for (Stripe& s : stripes_) {
      lock(s);
      uint32_t n = s.count;
      for (uint32_t i = 0; i < n; ++i) copy[i] = s.records[i];
      s.count = 0;
      s.busy.store(false, std::memory_order_release);
      for (uint32_t i = 0; i < n; ++i) fn(copy[i]);
    }
  }

  // The counters summed over the stripes.
  AccessCounters counters() noexcept {
    AccessCounters sum;
    for (Stripe& s : stripes_) {
      lock(s);
      for (int t = 0; t < 2; ++t) sum.hits[t] += s.counters.hits[t];
      sum.pins += s.counters.pins;
      sum.prefetch_useful += s.counters.prefetch_useful;
      sum.dropped += s.counters.dropped;
      s.busy.store(false, std::memory_order_release);
    }
    return sum;
  }

 private:
  struct alignas(64) Stripe {
    std::atomic<bool> busy{false};
    uint32_t count = 0;
    AccessCounters counters;
    std::array<AccessRecord, kCapacity> records;
  };

  static void lock(Stripe& s) noexcept {
    while (s.busy.exchange(true, std::memory_order_acquire)) {
      while (s.busy.load(std::memory_order_relaxed)) {
      }
    }
  }

  // The thread's stripe, from its thread id (cheaper than thread-local storage in a shared
  // library): a multiplicative hash of the id's address bits.
  Stripe& stripe() noexcept {
    auto id = static_cast<uint64_t>(pthread_self());
    return stripes_[(id * 0x9E3779B97F4A7C15ull) >> 60];
  }

  std::array<Stripe, kStripes> stripes_;
};

}  // namespace tiermem::detail
