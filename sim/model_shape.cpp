// sim/model_shape.cpp: model shape files: the JSON form of a ModelShape, read field by field
// with an error for anything missing, misspelt, of the wrong type or out of range, so that a
// generated trace never comes from a shape that was guessed.
#include <fmt/format.h>

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <optional>

#include "sim/file_io.hpp"
#include "support/json.hpp"
#include "tiermem/error.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {

namespace {

constexpr std::string_view kFields[] = {"name",
                                        "layers",
                                        "hidden",
                                        "ffn",
                                        "heads",
                                        "kv_heads",
                                        "vocab",
                                        "mlp",
                                        "dtype",
                                        "tied",
                                        "experts",
                                        "experts_per_token",
                                        "shared_experts",
                                        "expert_ffn",
                                        "shared_expert_ffn",
                                        "dense_layers",
                                        "attention",
                                        "kv_lora_rank",
                                        "q_lora_rank",
                                        "qk_nope_head_dim",
                                        "qk_rope_head_dim",
                                        "v_head_dim"};

class ShapeReader {
 public:
  ShapeReader(const boost::json::object& object, std::string_view origin)
      : object_(object), origin_(origin) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw Error(Errc::invalid_argument, fmt::format("model shape {}: {}", origin_, message));
  }

  bool has(std::string_view field) const { return object_.contains(field); }

  // A whole number in [min, 2^32-1]; absent: fallback, or an error when there is none.
  uint32_t count(std::string_view field, uint32_t min, std::optional<uint32_t> fallback = {}) {
    const boost::json::value* value = object_.if_contains(field);
    if (value == nullptr) {
      if (!fallback) fail(fmt::format("the field '{}' is missing", field));
      return *fallback;
    }
    constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
    if (value->is_int64() && value->get_int64() >= static_cast<int64_t>(min) &&
        static_cast<uint64_t>(value->get_int64()) <= kMax) {
      return static_cast<uint32_t>(value->get_int64());
    }
    fail(
        fmt::format("'{}' is {}, not an integer in [{}, {}]", field, json_text(*value), min, kMax));
  }

  std::string text(std::string_view field, std::optional<std::string> fallback = {}) {
    const boost::json::value* value = object_.if_contains(field);
    if (value == nullptr) {
      if (!fallback) fail(fmt::format("the field '{}' is missing", field));
      return *fallback;
    }
    if (!value->is_string()) {
      fail(fmt::format("'{}' is {}, not a string", field, json_text(*value)));
    }
    return std::string(value->get_string());
  }

  bool boolean(std::string_view field, bool fallback) {
    const boost::json::value* value = object_.if_contains(field);
    if (value == nullptr) return fallback;
    if (!value->is_bool()) {
      fail(fmt::format("'{}' is {}, not true or false", field, json_text(*value)));
    }
    return value->get_bool();
  }

 private:
  const boost::json::object& object_;
  std::string_view origin_;
};

}  // namespace

ModelShape parse_model_shape(std::string_view json, std::string_view origin) {
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(json, ec);
  if (ec) {
    throw Error(Errc::invalid_argument,
                fmt::format("model shape {}: not JSON: {}", origin, ec.message()));
  }
  if (!root.is_object()) {
    throw Error(Errc::invalid_argument, fmt::format("model shape {}: not a JSON object", origin));
  }
  const boost::json::object& object = root.get_object();
  ShapeReader r(object, origin);
  for (const auto& member : object) {
    if (std::ranges::find(kFields, std::string_view(member.key())) == std::end(kFields)) {
      r.fail(fmt::format("unknown field '{}' (known: {})", std::string_view(member.key()),
                         fmt::join(kFields, ", ")));
    }
  }
  ModelShape m{};
  m.name = r.text("name", std::filesystem::path(origin).stem().string());
  m.layers = r.count("layers", 1);
  m.hidden = r.count("hidden", 1);
  m.ffn = r.count("ffn", 1);
  m.heads = r.count("heads", 1);
  m.kv_heads = r.count("kv_heads", 1);
  m.vocab = r.count("vocab", 1);
  std::string mlp = r.text("mlp");
  if (mlp != "gated" && mlp != "plain") r.fail(fmt::format("mlp '{}' is not gated or plain", mlp));
  m.gated = mlp == "gated";
  m.tied = r.boolean("tied", false);
  std::string dtype = r.text("dtype");
  try {
    // fp16 and fp32 are how model cards spell f16 and f32.
    m.dtype = parse_dtype(dtype == "fp16" ? "f16" : dtype == "fp32" ? "f32" : dtype);
  } catch (const Error& e) {
    r.fail(e.what());
  }
  m.dtype_bytes = dtype_size(m.dtype);
  if (m.heads % m.kv_heads != 0) {
    r.fail(fmt::format("kv_heads {} does not divide heads {}", m.kv_heads, m.heads));
  }

  if (r.has("experts") || r.has("experts_per_token") || r.has("expert_ffn") ||
      r.has("shared_experts") || r.has("shared_expert_ffn") || r.has("dense_layers")) {
    m.experts = r.count("experts", 1);
    m.experts_per_token = r.count("experts_per_token", 1);
    m.expert_ffn = r.count("expert_ffn", 1);
    m.shared_experts = r.count("shared_experts", 0, 0);
    m.shared_expert_ffn = r.count("shared_expert_ffn", 1, m.expert_ffn);
    m.dense_layers = r.count("dense_layers", 0, 0);
    if (m.experts_per_token > m.experts) {
      r.fail(fmt::format("experts_per_token {} is more than experts {}", m.experts_per_token,
                         m.experts));
    }
    if (m.dense_layers >= m.layers) {
      r.fail(fmt::format("dense_layers {} leaves none of the {} layers to the experts",
                         m.dense_layers, m.layers));
    }
  }

  std::string attention = r.text("attention", "mha");
  if (attention == "mla") {
    m.kv_lora_rank = r.count("kv_lora_rank", 1);
    m.q_lora_rank = r.count("q_lora_rank", 0, 0);
    m.qk_nope_head_dim = r.count("qk_nope_head_dim", 1);
    m.qk_rope_head_dim = r.count("qk_rope_head_dim", 1);
    m.v_head_dim = r.count("v_head_dim", 1);
  } else if (attention != "mha") {
    r.fail(fmt::format("attention '{}' is not mha or mla", attention));
  } else {
    for (std::string_view field :
         {"kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"}) {
      if (r.has(field)) r.fail(fmt::format("'{}' needs \"attention\": \"mla\"", field));
    }
    if (m.hidden % m.heads != 0) {
      r.fail(fmt::format("heads {} does not divide hidden {}", m.heads, m.hidden));
    }
  }
  return m;
}

ModelShape load_model(std::string_view name_or_file) {
  if (!name_or_file.ends_with(".json")) return find_model(name_or_file);
  std::string path(name_or_file);
  return parse_model_shape(sim::read_file(path), path);
}

}  // namespace tiermem::workload
