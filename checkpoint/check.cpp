// checkpoint/check.cpp: check_checkpoint: headers, index entries and checksums.
#include <fmt/format.h>

#include <filesystem>
#include <vector>

#include "checkpoint/file_writer.hpp"
#include "checkpoint/read_only_file.hpp"
#include "checkpoint/safetensors_format.hpp"
#include "checkpoint/safetensors_index.hpp"
#include "persist/checksum.hpp"
#include "tiermem/checkpoint.hpp"
#include "tiermem/error.hpp"

namespace tiermem {

namespace {

using checkpoint::corrupt;

constexpr uint64_t kReadChunk = 8 << 20;

// Checks one file's header and checksums into report; returns its header.
SafetensorsFile check_file(const std::string& path, CheckpointReport& report) {
  SafetensorsFile header = read_safetensors_header(path);
  const checkpoint::ReadOnlyFile file(path);
  std::vector<std::byte> buffer;
  for (const SafetensorsTensor& tensor : header.tensors) {
    report.tensors += 1;
    report.bytes += tensor.size_bytes();
    const auto found = header.metadata.find(checkpoint::checksum_key(tensor.name));
    if (found == header.metadata.end()) continue;
    persist::Checksum sum;
    buffer.resize(std::min(kReadChunk, tensor.size_bytes()));
    for (uint64_t offset = tensor.begin; offset < tensor.end;) {
      const uint64_t length = std::min<uint64_t>(buffer.size(), tensor.end - offset);
      file.read(std::span(buffer).first(length), header.data_offset + offset);
      sum.update(buffer.data(), length);
      offset += length;
    }
    const std::string actual = fmt::format("{:016x}", sum.digest());
    if (actual != found->second) {
      corrupt(path, fmt::format("tensor '{}' (bytes {} to {} of the file) has xxh3 {}, but the "
                                "header records {}: its data are damaged",
                                tensor.name, header.data_offset + tensor.begin,
                                header.data_offset + tensor.end, actual, found->second));
    }
    report.checksums_verified += 1;
  }
  report.files.push_back(path);
  return header;
}

void check_index(const std::string& path, CheckpointReport& report) {
  const SafetensorsIndex index = read_safetensors_index(path);
  std::map<std::string, std::string> unseen = index.weight_map;
  uint64_t total = 0;
  for (const std::string& shard : index.shards) {
    const SafetensorsFile header = check_file(index.shard_path(shard), report);
    const auto tag = header.metadata.find("tiermem.tag");
    if (!index.tag.empty() && (tag == header.metadata.end() || tag->second != index.tag)) {
      corrupt(header.path,
              fmt::format("the shard's tiermem.tag is '{}', but the index '{}' has "
                          "'{}': the shard belongs to another save",
                          tag == header.metadata.end() ? "" : tag->second, path, index.tag));
    }
    for (const SafetensorsTensor& tensor : header.tensors) {
      const auto entry = index.weight_map.find(tensor.name);
      if (entry == index.weight_map.end() || entry->second != shard) {
        corrupt(
            header.path,
            fmt::format("tensor '{}' is in this shard, but the index '{}' {}", tensor.name, path,
                        entry == index.weight_map.end() ? std::string("does not list it")
                                                        : "places it in '" + entry->second + "'"));
      }
      unseen.erase(tensor.name);
      total += tensor.size_bytes();
    }
  }
  if (!unseen.empty()) {
    corrupt(path, fmt::format("tensor '{}' is listed in shard '{}', which does not hold it",
                              unseen.begin()->first, unseen.begin()->second));
  }
  if (index.total_size != 0 && index.total_size != total) {
    corrupt(path, fmt::format("metadata.total_size is {}, but the shards' tensors hold {} bytes",
                              index.total_size, total));
  }
  report.files.push_back(path);
}

}  // namespace

CheckpointReport check_checkpoint(const std::string& path) {
  CheckpointReport report;
  if (std::filesystem::is_directory(path)) {
    check_index(path + "/" + checkpoint::kIndexName, report);
  } else if (path.ends_with(".json")) {
    check_index(path, report);
  } else {
    check_file(path, report);
  }
  return report;
}

}  // namespace tiermem
