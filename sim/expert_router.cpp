// sim/expert_router.cpp: expert routing for the mixture-of-experts traces. A token's k experts
// are a weighted sample without replacement, drawn in one pass by exponential keys (Efraimidis
// and Spirakis, 2006): the k ranks with the smallest -ln(u) / weight.
#include "sim/expert_router.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace tiermem::sim {

ExpertRouter::ExpertRouter(uint32_t layers, uint32_t experts, uint32_t k, double skew, double drift,
                           uint64_t seed)
    : experts_(experts), k_(k), drift_(drift), rng_(seed), weight_(experts), ranked_(layers) {
  for (uint32_t r = 0; r < experts; ++r) weight_[r] = std::pow(r + 1.0, -skew);
  // Each layer's own popularity order: a Fisher-Yates shuffle.
  for (std::vector<uint32_t>& ranked : ranked_) {
    ranked.resize(experts);
    std::iota(ranked.begin(), ranked.end(), 0u);
    for (uint32_t i = experts; i > 1; --i) std::swap(ranked[i - 1], ranked[rng_.below(i)]);
  }
}

std::vector<uint32_t> ExpertRouter::route(uint32_t layer, uint64_t tokens) {
  std::vector<bool> used(experts_);
  std::vector<std::pair<double, uint32_t>> keys(experts_);
  for (uint64_t t = 0; t < tokens; ++t) {
    for (uint32_t r = 0; r < experts_; ++r) {
      // 1 - unit() is in (0, 1], so the logarithm is finite.
      keys[r] = {-std::log(1.0 - rng_.unit()) / weight_[r], r};
    }
    std::nth_element(keys.begin(), keys.begin() + (k_ - 1), keys.end());
    for (uint32_t i = 0; i < k_; ++i) used[ranked_[layer][keys[i].second]] = true;
  }
  std::vector<uint32_t> chosen;
  for (uint32_t e = 0; e < experts_; ++e) {
    if (used[e]) chosen.push_back(e);
  }
  return chosen;
}

void ExpertRouter::step() {
  if (experts_ < 2) return;
  double swaps = drift_ * experts_;
  for (std::vector<uint32_t>& ranked : ranked_) {
    // The fraction of a swap is one more with that probability.
    auto n = static_cast<uint64_t>(swaps) + (rng_.unit() < swaps - std::floor(swaps) ? 1 : 0);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t r = rng_.below(experts_ - 1);
      std::swap(ranked[r], ranked[r + 1]);
    }
  }
}

}  // namespace tiermem::sim
