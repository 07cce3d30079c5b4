// checkpoint/save.cpp: save_checkpoint: the options checked, the tensors planned into files
// (one, a process's shards, or this rank's shard), each file written, the index written.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "checkpoint/file_writer.hpp"
#include "checkpoint/safetensors_index.hpp"
#include "checkpoint/snapshot.hpp"
#include "persist/durable_file.hpp"
#include "tiermem/checkpoint.hpp"
#include "tiermem/error.hpp"

namespace tiermem {

namespace {

using checkpoint::Snapshot;

constexpr const char* kTagKey = "tiermem.tag";

void check_options(const CheckpointOptions& options, const std::string& path) {
  auto invalid = [](const std::string& what) { throw Error(Errc::invalid_argument, what); };
  if (path.empty()) invalid("save_checkpoint needs a path");
  if (options.world_size == 0) invalid("CheckpointOptions::world_size is 0; it must be at least 1");
  if (options.rank >= options.world_size) {
    invalid(fmt::format("CheckpointOptions::rank {} is not below world_size {}", options.rank,
                        options.world_size));
  }
  if (options.world_size > 99999) {
    invalid(
        fmt::format("CheckpointOptions::world_size {} exceeds the 99999 shards that "
                    "five-digit shard names can count",
                    options.world_size));
  }
  if (options.world_size > 1 && options.max_shard_bytes > 0) {
    invalid(
        "CheckpointOptions: max_shard_bytes splits one process's tensors into shards; with "
        "world_size > 1 each rank writes one shard, so it must be 0");
  }
  if (options.world_size > 1 && options.tag.empty()) {
    invalid(
        "CheckpointOptions::tag is empty; ranks of one save need the same tag (a step "
        "number, say) so that shards of an older save are not mixed in");
  }
  if (options.staging_buffers < 2 || options.staging_bytes < (1 << 20)) {
    invalid(
        fmt::format("CheckpointOptions: {} staging buffers of {} bytes; at least 2 of 1 MiB "
                    "are needed for the copies to overlap the writes",
                    options.staging_buffers, options.staging_bytes));
  }
  for (const auto& [key, value] : options.metadata) {
    if (key.starts_with("tiermem.")) {
      invalid(fmt::format("CheckpointOptions::metadata key '{}': tiermem.* keys are tiermem's own",
                          key));
    }
  }
}

// Shards of at most max_bytes, tensors in order, a larger tensor alone.
std::vector<std::vector<size_t>> split(const Snapshot& snapshot, uint64_t max_bytes) {
  std::vector<std::vector<size_t>> shards(1);
  uint64_t bytes = 0;
  for (size_t i = 0; i < snapshot.size(); ++i) {
    const uint64_t size = snapshot.info(i).bytes;
    if (!shards.back().empty() && bytes + size > max_bytes) {
      shards.emplace_back();
      bytes = 0;
    }
    shards.back().push_back(i);
    bytes += size;
  }
  return shards;
}

// The index of the world_size shards in directory, when every one is there with tag.
bool write_index_if_complete(const std::string& directory, uint32_t world_size,
                             const std::string& tag) {
  std::map<std::string, std::string> weight_map;
  uint64_t total = 0;
  for (uint32_t rank = 0; rank < world_size; ++rank) {
    const std::string name = checkpoint::shard_name(rank, world_size);
    const std::string path = directory + "/" + name;
    if (!std::filesystem::exists(path)) return false;
    const SafetensorsFile shard = read_safetensors_header(path);
    const auto found = shard.metadata.find(kTagKey);
    if (found == shard.metadata.end() || found->second != tag) return false;
    for (const SafetensorsTensor& tensor : shard.tensors) {
      weight_map[tensor.name] = name;
      total += tensor.size_bytes();
    }
  }
  persist::write_file_atomically(directory + "/" + checkpoint::kIndexName,
                                 checkpoint::encode_index(total, tag, weight_map));
  return true;
}

CheckpointResult run_save(Snapshot& snapshot, const std::string& path,
                          const CheckpointOptions& options,
                          std::chrono::steady_clock::time_point start) {
  std::map<std::string, std::string> metadata = options.metadata;
  metadata.emplace("format", "pt");  // what Hugging Face's loaders ask of a file
  metadata[kTagKey] = options.tag;
  if (options.tag.empty()) {
    metadata[kTagKey] =
        fmt::format("{}-{}", std::chrono::system_clock::now().time_since_epoch().count(), getpid());
  }
  const bool sharded = options.world_size > 1 || options.max_shard_bytes > 0;
  std::vector<std::vector<size_t>> files;
  if (options.max_shard_bytes > 0) {
    files = split(snapshot, options.max_shard_bytes);
  } else {
    files.emplace_back();
    for (size_t i = 0; i < snapshot.size(); ++i) files.back().push_back(i);
  }
  if (sharded) std::filesystem::create_directories(path);

  checkpoint::StagingMemory staging(options.staging_bytes, options.staging_buffers);
  FileIo io(options.io);
  const BufferRegistration registration = io.register_buffer(staging.all());
  CheckpointResult result;
  result.tensors = snapshot.size();
  for (size_t n = 0; n < files.size(); ++n) {
    const std::string target =
        !sharded ? path
        : options.world_size > 1
            ? path + "/" + checkpoint::shard_name(options.rank, options.world_size)
            : path + "/" +
                  checkpoint::shard_name(static_cast<uint32_t>(n),
                                         static_cast<uint32_t>(files.size()));
    const checkpoint::WrittenFile written = checkpoint::write_safetensors(
        snapshot, files[n], target, metadata, options.checksums, io, staging);
    result.files.push_back(target);
    result.bytes_written += written.bytes;
    result.direct = written.direct;
  }
  if (sharded) {
    const uint32_t world =
        options.world_size > 1 ? options.world_size : static_cast<uint32_t>(files.size());
    result.index_written = write_index_if_complete(path, world, metadata[kTagKey]);
    if (result.index_written) result.files.push_back(path + "/" + checkpoint::kIndexName);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

std::future<CheckpointResult> save_checkpoint(std::span<const Tensor> tensors,
                                              const std::string& path,
                                              const CheckpointOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  check_options(options, path);
  // The snapshot starts watching writes now, before this call returns.
  auto snapshot = std::make_shared<Snapshot>(tensors);
  return std::async(std::launch::async,
                    [snapshot = std::move(snapshot), path, options, start]() mutable {
                      // Writes stop being watched when the save ends, not when its future is
                      // dropped.
                      const std::shared_ptr<Snapshot> watched = std::move(snapshot);
                      return run_save(*watched, path, options, start);
                    });
}

}  // namespace tiermem
