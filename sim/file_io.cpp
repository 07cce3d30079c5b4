// sim/file_io.cpp: whole-file reads and buffered writes with tiermem's errors.
#include "sim/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "support/log.hpp"
#include "tiermem/error.hpp"

namespace tiermem::sim {

namespace {

[[noreturn]] void fail(std::string_view what, const std::string& path) {
  int error = errno;
  throw Error(Errc::system, fmt::format("{} {}: {}", what, path, std::strerror(error)), error);
}

}  // namespace

int open_for_reading(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path);
  return fd;
}

size_t read_fully(int fd, std::span<std::byte> buffer, const std::string& path) {
  size_t done = 0;
  while (done < buffer.size()) {
    ssize_t got = ::read(fd, buffer.data() + done, buffer.size() - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("cannot read", path);
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

std::string read_file(const std::string& path) {
  int fd = open_for_reading(path);
  std::string text;
  try {
    // As much as the file holds now (one byte more, to see its end without another read),
    // then large steps should it have grown; not a fixed 4 MiB for every small file.
    struct stat info {};
    size_t chunk = ::fstat(fd, &info) == 0 && info.st_size > 0
                       ? static_cast<size_t>(info.st_size) + 1
                       : size_t{4096};
    for (;;) {
      size_t old = text.size();
      text.resize(old + chunk);
      size_t got = read_fully(fd, std::as_writable_bytes(std::span(text).subspan(old)), path);
      text.resize(old + got);
      if (got < chunk) break;
      chunk = std::max<size_t>(chunk, 4 << 20);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return text;
}

FileSink::FileSink(const std::string& path)
    : path_(path), buffer_(std::make_unique<std::byte[]>(kBufferBytes)) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) fail("cannot create", path);
}

FileSink::~FileSink() {
  try {
    close();
  } catch (const Error& e) {
    support::log().error("{}", e.what());
  }
}

void FileSink::write(const void* data, size_t bytes) {
  const auto* from = static_cast<const std::byte*>(data);
  while (bytes > 0) {
    if (used_ == kBufferBytes) flush();
    size_t take = std::min(bytes, kBufferBytes - used_);
    std::memcpy(buffer_.get() + used_, from, take);
    used_ += take;
    from += take;
    bytes -= take;
  }
}

void FileSink::flush() {
  if (fd_ < 0) {
    throw Error(Errc::system, fmt::format("cannot write {}: it is closed", path_));
  }
  size_t done = 0;
  while (done < used_) {
    ssize_t wrote = ::write(fd_, buffer_.get() + done, used_ - done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd_);
      fd_ = -1;
      errno = error;
      fail("cannot write", path_);
    }
    done += static_cast<size_t>(wrote);
  }
  used_ = 0;
}

void FileSink::write_at(uint64_t offset, const void* data, size_t bytes) {
  flush();
  if (::pwrite(fd_, data, bytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes)) {
    fail("cannot write", path_);
  }
}

void FileSink::close() {
  if (fd_ < 0) return;
  flush();
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close", path_);
}

}  // namespace tiermem::sim
