// tiermem/checkpoint.hpp: safetensors checkpoints of a pool's tensors: saving them while the
// caller computes, streaming them in place, checking them, and reading their headers and
// Hugging Face shard indexes.
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
#include <future>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "tiermem/config.hpp"
#include "tiermem/export.h"
#include "tiermem/pool.hpp"
#include "tiermem/tensor.hpp"
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
  uint64_t total_size = 0;          // metadata.total_size; 0 when absent
  std::string tag;                  // metadata "tiermem.tag" (tiermem's saves); empty when absent
  std::vector<std::string> shards;  // shard file names, sorted, each once
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

struct CheckpointOptions {
  // Sharding. world_size 1 and max_shard_bytes 0: path names one .safetensors file. Otherwise
  // path names a directory (created if missing) that gets model-0000k-of-0000n.safetensors
  // files and model.safetensors.index.json:
  // - world_size > 1: this process is rank `rank` and writes shard rank+1 of world_size with
  //   the tensors it is given; the last rank to finish writes the index (see below);
  // - world_size 1 and max_shard_bytes > 0: tensors go, in order, into shards of at most that
  //   many bytes (a larger tensor gets a shard of its own), and this process writes the index.
  uint32_t rank = 0;
  uint32_t world_size = 1;
  uint64_t max_shard_bytes = 0;
  // What names one save across ranks, stored as __metadata__ "tiermem.tag" in every shard and
  // in the index: a rank writes the index only when every shard holds its tag, so shards of
  // an older save are never mixed in. Needed (non-empty) when world_size > 1; otherwise empty
  // means a tag made of the time and the process id.
  std::string tag;
  // Stored in every file's __metadata__ besides tiermem's own keys (tiermem.*).
  std::map<std::string, std::string> metadata;
  // Store an xxh3-64 of each tensor's bytes as __metadata__ "tiermem.xxh3.<name>" (16 hex
  // digits), which check_checkpoint verifies.
  bool checksums = true;
  // The writes: io_uring (else psync), O_DIRECT (else buffered, with a log line), requests
  // cut into io.block_size pieces, io.queue_depth in flight per ring.
  IoConfig io;
  // Staging memory: staging_buffers buffers of staging_bytes each (2 MiB-aligned anonymous
  // memory advised for huge pages); the copy into one overlaps the writes of the others. A
  // buffer frees only when the last of its pieces is written, so 8 (128 MiB) keep the disk's
  // queue full where 4 left it short now and then (bench/RESULTS.md, Checkpoints).
  uint64_t staging_bytes = 16ull << 20;
  uint32_t staging_buffers = 8;
};

struct CheckpointResult {
  std::vector<std::string> files;  // published, in order (the index last, when written)
  uint64_t bytes_written = 0;      // bytes of every file written
  uint64_t tensors = 0;
  double seconds = 0;          // from the call to durable publication
  bool direct = false;         // the data went with O_DIRECT
  bool index_written = false;  // this process wrote the index
};

