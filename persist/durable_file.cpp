// persist/durable_file.cpp: write to a temporary, fsync, rename, fsync the directory.
#include "persist/durable_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tiermem/error.hpp"

namespace tiermem::persist {

namespace {

[[noreturn]] void fail(std::string_view what, const std::string& path) {
  const int err = errno;
  throw Error(Errc::system, fmt::format("{} {}: {}", what, path, std::strerror(err)), err);
}

// Closes the descriptor however the scope ends.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

void replace_file(const std::string& dir, const std::string& name, std::span<const char> bytes) {
  const std::string path = dir + "/" + name;
  const std::string temporary = path + ".tmp";
  Descriptor file{open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
  if (file.fd < 0) fail("cannot create", temporary);
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = write(file.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write", temporary);
    done += static_cast<size_t>(n);
  }
  if (fsync(file.fd) != 0) fail("cannot sync", temporary);
  if (rename(temporary.c_str(), path.c_str()) != 0) fail("cannot rename onto", path);
  sync_directory(dir);
}

void sync_directory(const std::string& dir) {
  Descriptor handle{open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (handle.fd < 0) fail("cannot open directory", dir);
  if (fsync(handle.fd) != 0) fail("cannot sync directory", dir);
}

std::vector<char> read_file(const std::string& path) {
  Descriptor file{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) fail("cannot open", path);
  struct stat st {};
  if (fstat(file.fd, &st) != 0) fail("cannot stat", path);
  std::vector<char> bytes(static_cast<size_t>(st.st_size));
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = pread(file.fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read", path);
    if (n == 0) break;  // shrunk meanwhile: the parser finds it short
    done += static_cast<size_t>(n);
  }
  return bytes;
}

}  // namespace tiermem::persist
