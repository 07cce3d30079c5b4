// sim/model_tensors.hpp: the weight tensors of a model, per layer, as the generators lay them
// out: element counts from the shape, pages from the page size.
#pragma once

#include <cstdint>
#include <vector>

#include "tiermem/trace.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::sim {

struct ModelTensors {
  // Elements of each weight matrix of one layer, in the order a forward pass reads them:
  // attention q, k, v, o, then the MLP, then the two norms together.
  std::vector<uint64_t> layer_elements;
  uint64_t embedding_elements = 0;     // vocab x hidden; the output head too when tied
  uint64_t head_elements = 0;          // a separate output head, 0 when tied
  uint64_t kv_elements_per_token = 0;  // one layer's K and V entries for one sequence

  explicit ModelTensors(const workload::ModelShape& m) {
    uint64_t hidden = m.hidden;
    uint64_t kv_dim = hidden / m.heads * m.kv_heads;
    for (const workload::LayerWeight& weight : workload::layer_weights(m)) {
      layer_elements.push_back(weight.elements());
    }
    embedding_elements = uint64_t{m.vocab} * hidden;
    head_elements = m.tied ? 0 : embedding_elements;
    kv_elements_per_token = 2 * kv_dim;
  }

  uint64_t layer_params() const {
    uint64_t sum = 0;
    for (uint64_t e : layer_elements) sum += e;
    return sum;
  }
};

// Pages for bytes, and a new tensor of that many pages in trace; returns its id.
inline uint32_t add_tensor(Trace& trace, uint64_t bytes) {
  uint64_t pages = (bytes + trace.page_size - 1) / trace.page_size;
  trace.tensor_pages.push_back(static_cast<uint32_t>(std::max<uint64_t>(1, pages)));
  return static_cast<uint32_t>(trace.tensor_pages.size() - 1);
}

}  // namespace tiermem::sim
