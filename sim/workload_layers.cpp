// sim/workload_layers.cpp: ZeRO-Inference-style layer streaming: every token reads every
// layer's weights in order, so the weights form a loop far larger than GPU memory.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "sim/model_tensors.hpp"
#include "tiermem/error.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {

namespace {

class LayerStreamer {
 public:
  explicit LayerStreamer(const LayerStreaming& o)
      : o_(o), shape_(find_model(o.model)), tensors_(shape_) {
    if (o.batch == 0 || o.prompt + o.tokens == 0 || !(o.tflops > 0) || !(o.hbm_gbps > 0)) {
      throw Error(Errc::invalid_argument,
                  fmt::format("layer streaming: batch {}, prompt {} + tokens {}, tflops {} and "
                              "hbm_gbps {} must all be positive",
                              o.batch, o.prompt, o.tokens, o.tflops, o.hbm_gbps));
    }
    trace_.page_size = o.page_size;
    uint64_t bytes = shape_.dtype_bytes;
    embedding_ = sim::add_tensor(trace_, tensors_.embedding_elements * bytes);
    head_ = tensors_.head_elements > 0 ? sim::add_tensor(trace_, tensors_.head_elements * bytes)
                                       : embedding_;
    kv_bytes_per_token_ = tensors_.kv_elements_per_token * bytes * o.batch;
    for (uint32_t l = 0; l < shape_.layers; ++l) {
      Layer layer;
      for (uint64_t elements : tensors_.layer_elements) {
        layer.weights.push_back(sim::add_tensor(trace_, elements * bytes));
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

  // One decode token's weight accesses: the order an application would register.
  Trace schedule() {
    pass(0, 1, 0, false);
    return std::move(trace_);
  }

 private:
  struct Layer {
    std::vector<uint32_t> weights;
    uint32_t kv = 0;
  };

  void access(uint32_t tensor, uint32_t first, uint32_t count, TraceOp op, Tier tier) {
    trace_.accesses.push_back({time_, 0, tensor, first, count, op, tier});
  }
  void whole(uint32_t tensor) {
    access(tensor, 0, trace_.tensor_pages[tensor], TraceOp::read, o_.weight_tier);
  }
  // Roofline: compute-bound on flops, or memory-bound on reading the weights once.
  void compute(uint64_t params, uint32_t tokens) {
    double flops = 2.0 * static_cast<double>(params) * o_.batch * tokens;
    double bytes = static_cast<double>(params) * shape_.dtype_bytes;
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
    for (const Layer& layer : layers_) {
      for (uint32_t w : layer.weights) whole(w);
      if (with_kv) {
        if (context > 0) access(layer.kv, 0, kv_page(context - 1) + 1, TraceOp::read, o_.kv_tier);
        uint32_t first = kv_page(context);
        uint32_t last = kv_page(context + tokens - 1);
        bool partial = context * kv_bytes_per_token_ % o_.page_size != 0;
        access(layer.kv, first, last - first + 1, partial ? TraceOp::read_write : TraceOp::write,
               o_.kv_tier);
      }
      compute(tensors_.layer_params(), tokens);
    }
    whole(head_);
    compute(tensors_.embedding_elements, tokens);
  }

  const LayerStreaming& o_;
  const ModelShape& shape_;
  sim::ModelTensors tensors_;
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
