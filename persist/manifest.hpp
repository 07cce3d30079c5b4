// persist/manifest.hpp: the manifest of a persistent pool: its tensors, and where the durable
// copy of each of their pages lives, with a checksum per page.
//
// The manifest is the only thing that makes a pool's files mean anything: a page's bytes are
// in one of its two slots, and the manifest says which. It is replaced as a whole, atomically
// (persist/durable_file.hpp), only after the pages it names are on disk, so that a crash
// leaves either the old state of every tensor or the new one.
//
// On disk (little-endian): a header (magic, version, generation, the pool's geometry, the
// tensor count, a checksum of the header), then one record per tensor, each with its own
// length and checksum, so that damage is reported as the tensor it hit.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tiermem/types.hpp"

namespace tiermem::persist {

// Which of a page's two slots holds its durable copy.
inline constexpr uint8_t kNoSlot = 2;  // none: the page was never written and reads as zeros

struct ManifestPage {
  uint64_t slot[2] = {0, 0};  // the page's two NVMe slots (see tiermem/page_table.hpp)
  uint8_t durable = kNoSlot;  // 0 or 1: which slot holds the copy; kNoSlot: none
  uint64_t checksum = 0;      // persist::checksum of the page's bytes in that slot
};

struct ManifestTensor {
  std::string name;
  DType dtype = DType::u8;
  std::vector<uint64_t> shape;
  uint64_t bytes = 0;
  uint64_t generation = 0;  // the manifest generation that last changed its pages
  std::vector<ManifestPage> pages;
};

// What the pool's files were laid out with; a pool reopened with another layout would find
// its pages in the wrong places.
struct PoolGeometry {
  uint64_t page_size = 0;
  uint64_t capacity = 0;   // nvme.capacity
  uint64_t file_size = 0;  // nvme.file_size
  uint64_t stripe = 0;     // nvme.stripe
  uint32_t dirs = 0;       // count of nvme.dirs
  bool operator==(const PoolGeometry&) const = default;
};

struct Manifest {
  uint64_t generation = 0;  // bumped by every publish
  PoolGeometry geometry;
  std::vector<ManifestTensor> tensors;
};

// The manifest's file name in the pool's first directory.
inline constexpr const char* kManifestName = "tiermem.manifest";

std::vector<char> encode(const Manifest& manifest);
// Parses and checks bytes read from path (named in errors). Throws Error(corrupt) naming the
// file and what is damaged: the header, or the tensor whose record fails its checksum or
// holds an impossible value (a dtype, a slot beyond slot_count, a page count that does not fit
// the size), or the record where the file ends early.
Manifest decode(std::span<const char> bytes, const std::string& path, uint64_t slot_count);

}  // namespace tiermem::persist
