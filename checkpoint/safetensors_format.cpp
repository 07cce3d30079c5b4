// checkpoint/safetensors_format.cpp: the safetensors header, encoded and decoded, every field
// checked; read_safetensors_header.
#include "checkpoint/safetensors_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <set>

#include "checkpoint/read_only_file.hpp"
#include "tiermem/error.hpp"

namespace tiermem::checkpoint {

void corrupt(const std::string& path, std::string_view what) {
  throw Error(Errc::corrupt, fmt::format("'{}': {}", path, what));
}

namespace {

namespace json = boost::json;

struct DTypeName {
  DType dtype;
  std::string_view name;
};

constexpr std::array<DTypeName, 15> kNames = {{
    {DType::boolean, "BOOL"},
    {DType::u8, "U8"},
    {DType::i8, "I8"},
    {DType::i16, "I16"},
    {DType::u16, "U16"},
    {DType::f16, "F16"},
    {DType::bf16, "BF16"},
    {DType::i32, "I32"},
    {DType::u32, "U32"},
    {DType::f32, "F32"},
    {DType::f64, "F64"},
    {DType::i64, "I64"},
    {DType::u64, "U64"},
    {DType::fp8_e4m3, "F8_E4M3"},
    {DType::fp8_e5m2, "F8_E5M2"},
}};

DType dtype_of(std::string_view name, const std::string& path, std::string_view tensor) {
  for (const DTypeName& row : kNames) {
    if (row.name == name) return row.dtype;
  }
  std::string known;
  for (const DTypeName& row : kNames) fmt::format_to(std::back_inserter(known), " {}", row.name);
  throw Error(Errc::unsupported,
              fmt::format("'{}': tensor '{}' has dtype '{}', which tiermem lacks (it has:{})", path,
                          tensor, name, known));
}

uint64_t unsigned_of(const json::value& value, const std::string& path, std::string_view tensor,
                     std::string_view field) {
  if (value.is_uint64()) return value.get_uint64();
  if (value.is_int64() && value.get_int64() >= 0) return static_cast<uint64_t>(value.get_int64());
  corrupt(path, fmt::format("tensor '{}': {} holds {}, not an integer from 0 to 2^64-1", tensor,
                            field, json::serialize(value)));
}

// The top-level keys of a JSON object in the order written, duplicates kept (Boost.JSON keeps
// one of them): the text is known to be valid JSON, so strings and nesting are all there is
// to follow.
std::vector<std::string> top_level_keys(std::string_view text) {
  std::vector<std::string> keys;
  int depth = 0;
  bool expect_key = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      size_t end = i + 1;
      while (text[end] != '"') end += text[end] == '\\' ? 2 : 1;
      if (depth == 1 && expect_key) {
        keys.push_back(json::value_to<std::string>(json::parse(text.substr(i, end + 1 - i))));
        expect_key = false;
      }
      i = end;
    } else if (c == '{' || c == '[') {
      expect_key = ++depth == 1;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    }
  }
  return keys;
}

SafetensorsTensor parse_entry(const std::string& name, const json::value& value,
                              const std::string& path) {
  const json::object* entry = value.if_object();
  if (entry == nullptr) {
    corrupt(path, fmt::format("tensor '{}' is {}, not an object", name, json::serialize(value)));
  }
  const json::value* dtype = entry->if_contains("dtype");
  const json::value* shape = entry->if_contains("shape");
  const json::value* offsets = entry->if_contains("data_offsets");
  if (dtype == nullptr || !dtype->is_string() || shape == nullptr || !shape->is_array() ||
      offsets == nullptr || !offsets->is_array() || offsets->get_array().size() != 2) {
    corrupt(path, fmt::format("tensor '{}' needs a dtype string, a shape array and two "
                              "data_offsets; it has {}",
                              name, json::serialize(value)));
  }
  SafetensorsTensor tensor;
  tensor.name = name;
  tensor.dtype = dtype_of(dtype->get_string(), path, name);
  uint64_t bytes = dtype_size(tensor.dtype);
  for (const json::value& dim : shape->get_array()) {
    const uint64_t extent = unsigned_of(dim, path, name, "shape");
    tensor.shape.push_back(extent);
    if (extent != 0 && bytes > UINT64_MAX / extent) {
      corrupt(path, fmt::format("tensor '{}': shape {} overflows 64 bits of bytes", name,
                                json::serialize(*shape)));
    }
    bytes *= extent;
  }
  tensor.begin = unsigned_of(offsets->get_array()[0], path, name, "data_offsets[0]");
  tensor.end = unsigned_of(offsets->get_array()[1], path, name, "data_offsets[1]");
  if (tensor.begin > tensor.end) {
    corrupt(path, fmt::format("tensor '{}': data_offsets [{}, {}] begin after they end", name,
                              tensor.begin, tensor.end));
  }
  if (tensor.end - tensor.begin != bytes) {
    corrupt(path, fmt::format("tensor '{}': data_offsets [{}, {}] hold {} bytes, but shape {} of "
                              "{} needs {}",
                              name, tensor.begin, tensor.end, tensor.end - tensor.begin,
                              json::serialize(*shape), dtype->get_string().c_str(), bytes));
  }
  return tensor;
}

