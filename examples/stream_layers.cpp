// examples/stream_layers.cpp: inference that streams a model's layers out of its checkpoint
// through a DRAM tier smaller than the model, ZeRO-Inference style: the weights are read
// straight from the .safetensors file (no copy into the pool's own files), and while one layer
// is computed on, the next one is already on its way in.
//
//   stream_layers [CHECKPOINT]   (default: writes a demo model.safetensors under $TMPDIR or
//                                 /tmp first, as a training job would have)
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "tiermem/tiermem.hpp"

namespace {

constexpr int kLayers = 16;  // of 2048 x 4096 fp16 weights: 16 MiB each

// What the training job did: element k of layer i holds i + k (mod 2^16).
std::string write_demo_checkpoint() {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/stream_layers.safetensors";
  tiermem::Config config;
  config.dram.capacity = 320ull << 20;
  tiermem::Pool trainer(config);
  std::vector<tiermem::Tensor> weights;
  for (int i = 0; i < kLayers; ++i) {
    weights.push_back(trainer.allocate({2048, 4096}, tiermem::DType::f16,
                                       "layers." + std::to_string(i) + ".weight"));
    tiermem::Pin pin = weights.back().pin(tiermem::Tier::dram, tiermem::Access::write);
    auto values = pin.as<uint16_t>();
    std::iota(values.begin(), values.end(), static_cast<uint16_t>(i));
  }
  tiermem::save_checkpoint(weights, path).get();
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tiermem;
  const std::string checkpoint = argc > 1 ? argv[1] : write_demo_checkpoint();

  Config config;
  config.dram.capacity = 64ull << 20;  // the model is 4x larger
  config.nvme.capacity = 64ull << 20;  // the pool's own files: the weights do not go there
  Pool pool(config);
  std::vector<Tensor> weights = open_checkpoint(pool, checkpoint);
  // The pool holds the file open until the tensors are released: the demo's can go already.
  if (argc <= 1) std::remove(checkpoint.c_str());

  // Two tokens: each reads every layer in order. Prefetch the next layer before computing
  // on this one, so that its I/O overlaps the computation.
  // The "computation" checks that every weight is the one the training job wrote.
  uint64_t checksum = 0, wrong = 0;
  for (int token = 0; token < 2; ++token) {
    for (size_t i = 0; i < weights.size(); ++i) {
      if (i + 1 < weights.size()) weights[i + 1].prefetch(Tier::dram);
      Pin pin = weights[i].pin(Tier::dram, Access::read);
      auto values = pin.as<const uint16_t>();
      for (size_t k = 0; k < values.size(); ++k) {
        checksum += values[k];
        wrong += values[k] != static_cast<uint16_t>(i + k);
      }
    }
  }
  if (wrong != 0) {
    std::fprintf(stderr, "%llu weights differ from what was saved\n",
                 static_cast<unsigned long long>(wrong));
    return 1;
  }

  Stats stats = pool.stats();
  std::printf(
      "checksum %llu; %llu pages read from %s, %llu prefetched (%llu in time), %llu written\n",
      static_cast<unsigned long long>(checksum), static_cast<unsigned long long>(stats.moves[2][1]),
      checkpoint.c_str(), static_cast<unsigned long long>(stats.prefetch_issued),
      static_cast<unsigned long long>(stats.prefetch_useful),
      static_cast<unsigned long long>(stats.tiers[1].writebacks));
  return 0;
}
