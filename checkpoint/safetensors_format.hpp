// checkpoint/safetensors_format.hpp: the safetensors header, encoded and decoded; the dtype
// names of the format. read_safetensors_header (include/tiermem/checkpoint.hpp) is this
// parser applied to a file.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "tiermem/checkpoint.hpp"

namespace tiermem::checkpoint {

// The reference reader's cap on the header length.
inline constexpr uint64_t kMaxHeaderBytes = 100 << 20;
// Where writers start the data: O_DIRECT writes need block-aligned file offsets.
inline constexpr uint64_t kDataAlign = 4096;

// Throws Error(corrupt) with "'path': what".
[[noreturn]] void corrupt(const std::string& path, std::string_view what);

// The format's name of a dtype ("F16", "BOOL", "F8_E4M3", ...).
std::string_view safetensors_dtype(DType dtype) noexcept;

// Parses and checks the header JSON (the N bytes after the length) of the file at path, of
// file_size bytes, whose data start at data_offset. Throws what read_safetensors_header
// throws for a bad header.
SafetensorsFile parse_header(std::string_view json, uint64_t data_offset, uint64_t file_size,
                             const std::string& path);

// The length and JSON of a header describing tensors (in file order, offsets already set) and
// metadata, padded with spaces so that the data starts at a multiple of kDataAlign.
std::string encode_header(std::span<const SafetensorsTensor> tensors,
                          const std::map<std::string, std::string>& metadata);

}  // namespace tiermem::checkpoint
