// tiermem/nvme_store.cpp: creating the private backing files (or opening a persistent pool's
// again), reserving their space, and handing out page slots striped over directories.
#include "tiermem/nvme_store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

#include "support/align.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

uint64_t random_name() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator();
}

[[noreturn]] void fail_dir(const std::string& dir, std::string_view what) {
  int err = errno;
  throw Error(Errc::config, fmt::format("nvme.dirs: {} '{}': {}", what, dir, std::strerror(err)),
              err);
}

}  // namespace

NvmeStore::NvmeStore(const NvmeTierConfig& config, uint64_t page_size, io::Engine& engine)
    : page_size_(page_size),
      keep_files_(config.keep_files || config.persistent),
      persistent_(config.persistent) {
  std::vector<std::string> paths = config.dirs;
  if (paths.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    paths.emplace_back(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  }
  slots_per_dir_ = config.capacity / paths.size() / page_size;
  slots_per_file_ = std::min(config.file_size / page_size, slots_per_dir_);
  stripe_pages_ = config.stripe != 0 ? config.stripe / page_size : 1;
  dirs_.resize(paths.size());
  try {
    for (size_t i = 0; i < paths.size(); ++i) {
      dirs_[i].path = paths[i];
      open_directory(dirs_[i], config, engine);
    }
  } catch (...) {
    for (Directory& dir : dirs_) close_directory(dir);
    throw;
  }
}

NvmeStore::NvmeStore(const NvmeTierConfig& config, uint64_t page_size)
    : page_size_(page_size), keep_files_(false) {
  const uint64_t dir_count = std::max<size_t>(config.dirs.size(), 1);
  slots_per_dir_ = config.capacity / dir_count / page_size;
  slots_per_file_ = std::min(config.file_size / page_size, slots_per_dir_);
  stripe_pages_ = config.stripe != 0 ? config.stripe / page_size : 1;
  dirs_.resize(dir_count);
  const uint64_t file_count = support::div_ceil(slots_per_dir_, slots_per_file_);
  for (uint64_t d = 0; d < dir_count; ++d) {
    dirs_[d].path = fmt::format("(virtual nvme {})", d);
    dirs_[d].files.reserve(file_count);
    for (uint64_t f = 0; f < file_count; ++f) {
      dirs_[d].files.push_back(io::File{.path = fmt::format("{}/file {}", dirs_[d].path, f)});
    }
    dirs_[d].slots = std::make_unique<ExtentAllocator>(slots_per_dir_);
  }
}

std::vector<const io::File*> NvmeStore::files() const {
  std::vector<const io::File*> all;
  for (const Directory& dir : dirs_) {
    for (const io::File& file : dir.files) all.push_back(&file);
  }
  return all;
}

NvmeStore::~NvmeStore() {
  for (Directory& dir : dirs_) close_directory(dir);
}

void NvmeStore::open_directory(Directory& dir, const NvmeTierConfig& config, io::Engine& engine) {
  struct stat st {};
  if (stat(dir.path.c_str(), &st) != 0) fail_dir(dir.path, "cannot use directory");
  if (!S_ISDIR(st.st_mode)) {
    throw Error(Errc::config, fmt::format("nvme.dirs: '{}' is not a directory", dir.path));
  }
  uint64_t need = slots_per_dir_ * page_size_;
  if (persistent_) {  // what the files of an earlier pool hold already needs no new room
    for (uint64_t f = 0; f * slots_per_file_ < slots_per_dir_; ++f) {
      struct stat file {};
      if (stat(persistent_name(dir, f).c_str(), &file) == 0) {
        need -= std::min<uint64_t>(need, static_cast<uint64_t>(file.st_blocks) * 512);
      }
    }
  }
  struct statvfs fs {};
  // Pseudo filesystems report no blocks at all; they fail below, at creating files.
  if (statvfs(dir.path.c_str(), &fs) == 0 && fs.f_blocks > 0 &&
      static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < need) {
    throw Error(Errc::out_of_space,
                fmt::format("nvme.dirs: '{}' has {} free, but the pool needs {} there "
                            "(nvme.capacity {} over {} directories)",
                            dir.path, format_size(fs.f_bavail * fs.f_frsize), format_size(need),
                            format_size(config.capacity), dirs_.size()));
  }

  const uint64_t file_count = support::div_ceil(slots_per_dir_, slots_per_file_);
  // Per directory: one that refuses O_DIRECT says nothing about the next.
  bool direct = config.direct;
  dir.files.reserve(file_count);  // registered files are referred to by address
  for (uint64_t f = 0; f < file_count; ++f) {
    uint64_t bytes = std::min(slots_per_file_, slots_per_dir_ - f * slots_per_file_) * page_size_;
    int flags = O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0);
    std::string name;
    int fd = create_file(dir, f, flags, name);
    if (fd < 0 && errno == EINVAL && (flags & O_DIRECT)) {
      flags &= ~O_DIRECT;
      fd = create_file(dir, f, flags, name);
    }
    if (fd < 0) fail_dir(dir.path, "cannot create files in");
    if (direct && !(flags & O_DIRECT)) {
      direct = false;
      support::log().warn("nvme.dirs: '{}' refuses O_DIRECT; using buffered I/O there", dir.path);
    }
    dir.files.push_back(io::File{.fd = fd, .path = name, .direct = (flags & O_DIRECT) != 0});
    struct stat file {};
    // Reserving again would overwrite what a persistent pool's file holds, where it writes
    // zeros; fallocate's reserve is still there.
    if (!persistent_ || fstat(fd, &file) != 0 || static_cast<uint64_t>(file.st_size) < bytes) {
      reserve(dir.files.back(), bytes, dir.path);
    }
    engine.register_file(dir.files.back());
  }
  dir.slots = std::make_unique<ExtentAllocator>(slots_per_dir_);
  if (keep_files_) {
    support::log().info("nvme: backing files kept in '{}'", dir.private_dir);
  }
}

