// tiermem/host_arena.cpp: memfd-backed frames, their huge-page, NUMA and locking choices, and
// the mappings into tensor views.
#include "tiermem/host_arena.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/memfd.h>
#include <numa.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "support/align.hpp"
#include "support/log.hpp"
#include "tiermem/config.hpp"
#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

constexpr uint64_t kHugePage = 2ull << 20;

[[noreturn]] void fail_system(const std::string& what) {
  int err = errno;
  throw Error(Errc::system, fmt::format("{}: {}", what, std::strerror(err)), err);
}

// Reserves inaccessible addresses aligned to align (a power of two).
std::byte* reserve_aligned(uint64_t bytes, uint64_t align) {
  void* raw =
      mmap(nullptr, bytes + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED)
    fail_system(fmt::format("reserving {} of address space", format_size(bytes)));
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = support::round_up(start, align);
  if (aligned > start) munmap(raw, aligned - start);
  if (uintptr_t tail = start + align - aligned; tail > 0) {
    munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  }
  return reinterpret_cast<std::byte*>(aligned);
}

// Whether shmem gets transparent huge pages for madvised memory.
bool shmem_thp_enabled() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
  std::string line;
  std::getline(in, line);
  for (const char* mode : {"[always]", "[within_size]", "[advise]", "[force]"}) {
    if (line.find(mode) != std::string::npos) return true;
  }
  return false;
}

uint64_t free_hugetlb_pages() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t value = 0, free_pages = 0, page_kib = 0;
  while (in >> key >> value) {
    if (key == "HugePages_Free:") free_pages = value;
    if (key == "Hugepagesize:") page_kib = value;
    in.ignore(256, '\n');
  }
  return page_kib * 1024 == kHugePage ? free_pages : 0;
}

uint64_t memlock_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_MEMLOCK, &limit);
  return limit.rlim_cur;
}

}  // namespace

HostArena::HostArena(const HostArenaOptions& options)
    : FrameArena(options.frames, options.frame_size), name_(options.name) {
  const uint64_t size = bytes();
  const std::string& mode = options.huge_pages;
  const bool huge_frames = frame_size() % kHugePage == 0;
  if (mode == "hugetlb" && !huge_frames) {
    throw Error(Errc::invalid_argument,
                fmt::format("{}: huge_pages=hugetlb needs page_size a multiple of 2MiB, not {}",
                            name_, format_size(frame_size())));
  }
  if (options.numa_node >= 0) {
    if (numa_available() < 0) {
      throw Error(Errc::unsupported,
                  fmt::format("{}: numa_node {} asked for, but NUMA is not available here", name_,
                              options.numa_node));
    }
    if (options.numa_node > numa_max_node()) {
      throw Error(Errc::invalid_argument,
                  fmt::format("{}: numa_node {} exceeds the highest node, {}", name_,
                              options.numa_node, numa_max_node()));
    }
  }

  base_ = reserve_aligned(size, kHugePage);
  // hugetlb first where asked or where enough pages are reserved; a shortfall shows at mmap.
  if (huge_frames &&
      (mode == "hugetlb" || (mode == "auto" && free_hugetlb_pages() * kHugePage >= size))) {
    fd_ = memfd_create(name_.c_str(), MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
    if (fd_ >= 0 && ftruncate(fd_, static_cast<off_t>(size)) == 0 &&
        mmap(base_, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_, 0) != MAP_FAILED) {
      huge_pages_ = "hugetlb";
    } else {
      if (mode == "hugetlb") {
        int err = errno;
        munmap(base_, size);
        if (fd_ >= 0) close(fd_);
        throw Error(Errc::system,
                    fmt::format("{}: huge_pages=hugetlb: cannot have {} 2MiB pages ({} are free; "
                                "raise vm.nr_hugepages): {}",
                                name_, size / kHugePage, free_hugetlb_pages(), std::strerror(err)),
                    err);
      }
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
    }
  }
  if (fd_ < 0) {
    fd_ = memfd_create(name_.c_str(), MFD_CLOEXEC);
    if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(size)) != 0 ||
        mmap(base_, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_, 0) == MAP_FAILED) {
      int err = errno;
      munmap(base_, size);
      if (fd_ >= 0) close(fd_);
      errno = err;
      fail_system(fmt::format("{}: cannot create {} of shared memory", name_, format_size(size)));
    }
    if (mode != "off") {
      madvise(base_, size, MADV_HUGEPAGE);
      if (shmem_thp_enabled()) {
        huge_pages_ = "thp";
      } else {
        auto level = mode == "thp" ? spdlog::level::warn : spdlog::level::info;
        support::log().log(level,
                           "{}: 4KiB pages: no hugetlb pages are reserved (vm.nr_hugepages) and "
                           "shmem huge pages are off "
                           "(/sys/kernel/mm/transparent_hugepage/shmem_enabled); O_DIRECT I/O "
                           "from 4KiB pages can be about half as fast",
                           name_);
      }
    }
  }

  if (options.numa_node >= 0) numa_tonode_memory(base_, size, options.numa_node);
  // Allocate every page now, so that the tier's memory is all there from the start.
  if (madvise(base_, size, MADV_POPULATE_WRITE) != 0) {
    if (errno != EINVAL) {
      int err = errno;
      munmap(base_, size);
      close(fd_);
      errno = err;
      fail_system(fmt::format("{}: cannot allocate {}", name_, format_size(size)));
    }
    for (uint64_t off = 0; off < size; off += 4096) base_[off] = std::byte{0};
  }
  if (options.lock) {
    if (mlock(base_, size) == 0) {
      locked_ = true;
    } else {
      support::log().warn(
          "{}: cannot page-lock {} ({}; RLIMIT_MEMLOCK is {}); the tier stays pageable. Raise "
          "`ulimit -l` or run with CAP_IPC_LOCK to lock it",
          name_, format_size(size), std::strerror(errno), format_size(memlock_limit()));
    }
  }
  view_bytes_ = options.view_pages * frame_size();
  if (view_bytes_ > 0) {
    try {
      views_ = reserve_aligned(view_bytes_, std::max(frame_size(), kHugePage));
    } catch (...) {
      munmap(base_, size);
      close(fd_);
      throw;
    }
  }
  support::log().info("{}: {} frames of {} ({}), huge pages: {}, locked: {}", name_, frame_count(),
                      format_size(frame_size()), format_size(size), huge_pages_, locked_);
}

HostArena::~HostArena() {
  if (views_ != nullptr) munmap(views_, view_bytes_);
  if (base_ != nullptr) munmap(base_, bytes());
  if (fd_ >= 0) close(fd_);
  base_ = nullptr;
  fd_ = -1;
}

void HostArena::map(std::byte* at, uint32_t frame) {
  off_t offset = static_cast<off_t>(static_cast<uint64_t>(frame) * frame_size());
  if (mmap(at, frame_size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd_,
           offset) == MAP_FAILED) {
    fail_system(
        fmt::format("{}: mapping a frame into a tensor view (is vm.max_map_count too "
                    "low for this many resident pages?)",
                    name_));
  }
}

void HostArena::unmap(std::byte* at, uint64_t bytes_to_unmap) {
  if (mmap(at, bytes_to_unmap, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
           -1, 0) == MAP_FAILED) {
    fail_system(fmt::format("{}: unmapping a frame from a tensor view", name_));
  }
}

}  // namespace tiermem::detail
