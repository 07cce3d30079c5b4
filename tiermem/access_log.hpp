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
#include <vector>

#include "tiermem/page_table.hpp"
#include "tiermem/types.hpp"

namespace tiermem::detail {

struct AccessRecord {
  PageId page;
  uint64_t time;  // ns on the steady clock; 0 when nobody needs it (no trace is recorded)
  Tier tier;
  Access access;
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
    void hit(const AccessRecord& record, bool was_prefetched) noexcept {
      ++s_.counters.hits[static_cast<int>(record.tier)];
      s_.counters.prefetch_useful += was_prefetched;
      if (s_.count < kCapacity) {
        s_.records[s_.count++] = record;
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

  // Moves every buffered record to the end of out, oldest first per stripe. The caller holds
  // the migration engine's mutex.
  void drain(std::vector<AccessRecord>& out) {
    for (Stripe& s : stripes_) {
      lock(s);
      out.insert(out.end(), s.records.begin(), s.records.begin() + s.count);
      s.count = 0;
      s.busy.store(false, std::memory_order_release);
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
