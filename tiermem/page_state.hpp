// tiermem/page_state.hpp: the 64-bit state word of a page, and the transitions on it.
//
// The word is the only thing the lock-free pin path touches. Everything else about a page
// (frames, NVMe slot) is written by the migration engine under its mutex while the page is
// busy, and read by pins only after a successful CAS on this word.
//
//   bits  0-2   valid copies: gpu, dram, nvme (all valid copies hold the same bytes)
//   bit   3     busy: residency is changing (fetch, eviction, invalidation); pins wait
//   bit   4     writing: a write-back copy is in flight; write pins and evictions wait
//   bit   5     prefetched: brought in by prefetch and not pinned since
//   bits  6-7   tracked by the eviction policy of gpu, dram
//   bits  8-23  pins in gpu
//   bits 24-39  pins in dram
//   bits 40-47  active write pins (both tiers)
//   bits 48-55  write epoch: bumped by every write pin, so a write-back can tell whether the
//               bytes it copied may have changed underneath it
//   bit   56    announced: prefetched at the application's request (Tensor::prefetch); set
//               and cleared with prefetched
#pragma once

#include <cassert>
#include <cstdint>

#include "tiermem/types.hpp"

namespace tiermem::detail {

// A tier as the index of per-tier arrays.
constexpr int at(Tier tier) {
  return static_cast<int>(tier);
}

struct PageState {
  uint64_t word = 0;

  static constexpr uint64_t kValidShift = 0;
  static constexpr uint64_t kBusy = 1ull << 3;
  static constexpr uint64_t kWriting = 1ull << 4;
  static constexpr uint64_t kPrefetched = 1ull << 5;
  static constexpr uint64_t kTrackedShift = 6;
  static constexpr uint64_t kPinShift[2] = {8, 24};
  static constexpr uint64_t kPinMax = 0xffff;
  static constexpr uint64_t kWritersShift = 40;
  static constexpr uint64_t kWritersMax = 0xff;
  static constexpr uint64_t kEpochShift = 48;
  static constexpr uint64_t kAnnounced = 1ull << 56;

  static constexpr uint64_t tier_bit(Tier t) { return 1ull << static_cast<int>(t); }

  bool valid(Tier t) const { return word & (tier_bit(t) << kValidShift); }
  uint64_t valid_mask() const { return (word >> kValidShift) & 7; }
  bool busy() const { return word & kBusy; }
  bool writing() const { return word & kWriting; }
  bool prefetched() const { return word & kPrefetched; }
  bool announced() const { return word & kAnnounced; }
  bool tracked(Tier t) const { return word & (tier_bit(t) << kTrackedShift); }
  uint64_t pins(Tier t) const {
    assert(t != Tier::nvme);
    return (word >> kPinShift[static_cast<int>(t)]) & kPinMax;
  }
  uint64_t all_pins() const { return pins(Tier::gpu) + pins(Tier::dram); }
  uint64_t writers() const { return (word >> kWritersShift) & kWritersMax; }
  uint8_t epoch() const { return static_cast<uint8_t>(word >> kEpochShift); }

  // Dirty: the highest valid copy has no valid copy below it, so dropping it would lose data.
  bool dirty() const { return valid_mask() != 0 && !valid(Tier::nvme); }
  // The copy in tier t is the only one at or below t (dropping it would lose data).
  bool only_copy_from(Tier t) const {
    return valid(t) && (valid_mask() >> (static_cast<int>(t) + 1)) == 0;
  }

  void set_valid(Tier t, bool on) { set(tier_bit(t) << kValidShift, on); }
  void set_busy(bool on) { set(kBusy, on); }
  void set_writing(bool on) { set(kWriting, on); }
  // announced: the application asked for the prefetch (only with on).
  void set_prefetched(bool on, bool announced = false) {
    set(kPrefetched, on);
    set(kAnnounced, on && announced);
  }
  void set_tracked(Tier t, bool on) { set(tier_bit(t) << kTrackedShift, on); }

  void add_pin(Tier t, bool write) {
    assert(pins(t) < kPinMax);
    word += 1ull << kPinShift[static_cast<int>(t)];
    if (write) {
      assert(writers() < kWritersMax);
      word += 1ull << kWritersShift;
      word = (word & ~(0xffull << kEpochShift)) |
             (static_cast<uint64_t>(static_cast<uint8_t>(epoch() + 1)) << kEpochShift);
    }
  }
  void drop_pin(Tier t, bool write) {
    assert(pins(t) > 0 && "unpin of a page that is not pinned");
    word -= 1ull << kPinShift[static_cast<int>(t)];
    if (write) {
      assert(writers() > 0);
      word -= 1ull << kWritersShift;
    }
  }

 private:
  void set(uint64_t bits, bool on) { word = on ? (word | bits) : (word & ~bits); }
};

// Whether a pin of (tier, write) can be taken on this state without the migration engine:
// the copy is there, nothing is moving, no other tier's copy would go stale, and the counters
// have room. On success it applies the pin to s: it counts the pin and, for writes, makes the
// pinned copy the only valid one below the pinned tier (an NVMe copy goes stale; the slot stays
// reserved), unless keep_nvme: a pin whose pages came without their bytes keeps the NVMe copy
// valid until the pin is confirmed (see MigrationEngine::undo_unread_pages).
inline bool try_fast_pin(PageState& s, Tier t, bool write, bool keep_nvme = false) {
  if (s.busy() || !s.valid(t) || s.pins(t) == PageState::kPinMax) return false;
  if (write) {
    Tier other = t == Tier::gpu ? Tier::dram : Tier::gpu;
    // Another tier's copy must be invalidated first (it holds a frame): engine's work.
    if (s.valid(other) || s.pins(other) != 0) return false;
    if (s.writing() || s.writers() == PageState::kWritersMax) return false;
    if (!keep_nvme) s.set_valid(Tier::nvme, false);
  }
  s.add_pin(t, write);
  s.set_prefetched(false);
  return true;
}

}  // namespace tiermem::detail