// Saves tensors (of one pool or several; any tier; dirty pages included) as a safetensors
// checkpoint, and returns at once; the caller keeps computing while the future is pending.
// Tensors are stored under their names, in the order given, with dtype and shape.
//
// Snapshot rule: the checkpoint holds every tensor as it was when save_checkpoint was called.
// The save copies tensors into its staging buffers in order; until it has copied all of a
// tensor, a write or read_write pin of that tensor (in any thread) first copies the tensor's
// bytes not yet copied into memory of the save's own (copy before write), then proceeds. So a
// write pin taken during a save may wait for one copy of the rest of its tensor; pins of
// tensors already copied, and read pins, pay nothing. Pins for writing already held when
// save_checkpoint is called are the caller's to end first: bytes they write meanwhile may or
// may not be in the checkpoint.
//
// Durability and atomicity: each file is written to a temporary name in its directory
// ("<name>.tiermem-tmp.<pid>.<n>"), fdatasync'ed, renamed over its name, and the directory
// fsync'ed; the future is ready only then. A crash leaves the old file or the new one, never a
// torn one; it may leave a temporary file, which the next save to that name removes (when its
// process is gone) and check_checkpoint ignores. The data start at a multiple of 4096 bytes
// (the header is padded with spaces); the last partial block is written through the page cache
// (IoFile's rule), the rest with O_DIRECT.
//
// Sharded saves, world_size > 1: each rank publishes its shard, then reads the headers of all
// world_size shards; if every one exists and holds this save's tag, it writes the index (by
// temporary name and rename, so ranks that do so at once write the same bytes harmlessly).
// The last rank to publish always finds them all.
//
// Throws Error(invalid_argument) at once for bad options, an empty or stale handle, names
// that repeat, tensors that repeat. The future holds the result, or the first Error of the
// save: Error(system) for files and directories that cannot be made, Error(io) for failed
// writes, the pins' errors (Error(released) if a tensor is released meanwhile: do not). The
// tensors' pools must outlive the save; the future's destructor waits for it (std::async).
// Thread-safe; saves may run at once.
TIERMEM_API std::future<CheckpointResult> save_checkpoint(std::span<const Tensor> tensors,
                                                          const std::string& path,
                                                          const CheckpointOptions& options = {});

struct CheckpointReport {
  std::vector<std::string> files;  // the files checked (shards in order, for an index)
  uint64_t tensors = 0;
  uint64_t bytes = 0;               // bytes of tensor data
  uint64_t checksums_verified = 0;  // tensors whose tiermem.xxh3 matched
};

// Checks the checkpoint at path: a .safetensors file, an index (a path ending in .json), or a
// directory holding model.safetensors.index.json. Every header is read and checked as
// read_safetensors_header does; for an index, every entry must be in the shard it names, every
// shard's tensors in the index, total_size the sum of their sizes, and the shards' tiermem.tag
// that of the index where it has one; every tensor with a tiermem.xxh3 checksum is read and
// verified. Temporary files of unfinished saves are ignored. Throws Error(corrupt) naming the
// file, the tensor and what is wrong (a checksum mismatch, a missing entry, ...), and what
// read_safetensors_header throws. Thread-safe.
TIERMEM_API CheckpointReport check_checkpoint(const std::string& path);

// Opens the checkpoint at path (a .safetensors file, an index ending in .json, or a directory
// holding model.safetensors.index.json: every shard) as read-only tensors of pool, without
// copying anything: their NVMe copy is the file itself. Pins bring pages straight from it
// (with O_DIRECT where a page starts on a 4 KiB boundary, as every page of a tiermem-saved
// checkpoint's 4 KiB-multiple tensors does; through the page cache elsewhere), and prefetch,
// eviction (a clean page is dropped) and schedules work as for any tensor. A write or
// read_write pin is refused with Error(invalid_argument): copy the tensor into one of the
// pool's own to change it. Flushes skip them, and a persistent pool's manifest does not hold
// them. Scalars (shape []) and empty tensors (a 0 in the shape) open with their shape; an empty
// one has no pages, so it cannot be pinned.
//
// Returns the tensors in the order of their data, shard by shard; Pool::find finds them by
// name. Each file stays open until the last of its tensors is released (or the pool closes),
// so a checkpoint replaced meanwhile by a new save (which renames a new file over it) goes on
// being read as it was. The file must not be written in place meanwhile.
//
// Its tensors take no NVMe space, but they take page ids, of which a pool has 4 per page of
// nvme.capacity: a checkpoint of more than 4 x nvme.capacity is refused with
// Error(out_of_space) (saying so) unless nvme.capacity is raised.
//
// Every header is read and checked first (read_safetensors_header, read_safetensors_index; for
// an index, that each shard holds what the index places there). Throws what they throw,
// Error(system) when a file cannot be opened, Error(invalid_argument) for a name a live tensor
// of a persistent pool has, Error(unsupported) for a pool on a virtual clock (its storage is
// modelled); the pool is unchanged then. Thread-safe.
TIERMEM_API std::vector<Tensor> open_checkpoint(Pool& pool, const std::string& path);

}  // namespace tiermem
