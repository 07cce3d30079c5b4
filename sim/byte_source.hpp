// sim/byte_source.hpp: a trace file's bytes in order: the file's own or, when it starts with the
// zstd magic (whatever its name), what its frames decompress to, a block at a time.
#pragma once

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tiermem::sim {

class ByteSource {
 public:
  // Opens path. Throws Error(system) naming it when it cannot be read.
  explicit ByteSource(const std::string& path);
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  // The first bytes, at most n, still to be read: what the form is detected by.
  std::span<const std::byte> peek(size_t n);
  // Fills buffer; fewer bytes only at the end. Throws Error(system) when the file cannot be
  // read, Error(invalid_argument) naming the file for a corrupt or truncated zstd stream.
  size_t read(std::span<std::byte> buffer);

  const std::string& path() const noexcept { return path_; }
  bool compressed() const noexcept { return stream_ != nullptr; }

 private:
  size_t read_raw(std::span<std::byte> buffer);
  size_t decompress(std::span<std::byte> buffer);

  std::string path_;
  int fd_ = -1;
  ZSTD_DStream* stream_ = nullptr;  // null: the file is not compressed
  // File bytes read ahead: the first block (read to look for the magic), then zstd's input.
  std::vector<std::byte> input_;
  size_t input_used_ = 0;
  size_t input_size_ = 0;
  bool frame_open_ = false;  // a zstd frame has begun and not ended
  // Content peeked at and not yet read.
  std::vector<std::byte> peeked_;
  size_t peeked_used_ = 0;
};

}  // namespace tiermem::sim
