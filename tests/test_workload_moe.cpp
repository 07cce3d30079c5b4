// tests/test_workload_moe.cpp: model shape files (every field checked) and the
// mixture-of-experts layer streaming: k routed experts per token and layer, shared experts
// always, skewed and drifting popularity, determinism by seed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "tests/test_support.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {
namespace {

using testing::expect_error;

// A small mixture of experts: 4 layers, the first dense; 16 experts, 2 per token, 1 shared.
constexpr std::string_view kMoe = R"({
  "name": "tiny-moe", "layers": 4, "hidden": 256, "ffn": 512, "heads": 4, "kv_heads": 4,
  "vocab": 1000, "mlp": "gated", "dtype": "bf16", "experts": 16, "experts_per_token": 2,
  "shared_experts": 1, "expert_ffn": 128, "dense_layers": 1})";

std::string write_file(const testing::ScratchDir& dir, const std::string& name,
                       std::string_view text) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// The tensor ids of a LayerStreaming trace: the embedding, the head (the shapes here are not
// tied), then per layer its weights and its KV cache.
struct Layout {
  struct Layer {
    uint32_t first = 0;  // the layer's first weight
    std::vector<LayerWeight> weights;
  };
  std::vector<Layer> layers;
  explicit Layout(const ModelShape& shape) {
    uint32_t next = 2;
    for (uint32_t l = 0; l < shape.layers; ++l) {
      layers.push_back({next, layer_weights(shape, l)});
      next += static_cast<uint32_t>(layers.back().weights.size()) + 1;
    }
  }
  // (layer, index in its weights) of a tensor; layer -1 for the embedding, head and KV caches.
  std::pair<int, int> find(uint32_t tensor) const {
    for (size_t l = 0; l < layers.size(); ++l) {
      if (tensor >= layers[l].first && tensor < layers[l].first + layers[l].weights.size()) {
        return {static_cast<int>(l), static_cast<int>(tensor - layers[l].first)};
      }
    }
    return {-1, -1};
  }
};

// Per token (a pass starts with its embedding row, tensor 0) and layer, the routed experts
// read, and the shared experts' reads.
struct Routing {
  std::vector<std::map<int, std::vector<int>>> experts;  // [token][layer] -> experts
  std::vector<std::map<int, int>> shared;                // [token][layer] -> reads
};

Routing routing_of(const Trace& trace, const ModelShape& shape) {
  Layout layout(shape);
  Routing r;
  for (const TraceAccess& a : trace.accesses) {
    if (a.tensor == 0) {
      r.experts.emplace_back();
      r.shared.emplace_back();
      continue;
    }
    auto [layer, index] = layout.find(a.tensor);
    if (layer < 0) continue;
    const LayerWeight& w = layout.layers[layer].weights[index];
    if (w.name == "moe.expert") {
      int first = static_cast<int>(
          std::find_if(layout.layers[layer].weights.begin(), layout.layers[layer].weights.end(),
                       [](const LayerWeight& x) { return x.name == "moe.expert"; }) -
          layout.layers[layer].weights.begin());
      r.experts.back()[layer].push_back(index - first);
    } else if (w.name == "moe.shared") {
      ++r.shared.back()[layer];
    }
  }
  return r;
}

TEST(ModelShapeFile, DenseFileGivesTheBuiltInTrace) {
  testing::ScratchDir dir;
  std::string path = write_file(dir, "phi.json", R"({
    "layers": 32, "hidden": 3072, "ffn": 8192, "heads": 32, "kv_heads": 32, "vocab": 32064,
    "mlp": "gated", "dtype": "bf16"})");
  ModelShape shape = load_model(path);
  EXPECT_EQ(shape.name, "phi");
  EXPECT_EQ(shape.experts, 0u);
  LayerStreaming options;
  options.tokens = 2;
  options.prompt = 16;
  options.model = path;
  Trace from_file = layer_streaming(options);
  options.model = "phi-3-mini";
  EXPECT_EQ(from_file, layer_streaming(options));
}

