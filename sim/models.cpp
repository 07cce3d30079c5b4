// sim/models.cpp: the model shapes tiermem's workload generators know, with public
// architecture facts (layers, widths, heads, vocabulary, MLP kind, serving dtype).
#include <fmt/format.h>

#include <string>

#include "tiermem/error.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {

namespace {

// name, layers, hidden, ffn, heads, kv_heads, vocab, gated, tied, dtype, bytes
constexpr ModelShape kModels[] = {
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

std::vector<LayerWeight> layer_weights(const ModelShape& m) {
  const uint64_t hidden = m.hidden, ffn = m.ffn;
  const uint64_t kv_dim = hidden / m.heads * m.kv_heads;  // grouped-query attention shrinks k, v
  std::vector<LayerWeight> weights = {{"attn.q", hidden, hidden},
                                      {"attn.k", kv_dim, hidden},
                                      {"attn.v", kv_dim, hidden},
                                      {"attn.o", hidden, hidden}};
  if (m.gated) {
    weights.insert(weights.end(),
                   {{"mlp.gate", ffn, hidden}, {"mlp.up", ffn, hidden}, {"mlp.down", hidden, ffn}});
  } else {
    weights.insert(weights.end(), {{"mlp.fc1", ffn, hidden}, {"mlp.fc2", hidden, ffn}});
  }
  weights.push_back({"norms", 2, hidden});
  return weights;
}

}  // namespace tiermem::workload
