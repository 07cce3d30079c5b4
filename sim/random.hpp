// sim/random.hpp: deterministic random numbers for the workload generators: xoshiro256**
// seeded through splitmix64, and zipf sampling by rejection-inversion (Hoermann and
// Derflinger, 1996), O(1) per sample for any exponent. Standard-library distributions are
// avoided because their output differs between library versions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tiermem::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : state_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      word = z ^ (z >> 31);
    }
  }

  uint64_t next() {
    uint64_t result = rotl(state_[1] * 5, 7) * 9;
    uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, bound).
  uint64_t below(uint64_t bound) {
    __extension__ using u128 = unsigned __int128;
    return static_cast<uint64_t>((static_cast<u128>(next()) * bound) >> 64);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// Ranks 1..n with probability proportional to 1 / rank^exponent.
class Zipf {
 public:
  Zipf(uint64_t n, double exponent)
      : n_(static_cast<double>(n)),
        exponent_(exponent),
        h_x1_(h_integral(1.5) - 1.0),
        h_n_(h_integral(n_ + 0.5)),
        s_(2.0 - h_integral_inverse(h_integral(2.5) - h(2.0))) {}

  uint64_t sample(Rng& rng) const {
    for (;;) {
      double u = h_n_ + rng.unit() * (h_x1_ - h_n_);
      double x = h_integral_inverse(u);
      double k = std::floor(x + 0.5);
      k = std::clamp(k, 1.0, n_);
      if (k - x <= s_ || u >= h_integral(k + 0.5) - h(k)) return static_cast<uint64_t>(k);
    }
  }

 private:
  // H(x) = integral of 1/t^exponent, written to stay accurate near exponent 1.
  double h_integral(double x) const {
    double log_x = std::log(x);
    return expm1_over((1.0 - exponent_) * log_x) * log_x;
  }
  double h(double x) const { return std::exp(-exponent_ * std::log(x)); }
  double h_integral_inverse(double x) const {
    double t = std::max(-1.0, x * (1.0 - exponent_));
    return std::exp(log1p_over(t) * x);
  }
  static double expm1_over(double x) {  // expm1(x) / x
    return std::abs(x) > 1e-8 ? std::expm1(x) / x
                              : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + x / 4.0));
  }
  static double log1p_over(double x) {  // log1p(x) / x
    return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - x / 4.0));
  }

  double n_;
  double exponent_;
  double h_x1_;
  double h_n_;
  double s_;
};

}  // namespace tiermem::sim
