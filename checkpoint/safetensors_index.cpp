// checkpoint/safetensors_index.cpp: the Hugging Face shard index, read and written.
#include "checkpoint/safetensors_index.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <set>

#include "checkpoint/read_only_file.hpp"
#include "checkpoint/safetensors_format.hpp"
#include "tiermem/checkpoint.hpp"

namespace tiermem::checkpoint {

namespace json = boost::json;

// An index is a few bytes per tensor; this bounds what a damaged one can make us read.
constexpr uint64_t kMaxIndexBytes = 256 << 20;

std::string shard_name(uint32_t rank, uint32_t world_size) {
  return fmt::format("model-{:05}-of-{:05}.safetensors", rank + 1, world_size);
}

std::string encode_index(uint64_t total_size, const std::string& tag,
                         const std::map<std::string, std::string>& weight_map) {
  json::object map;
  for (const auto& [tensor, shard] : weight_map) map[tensor] = shard;
  json::object root{{"metadata", {{"total_size", total_size}, {"tiermem.tag", tag}}},
                    {"weight_map", std::move(map)}};
  return json::serialize(root) + "\n";
}

}  // namespace tiermem::checkpoint

namespace tiermem {

std::string SafetensorsIndex::shard_path(const std::string& shard) const {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? shard : path.substr(0, slash + 1) + shard;
}

SafetensorsIndex read_safetensors_index(const std::string& path) {
  using checkpoint::corrupt;
  namespace json = boost::json;
  const checkpoint::ReadOnlyFile file(path);
  if (file.size() > checkpoint::kMaxIndexBytes) {
    corrupt(path, fmt::format("the index holds {} bytes, more than the limit of {}", file.size(),
                              checkpoint::kMaxIndexBytes));
  }
  boost::system::error_code error;
  const json::value root = json::parse(file.read_text(0, file.size()), error);
  if (error) corrupt(path, fmt::format("the index is not valid JSON: {}", error.message()));
  const json::object* object = root.if_object();
  const json::value* map = object != nullptr ? object->if_contains("weight_map") : nullptr;
  if (map == nullptr || !map->is_object()) {
    corrupt(path, "the index is not a JSON object with a weight_map object");
  }
  SafetensorsIndex index;
  index.path = path;
  if (const json::value* metadata = object->if_contains("metadata")) {
    const json::value* total =
        metadata->is_object() ? metadata->get_object().if_contains("total_size") : nullptr;
    if (total != nullptr) {
      if (!total->is_uint64() && !(total->is_int64() && total->get_int64() >= 0)) {
        corrupt(path, fmt::format("metadata.total_size is {}, not an integer from 0 to 2^64-1",
                                  json::serialize(*total)));
      }
      index.total_size = total->to_number<uint64_t>();
    }
    const json::value* tag =
        metadata->is_object() ? metadata->get_object().if_contains("tiermem.tag") : nullptr;
    if (tag != nullptr && tag->is_string()) index.tag = tag->get_string();
  }
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : map->get_object()) {
    const json::string* name = shard.if_string();
    if (name == nullptr || name->empty() || *name == "." || *name == ".." ||
        std::string_view(*name).find('/') != std::string_view::npos) {
      corrupt(path, fmt::format("weight_map '{}' is {}, not a plain shard file name",
                                std::string_view(tensor), json::serialize(shard)));
    }
    index.weight_map.emplace(tensor, *name);
    shards.emplace(*name);
  }
  index.shards.assign(shards.begin(), shards.end());
  return index;
}

}  // namespace tiermem
