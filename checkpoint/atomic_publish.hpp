// checkpoint/atomic_publish.hpp: how a checkpoint file appears whole or not at all: written
// under a temporary name in its directory, synced, renamed over its name, the directory
// synced. Temporary names carry the writer's pid, so a later save can tell a dead writer's
// leftovers from a live one's file in progress.
#pragma once

#include <string>
#include <string_view>

namespace tiermem::checkpoint {

// A temporary file for target, created now (O_EXCL, never through a symlink) and removed by
// the destructor unless published. Removes first the temporaries of target that processes no
// longer running left behind.
class TempFile {
 public:
  // Throws Error(system) naming the path and errno.
  explicit TempFile(std::string target);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const noexcept { return path_; }
  const std::string& target() const noexcept { return target_; }

  // Reserves size bytes of disk (fallocate; skipped where the file system has none), so that
  // the writes do not extend the file one by one. Throws Error(out_of_space) for ENOSPC.
  void reserve(uint64_t size) const;
  // Renames the (already synced) file over target and syncs the directory. Throws
  // Error(system) naming both paths and errno.
  void publish();

 private:
  std::string target_;
  std::string path_;
  bool published_ = false;
};

// Writes bytes to target through a TempFile: fsync, rename, directory fsync.
void write_file_atomically(const std::string& target, std::string_view bytes);

// True for the name of a TempFile.
bool is_temp_name(std::string_view name) noexcept;

}  // namespace tiermem::checkpoint
