// examples/stream_layers.cpp: inference that streams a model's layers through a DRAM tier
// smaller than the model, ZeRO-Inference style: while one layer is computed on, the next one
// is already on its way in.
//
//   stream_layers [DIR]   (DIR: where the NVMe tier's files go; default $TMPDIR or /tmp)
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "tiermem/tiermem.hpp"

int main(int argc, char** argv) {
  using namespace tiermem;
  Config config;
  config.dram.capacity = 64ull << 20;  // the model is 4x larger
  config.nvme.capacity = 512ull << 20;
  if (argc > 1) config.nvme.dirs = {argv[1]};
  Pool pool(config);

  // 16 layers of 16 MiB of fp16 weights each.
  const int layers = 16;
  std::vector<Tensor> weights;
  for (int i = 0; i < layers; ++i) {
    weights.push_back(pool.allocate({2048, 4096}, DType::f16, "layer" + std::to_string(i)));
    Pin pin = weights.back().pin(Tier::dram, Access::write);  // "load the checkpoint"
    auto values = pin.as<uint16_t>();
    std::iota(values.begin(), values.end(), static_cast<uint16_t>(i));
  }

  // Two tokens: each reads every layer in order. Prefetch the next layer before computing
  // on this one, so its I/O overlaps the computation.
  // The "computation" here checks that every weight is the one written above: element k of
  // layer i holds i + k (mod 2^16), whichever tier it came back from.
  uint64_t checksum = 0, wrong = 0;
  for (int token = 0; token < 2; ++token) {
    for (int i = 0; i < layers; ++i) {
      if (i + 1 < layers) weights[i + 1].prefetch(Tier::dram);
      Pin pin = weights[i].pin(Tier::dram, Access::read);
      auto values = pin.as<const uint16_t>();
      for (size_t k = 0; k < values.size(); ++k) {  // "compute"
        checksum += values[k];
        wrong += values[k] != static_cast<uint16_t>(i + k);
      }
    }
  }
  if (wrong != 0) {
    std::fprintf(stderr, "%llu weights differ from what was written\n",
                 static_cast<unsigned long long>(wrong));
    return 1;
  }

  Stats stats = pool.stats();
  std::printf("checksum %llu; %llu pages read from nvme, %llu prefetched (%llu in time)\n",
              static_cast<unsigned long long>(checksum),
              static_cast<unsigned long long>(stats.moves[2][1]),
              static_cast<unsigned long long>(stats.prefetch_issued),
              static_cast<unsigned long long>(stats.prefetch_useful));
  return 0;
}
