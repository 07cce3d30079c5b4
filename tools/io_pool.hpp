// tools/io_pool.hpp: `tiermem io --to dram|gpu`: the same sequential read or write measured
// through a Pool instead of into a buffer: a set of tensors streamed between the NVMe tier and
// the dram or gpu tier (NVMe->DRAM->GPU and back on a GPU machine, with the emulated gpu tier
// elsewhere), like ds_io's --gpu.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tiermem/types.hpp"

namespace tiermem::tools {

struct PoolIoTrial {
  Tier tier = Tier::gpu;
  bool write = false;
  uint64_t size = 1ull << 30;     // bytes of tensors, split into tensors of `tensor` bytes
  uint64_t tensor = 64ull << 20;  // bytes per tensor (one pin each)
  uint64_t page = 2ull << 20;     // the pool's page size
  std::vector<std::string> dirs;  // the NVMe tier's directories
  std::string engine = "uring";   // io.engine
  uint32_t threads = 2;           // io.threads
  uint32_t queue_depth = 32;      // io.queue_depth
  uint64_t block = 1ull << 20;    // io.block_size
  bool direct = true;             // nvme.direct
};

struct PoolIoOutcome {
  std::string gpu_backend;  // "cuda", "emulated" or "none"
  uint64_t dram_bytes = 0;  // the DRAM tier: a quarter of the set, at most 1 GiB
  uint64_t gpu_bytes = 0;   // the gpu tier: half the DRAM tier
  uint64_t bytes = 0;       // moved in the timed part
  double seconds = 0;
  double gbps = 0;
  // Bytes between tiers in the timed part (Stats::moved_bytes).
  uint64_t moved[kTierCount][kTierCount] = {};
};

// Reads: the tensors are written and put on nvme first (untimed), then each is pinned in the
// tier for reading, in order, with the schedule prefetcher reading ahead. Writes: each tensor
// is pinned in the tier for writing (no bytes fetched), then the pool is flushed: every byte
// goes down to nvme. Throws tiermem::Error.
PoolIoOutcome run_pool_io(const PoolIoTrial& trial);

}  // namespace tiermem::tools
