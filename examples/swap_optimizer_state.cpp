// examples/swap_optimizer_state.cpp: optimizer state that lives on NVMe and comes into DRAM
// one sub-group at a time for its update, ZeRO-Infinity style. The next sub-group's state is
// fetched while the current one is updated, and written-back pages go down on eviction.
//
//   swap_optimizer_state [DIR]
#include <array>
#include <cmath>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "tiermem/tiermem.hpp"

int main(int argc, char** argv) {
  using namespace tiermem;
  Config config;
  config.dram.capacity = 32ull << 20;
  config.nvme.capacity = 512ull << 20;
  if (argc > 1) config.nvme.dirs = {argv[1]};
  Pool pool(config);

  // Eight sub-groups of 1 M parameters: fp32 master weights, momentum and variance.
  const int groups = 8;
  const uint64_t params = 1 << 20;
  struct Group {
    Tensor master, momentum, variance;
  };
  std::vector<Group> state;
  for (int g = 0; g < groups; ++g) {
    std::string name = "group" + std::to_string(g);
    state.push_back({pool.allocate({params}, DType::f32, name + ".master"),
                     pool.allocate({params}, DType::f32, name + ".m"),
                     pool.allocate({params}, DType::f32, name + ".v")});
  }

  for (int step = 1; step <= 3; ++step) {
    // Start the first sub-group's pins; each iteration starts the next before it computes.
    auto pins = [&](int g) {
      return std::array<std::future<Pin>, 3>{
          state[g].master.pin_async(Tier::dram, Access::read_write),
          state[g].momentum.pin_async(Tier::dram, Access::read_write),
          state[g].variance.pin_async(Tier::dram, Access::read_write)};
    };
    auto next = pins(0);
    for (int g = 0; g < groups; ++g) {
      Pin master = next[0].get(), m = next[1].get(), v = next[2].get();
      if (g + 1 < groups) state[g + 1].master.prefetch(Tier::dram);
      auto w = master.as<float>(), mm = m.as<float>(), vv = v.as<float>();
      for (uint64_t i = 0; i < params; ++i) {  // Adam with a made-up gradient
        float grad = 0.001f * static_cast<float>((i + step) % 7);
        mm[i] = 0.9f * mm[i] + 0.1f * grad;
        vv[i] = 0.999f * vv[i] + 0.001f * grad * grad;
        w[i] -= 0.01f * mm[i] / (std::sqrt(vv[i]) + 1e-8f);
      }
      master.reset();
      m.reset();
      v.reset();
      if (g + 1 < groups) next = pins(g + 1);
    }
  }

  Stats stats = pool.stats();
  std::printf("3 steps over %d sub-groups: %llu pages written to nvme, %llu read back\n", groups,
              static_cast<unsigned long long>(stats.moves[1][2]),
              static_cast<unsigned long long>(stats.moves[2][1]));
  return 0;
}