TEST(ModelShapeFile, ReadsMixtureOfExpertsAndLatentAttention) {
  ModelShape moe = parse_model_shape(kMoe, "tiny.json");
  EXPECT_EQ(moe.name, "tiny-moe");
  EXPECT_EQ(moe.experts, 16u);
  EXPECT_EQ(moe.shared_expert_ffn, 128u);  // expert_ffn when not given
  EXPECT_FALSE(moe.moe_layer(0));
  EXPECT_TRUE(moe.moe_layer(1));
  std::vector<LayerWeight> dense = layer_weights(moe, 0), sparse = layer_weights(moe, 1);
  EXPECT_EQ(std::count_if(dense.begin(), dense.end(),
                          [](const LayerWeight& w) { return w.name.starts_with("moe."); }),
            0);
  EXPECT_EQ(std::count_if(sparse.begin(), sparse.end(),
                          [](const LayerWeight& w) { return w.name == "moe.expert"; }),
            16);
  EXPECT_EQ(sparse[4].name, "moe.router");
  EXPECT_EQ(sparse[5].name, "moe.shared");
  EXPECT_EQ(sparse[6].elements(), 3u * 128 * 256);  // gate, up and down of one expert

  ModelShape mla = parse_model_shape(R"({
    "layers": 2, "hidden": 1024, "ffn": 2048, "heads": 8, "kv_heads": 8, "vocab": 100,
    "mlp": "gated", "dtype": "fp16", "attention": "mla", "kv_lora_rank": 64,
    "q_lora_rank": 96, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16, "v_head_dim": 32})",
                                     "mla.json");
  EXPECT_EQ(mla.dtype, DType::f16);
  std::vector<LayerWeight> attention = layer_weights(mla);
  ASSERT_GE(attention.size(), 5u);
  EXPECT_EQ(attention[0].name, "attn.q_a");
  EXPECT_EQ(attention[0].elements(), 96u * 1024);
  EXPECT_EQ(attention[1].elements(), 8u * (32 + 16) * 96);
  EXPECT_EQ(attention[2].elements(), (64u + 16) * 1024);
  EXPECT_EQ(attention[3].elements(), 8u * (32 + 32) * 64);
  EXPECT_EQ(attention[4].elements(), 1024u * 8 * 32);
}

// DeepSeek-V3's published shape (its config.json) and sizes (its paper: 671 B parameters, 37 B
// of them used per token) check the weights of latent attention and of the experts.
TEST(ModelShapeFile, DeepSeekV3HasItsPublishedSizes) {
  ModelShape shape = parse_model_shape(R"({
    "layers": 61, "hidden": 7168, "ffn": 18432, "heads": 128, "kv_heads": 128, "vocab": 129280,
    "mlp": "gated", "dtype": "bf16", "experts": 256, "experts_per_token": 8,
    "shared_experts": 1, "expert_ffn": 2048, "dense_layers": 3, "attention": "mla",
    "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64, "v_head_dim": 128})",
                                       "deepseek-v3.json");
  double total = 2.0 * shape.vocab * shape.hidden, used = total;  // embedding and head
  for (uint32_t l = 0; l < shape.layers; ++l) {
    for (const LayerWeight& w : layer_weights(shape, l)) {
      total += static_cast<double>(w.elements());
      bool idle = w.name == "moe.expert";  // 8 of the 256 are used, on average
      used += static_cast<double>(w.elements()) * (idle ? 8.0 / 256 : 1.0);
    }
  }
  EXPECT_NEAR(total / 1e9, 671, 671 * 0.01);
  EXPECT_NEAR(used / 1e9, 37, 37 * 0.03);
}

