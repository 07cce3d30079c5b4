// tiermem/file_source.hpp: a file outside the pool that holds the NVMe copy of read-only
// tensors (a checkpoint streamed in place, checkpoint/stream.cpp).
//
// The pool reads such a tensor's pages from the file itself, at any offset: with O_DIRECT
// where a page starts on a 4 KiB boundary (the read is rounded up to whole blocks; bytes past
// the page's end land in the frame beyond the tensor, where no pin sees them), and through the
// page cache where it does not. Nothing is ever written to it.
#pragma once

#include <cstdint>
#include <string>

#include "io/engine.hpp"

namespace tiermem::detail {

class FileSource {
 public:
  // Where one page of a tensor is read from.
  struct Read {
    const io::File* file;
    uint64_t offset;
    uint64_t length;  // what is asked of the file
    uint64_t valid;   // the page's bytes: a read that meets the end of the file past them is whole
  };

  // Opens path for reading (with O_DIRECT where the filesystem allows, and again without) and
  // registers it with engine, which must outlive this. Throws Error(system) naming the path
  // and errno.
  FileSource(const std::string& path, io::Engine& engine);
  ~FileSource();
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  const std::string& path() const noexcept { return buffered_.path; }
  uint64_t size() const noexcept { return size_; }

  // The read of a page's `valid` bytes at offset. A page (a multiple of 4 KiB) holds the
  // rounded-up read.
  Read page(uint64_t offset, uint64_t valid) const noexcept;

 private:
  io::Engine& engine_;
  io::File direct_;  // fd -1 where O_DIRECT is refused
  io::File buffered_;
  uint64_t size_ = 0;
};

}  // namespace tiermem::detail
