// sim/workload_layers.cpp: ZeRO-Inference-style layer streaming: every token reads every
// layer's weights in order, so the weights form a loop far larger than GPU memory; of a
// mixture of experts, only the routed experts the step's tokens use.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "sim/expert_router.hpp"
#include "sim/model_tensors.hpp"
#include "tiermem/error.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {

namespace {

class LayerStreamer {
 public:
  explicit LayerStreamer(const LayerStreaming& o)
      : o_(o), shape_(load_model(o.model)), tensors_(shape_) {
    if (o.batch == 0 || o.prompt + o.tokens == 0 || !(o.tflops > 0) || !(o.hbm_gbps > 0)) {
      throw Error(Errc::invalid_argument,
                  fmt::format("layer streaming: batch {}, prompt {} + tokens {}, tflops {} and "
                              "hbm_gbps {} must all be positive",
                              o.batch, o.prompt, o.tokens, o.tflops, o.hbm_gbps));
    }
    if (shape_.experts > 0) {
      if (shape_.experts_per_token == 0 || shape_.experts_per_token > shape_.experts) {
        throw Error(
            Errc::invalid_argument,
            fmt::format("layer streaming: model {} routes {} of {} experts per token; "
                        "it must be 1 to {}",
                        shape_.name, shape_.experts_per_token, shape_.experts, shape_.experts));
      }
      if (!(o.skew >= 0 && o.skew <= 10) || !(o.drift >= 0 && o.drift <= 1)) {
        throw Error(Errc::invalid_argument,
                    fmt::format("layer streaming: skew {} must be in [0, 10] and drift {} in "
                                "[0, 1]",
                                o.skew, o.drift));
      }
      router_.emplace(shape_.layers, shape_.experts, shape_.experts_per_token, o.skew, o.drift,
                      o.seed);
    }
    trace_.page_size = o.page_size;
    uint64_t bytes = shape_.dtype_bytes;
    embedding_ = sim::add_tensor(trace_, tensors_.embedding_elements * bytes);
    head_ = tensors_.head_elements > 0 ? sim::add_tensor(trace_, tensors_.head_elements * bytes)
                                       : embedding_;
    kv_bytes_per_token_ = tensors_.kv_elements_per_token * bytes * o.batch;
    for (const std::vector<LayerWeight>& weights : tensors_.layers) {
      Layer layer;
      for (const LayerWeight& weight : weights) {
        if (weight.name == "moe.expert") {
          if (layer.experts++ == 0) layer.first_expert = layer.weights.size();
          layer.expert_params = weight.elements();
        } else {
          layer.dense_params += weight.elements();
        }
        layer.weights.push_back(sim::add_tensor(trace_, weight.elements() * bytes));
      }
      layer.kv = sim::add_tensor(trace_, kv_bytes_per_token_ * (o.prompt + o.tokens));
      layers_.push_back(layer);
    }
  }

  Trace run() {
    uint32_t context = 0;
    if (o_.prompt > 0) {
      pass(0, o_.prompt, context, true);
      context = o_.prompt;
    }
    for (uint32_t token = 0; token < o_.tokens; ++token, ++context) {
      pass(o_.prompt + token, 1, context, true);
    }
    trace_.validate();
    return std::move(trace_);
  }

  // One decode token's weight accesses: the order an application would register (no routed
  // experts, which depend on the tokens).
  Trace schedule() {
    pass(0, 1, 0, false);
    return std::move(trace_);
  }

 private:
  struct Layer {
    std::vector<uint32_t> weights;  // in layer_weights() order, routed experts among them
    size_t first_expert = 0;        // the index in weights of routed expert 0
    uint32_t experts = 0;
    uint64_t dense_params = 0;   // elements of the weights every token uses
    uint64_t expert_params = 0;  // elements of one routed expert
    uint32_t kv = 0;
  };

