// tools/io_pool.cpp: the measuring loop of `tiermem io --to dram|gpu`.
#include "tools/io_pool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "tiermem/tiermem.hpp"

namespace tiermem::tools {

PoolIoOutcome run_pool_io(const PoolIoTrial& trial) {
  if (trial.tensor == 0 || trial.size < trial.tensor) {
    throw Error(Errc::invalid_argument,
                fmt::format("--size {} holds no tensor of --tensor {}", format_size(trial.size),
                            format_size(trial.tensor)));
  }
  const uint64_t tensors = trial.size / trial.tensor;
  Config config;
  config.page_size = trial.page;
  // Smaller than the set, so that reads come from nvme, and at least two tensors.
  const uint64_t round = std::max(trial.page, trial.tensor);
  config.dram.capacity = std::max(2 * round, std::min(trial.size / 4, uint64_t{1} << 30));
  config.dram.capacity = (config.dram.capacity + trial.page - 1) / trial.page * trial.page;
  if (trial.tier == Tier::gpu) {
    config.gpu.capacity = std::max(2 * round, config.dram.capacity / 2);
  }
  config.nvme.dirs = trial.dirs;
  config.nvme.capacity = tensors * trial.tensor + 4 * trial.page * tensors;
  config.nvme.direct = trial.direct;
  config.io.engine = trial.engine;
  config.io.threads = trial.threads;
  config.io.queue_depth = trial.queue_depth;
  config.io.block_size = trial.block;
  config.policy.eviction = "lru";
  config.policy.prefetch = trial.write ? "none" : "schedule";  // nothing to read ahead
  // Four tensors ahead, or half the DRAM tier: more would evict what it read before its use.
  config.policy.prefetch_budget = std::min(4 * trial.tensor, config.dram.capacity / 2);
  Pool pool(config);

  std::vector<Tensor> set;
  std::vector<ScheduleStep> order;
  for (uint64_t i = 0; i < tensors; ++i) {
    set.push_back(pool.allocate({trial.tensor}, DType::u8, fmt::format("t{}", i)));
    order.push_back({.tensor = set.back(), .tier = trial.tier});
  }
  if (!trial.write) {
    for (uint64_t i = 0; i < tensors; ++i) {
      Pin pin = set[i].pin(Tier::dram, Access::write);
      std::memset(pin.data(), static_cast<int>(i), pin.size());
    }
    pool.flush();
    for (const Tensor& t : set) t.evict(Tier::dram);
  }
  pool.set_schedule(order);

  const Stats before = pool.stats();
  auto start = std::chrono::steady_clock::now();
  for (const Tensor& t : set) {
    Pin pin = t.pin(trial.tier, trial.write ? Access::write : Access::read);
  }
  if (trial.write) pool.flush();
  PoolIoOutcome outcome;
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Stats after = pool.stats();
  outcome.gpu_backend = after.gpu_backend;
  outcome.dram_bytes = config.dram.capacity;
  outcome.gpu_bytes = config.gpu.capacity;
  outcome.bytes = tensors * trial.tensor;
  outcome.gbps = static_cast<double>(outcome.bytes) / outcome.seconds / 1e9;
  for (int from = 0; from < kTierCount; ++from) {
    for (int to = 0; to < kTierCount; ++to) {
      outcome.moved[from][to] = after.moved_bytes[from][to] - before.moved_bytes[from][to];
    }
  }
  return outcome;
}

}  // namespace tiermem::tools
