// vclock/null_arena.hpp: the frames of a tier in a data-less pool on a virtual clock: counted,
// given out and taken back like any others, but with no memory behind them, so that a laptop
// can model a terabyte of offloaded state. Frame addresses and views are null: the engine
// copies nothing, and pins of a data-less pool have no data().
#pragma once

#include "tiermem/frame_arena.hpp"

namespace tiermem::detail {

class NullArena final : public FrameArena {
 public:
  using FrameArena::FrameArena;
  std::byte* frame_address(uint32_t) const noexcept override { return nullptr; }
  std::byte* view_base() const noexcept override { return nullptr; }
  void map(std::byte*, uint32_t) override {}
  void unmap(std::byte*, uint64_t) override {}
};

}  // namespace tiermem::detail
