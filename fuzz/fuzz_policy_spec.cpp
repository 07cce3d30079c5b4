// fuzz/fuzz_policy_spec.cpp: policy specs ("s3fifo:small=0.1", "sequential:depth=4,tier=gpu"),
// parsed and checked by the registry, then the policies they name replayed on a small fixed
// trace so that every accepted parameter reaches its policy's code. The input is an eviction
// spec, a newline, and a prefetch spec.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "policies/registry.hpp"
#include "tiermem/sim.hpp"
#include "tiermem/workload.hpp"

using namespace tiermem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t newline = text.find('\n');
  std::string eviction(text.substr(0, newline));
  std::string prefetch(newline == std::string_view::npos ? "none" : text.substr(newline + 1));
  fuzz::accepted([&] { policy::Params::parse(eviction); });
  bool eviction_ok = fuzz::accepted([&] {
    policies::validate_eviction_spec(eviction, {12, 4096});
  });
  bool prefetch_ok = fuzz::accepted([&] {
    policies::validate_prefetch_spec(prefetch, {12, 4096});
  });
  if (!eviction_ok || !prefetch_ok) return 0;

  static const Trace trace = [] {
    workload::RandomAccesses options;
    options.pages = 48;
    options.tensors = 3;
    options.events = 400;
    options.alpha = 0.7;
    options.write_fraction = 0.3;
    options.compute_ns = 2000;
    options.page_size = 4096;
    return workload::random_accesses(options);
  }();
  sim::Config config;
  config.eviction = eviction;
  config.prefetch = prefetch;
  config.dram_bytes = 12 * 4096;
  sim::simulate(trace, config);  // the specs were accepted: an Error here escapes
  return 0;
}
