// checkpoint/file_writer.hpp: one .safetensors file of a snapshot's tensors, written through the
// I/O engine from staging buffers: the copy into one buffer overlaps the writes of the others;
// checksums are computed as the bytes are copied (hashing_copy.hpp: in one pass over memory),
// and the header, whose length does not depend on them (16 hex digits each), is written last.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/snapshot.hpp"
#include "checkpoint/staging_memory.hpp"
#include "tiermem/file_io.hpp"

namespace tiermem::checkpoint {

// The __metadata__ key of a tensor's checksum.
std::string checksum_key(const std::string& tensor);

struct WrittenFile {
  uint64_t bytes = 0;
  bool direct = false;
};

// Writes the snapshot's tensors `tensors` (indexes, in file order) to target, durably and
// atomically (persist/durable_file.hpp), with metadata in __metadata__ and, when checksums is set,
// an xxh3-64 per tensor. Throws the snapshot's errors, Error(io) or Error(system).
WrittenFile write_safetensors(Snapshot& snapshot, const std::vector<size_t>& tensors,
                              const std::string& target,
                              const std::map<std::string, std::string>& metadata, bool checksums,
                              FileIo& io, const StagingMemory& staging);

}  // namespace tiermem::checkpoint
