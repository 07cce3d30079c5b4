// tiermem/tensor_table.cpp: slot allocation in chunks that never move.
#include "tiermem/tensor_table.hpp"

#include <fmt/format.h>

#include "tiermem/error.hpp"

namespace tiermem::detail {

TensorTable::~TensorTable() {
  for (uint32_t i = 0; i < used_chunks_; ++i) delete chunks_[i].load();
}

uint32_t TensorTable::acquire() {
  if (free_slots_.empty()) {
    if (used_chunks_ == kMaxChunks) {
      throw Error(Errc::out_of_space,
                  fmt::format("too many live tensors: the limit is {}", kMaxTensors));
    }
    chunks_[used_chunks_].store(new Chunk(), std::memory_order_release);
    for (uint32_t i = kChunkSlots; i > 0; --i) {
      free_slots_.push_back(used_chunks_ * kChunkSlots + i - 1);
    }
    ++used_chunks_;
  }
  uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void TensorTable::release(uint32_t slot) {
  free_slots_.push_back(slot);
}

}  // namespace tiermem::detail
