// examples/custom_policy.cpp: an eviction policy of the program's own, registered by name and
// used unchanged in a live pool and in the simulator.
//
// The policy, MRU, suits loops over more data than the tier holds (a model's layers, streamed
// every token): LRU evicts each page just before its next use and so misses every access, while
// MRU keeps the same part of the loop resident from pass to pass and misses only the rest.
//
//   custom_policy [DIR]   (DIR: where the NVMe tier's files go; default $TMPDIR or /tmp)
#include <cstdio>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tiermem/tiermem.hpp"

namespace {

using tiermem::policy::AccessEvent;
using tiermem::policy::PageId;

// Most recently used first, passing over the `spare` most recent evictable pages (the rest of
// a layer still being read, say).
class Mru final : public tiermem::policy::EvictionPolicy {
 public:
  explicit Mru(uint64_t spare) : spare_(spare) {}

  std::string_view name() const noexcept override { return "mru"; }
  void insert(const AccessEvent& event) override {
    where_[event.page] = recent_.insert(recent_.begin(), event.page);
  }
  void touch(const AccessEvent& event) override {
    recent_.splice(recent_.begin(), recent_, where_.at(event.page));
  }
  std::optional<PageId> victim(const tiermem::policy::VictimFilter& filter) override {
    std::optional<PageId> found;  // the last evictable page seen, should fewer than spare be
    uint64_t passed = 0;
    for (PageId page : recent_) {
      if (!filter.evictable(page)) continue;
      found = page;
      if (passed++ == spare_) break;
    }
    return found;
  }
  void evict(PageId page) override { remove(page); }
  void remove(PageId page) override {
    recent_.erase(where_.at(page));
    where_.erase(page);
  }
  uint64_t size() const noexcept override { return recent_.size(); }

 private:
  uint64_t spare_;
  std::list<PageId> recent_;  // most recent first
  std::unordered_map<PageId, std::list<PageId>::iterator> where_;
};

// Reads 16 layers of 2 MiB, 3 times, through a 24 MiB dram tier; returns the dram misses.
uint64_t live_misses(const std::string& eviction, const char* dir) {
  using namespace tiermem;
  Config config;
  config.page_size = 1 << 20;
  config.dram.capacity = 24ull << 20;
  config.nvme.capacity = 64ull << 20;
  if (dir != nullptr) config.nvme.dirs = {dir};
  config.policy.eviction = eviction;
  Pool pool(config);
  std::vector<Tensor> layers;
  for (int i = 0; i < 16; ++i) {
    layers.push_back(pool.allocate({1 << 20}, DType::f16, "layer" + std::to_string(i)));
    layers.back().pin(Tier::dram, Access::write).reset();  // "load the checkpoint"
  }
  const uint64_t before = pool.stats().tiers[1].misses;
  for (int token = 0; token < 3; ++token) {
    for (const Tensor& layer : layers) layer.pin(Tier::dram, Access::read).reset();
  }
  return pool.stats().tiers[1].misses - before;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tiermem;
  policy::register_eviction_policy(
      "mru", "spare=0 (most recent evictable pages passed over)",
      "most recently used: for loops larger than the tier",
      [](const policy::Params& params, const policy::Context& context) {
        uint64_t most = context.capacity_pages > 0 ? context.capacity_pages - 1 : 0;
        return std::make_unique<Mru>(params.get_uint("spare", 0, 0, most));
      });

  // The same trace in the simulator: a real model's layers, half of them fitting in dram.
  workload::LayerStreaming options;
  options.model = "phi-3-mini";
  options.tokens = 3;
  options.prompt = 64;
  options.weight_tier = Tier::dram;
  const Trace trace = workload::layer_streaming(options);
  sim::Config config;
  config.dram_bytes = trace.footprint_bytes() / 2;

  std::printf("%-12s %16s %20s\n", "eviction", "live pool misses", "simulated miss ratio");
  uint64_t live[2];
  double simulated[2];
  const char* specs[2] = {"lru", "mru:spare=1"};
  for (int i = 0; i < 2; ++i) {
    live[i] = live_misses(specs[i], argc > 1 ? argv[1] : nullptr);
    config.eviction = specs[i];
    simulated[i] = sim::simulate(trace, config).miss_ratio();
    std::printf("%-12s %16llu %20.3f\n", specs[i], static_cast<unsigned long long>(live[i]),
                simulated[i]);
  }
  if (live[1] >= live[0] || simulated[1] >= simulated[0]) {
    std::fprintf(stderr, "mru should miss less than lru on a loop larger than the tier\n");
    return 1;
  }
  return 0;
}