  void access(uint32_t tensor, uint32_t first, uint32_t count, TraceOp op, Tier tier) {
    trace_.accesses.push_back({time_, 0, tensor, first, count, op, tier});
  }
  void whole(uint32_t tensor) {
    access(tensor, 0, trace_.tensor_pages[tensor], TraceOp::read, o_.weight_tier);
  }
  // The application's prefetch of layer l's routed experts (with hints_ahead).
  void announce(uint32_t l, const std::vector<uint32_t>& experts) {
    const Layer& layer = layers_[l];
    for (uint32_t e : experts) {
      const uint32_t tensor = layer.weights[layer.first_expert + e];
      access(tensor, 0, trace_.tensor_pages[tensor], TraceOp::prefetch, o_.weight_tier);
    }
  }
  // Roofline: compute-bound on flops, each token using params_per_token weights, or
  // memory-bound on reading the read_params weights once.
  void compute(uint64_t params_per_token, uint64_t read_params, uint32_t tokens) {
    double flops = 2.0 * static_cast<double>(params_per_token) * o_.batch * tokens;
    double bytes = static_cast<double>(read_params) * shape_.dtype_bytes;
    auto ns = static_cast<uint64_t>(
        std::llround(std::max(flops / (o_.tflops * 1e3), bytes / o_.hbm_gbps)));
    trace_.accesses.back().compute_ns += ns;
    time_ += ns;
  }
  uint32_t kv_page(uint64_t tokens) const {
    return static_cast<uint32_t>(tokens * kv_bytes_per_token_ / o_.page_size);
  }

  // tokens new tokens after context ones; with_kv adds the embedding row and the KV cache.
  void pass(uint32_t position, uint32_t tokens, uint32_t context, bool with_kv) {
    if (with_kv) {
      // The embedding rows of the new tokens; one page stands for them (a decode step reads
      // one row), chosen by a fixed hash of the position.
      uint32_t pages = trace_.tensor_pages[embedding_];
      access(embedding_, static_cast<uint32_t>((position * 2654435761u) % pages), 1, TraceOp::read,
             o_.weight_tier);
    }
    // A decode step routes batch tokens, the prefill batch x prompt; a schedule (without
    // tokens) none. Every layer's routing is drawn first, in layer order, so that it can be
    // announced ahead.
    std::vector<std::vector<uint32_t>> routed(layers_.size());
    for (uint32_t l = 0; l < layers_.size(); ++l) {
      if (layers_[l].experts > 0 && with_kv) {
        routed[l] = router_->route(l, uint64_t{o_.batch} * tokens);
      }
    }
    const uint32_t ahead = o_.hints_ahead.value_or(0);
    if (ahead > 0) {
      for (uint32_t l = 0; l < std::min<size_t>(ahead, layers_.size()); ++l) announce(l, routed[l]);
    }
    for (uint32_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      if (ahead > 0 && l + ahead < layers_.size()) announce(l + ahead, routed[l + ahead]);
      for (size_t i = 0; i < layer.weights.size(); ++i) {
        if (i == layer.first_expert) {
          if (o_.hints_ahead == 0u) announce(l, routed[l]);
          for (uint32_t e : routed[l]) whole(layer.weights[i + e]);
        }
        bool expert = i >= layer.first_expert && i < layer.first_expert + layer.experts;
        if (!expert) whole(layer.weights[i]);
      }
      if (with_kv) {
        if (context > 0) access(layer.kv, 0, kv_page(context - 1) + 1, TraceOp::read, o_.kv_tier);
        uint32_t first = kv_page(context);
        uint32_t last = kv_page(context + tokens - 1);
        bool partial = context * kv_bytes_per_token_ % o_.page_size != 0;
        access(layer.kv, first, last - first + 1, partial ? TraceOp::read_write : TraceOp::write,
               o_.kv_tier);
      }
      uint64_t k = layer.experts > 0 ? shape_.experts_per_token : 0;
      compute(layer.dense_params + k * layer.expert_params,
              layer.dense_params + routed[l].size() * layer.expert_params, tokens);
    }
    whole(head_);
    compute(tensors_.embedding_elements, tensors_.embedding_elements, tokens);
    if (router_) router_->step();
  }

  const LayerStreaming& o_;
  const ModelShape shape_;
  sim::ModelTensors tensors_;
  std::optional<sim::ExpertRouter> router_;  // a mixture of experts
  Trace trace_;
  uint32_t embedding_ = 0;
  uint32_t head_ = 0;
  uint64_t kv_bytes_per_token_ = 0;
  std::vector<Layer> layers_;
  uint64_t time_ = 0;
};

}  // namespace

Trace layer_streaming(const LayerStreaming& options) {
  return LayerStreamer(options).run();
}

Trace layer_streaming_schedule(const LayerStreaming& options) {
  return LayerStreamer(options).schedule();
}

}  // namespace tiermem::workload
