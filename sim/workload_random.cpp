// sim/workload_random.cpp: zipf and uniform single-page accesses.
#include <fmt/format.h>

#include <numeric>
#include <optional>
#include <vector>

#include "sim/random.hpp"
#include "tiermem/error.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {

Trace random_accesses(const RandomAccesses& o) {
  if (o.pages == 0 || o.tensors == 0 || o.tensors > o.pages || o.pages >= UINT32_MAX) {
    throw Error(Errc::invalid_argument,
                fmt::format("random trace: {} pages in {} tensors; need 1 <= tensors <= pages < "
                            "2^32-1",
                            o.pages, o.tensors));
  }
  if (!(o.alpha >= 0 && o.alpha <= 10) || !(o.write_fraction >= 0 && o.write_fraction <= 1)) {
    throw Error(Errc::invalid_argument,
                fmt::format("random trace: alpha {} must lie in [0, 10] and write fraction {} in "
                            "[0, 1]",
                            o.alpha, o.write_fraction));
  }
  Trace trace;
  trace.page_size = o.page_size;
  // Tensors of equal size, the first (pages % tensors) one page larger.
  uint64_t small = o.pages / o.tensors;
  uint64_t large = o.pages % o.tensors;  // tensors of small + 1 pages
  for (uint32_t t = 0; t < o.tensors; ++t) {
    trace.tensor_pages.push_back(static_cast<uint32_t>(small + (t < large ? 1 : 0)));
  }
  uint64_t large_pages = large * (small + 1);
  sim::Rng rng(o.seed);
  std::vector<uint32_t> order;  // rank -> page, so that hot pages spread over the tensors
  std::optional<sim::Zipf> zipf;
  if (o.alpha > 0) {
    order.resize(o.pages);
    std::iota(order.begin(), order.end(), 0u);
    for (uint64_t i = o.pages; i-- > 1;) std::swap(order[i], order[rng.below(i + 1)]);
    zipf.emplace(o.pages, o.alpha);
  }
  trace.accesses.resize(o.events);
  uint64_t time = 0;
  for (TraceAccess& access : trace.accesses) {
    uint64_t page = zipf ? order[zipf->sample(rng) - 1] : rng.below(o.pages);
    access.time_ns = time;
    access.compute_ns = o.compute_ns;
    uint64_t tensor =
        page < large_pages ? page / (small + 1) : large + (page - large_pages) / small;
    access.tensor = static_cast<uint32_t>(tensor);
    access.first = static_cast<uint32_t>(page < large_pages ? page % (small + 1)
                                                            : (page - large_pages) % small);
    access.op =
        o.write_fraction > 0 && rng.unit() < o.write_fraction ? TraceOp::write : TraceOp::read;
    access.tier = o.tier;
    time += o.compute_ns;
  }
  trace.validate();
  return trace;
}

}  // namespace tiermem::workload