TEST(ModelShapeFile, RefusesWhatItCannotTrust) {
  auto refused = [](std::string_view json, std::initializer_list<std::string> fragments) {
    expect_error([&] { parse_model_shape(json, "bad.json"); }, Errc::invalid_argument, fragments);
  };
  const std::string base =
      R"("layers": 2, "hidden": 64, "ffn": 128, "heads": 4, "kv_heads": 4, "vocab": 10, )"
      R"("mlp": "plain", "dtype": "bf16")";
  refused("{", {"model shape bad.json: not JSON"});
  refused("[1]", {"not a JSON object"});
  refused(R"({"hidden": 64})", {"the field 'layers' is missing"});
  refused("{" + base + R"(, "layer": 3})", {"unknown field 'layer'", "known: name, layers"});
  refused(R"({"layers": "2", )" + base.substr(base.find("\"hidden")) + "}",
          {"'layers' is \"2\", not an integer in [1, 4294967295]"});
  refused(R"({"layers": 0, )" + base.substr(base.find("\"hidden")) + "}",
          {"'layers' is 0, not an integer in [1,"});
  refused(R"({"layers": -2, )" + base.substr(base.find("\"hidden")) + "}", {"'layers' is -2"});
  refused(R"({"layers": 2.5, )" + base.substr(base.find("\"hidden")) + "}",
          {"'layers' is 2.5, not an integer"});
  refused(R"({"layers": 4294967296, )" + base.substr(base.find("\"hidden")) + "}",
          {"'layers' is 4294967296"});
  refused("{" + base + R"(, "name": 7})", {"'name' is 7, not a string"});
  refused("{" + base + R"(, "tied": "yes"})", {"'tied' is \"yes\", not true or false"});
  std::string plain = base.substr(0, base.find("\"mlp"));
  refused("{" + plain + R"("mlp": "swiglu", "dtype": "bf16"})", {"mlp 'swiglu' is not gated"});
  refused("{" + plain + R"("mlp": "plain", "dtype": "fp12"})", {"unknown dtype 'fp12'"});
  refused("{" + base + R"(, "experts": 8, "experts_per_token": 9, "expert_ffn": 32})",
          {"experts_per_token 9 is more than experts 8"});
  refused("{" + base + R"(, "experts": 8, "expert_ffn": 32})",
          {"the field 'experts_per_token' is missing"});
  refused("{" + base + R"(, "experts_per_token": 2})", {"the field 'experts' is missing"});
  refused("{" + base + R"(, "experts": 0, "experts_per_token": 0, "expert_ffn": 32})",
          {"'experts' is 0, not an integer in [1,"});
  refused("{" + base +
              R"(, "experts": 8, "experts_per_token": 2, "expert_ffn": 32,)"
              R"( "dense_layers": 2})",
          {"dense_layers 2 leaves none of the 2 layers"});
  refused("{" + base + R"(, "kv_lora_rank": 16})", {"'kv_lora_rank' needs \"attention\": \"mla\""});
  refused("{" + base + R"(, "attention": "mla", "kv_lora_rank": 16})",
          {"the field 'qk_nope_head_dim' is missing"});
  refused("{" + base + R"(, "attention": "gqa"})", {"attention 'gqa' is not mha or mla"});
  std::string heads = base;
  heads.replace(heads.find("\"kv_heads\": 4"), 13, "\"kv_heads\": 3");
  refused("{" + heads + "}", {"kv_heads 3 does not divide heads 4"});
  expect_error([] { load_model("/nonexistent/shape.json"); }, Errc::system,
               {"/nonexistent/shape.json"});
  expect_error([] { load_model("gpt-5"); }, Errc::invalid_argument, {"unknown model 'gpt-5'"});
}

TEST(MoeStreaming, RoutesKExpertsPerTokenAndReadsSharedOnesAlways) {
  testing::ScratchDir dir;
  std::string path = write_file(dir, "tiny.json", kMoe);
  ModelShape shape = load_model(path);
  LayerStreaming options;
  options.model = path;
  options.prompt = 0;
  options.tokens = 50;
  options.page_size = 4096;
  Trace trace = layer_streaming(options);
  Routing r = routing_of(trace, shape);
  ASSERT_EQ(r.experts.size(), 50u);
  for (size_t t = 0; t < 50; ++t) {
    EXPECT_EQ(r.experts[t].count(0), 0u) << "the dense layer has no experts";
    for (int layer = 1; layer < 4; ++layer) {
      const std::vector<int>& experts = r.experts[t][layer];
      EXPECT_EQ(experts.size(), 2u) << "token " << t << " layer " << layer;
      EXPECT_EQ(std::set<int>(experts.begin(), experts.end()).size(), experts.size());
      EXPECT_EQ(r.shared[t][layer], 1);
    }
  }
  // A step of 4 sequences reads the union of their experts: 2 to 8 of them.
  options.batch = 4;
  for (const auto& token : routing_of(layer_streaming(options), shape).experts) {
    for (const auto& [layer, experts] : token) {
      EXPECT_GE(experts.size(), 2u);
      EXPECT_LE(experts.size(), 8u);
    }
  }
  // The registered order has every shared expert and no routed one.
  Layout layout(shape);
  std::map<std::string_view, int> reads;
  for (const TraceAccess& a : layer_streaming_schedule(options).accesses) {
    auto [layer, index] = layout.find(a.tensor);
    if (layer >= 0) ++reads[layout.layers[layer].weights[index].name];
  }
  EXPECT_EQ(reads["moe.shared"], 3);
  EXPECT_EQ(reads["moe.expert"], 0);
}

