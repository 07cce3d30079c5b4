// persist/dir_lock.cpp: flock on DIR/tiermem.lock, with the holder's pid in the file.
#include "persist/dir_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tiermem/error.hpp"

namespace tiermem::persist {

DirLock::DirLock(const std::string& dir) {
  const std::string path = dir + "/tiermem.lock";
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) {
    const int err = errno;
    throw Error(Errc::system, fmt::format("cannot create {}: {}", path, std::strerror(err)), err);
  }
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[32] = {};
    ssize_t n = pread(fd_, holder, sizeof holder - 1, 0);
    close(fd_);
    if (err == EWOULDBLOCK) {
      throw Error(Errc::busy,
                  fmt::format("'{}' is in use by another pool (process {}); a persistent pool's "
                              "directories belong to one pool at a time",
                              dir, n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?"));
    }
    throw Error(Errc::system, fmt::format("cannot lock {}: {}", path, std::strerror(err)), err);
  }
  const std::string pid = std::to_string(getpid());
  // The pid is for messages only; the lock holds without it.
  [[maybe_unused]] const bool noted =
      ftruncate(fd_, 0) == 0 && pwrite(fd_, pid.data(), pid.size(), 0) > 0;
}

DirLock::~DirLock() {
  close(fd_);  // drops the flock
}

}  // namespace tiermem::persist
