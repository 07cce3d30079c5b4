// sim/next_uses.hpp: the trace's future for Belady's MIN: the position of each page access's
// next use, built in one forward pass so that a streamed trace can have it too.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tiermem/sim.hpp"

namespace tiermem::sim {

// The next-use table of a trace: for each page access in order, the position of the next access
// to the same page (-1: none), 8 bytes per page access in chunks (so that growing it never
// copies it), and each page's first access. Built in one forward pass, so from a stream too.
struct NextUses {
  static constexpr int kChunkBits = 16;
  static constexpr uint64_t kChunk = uint64_t{1} << kChunkBits;

  std::vector<std::unique_ptr<int64_t[]>> chunks;
  uint64_t size = 0;           // page accesses
  std::vector<int64_t> first;  // per page: its first access, or -1

  int64_t operator[](uint64_t position) const {
    return chunks[position >> kChunkBits][position & (kChunk - 1)];
  }
};

// Fills a NextUses from accesses in order, a block at a time.
class NextUseBuilder {
 public:
  NextUseBuilder() : uses_(std::make_shared<NextUses>()) {}

  // The next accesses, where base[t] is the dense id of tensor t's first page and base.back()
  // the pages declared so far.
  void add(std::span<const TraceAccess> accesses, const std::vector<uint64_t>& base);
  // Pages touched so far.
  uint64_t touched() const noexcept { return touched_; }
  // The table, for pages pages in all (some maybe never accessed).
  std::shared_ptr<const NextUses> finish(uint64_t pages);

 private:
  std::shared_ptr<NextUses> uses_;
  std::vector<int64_t> last_;  // per page: its latest access so far
  uint64_t touched_ = 0;
};

}  // namespace tiermem::sim