// With hints_ahead N, each layer's routed experts are announced once, before they are read:
// N = 0 right after the layer's router (its attention read), N > 0 at the start of layer l - N
// (of the step for the first N layers). The accesses and their routing are those of no hints.
TEST(MoeStreaming, HintsAnnounceEachLayersExpertsAheadAndChangeNothingElse) {
  testing::ScratchDir dir;
  std::string path = write_file(dir, "tiny.json", kMoe);
  ModelShape shape = load_model(path);
  Layout layout(shape);
  LayerStreaming options;
  options.model = path;
  options.prompt = 4;
  options.tokens = 20;
  options.page_size = 4096;
  const Trace plain = layer_streaming(options);
  for (uint32_t ahead : {0u, 1u, 2u, 9u}) {
    SCOPED_TRACE("hints_ahead " + std::to_string(ahead));
    options.hints_ahead = ahead;
    const Trace hinted = layer_streaming(options);
    std::vector<TraceAccess> accesses;
    std::map<uint32_t, int> announced_in;  // expert tensor -> layer being read when announced
    int layer_now = -1;                    // of the last weight read in this step
    uint64_t announcements = 0;
    for (const TraceAccess& a : hinted.accesses) {
      auto [layer, index] = layout.find(a.tensor);
      if (a.op == TraceOp::prefetch) {
        ASSERT_GE(layer, 0);
        EXPECT_EQ(layout.layers[layer].weights[index].name, "moe.expert");
        EXPECT_TRUE(announced_in.emplace(a.tensor, layer_now).second) << "announced twice";
        ++announcements;
        continue;
      }
      accesses.push_back(a);
      if (a.tensor == 0) layer_now = -1;  // a step begins with its embedding row
      if (layer < 0) continue;
      if (layout.layers[layer].weights[index].name != "moe.expert") {
        layer_now = layer;
        continue;
      }
      auto it = announced_in.find(a.tensor);
      ASSERT_NE(it, announced_in.end()) << "expert read without an announcement";
      const int expected = ahead == 0 ? layer : std::max(layer - static_cast<int>(ahead) - 1, -1);
      EXPECT_EQ(it->second, expected) << "layer " << layer;
      announced_in.erase(it);
    }
    EXPECT_TRUE(announced_in.empty()) << "announced but never read";
    EXPECT_EQ(accesses, plain.accesses);
    EXPECT_EQ(hinted.page_accesses(), plain.page_accesses());
    EXPECT_GT(announcements, 0u);
  }
}

TEST(MoeStreaming, DeterministicBySeed) {
  testing::ScratchDir dir;
  LayerStreaming options;
  std::string path = write_file(dir, "tiny.json", kMoe);
  options.model = path;
  options.tokens = 20;
  options.prompt = 8;
  options.page_size = 4096;
  Trace a = layer_streaming(options);
  EXPECT_EQ(a, layer_streaming(options));
  options.seed = 2;
  EXPECT_NE(a, layer_streaming(options));
}

// Visits of each expert of layer 1 over tokens [begin, end).
std::vector<int> visits(const Routing& r, size_t begin, size_t end) {
  std::vector<int> counts(16);
  for (size_t t = begin; t < end; ++t) {
    for (int e : r.experts[t].at(1)) ++counts[e];
  }
  return counts;
}

TEST(MoeStreaming, PopularityIsSkewedAndDrifts) {
  testing::ScratchDir dir;
  std::string path = write_file(dir, "tiny.json", kMoe);
  ModelShape shape = load_model(path);
  LayerStreaming options;
  options.model = path;
  options.prompt = 0;
  options.tokens = 600;
  options.page_size = 4096;
  options.skew = 1.2;
  options.drift = 0;
  Routing still = routing_of(layer_streaming(options), shape);
  std::vector<int> all = visits(still, 0, 600);
  // Uniform routing would give each expert 600 x 2 / 16 = 75 visits.
  EXPECT_GT(*std::max_element(all.begin(), all.end()), 2 * 75);
  options.skew = 0;
  all = visits(routing_of(layer_streaming(options), shape), 0, 600);
  EXPECT_LT(*std::max_element(all.begin(), all.end()), 110);

  // Without drift the thirds agree on the favourite; with it, the distributions part.
  auto distance = [](const std::vector<int>& a, const std::vector<int>& b) {
    int d = 0;
    for (size_t e = 0; e < a.size(); ++e) d += std::abs(a[e] - b[e]);
    return d;
  };
  std::vector<int> first = visits(still, 0, 200), last = visits(still, 400, 600);
  EXPECT_EQ(std::max_element(first.begin(), first.end()) - first.begin(),
            std::max_element(last.begin(), last.end()) - last.begin());
  int still_distance = distance(first, last);
  options.skew = 1.2;
  options.drift = 0.2;
  Routing drifting = routing_of(layer_streaming(options), shape);
  first = visits(drifting, 0, 200);
  last = visits(drifting, 400, 600);
  EXPECT_GT(distance(first, last), 2 * still_distance);
}

TEST(MoeStreaming, RefusesBadRoutingOptions) {
  testing::ScratchDir dir;
  LayerStreaming options;
  std::string path = write_file(dir, "tiny.json", kMoe);
  options.model = path;
  options.skew = -1;
  expect_error([&] { layer_streaming(options); }, Errc::invalid_argument,
               {"skew -1 must be in [0, 10]"});
  options.skew = 1;
  options.drift = 2;
  expect_error([&] { layer_streaming(options); }, Errc::invalid_argument, {"drift 2 in [0, 1]"});
}

}  // namespace
}  // namespace tiermem::workload
