// sim/models.cpp: the model shapes tiermem's workload generators know, with public
// architecture facts (layers, widths, heads, vocabulary, MLP kind, serving dtype), and the
// weights of a layer of any shape.
#include <fmt/format.h>

#include <string>

#include "tiermem/error.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {

namespace {

// name, layers, hidden, ffn, heads, kv_heads, vocab, gated, tied, dtype, bytes
const ModelShape kModels[] = {
    {"bloom-176b", 70, 14336, 57344, 112, 112, 250880, false, true, DType::bf16, 2},
    {"llama-3-70b", 80, 8192, 28672, 64, 8, 128256, true, false, DType::bf16, 2},
    {"opt-13b", 40, 5120, 20480, 40, 40, 50272, false, true, DType::f16, 2},
    {"opt-30b", 48, 7168, 28672, 56, 56, 50272, false, true, DType::f16, 2},
    {"opt-66b", 64, 9216, 36864, 72, 72, 50272, false, true, DType::f16, 2},
    {"phi-3-mini", 32, 3072, 8192, 32, 32, 32064, true, false, DType::bf16, 2},
};

}  // namespace

std::span<const ModelShape> models() noexcept {
  return kModels;
}

const ModelShape& find_model(std::string_view name) {
  std::string known;
  for (const ModelShape& model : kModels) {
    if (model.name == name) return model;
    known += known.empty() ? "" : ", ";
    known += model.name;
  }
  throw Error(Errc::invalid_argument, fmt::format("unknown model '{}' (known: {})", name, known));
}

std::vector<LayerWeight> layer_weights(const ModelShape& m, uint32_t layer) {
  const uint64_t hidden = m.hidden, heads = m.heads;
  std::vector<LayerWeight> weights;
  if (m.kv_lora_rank > 0) {
    const uint64_t qk_dim = heads * (m.qk_nope_head_dim + m.qk_rope_head_dim);
    if (m.q_lora_rank > 0) {
      weights.push_back({"attn.q_a", m.q_lora_rank, hidden});
      weights.push_back({"attn.q_b", qk_dim, m.q_lora_rank});
    } else {
      weights.push_back({"attn.q", qk_dim, hidden});
    }
    weights.push_back({"attn.kv_a", uint64_t{m.kv_lora_rank} + m.qk_rope_head_dim, hidden});
    weights.push_back({"attn.kv_b", heads * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank});
    weights.push_back({"attn.o", hidden, heads * m.v_head_dim});
  } else {
    const uint64_t kv_dim = hidden / heads * m.kv_heads;  // grouped-query attention shrinks k, v
    weights.insert(weights.end(), {{"attn.q", hidden, hidden},
                                   {"attn.k", kv_dim, hidden},
                                   {"attn.v", kv_dim, hidden},
                                   {"attn.o", hidden, hidden}});
  }
  const uint64_t matrices = m.gated ? 3 : 2;
  if (m.moe_layer(layer)) {
    weights.push_back({"moe.router", m.experts, hidden});
    if (m.shared_experts > 0) {
      weights.push_back({"moe.shared", matrices * m.shared_experts * m.shared_expert_ffn, hidden});
    }
    weights.insert(weights.end(), m.experts, {"moe.expert", matrices * m.expert_ffn, hidden});
  } else if (m.gated) {
    const uint64_t ffn = m.ffn;
    weights.insert(weights.end(),
                   {{"mlp.gate", ffn, hidden}, {"mlp.up", ffn, hidden}, {"mlp.down", hidden, ffn}});
  } else {
    const uint64_t ffn = m.ffn;
    weights.insert(weights.end(), {{"mlp.fc1", ffn, hidden}, {"mlp.fc2", hidden, ffn}});
  }
  weights.push_back({"norms", 2, hidden});
  return weights;
}

}  // namespace tiermem::workload
