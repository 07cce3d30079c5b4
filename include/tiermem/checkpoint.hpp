// tiermem/checkpoint.hpp: safetensors checkpoints: reading their headers and Hugging Face
// shard indexes.
//
// A .safetensors file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON
// ({"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {str: str}}), then the tensors' bytes; offsets count from the end of the
// header, and the tensors cover the data exactly, without holes or overlaps. A sharded
// checkpoint is several such files named model-0000r-of-0000w.safetensors and an index,
// model.safetensors.index.json ({"metadata": {"total_size": N}, "weight_map": {"tensor":
// "shard file name"}}).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tiermem/export.h"
#include "tiermem/types.hpp"

namespace tiermem {

// One tensor of a safetensors header. begin and end count from SafetensorsFile::data_offset.
struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::u8;
  std::vector<uint64_t> shape;  // empty for a scalar
  uint64_t begin = 0;
  uint64_t end = 0;

  uint64_t size_bytes() const noexcept { return end - begin; }
};

// A parsed and checked safetensors header.
struct TIERMEM_API SafetensorsFile {
  std::string path;
  uint64_t file_size = 0;
  uint64_t data_offset = 0;                     // 8 + the header length: where the data starts
  std::vector<SafetensorsTensor> tensors;       // in the order of their data in the file
  std::map<std::string, std::string> metadata;  // "__metadata__"; empty when absent

  // The tensor of that name, or null.
  const SafetensorsTensor* find(std::string_view name) const noexcept;
};

// Reads and checks the header of the .safetensors file at path; reads no tensor data.
// Checked: the header length against the file's size and a cap of 100 MiB, the JSON syntax,
// that every entry has a dtype tiermem has (BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64
// U64 F8_E4M3 F8_E5M2), a shape of non-negative integers and two data offsets, that
// shape x dtype size == end - begin, that begin <= end, that the tensors cover the data from 0
// to the end of the file exactly (no hole, no overlap, nothing after), that no name repeats
// and that __metadata__ maps strings to strings. Keys of an entry other than these three are
// ignored, as the reference reader does.
// Throws Error(corrupt) naming the file, the tensor and the value and limit it breaks,
// Error(unsupported) naming a dtype tiermem lacks (F8_E8M0, C64, ...), Error(system) when the
// file cannot be opened (errno), Error(io) when it cannot be read. Thread-safe.
TIERMEM_API SafetensorsFile read_safetensors_header(const std::string& path);

// A Hugging Face shard index (model.safetensors.index.json).
struct TIERMEM_API SafetensorsIndex {
  std::string path;
  uint64_t total_size = 0;                        // metadata.total_size; 0 when absent
  std::vector<std::string> shards;                // shard file names, sorted, each once
  std::map<std::string, std::string> weight_map;  // tensor name -> shard file name

  // The shard's path: the index's directory joined with the file name.
  std::string shard_path(const std::string& shard) const;
};

// Reads and checks an index: a JSON object whose weight_map maps names to shard file names,
// each a plain file name (no '/', not "." or ".."), and whose optional metadata.total_size is
// a non-negative integer. Does not open the shards (check_checkpoint does). Throws
// Error(corrupt) naming the file and the entry, Error(system) or Error(io) as
// read_safetensors_header. Thread-safe.
TIERMEM_API SafetensorsIndex read_safetensors_index(const std::string& path);

}  // namespace tiermem
