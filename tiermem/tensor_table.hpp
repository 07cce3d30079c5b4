// tiermem/tensor_table.hpp: the records behind Tensor handles, in slots whose addresses never
// change, so that a handle's pin can find its record without a lock.
//
// A slot's generation is odd while a tensor lives in it and even while it is free; a handle
// holds the generation it was given and every call compares it, which is how a released (or
// reused) slot is told apart from a live one.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tiermem/file_source.hpp"
#include "tiermem/page_table.hpp"
#include "tiermem/pool.hpp"

namespace tiermem::detail {

struct TensorRecord {
  std::atomic<uint32_t> generation{0};
  std::string name;
  std::vector<uint64_t> shape;
  DType dtype = DType::u8;
  uint64_t bytes = 0;
  PageId first_page = 0;
  uint32_t page_count = 0;
  TensorOptions options;
  // A read-only tensor whose NVMe copy is a file outside the pool (a checkpoint streamed in
  // place): its bytes start at source_offset there; its pages have no NVMe slots.
  std::shared_ptr<const FileSource> source;
  uint64_t source_offset = 0;
  // A persistent pool's tensor that the manifest on disk holds (MigrationEngine::end_publish).
  bool in_manifest = false;
};

class TensorTable {
 public:
  static constexpr uint32_t kChunkSlots = 256;
  static constexpr uint32_t kMaxChunks = 4096;
  static constexpr uint32_t kMaxTensors = kChunkSlots * kMaxChunks;

  TensorTable() = default;
  ~TensorTable();
  TensorTable(const TensorTable&) = delete;
  TensorTable& operator=(const TensorTable&) = delete;

  // Lock-free; the slot must have been handed out by acquire() at some time.
  TensorRecord& operator[](uint32_t slot) noexcept {
    return (*chunks_[slot / kChunkSlots].load(std::memory_order_acquire))[slot % kChunkSlots];
  }

  // A free slot (its record still holds the last tensor's fields). Callers serialise
  // acquire/release. Throws Error(out_of_space) past kMaxTensors live tensors.
  uint32_t acquire();
  void release(uint32_t slot);

  // Slots handed out so far, live or free. Callers serialise it with acquire/release.
  uint32_t slots() const noexcept { return used_chunks_ * kChunkSlots; }

  // Calls fn(slot, record) for every live tensor. Callers serialise it with acquire/release.
  template <class Fn>
  void for_each_live(Fn&& fn) {
    for (uint32_t slot = 0; slot < slots(); ++slot) {
      TensorRecord& record = (*this)[slot];
      if (record.generation.load(std::memory_order_acquire) & 1) fn(slot, record);
    }
  }

 private:
  using Chunk = std::array<TensorRecord, kChunkSlots>;
  std::array<std::atomic<Chunk*>, kMaxChunks> chunks_{};
  uint32_t used_chunks_ = 0;
  std::vector<uint32_t> free_slots_;
};

}  // namespace tiermem::detail
