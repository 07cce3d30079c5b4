// persist/durable_file.hpp: files that appear whole or not at all, durably: written under a
// temporary name in their directory, synced, renamed over their name, the directory synced. A
// crash at any instant leaves the old file or the new one, never a mix. Temporary names carry
// the writer's pid, so that a later writer can tell a dead writer's leftovers from a live one's
// file in progress. Used for a persistent pool's manifest and for checkpoint files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tiermem::persist {

// A temporary file for target ("<target>.tiermem-tmp.<pid>.<n>"), created now (O_EXCL, never
// through a symlink) and removed by the destructor unless published. Removes first the
// temporaries of target that processes no longer running left behind.
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
  // Error(system) naming both paths and errno, Error(io) when the directory cannot be synced.
  void publish();

 private:
  std::string target_;
  std::string path_;
  bool published_ = false;
};

// Writes bytes to target through a TempFile: fsync, rename, directory fsync. Several writers
// may replace one target at once (each has its own temporary). Throws Error(system) or
// Error(io) naming the path and errno; target is unchanged then.
void write_file_atomically(const std::string& target, std::string_view bytes);

// fsync of a directory, so that names created, renamed or removed in it are durable. Throws
// Error(io) naming it and errno.
void sync_directory(const std::string& dir);

// The whole content of a file. Throws Error(system) naming the path and errno.
std::vector<char> read_file(const std::string& path);

}  // namespace tiermem::persist
