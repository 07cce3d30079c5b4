// sim/file_io.hpp: whole-file reads and buffered writes with tiermem's errors, for trace files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace tiermem::sim {

// Opens path for reading. Throws Error(system) naming the path and errno.
int open_for_reading(const std::string& path);
// Reads up to buffer.size() bytes, fewer only at the end of the file. Throws Error(system).
size_t read_fully(int fd, std::span<std::byte> buffer, const std::string& path);
// Reads the whole file.
std::string read_file(const std::string& path);

// Appends to a new file (created 0600, replacing an old one, never through a symlink) through
// a large buffer. Throws Error(system) naming the path and errno on any failure.
class FileSink {
 public:
  explicit FileSink(const std::string& path);
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void write(const void* data, size_t bytes);
  // Writes bytes at offset of the file, after flushing.
  void write_at(uint64_t offset, const void* data, size_t bytes);
  void flush();
  // Flushes and closes; idempotent. Later writes throw.
  void close();
  bool is_open() const noexcept { return fd_ >= 0; }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<std::byte[]> buffer_;
  size_t used_ = 0;
};

}  // namespace tiermem::sim
