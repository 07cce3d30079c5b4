// tiermem/workload.hpp: synthetic traces of the workloads tiermem serves, built from real
// model shapes: ZeRO-Inference-style layer streaming, ZeRO-Infinity-style optimizer-state
// swapping, and zipf / uniform random page accesses. All are deterministic in their options.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tiermem/export.h"
#include "tiermem/trace.hpp"

namespace tiermem::workload {

// Public architecture facts of a model (shipped with tiermem, from the models' papers and
// configuration files, or read from a shape file).
struct ModelShape {
  std::string name;
  uint32_t layers;
  uint32_t hidden;
  uint32_t ffn;  // MLP inner size (of the dense layers of a mixture-of-experts model)
  uint32_t heads;
  uint32_t kv_heads;
  uint32_t vocab;
  bool gated;  // gate/up/down MLP (Llama) rather than fc1/fc2 (OPT, BLOOM)
  bool tied;   // the output head shares the embedding matrix
  DType dtype;
  uint32_t dtype_bytes;
  // Mixture of experts (experts > 0): the layers from dense_layers on replace the dense MLP by
  // a router, shared_experts always-active experts of shared_expert_ffn each and `experts`
  // routed ones of expert_ffn, experts_per_token of which each token uses.
  uint32_t experts = 0;
  uint32_t experts_per_token = 0;
  uint32_t shared_experts = 0;
  uint32_t expert_ffn = 0;
  uint32_t shared_expert_ffn = 0;
  uint32_t dense_layers = 0;
  // Multi-head latent attention (DeepSeek-V2/V3) when kv_lora_rank > 0: q through a rank
  // q_lora_rank projection (0: none), k and v through one of kv_lora_rank, which with the
  // rotary part is also all the KV cache holds per token.
  uint32_t kv_lora_rank = 0;
  uint32_t q_lora_rank = 0;
  uint32_t qk_nope_head_dim = 0;
  uint32_t qk_rope_head_dim = 0;
  uint32_t v_head_dim = 0;

