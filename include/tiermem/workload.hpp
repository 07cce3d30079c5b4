// tiermem/workload.hpp: synthetic traces of the workloads tiermem serves, built from real
// model shapes: ZeRO-Inference-style layer streaming, ZeRO-Infinity-style optimizer-state
// swapping, and zipf / uniform random page accesses. All are deterministic in their options.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tiermem/export.h"
#include "tiermem/trace.hpp"

namespace tiermem::workload {

// Public architecture facts of a model (shipped with tiermem, from the models' papers and
// configuration files).
struct ModelShape {
  std::string_view name;
  uint32_t layers;
  uint32_t hidden;
  uint32_t ffn;  // MLP inner size
  uint32_t heads;
  uint32_t kv_heads;
  uint32_t vocab;
  bool gated;  // gate/up/down MLP (Llama) rather than fc1/fc2 (OPT, BLOOM)
  bool tied;   // the output head shares the embedding matrix
  DType dtype;
  uint32_t dtype_bytes;
};

TIERMEM_API std::span<const ModelShape> models() noexcept;
// Throws Error(invalid_argument) naming the model and listing the known ones.
TIERMEM_API const ModelShape& find_model(std::string_view name);

// One weight of a layer: a matrix of rows x cols elements (the norms: 2 x hidden).
struct LayerWeight {
  std::string_view name;  // attn.q, attn.k, attn.v, attn.o, then mlp.fc1, mlp.fc2 or
                          // mlp.gate, mlp.up, mlp.down, then norms
  uint64_t rows;
  uint64_t cols;
  uint64_t elements() const noexcept { return rows * cols; }
};
// The weights of one layer, in the order a forward pass reads them.
TIERMEM_API std::vector<LayerWeight> layer_weights(const ModelShape& model);

// Inference that streams weights layer by layer for every token (ZeRO-Inference): per token,
// the embedding row, then per layer its attention and MLP weights (in weight_tier), the
// layer's KV-cache pages so far (read, in kv_tier) and the new token's KV entry (written to
// the last block); then the output head. A prefill pass writes the prompt's KV first.
// Compute after each layer follows a roofline: max(2 x params x batch / tflops, weight bytes /
// hbm bandwidth).
struct LayerStreaming {
  std::string_view model = "opt-13b";
  uint32_t tokens = 8;    // decode steps
  uint32_t prompt = 512;  // prompt tokens (prefill)
  uint32_t batch = 1;
  uint64_t page_size = 2ull << 20;
  double tflops = 400;     // GPU compute
  double hbm_gbps = 3000;  // GPU memory bandwidth
  Tier weight_tier = Tier::gpu;
  Tier kv_tier = Tier::dram;
};
TIERMEM_API Trace layer_streaming(const LayerStreaming& options);
// The order an application would register for it: one token's weight accesses.
TIERMEM_API Trace layer_streaming_schedule(const LayerStreaming& options);

// Mixed-precision training with optimizer states swapped in and out per sub-group
// (ZeRO-Infinity): per iteration, forward reads the fp16 parameters, backward writes the fp16
// gradients (reverse order), then per sub-group the optimizer step reads the gradients,
// updates fp32 master weights, momentum and variance in place (read_write), computes, and
// writes the fp16 parameters.
struct OptimizerSwapping {
  std::string_view model = "opt-13b";
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