std::map<std::string, std::string> parse_metadata(const json::value& value,
                                                  const std::string& path) {
  const json::object* object = value.if_object();
  if (object == nullptr) {
    corrupt(path, fmt::format("__metadata__ is {}, not an object", json::serialize(value)));
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : *object) {
    if (!item.is_string()) {
      corrupt(path, fmt::format("__metadata__ '{}' is {}, not a string", std::string_view(key),
                                json::serialize(item)));
    }
    metadata.emplace(key, item.get_string());
  }
  return metadata;
}

// The tensors, sorted by offset, must tile [0, data_size) exactly.
void check_coverage(std::vector<SafetensorsTensor>& tensors, uint64_t data_size,
                    const std::string& path) {
  std::stable_sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const SafetensorsTensor* previous = nullptr;
  for (const SafetensorsTensor& tensor : tensors) {
    if (tensor.begin != covered) {
      const std::string before =
          previous != nullptr ? fmt::format("tensor '{}' ends at {}", previous->name, covered)
                              : std::string("the data start at 0");
      corrupt(path, fmt::format(
                        "{}, but tensor '{}' begins at {}: {} of {} bytes", before, tensor.name,
                        tensor.begin, tensor.begin > covered ? "a hole" : "an overlap",
                        tensor.begin > covered ? tensor.begin - covered : covered - tensor.begin));
    }
    covered = tensor.end;
    previous = &tensor;
  }
  if (covered != data_size) {
    corrupt(path, fmt::format("the tensors' data end at {}, but the file holds {} bytes of data "
                              "after its header ({})",
                              covered, data_size,
                              covered > data_size ? "the file is truncated" : "bytes left over"));
  }
}

}  // namespace

std::string_view safetensors_dtype(DType dtype) noexcept {
  for (const DTypeName& row : kNames) {
    if (row.dtype == dtype) return row.name;
  }
  return "?";
}

SafetensorsFile parse_header(std::string_view text, uint64_t data_offset, uint64_t file_size,
                             const std::string& path) {
  json::value root;
  {
    boost::system::error_code error;
    json::stream_parser parser;
    const size_t used = parser.write(text.data(), text.size(), error);
    if (!error) parser.finish(error);
    if (error) {
      corrupt(path, fmt::format("the header is not valid JSON (at byte {} of {}): {}", used,
                                text.size(), error.message()));
    }
    root = parser.release();
  }
  const json::object* object = root.if_object();
  if (object == nullptr) corrupt(path, "the header is not a JSON object");

  SafetensorsFile file;
  file.path = path;
  file.file_size = file_size;
  file.data_offset = data_offset;
  std::set<std::string_view> seen;
  const std::vector<std::string> keys = top_level_keys(text);
  for (const std::string& key : keys) {
    if (!seen.insert(key).second) corrupt(path, fmt::format("tensor '{}' appears twice", key));
  }
  for (const auto& [key, value] : *object) {
    if (key == "__metadata__") {
      file.metadata = parse_metadata(value, path);
    } else if (key.empty()) {
      corrupt(path, "a tensor has an empty name");
    } else {
      file.tensors.push_back(parse_entry(std::string(key), value, path));
    }
  }
  check_coverage(file.tensors, file_size - data_offset, path);
  return file;
}

std::string encode_header(std::span<const SafetensorsTensor> tensors,
                          const std::map<std::string, std::string>& metadata) {
  json::object root;
  if (!metadata.empty()) {
    json::object meta;
    for (const auto& [key, value] : metadata) meta[key] = value;
    root["__metadata__"] = std::move(meta);
  }
  for (const SafetensorsTensor& tensor : tensors) {
    json::array shape(tensor.shape.begin(), tensor.shape.end());
    root[tensor.name] = {{"dtype", safetensors_dtype(tensor.dtype)},
                         {"shape", std::move(shape)},
                         {"data_offsets", {tensor.begin, tensor.end}}};
  }
  const std::string text = json::serialize(root);
  const uint64_t padded = (8 + text.size() + kDataAlign - 1) / kDataAlign * kDataAlign - 8;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((padded >> (8 * i)) & 0xff);
  out += text;
  out.resize(8 + padded, ' ');
  return out;
}

}  // namespace tiermem::checkpoint

namespace tiermem {

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const noexcept {
  for (const SafetensorsTensor& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

SafetensorsFile read_safetensors_header(const std::string& path) {
  using checkpoint::corrupt;
  using checkpoint::kMaxHeaderBytes;
  const checkpoint::ReadOnlyFile file(path);
  if (file.size() < 8) {
    corrupt(path, fmt::format("the file holds {} bytes, fewer than the 8 of a header length",
                              file.size()));
  }
  std::array<std::byte, 8> length_bytes;
  file.read(length_bytes, 0);
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= static_cast<uint64_t>(length_bytes[i]) << (8 * i);
  if (length > kMaxHeaderBytes) {
    corrupt(path, fmt::format("the header length {} exceeds the limit of {} bytes", length,
                              kMaxHeaderBytes));
  }
  if (length > file.size() - 8) {
    corrupt(path, fmt::format("the header length {} runs past the end of the file ({} bytes)",
                              length, file.size()));
  }
  return checkpoint::parse_header(file.read_text(8, length), 8 + length, file.size(), path);
}

}  // namespace tiermem
