// checkpoint/read_only_file.hpp: a file opened for reading with pread, whose errors name it.
// The checkpoint room reads headers, indexes and (to verify checksums) data through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace tiermem::checkpoint {

// Ownership: owns the descriptor (closed by the destructor). Thread-safe: pread only.
class ReadOnlyFile {
 public:
  // Throws Error(system) naming the path and errno, Error(corrupt) when path is not a regular
  // file.
  explicit ReadOnlyFile(std::string path);
  ~ReadOnlyFile();
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  const std::string& path() const noexcept { return path_; }
  uint64_t size() const noexcept { return size_; }

  // Reads all of buffer at offset. Throws Error(io) naming the file, the offset and errno, or
  // Error(corrupt) when the file ends first (it shrank since it was opened).
  void read(std::span<std::byte> buffer, uint64_t offset) const;
  std::string read_text(uint64_t offset, uint64_t length) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace tiermem::checkpoint
