// checkpoint/safetensors_index.hpp: the Hugging Face shard index (model.safetensors.index.json)
// and shard names; read_safetensors_index (include/tiermem/checkpoint.hpp) reads one.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace tiermem::checkpoint {

inline constexpr const char* kIndexName = "model.safetensors.index.json";

// "model-00002-of-00004.safetensors" for rank 1 of 4: Hugging Face's names, 1-based, 5 digits.
std::string shard_name(uint32_t rank, uint32_t world_size);

// The index's JSON text; tag goes into its metadata as "tiermem.tag".
std::string encode_index(uint64_t total_size, const std::string& tag,
                         const std::map<std::string, std::string>& weight_map);

}  // namespace tiermem::checkpoint