  bool moe_layer(uint32_t layer) const noexcept { return experts > 0 && layer >= dense_layers; }
};

TIERMEM_API std::span<const ModelShape> models() noexcept;
// Throws Error(invalid_argument) naming the model and listing the known ones.
TIERMEM_API const ModelShape& find_model(std::string_view name);
// A shape file: one JSON object with the fields layers, hidden, ffn, heads, kv_heads, vocab
// (positive integers), mlp ("gated" or "plain") and dtype ("bf16", "fp16", ...); optionally
// name (default: the file's name without .json) and tied (default false); for a mixture of
// experts experts, experts_per_token and expert_ffn, and optionally shared_experts,
// shared_expert_ffn (default expert_ffn) and dense_layers; attention "mha" (the default:
// multi-head, grouped-query when kv_heads < heads) or "mla" (multi-head latent attention) with
// kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim and optionally q_lora_rank. origin
// names the text in errors. Throws Error(invalid_argument) naming the origin, the field and what it
// must be: for malformed JSON, a missing or unknown field, one of the wrong type, zero or out of
// range, or fields that disagree (more experts per token than experts, heads that kv_heads does not
// divide, ...).
TIERMEM_API ModelShape parse_model_shape(std::string_view json, std::string_view origin);
// name_or_file: a shape file when it ends in ".json" (read, then parse_model_shape), else a
// known model's name (find_model). Throws Error(invalid_argument), or Error(system) for a file
// that cannot be read.
TIERMEM_API ModelShape load_model(std::string_view name_or_file);

// One weight of a layer: a matrix of rows x cols elements (the norms: 2 x hidden).
struct LayerWeight {
  std::string_view name;  // attn.q, attn.k, attn.v, attn.o (attn.q_a, attn.q_b or attn.q,
                          // attn.kv_a, attn.kv_b, attn.o with latent attention), then
                          // mlp.fc1, mlp.fc2 or mlp.gate, mlp.up, mlp.down (a mixture-of-
                          // experts layer: moe.router, moe.shared when there are shared
                          // experts, one moe.expert per routed expert), then norms
  uint64_t rows;
  uint64_t cols;
  uint64_t elements() const noexcept { return rows * cols; }
};
// The weights of one layer (layer matters only for a mixture of experts, whose first
// dense_layers are dense), in the order a forward pass reads them.
TIERMEM_API std::vector<LayerWeight> layer_weights(const ModelShape& model, uint32_t layer = 0);

// Inference that streams weights layer by layer for every token (ZeRO-Inference): per token,
// the embedding row, then per layer its attention and MLP weights (in weight_tier), the
// layer's KV-cache pages so far (read, in kv_tier) and the new token's KV entry (written to
// the last block); then the output head. A prefill pass writes the prompt's KV first.
// Compute after each layer follows a roofline: max(2 x params x batch / tflops, weight bytes /
// hbm bandwidth), counting in a mixture-of-experts layer the experts each token uses for the
// flops and the experts read for the bytes.
//
// A mixture-of-experts layer reads its attention, router, shared experts and norms on every
// step, and of its routed experts (one tensor each) those that the step's tokens (batch of
// them in a decode step, batch x prompt in the prefill) are routed to. Each token takes
// experts_per_token distinct experts, drawn without replacement with weights 1 / rank^skew
// over the layer's popularity ranking, a seeded random permutation of its experts per layer;
// after every step, each layer's ranking drifts by about drift x experts swaps of neighbouring
// ranks, so popular experts slowly change. With hints_ahead, the application announces each
// layer's routed experts (prefetch records, as Tensor::prefetch would): with 0 right after its
// router decides, just before the experts are read; with N > 0, N layers earlier, at the start
// of layer l - N (or of the step), as a router that predicts ahead (pre-gating) would.
//
// Tensors, in order: the embedding, the output head unless tied, then per layer its weights
// in layer_weights() order, then its KV cache.
struct LayerStreaming {
  std::string_view model = "opt-13b";  // a known model's name or a shape file (see load_model)
  uint32_t tokens = 8;                 // decode steps
  uint32_t prompt = 512;               // prompt tokens (prefill)
  uint32_t batch = 1;
  uint64_t page_size = 2ull << 20;
  double tflops = 400;     // GPU compute
  double hbm_gbps = 3000;  // GPU memory bandwidth
  Tier weight_tier = Tier::gpu;
  Tier kv_tier = Tier::dram;
  // Routing of a mixture of experts; a dense model ignores them.
  uint64_t seed = 1;
  double skew = 1.0;    // zipf exponent of expert popularity; 0: uniform
  double drift = 0.01;  // neighbour swaps per expert and step in each popularity ranking
  std::optional<uint32_t> hints_ahead;  // layers ahead the routed experts are announced; none
};
TIERMEM_API Trace layer_streaming(const LayerStreaming& options);
// The order an application would register for it: one token's weight accesses (of a mixture
// of experts, those that do not depend on routing).
TIERMEM_API Trace layer_streaming_schedule(const LayerStreaming& options);

// Mixed-precision training with optimizer states swapped in and out per sub-group
// (ZeRO-Infinity): per iteration, forward reads the fp16 parameters, backward writes the fp16
// gradients (reverse order), then per sub-group the optimizer step reads the gradients,
// updates fp32 master weights, momentum and variance in place (read_write), computes, and
// writes the fp16 parameters.
struct OptimizerSwapping {
  std::string_view model = "opt-13b";  // a known model's name or a shape file (see load_model)
  uint32_t iterations = 3;
  uint64_t subgroup_params = 1'000'000'000;  // DeepSpeed's sub_group_size default
  uint64_t page_size = 2ull << 20;
  double forward_backward_ms = 500;  // GPU compute per iteration, spread over the sub-groups
  double adam_ns_per_param = 1.0;    // CPU Adam update speed
  Tier tier = Tier::dram;
};
TIERMEM_API Trace optimizer_swapping(const OptimizerSwapping& options);

// Single-page accesses over `pages` pages split evenly into `tensors` tensors. alpha 0 draws
// pages uniformly, alpha > 0 from a zipf distribution (rank r with weight 1/r^alpha) over a
// fixed random permutation of the pages.
struct RandomAccesses {
  uint64_t pages = 1 << 16;
  uint32_t tensors = 16;
  uint64_t events = 1'000'000;
  double alpha = 0;
  double write_fraction = 0;
  uint64_t compute_ns = 0;  // after each access
  uint64_t seed = 1;
  uint64_t page_size = 2ull << 20;
  Tier tier = Tier::dram;
};
TIERMEM_API Trace random_accesses(const RandomAccesses& options);

}  // namespace tiermem::workload
