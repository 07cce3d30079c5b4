// tiermem/nvme_store.hpp: the NVMe tier's space: a few large files per directory, cut into
// page slots, with pages striped across directories.
//
// Every page of every tensor gets a slot when the tensor is allocated, so a write-back never
// runs out of space. A persistent pool's files have fixed names (DIR/tiermem.N.data), outlive
// the pool, and are opened again, their contents kept, by the next pool on the directories. Slots
// are numbered globally: directory d owns [d * per_dir, (d+1) * per_dir), and within a directory
// slots fill file after file. Not thread-safe: the migration engine serialises allocate/free;
// locate() is a pure function and safe anywhere.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/engine.hpp"
#include "tiermem/config.hpp"
#include "tiermem/extent_allocator.hpp"

namespace tiermem::detail {

class NvmeStore {
 public:
  // Creates the backing files, private to this process (or, nvme.persistent, opens them again
  // under their fixed names), and reserves their space. Throws Error(config) for a missing
  // directory or one where files cannot be created, Error(out_of_space) when a directory's
  // filesystem has less room than its share.
  NvmeStore(const NvmeTierConfig& config, uint64_t page_size, io::Engine& engine);
  // The slots alone, over files that are only names (fd -1), for a pool on a virtual clock
  // whose modelled storage keeps its bytes elsewhere: no directory is touched.
  NvmeStore(const NvmeTierConfig& config, uint64_t page_size);
  // Closes the files; removes them unless keep_files or persistent was set.
  ~NvmeStore();
  NvmeStore(const NvmeStore&) = delete;
  NvmeStore& operator=(const NvmeStore&) = delete;

  // Appends one slot per page of a new tensor of `pages` pages: page i lives in directory
  // (i / stripe_pages) % dirs. All or nothing: throws Error(out_of_space) naming the tensor,
  // the directory and the numbers, and takes nothing, when a directory is short.
  void allocate(uint64_t pages, std::string_view tensor, std::vector<uint64_t>& slots);
  // Gives back slots allocate or claim handed out, in any order (runs of consecutive slots
  // are given back fastest).
  void free(std::span<const uint64_t> slots);
  // Takes one given slot (a persistent pool's manifest names it); false when it is taken.
  bool claim(uint64_t slot);
  // Makes every write to the files so far durable (fdatasync). Throws Error(io) naming the
  // file and errno.
  void sync() const;

  struct Location {
    const io::File* file;
    uint64_t offset;
  };
  Location locate(uint64_t slot) const noexcept {
    uint64_t dir = slot / slots_per_dir_;
    uint64_t local = slot % slots_per_dir_;
    return {&dirs_[dir].files[local / slots_per_file_], (local % slots_per_file_) * page_size_};
  }

  uint64_t slot_count() const noexcept { return slots_per_dir_ * dirs_.size(); }
  // The slot count a store built from config will have.
  static uint64_t slot_count(const NvmeTierConfig& config, uint64_t page_size) noexcept {
    uint64_t dirs = config.dirs.empty() ? 1 : config.dirs.size();
    return config.capacity / dirs / page_size * dirs;
  }
  uint64_t free_slots() const noexcept;
  // Every backing file (for the gpu tier's direct reads).
  std::vector<const io::File*> files() const;

 private:
  struct Directory {
    std::string path;
    std::string private_dir;  // made for kept files; empty otherwise
    std::vector<io::File> files;
    std::unique_ptr<ExtentAllocator> slots;
  };

  void open_directory(Directory& dir, const NvmeTierConfig& config, io::Engine& engine);
  void close_directory(Directory& dir) noexcept;
  int create_file(Directory& dir, uint64_t index, int flags, std::string& name);
  static std::string persistent_name(const Directory& dir, uint64_t index);
  static void reserve(const io::File& file, uint64_t bytes, const std::string& dir);

  uint64_t page_size_;
  uint64_t slots_per_file_;
  uint64_t slots_per_dir_;
  uint64_t stripe_pages_;
  bool keep_files_;
  bool persistent_ = false;
  std::vector<Directory> dirs_;
};

}  // namespace tiermem::detail
