// fuzz/fuzz_safetensors_header.cpp: the safetensors header parser (behind
// read_safetensors_header and open_checkpoint), on whole files: an 8-byte length, the JSON, the
// data. What it accepts lies within the file, tiles the data, and encodes to a header that
// parses to the same tensors.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "checkpoint/safetensors_format.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace tiermem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t length = 0;
  std::memcpy(&length, data, 8);
  if (length > size - 8) return 0;  // read_safetensors_header refuses it before parsing
  const std::string_view json(reinterpret_cast<const char*>(data) + 8, length);
  SafetensorsFile file;
  if (!fuzz::accepted([&] { file = checkpoint::parse_header(json, 8 + length, size, "<fuzz>"); })) {
    return 0;
  }
  uint64_t end = 0;
  for (const SafetensorsTensor& tensor : file.tensors) {
    fuzz::require(tensor.begin == end && tensor.begin <= tensor.end, "tensors tile the data");
    end = tensor.end;
  }
  fuzz::require(file.data_offset + end == size, "the tensors end where the file does");
  const std::string header = checkpoint::encode_header(file.tensors, file.metadata);
  uint64_t again_length = 0;
  std::memcpy(&again_length, header.data(), 8);
  const SafetensorsFile again = checkpoint::parse_header(
      std::string_view(header).substr(8), header.size(), header.size() + end, "<encoded>");
  fuzz::require(again_length + 8 == header.size() && header.size() % checkpoint::kDataAlign == 0,
                "an encoded header is padded to the data's alignment");
  fuzz::require(again.tensors.size() == file.tensors.size(), "the same tensors come back");
  for (size_t i = 0; i < again.tensors.size(); ++i) {
    const SafetensorsTensor& a = again.tensors[i];
    const SafetensorsTensor& b = file.tensors[i];
    fuzz::require(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape &&
                      a.begin == b.begin && a.end == b.end,
                  "the same tensors come back");
  }
  return 0;
}
