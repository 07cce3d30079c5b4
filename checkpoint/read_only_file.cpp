// checkpoint/read_only_file.cpp: ReadOnlyFile.
#include "checkpoint/read_only_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tiermem/error.hpp"

namespace tiermem::checkpoint {

ReadOnlyFile::ReadOnlyFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    const int error = errno;
    throw Error(Errc::system,
                fmt::format("cannot open '{}': {} (errno {})", path_, std::strerror(error), error),
                error);
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(Errc::corrupt, fmt::format("'{}' is not a regular file", path_));
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

ReadOnlyFile::~ReadOnlyFile() {
  ::close(fd_);
}

void ReadOnlyFile::read(std::span<std::byte> buffer, uint64_t offset) const {
  for (uint64_t done = 0; done < buffer.size();) {
    const ssize_t got =
        ::pread(fd_, buffer.data() + done, buffer.size() - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      throw Error(Errc::io,
                  fmt::format("reading '{}' at offset {}: {} (errno {})", path_, offset + done,
                              std::strerror(error), error),
                  error);
    }
    if (got == 0) {
      throw Error(Errc::corrupt, fmt::format("'{}' ends at byte {}, before byte {} (it shrank?)",
                                             path_, offset + done, offset + buffer.size()));
    }
    done += static_cast<uint64_t>(got);
  }
}

std::string ReadOnlyFile::read_text(uint64_t offset, uint64_t length) const {
  std::string text(length, '\0');
  read(std::as_writable_bytes(std::span(text)), offset);
  return text;
}

}  // namespace tiermem::checkpoint
