// tiermem/pool_persistence.hpp: what makes a persistent pool (nvme.persistent) outlive its
// process: the lock on its directories, the tensors its manifest restores, and publishing a
// new manifest when the pool is flushed.
//
// Crash consistency rests on three rules. A page has two NVMe slots, and a write-back never
// writes the slot that the manifest on disk names, nor the one a manifest being published
// names (the migration engine holds such a write-back until the publish ends). A manifest
// names only copies written before the files were last synced. And the manifest is replaced
// atomically (persist/durable_file.hpp). So whenever the process dies, the manifest on disk
// names bytes that are on disk and intact: each tensor as some flush left it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "persist/dir_lock.hpp"
#include "persist/manifest.hpp"
#include "tiermem/config.hpp"
#include "tiermem/migration_engine.hpp"
#include "tiermem/nvme_store.hpp"
#include "tiermem/page_table.hpp"
#include "tiermem/tensor_table.hpp"

namespace tiermem::detail {

class PoolPersistence {
 public:
  // Locks every directory of config.nvme.dirs, then reads the manifest when there is one and
  // checks it. Throws Error(busy) for a directory another pool holds, Error(corrupt) for a
  // damaged manifest (naming the tensor where it can), Error(invalid_argument) when the
  // manifest was written by a pool of another page size or NVMe geometry (naming the field,
  // its value and the manifest's).
  explicit PoolPersistence(const Config& config);
  ~PoolPersistence();
  PoolPersistence(const PoolPersistence&) = delete;
  PoolPersistence& operator=(const PoolPersistence&) = delete;

  // The tensors the manifest on disk holds, handed over once, for the pool to restore.
  std::vector<persist::ManifestTensor> take_restored();
  // Each restored page's slots, in the form the engine keeps them.
  static std::vector<DurablePage> durable_pages(const persist::ManifestTensor& tensor);

  // Makes durable what write-backs have put in the files so far: syncs them, then publishes a
  // manifest of every live tensor naming those copies (for a page written since: the copy the
  // last manifest named); only: of that tensor alone, the rest of the manifest as it was
  // (MigrationEngine::begin_publish). The caller has written the dirty pages (of only) down,
  // and keeps tensors from coming and going until this returns. Throws Error(io) or
  // Error(system) when syncing or writing fails; the manifest on disk is unchanged then.
  void publish(MigrationEngine& engine, const NvmeStore& nvme, const TensorRecord* only);

  // Reads the copy the manifest names of every page of every live tensor and checks it against
  // its checksum, copies back to back in a file read together, on a few threads of its own.
  // Returns the pages checked. Throws Error(corrupt) naming each damaged tensor
  // and page (the first 16), Error(io) when a file cannot be read. The caller keeps tensors
  // from coming and going, and publishes from happening, until it returns.
  uint64_t verify(TensorTable& tensors, PageTable& pages, const NvmeStore& nvme) const;

 private:
  std::string manifest_dir_;  // the first of nvme.dirs
  persist::PoolGeometry geometry_;
  uint64_t slot_count_;
  std::vector<std::unique_ptr<persist::DirLock>> locks_;
  uint64_t generation_ = 0;                                      // of the manifest on disk
  std::unordered_map<std::string, uint64_t> tensor_generation_;  // by name, as on disk
  std::vector<persist::ManifestTensor> restored_;
};

}  // namespace tiermem::detail
