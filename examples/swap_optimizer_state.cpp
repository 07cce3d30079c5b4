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

  // Adam with a made-up gradient that depends only on the parameter's index and the step.
  auto gradient = [](uint64_t i, int step) { return 0.001f * static_cast<float>((i + step) % 7); };
  auto adam = [](float& w, float& m, float& v, float grad) {
    m = 0.9f * m + 0.1f * grad;
    v = 0.999f * v + 0.001f * grad * grad;
    w -= 0.01f * m / (std::sqrt(v) + 1e-8f);
  };

  const int steps = 3;
  for (int step = 1; step <= steps; ++step) {
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
      for (uint64_t i = 0; i < params; ++i) adam(w[i], mm[i], vv[i], gradient(i, step));
      master.reset();
      m.reset();
      v.reset();
      if (g + 1 < groups) next = pins(g + 1);
    }
  }

  Stats stats = pool.stats();  // before the check below reads everything back

  // Every parameter's state must have survived its trips to nvme and back: all of it starts at
  // zero and the gradient repeats every 7 parameters, so 7 replays in plain floats predict it.
  std::array<std::array<float, 3>, 7> want{};  // w, m, v for i % 7
  for (uint64_t r = 0; r < 7; ++r)
    for (int step = 1; step <= steps; ++step)
      adam(want[r][0], want[r][1], want[r][2], gradient(r, step));
  uint64_t wrong = 0;
  for (const Group& group : state) {
    const Tensor* tensors[3] = {&group.master, &group.momentum, &group.variance};
    for (int j = 0; j < 3; ++j) {
      Pin pin = tensors[j]->pin(Tier::dram, Access::read);
      auto values = pin.as<const float>();
      for (uint64_t i = 0; i < params; ++i) {
        float expected = want[i % 7][j];  // a tolerance, in case FMA contraction differs
        wrong += std::fabs(values[i] - expected) > 1e-5f * std::fabs(expected);
      }
    }
  }
  if (wrong != 0) {
    std::fprintf(stderr, "%llu optimizer state values differ from a replay of the updates\n",
                 static_cast<unsigned long long>(wrong));
    return 1;
  }

  std::printf("%d steps over %d sub-groups: %llu pages written to nvme, %llu read back\n", steps,
              groups, static_cast<unsigned long long>(stats.moves[1][2]),
              static_cast<unsigned long long>(stats.moves[2][1]));
  return 0;
}
