// persist/durable_file.cpp: temporary files published by rename, directory syncs, whole reads.
#include "persist/durable_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "tiermem/error.hpp"

namespace tiermem::persist {

namespace {

constexpr std::string_view kTempMarker = ".tiermem-tmp.";

[[noreturn]] void fail(Errc code, const std::string& what) {
  const int error = errno;
  throw Error(code, fmt::format("{}: {} (errno {})", what, std::strerror(error), error), error);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// The pid in "<target>.tiermem-tmp.<pid>.<n>", or 0.
pid_t pid_of(std::string_view name) {
  const size_t at = name.rfind(kTempMarker);
  if (at == std::string_view::npos) return 0;
  const std::string_view rest = name.substr(at + kTempMarker.size());
  pid_t pid = 0;
  std::from_chars(rest.data(), rest.data() + rest.size(), pid);
  return pid;
}

void remove_stale_temps(const std::string& target) {
  const std::filesystem::path path(target);
  const std::string prefix = path.filename().string() + std::string(kTempMarker);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory_of(target), ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const pid_t pid = pid_of(name);
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace

TempFile::TempFile(std::string target) : target_(std::move(target)) {
  remove_stale_temps(target_);
  static std::atomic<uint64_t> counter{0};
  path_ = fmt::format("{}{}{}.{}", target_, kTempMarker, getpid(), counter++);
  // Mode 0666 less the umask, as any file the program saves.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) fail(Errc::system, fmt::format("creating '{}'", path_));
  ::close(fd);
}

TempFile::~TempFile() {
  if (!published_) ::unlink(path_.c_str());
}

void TempFile::reserve(uint64_t size) const {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail(Errc::system, fmt::format("opening '{}'", path_));
  const int error = size > 0 ? posix_fallocate(fd, 0, static_cast<off_t>(size)) : 0;
  ::close(fd);
  if (error == ENOSPC) {
    errno = error;
    fail(Errc::out_of_space, fmt::format("reserving {} bytes for '{}'", size, path_));
  }
}

void TempFile::publish() {
  if (::rename(path_.c_str(), target_.c_str()) != 0) {
    fail(Errc::system, fmt::format("renaming '{}' to '{}'", path_, target_));
  }
  published_ = true;
  sync_directory(directory_of(target_));
}

void write_file_atomically(const std::string& target, std::string_view bytes) {
  TempFile temp(target);
  const int fd = ::open(temp.path().c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail(Errc::system, fmt::format("opening '{}'", temp.path()));
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      const int error = errno;
      ::close(fd);
      errno = error;
      fail(Errc::io, fmt::format("writing '{}'", temp.path()));
    }
    done += static_cast<size_t>(wrote);
  }
  const int synced = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (synced != 0) {
    errno = error;
    fail(Errc::io, fmt::format("syncing '{}'", temp.path()));
  }
  temp.publish();
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(Errc::system, fmt::format("opening directory '{}'", dir));
  const int synced = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (synced != 0) {
    errno = error;
    fail(Errc::io, fmt::format("syncing directory '{}'", dir));
  }
}

std::vector<char> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(Errc::system, fmt::format("opening '{}'", path));
  struct stat st {};
  std::vector<char> bytes;
  if (::fstat(fd, &st) == 0) bytes.resize(static_cast<size_t>(st.st_size));
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n =
        ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) break;  // shrunk meanwhile: the parser finds it short
      const int error = errno;
      ::close(fd);
      errno = error;
      fail(Errc::system, fmt::format("reading '{}'", path));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return bytes;
}

}  // namespace tiermem::persist
