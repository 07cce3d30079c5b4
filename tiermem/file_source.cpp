// tiermem/file_source.cpp: opening a file to stream tensors from, and choosing, per page,
// the O_DIRECT or the buffered descriptor.
#include "tiermem/file_source.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support/align.hpp"
#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

constexpr uint64_t kBlock = 4096;  // O_DIRECT's alignment on every filesystem tiermem uses

[[noreturn]] void fail(std::string_view what, const std::string& path) {
  const int err = errno;
  throw Error(Errc::system, fmt::format("{} {}: {}", what, path, std::strerror(err)), err);
}

}  // namespace

FileSource::FileSource(const std::string& path, io::Engine& engine) : engine_(engine) {
  buffered_.path = direct_.path = path;
  buffered_.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (buffered_.fd < 0) fail("cannot open", path);
  struct stat st {};
  if (fstat(buffered_.fd, &st) != 0) {
    close(buffered_.fd);
    fail("cannot stat", path);
  }
  size_ = static_cast<uint64_t>(st.st_size);
  direct_.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);  // -1: tmpfs and the like
  direct_.direct = direct_.fd >= 0;
  engine_.register_file(buffered_);
  if (direct_.fd >= 0) engine_.register_file(direct_);
}

FileSource::~FileSource() {
  for (io::File* file : {&direct_, &buffered_}) {
    if (file->fd < 0) continue;
    engine_.unregister_file(*file);
    close(file->fd);
  }
}

FileSource::Read FileSource::page(uint64_t offset, uint64_t valid) const noexcept {
  if (direct_.fd >= 0 && offset % kBlock == 0) {
    return {&direct_, offset, support::round_up(valid, kBlock), valid};
  }
  return {&buffered_, offset, valid, valid};
}

}  // namespace tiermem::detail