// Creates backing file number index of dir: named in a private directory when the files are
// to be kept, else unnamed (O_TMPFILE) so that it vanishes with the process however it ends,
// or, where the filesystem has no O_TMPFILE, under a random name that is unlinked at once.
// Returns the descriptor (name set to what logs call it), or -1 with errno.
int NvmeStore::create_file(Directory& dir, uint64_t index, int flags, std::string& name) {
  if (persistent_) {
    name = persistent_name(dir, index);
    return open(name.c_str(), O_CREAT | O_NOFOLLOW | flags, 0600);
  }
  if (!keep_files_) {
    name = fmt::format("{}/(unnamed file {})", dir.path, index);
    int fd = open(dir.path.c_str(), O_TMPFILE | flags, 0600);
    // A filesystem without O_TMPFILE says so with EOPNOTSUPP (or EISDIR on old kernels).
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR)) return fd;
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string path = fmt::format("{}/.tiermem-{:016x}", dir.path, random_name());
      fd = open(path.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | flags, 0600);
      if (fd >= 0) unlink(path.c_str());
      if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
  }
  if (dir.private_dir.empty()) {
    std::string pattern = dir.path + "/tiermem.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return -1;
    dir.private_dir = pattern;
  }
  name = fmt::format("{}/nvme.{}", dir.private_dir, index);
  return open(name.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | flags, 0600);
}

std::string NvmeStore::persistent_name(const Directory& dir, uint64_t index) {
  return fmt::format("{}/tiermem.{}.data", dir.path, index);
}

// Reserves bytes of file's space, so that later write-backs never meet a full disk: with
// fallocate, or, on filesystems without it (ext2, some network filesystems), by writing zeros
// and syncing them. Throws Error(out_of_space) when the disk cannot hold them.
void NvmeStore::reserve(const io::File& file, uint64_t bytes, const std::string& dir) {
  auto out_of_space = [&] {
    return Error(Errc::out_of_space,
                 fmt::format("nvme.dirs: '{}' ran out of space reserving {} for {}", dir,
                             format_size(bytes), file.path),
                 ENOSPC);
  };
  if (fallocate(file.fd, 0, 0, static_cast<off_t>(bytes)) == 0) return;
  if (errno == ENOSPC) throw out_of_space();
  if (errno != EOPNOTSUPP && errno != ENOSYS) fail_dir(dir, "cannot reserve space in");
  support::log().info("nvme.dirs: '{}' has no fallocate; reserving {} by writing zeros", dir,
                      format_size(bytes));
  constexpr uint64_t kChunk = 1 << 20;  // a multiple of every O_DIRECT alignment
  std::unique_ptr<void, decltype(&std::free)> zeros(std::aligned_alloc(4096, kChunk), &std::free);
  if (!zeros) throw Error(Errc::system, "cannot allocate a buffer of zeros", ENOMEM);
  std::memset(zeros.get(), 0, kChunk);
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t length = std::min(kChunk, bytes - done);
    ssize_t n = pwrite(file.fd, zeros.get(), length, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOSPC) throw out_of_space();
    if (n <= 0) fail_dir(dir, "cannot reserve space in");
    done += static_cast<uint64_t>(n);
  }
  if (fdatasync(file.fd) != 0) {
    if (errno == ENOSPC) throw out_of_space();
    fail_dir(dir, "cannot reserve space in");
  }
}

