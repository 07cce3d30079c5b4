// tiermem/page_table.hpp: one entry per page, indexed by dense page id; each tensor owns one
// contiguous run of ids.
//
// The table reserves address space for every id the pool can ever hand out and the kernel
// commits it as entries are first touched, so the table never moves and lock-free pins can
// index it. Ids are allocated and freed by the migration engine under its mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "tiermem/extent_allocator.hpp"

namespace tiermem::detail {

using PageId = uint64_t;
inline constexpr uint32_t kNoFrame = UINT32_MAX;

struct PageEntry {
  std::atomic<uint64_t> state{0};            // a PageState word: see page_state.hpp
  uint32_t frame[2] = {kNoFrame, kNoFrame};  // frame in gpu, dram while valid there
  uint64_t nvme_slot = 0;                    // reserved when the tensor was allocated
  uint32_t tensor = 0;                       // slot of the owning tensor
  uint32_t index = 0;                        // page index within that tensor
};
static_assert(sizeof(PageEntry) <= 64, "page metadata must stay within 64 bytes per page");

// A page of a persistent pool has two NVMe slots, so that writing its new bytes never
// overwrites the copy the manifest on disk names (tiermem/pool_persistence.hpp). Written by the
// migration engine under its mutex.
struct DurablePage {
  static constexpr uint8_t kNone = 2;  // persist::kNoSlot
  uint64_t slot[2] = {0, 0};
  uint64_t checksum[2] = {0, 0};  // of the bytes last written to each slot
  uint64_t written = 0;           // the write-back number of the last write (0: none here)
  uint8_t current = 0;            // the slot PageEntry::nvme_slot names
  uint8_t durable = kNone;        // the slot the manifest on disk names
  uint8_t pending = kNone;        // the slot the manifest being published names
};

class PageTable {
 public:
  // Room for `capacity` ids (at most 2^32 - 1, the limit of the policies' dense lists), and a
  // DurablePage per id in a persistent pool.
  PageTable(uint64_t capacity, bool durable);
  ~PageTable();
  PageTable(const PageTable&) = delete;
  PageTable& operator=(const PageTable&) = delete;

  PageEntry& operator[](PageId id) noexcept { return entries_[id]; }
  const PageEntry& operator[](PageId id) const noexcept { return entries_[id]; }
  // Persistent pools only.
  DurablePage& durable(PageId id) noexcept { return durable_[id]; }
  bool has_durable() const noexcept { return durable_ != nullptr; }

  // A run of count ids with freshly reset entries; nullopt when no run that long is free.
  std::optional<PageId> allocate(uint64_t count);
  void free(PageId first, uint64_t count);

  uint64_t capacity() const noexcept { return ids_.total_units(); }

 private:
  PageEntry* entries_;
  DurablePage* durable_ = nullptr;
  ExtentAllocator ids_;
};

}  // namespace tiermem::detail
