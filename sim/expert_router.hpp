// sim/expert_router.hpp: a model of a mixture-of-experts router for the workload generators:
// which routed experts the tokens of a step use in each layer, with skewed popularity that
// drifts over the steps. Seeded and deterministic.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/random.hpp"

namespace tiermem::sim {

class ExpertRouter {
 public:
  // A ranking for each of `layers` layers (by the model's layer index; those of dense layers
  // go unused) of `experts` experts, k per token; skew: the zipf exponent of popularity by
  // rank; drift: neighbour swaps per expert and step in each ranking.
  ExpertRouter(uint32_t layers, uint32_t experts, uint32_t k, double skew, double drift,
               uint64_t seed);

  // The experts that `tokens` tokens use in layer: k distinct ones each, drawn without
  // replacement by popularity; returned sorted, each once.
  std::vector<uint32_t> route(uint32_t layer, uint64_t tokens);
  // Ends a step: every layer's ranking drifts.
  void step();

 private:
  uint32_t experts_;
  uint32_t k_;
  double drift_;
  Rng rng_;
  std::vector<double> weight_;                 // by rank: 1 / (rank + 1)^skew
  std::vector<std::vector<uint32_t>> ranked_;  // per layer: the expert at each rank
};

}  // namespace tiermem::sim
