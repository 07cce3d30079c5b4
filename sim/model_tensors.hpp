// sim/model_tensors.hpp: the weight tensors of a model, per layer, as the generators lay them
// out: element counts from the shape, pages from the page size.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tiermem/trace.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::sim {

struct ModelTensors {
  // Each layer's weights, in the order a forward pass reads them (workload::layer_weights).
  std::vector<std::vector<workload::LayerWeight>> layers;
  uint64_t embedding_elements = 0;     // vocab x hidden; the output head too when tied
  uint64_t head_elements = 0;          // a separate output head, 0 when tied
  uint64_t kv_elements_per_token = 0;  // one layer's KV-cache entry for one sequence

  explicit ModelTensors(const workload::ModelShape& m) {
    for (uint32_t l = 0; l < m.layers; ++l) layers.push_back(workload::layer_weights(m, l));
    embedding_elements = uint64_t{m.vocab} * m.hidden;
    head_elements = m.tied ? 0 : embedding_elements;
    // Latent attention caches the compressed k/v and the rotary key; else K and V whole.
    kv_elements_per_token = m.kv_lora_rank > 0 ? uint64_t{m.kv_lora_rank} + m.qk_rope_head_dim
                                               : 2 * (uint64_t{m.hidden} / m.heads * m.kv_heads);
  }

  // Every weight of the model.
  uint64_t params() const {
    uint64_t sum = embedding_elements + head_elements;
    for (const auto& layer : layers) {
      for (const workload::LayerWeight& w : layer) sum += w.elements();
    }
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