void NvmeStore::close_directory(Directory& dir) noexcept {
  for (io::File& file : dir.files) {
    if (file.fd >= 0) close(file.fd);
    file.fd = -1;
  }
  if (!keep_files_ && !dir.private_dir.empty()) rmdir(dir.private_dir.c_str());
  dir.files.clear();
}

uint64_t NvmeStore::free_slots() const noexcept {
  uint64_t total = 0;
  for (const Directory& dir : dirs_) total += dir.slots->free_units();
  return total;
}

void NvmeStore::allocate(uint64_t pages, std::string_view tensor, std::vector<uint64_t>& slots) {
  const uint64_t dir_count = dirs_.size();
  const uint64_t stripes = support::div_ceil(pages, stripe_pages_);
  const uint64_t last_stripe_pages = pages - (stripes - 1) * stripe_pages_;
  // Stripe s goes to directory s % dir_count; only the last stripe may be short.
  auto share = [&](uint64_t d) {
    uint64_t mine = stripes / dir_count + (d < stripes % dir_count);
    uint64_t n = mine * stripe_pages_;
    if (mine > 0 && (stripes - 1) % dir_count == d) n -= stripe_pages_ - last_stripe_pages;
    return n;
  };
  for (uint64_t d = 0; d < dir_count; ++d) {
    if (share(d) > dirs_[d].slots->free_units()) {
      throw Error(Errc::out_of_space,
                  fmt::format("nvme tier is full: tensor '{}' needs {} pages ({}) in '{}', "
                              "which has {} free of {} (nvme.capacity)",
                              tensor, share(d), format_size(share(d) * page_size_), dirs_[d].path,
                              dirs_[d].slots->free_units(), slots_per_dir_));
    }
  }
  struct Cursor {
    std::vector<Extent> runs;
    size_t run = 0;
    uint64_t used = 0;  // slots taken from runs[run]
  };
  std::vector<Cursor> cursors(dir_count);
  for (uint64_t d = 0; d < dir_count; ++d) {
    if (uint64_t n = share(d); n > 0) dirs_[d].slots->allocate_runs(n, cursors[d].runs);
  }
  slots.reserve(slots.size() + pages);
  for (uint64_t stripe = 0; stripe < stripes; ++stripe) {
    const uint64_t d = stripe % dir_count;
    Cursor& c = cursors[d];
    for (uint64_t left = stripe + 1 == stripes ? last_stripe_pages : stripe_pages_; left > 0;) {
      const Extent& run = c.runs[c.run];
      uint64_t take = std::min(left, run.count - c.used);
      for (uint64_t k = 0; k < take; ++k)
        slots.push_back(d * slots_per_dir_ + run.first + c.used + k);
      c.used += take;
      left -= take;
      if (c.used == run.count) {
        ++c.run;
        c.used = 0;
      }
    }
  }
}

void NvmeStore::free(std::span<const uint64_t> slots) {
  // Slots come back as runs of consecutive numbers; the allocator merges runs in any order.
  for (size_t i = 0; i < slots.size();) {
    size_t j = i + 1;
    const uint64_t dir = slots[i] / slots_per_dir_;
    while (j < slots.size() && slots[j] == slots[j - 1] + 1 && slots[j] / slots_per_dir_ == dir) {
      ++j;
    }
    dirs_[dir].slots->free(slots[i] % slots_per_dir_, j - i);
    i = j;
  }
}

bool NvmeStore::claim(uint64_t slot) {
  return dirs_[slot / slots_per_dir_].slots->take(slot % slots_per_dir_, 1);
}

void NvmeStore::sync() const {
  for (const Directory& dir : dirs_) {
    for (const io::File& file : dir.files) {
      if (fdatasync(file.fd) != 0) {
        const int err = errno;
        throw Error(Errc::io, fmt::format("syncing {}: {}", file.path, std::strerror(err)), err);
      }
    }
  }
}

}  // namespace tiermem::detail
