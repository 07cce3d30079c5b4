// checkpoint/stream.cpp: a safetensors checkpoint opened in place, as read-only tensors of a
// pool whose NVMe copy is the file itself (include/tiermem/checkpoint.hpp, open_checkpoint).
#include <fmt/format.h>

#include <filesystem>

#include "checkpoint/safetensors_format.hpp"
#include "tiermem/checkpoint.hpp"
#include "tiermem/error.hpp"
#include "tiermem/pool_core.hpp"

namespace tiermem {

namespace {

bool is_index(const std::string& path) {
  return std::filesystem::is_directory(path) || path.ends_with(".json");
}

}  // namespace

std::vector<Tensor> open_checkpoint(Pool& pool, const std::string& path) {
  detail::PoolCore& core = detail::PoolCore::of(pool);
  std::vector<SafetensorsFile> files;
  if (is_index(path)) {
    const std::string index_path =
        std::filesystem::is_directory(path) ? path + "/model.safetensors.index.json" : path;
    const SafetensorsIndex index = read_safetensors_index(index_path);
    for (const std::string& shard : index.shards) {
      files.push_back(read_safetensors_header(index.shard_path(shard)));
      for (const SafetensorsTensor& tensor : files.back().tensors) {
        auto named = index.weight_map.find(tensor.name);
        if (named == index.weight_map.end() || named->second != shard) {
          throw Error(Errc::corrupt,
                      fmt::format("{}: shard {} holds tensor '{}', which the index {}", path, shard,
                                  tensor.name,
                                  named == index.weight_map.end() ? std::string("does not name")
                                                                  : "places in " + named->second));
        }
      }
    }
  } else {
    files.push_back(read_safetensors_header(path));
  }
  // All headers are read before any tensor is made: a bad one leaves the pool unchanged.
  std::vector<Tensor> tensors;
  try {
    for (const SafetensorsFile& file : files) {
      auto source = core.open_file_source(file.path);
      for (const SafetensorsTensor& tensor : file.tensors) {
        tensors.push_back(core.add_file_tensor(tensor.name, tensor.dtype, tensor.shape, source,
                                               file.data_offset + tensor.begin));
      }
    }
  } catch (...) {
    for (Tensor& tensor : tensors) tensor.release();
    throw;
  }
  return tensors;
}

}  // namespace tiermem
