// tiermem/host_arena.cpp: host frames (hugetlb memfd or anonymous memory), their huge-page,
// NUMA and locking choices, and how they reach tensor views (mapped twice, or moved).
#include "tiermem/host_arena.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/memfd.h>
#include <numa.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "support/align.hpp"
#include "support/log.hpp"
#include "support/memory_usage.hpp"
#include "tiermem/config.hpp"
#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

constexpr uint64_t kHugePage = 2ull << 20;

[[noreturn]] void fail_system(const std::string& what) {
  int err = errno;
  throw Error(Errc::system, fmt::format("{}: {}", what, std::strerror(err)), err);
}

// Inaccessible addresses at exactly [at, at + bytes), replacing whatever was mapped there.
bool reserve_at(std::byte* at, uint64_t bytes) {
  return mmap(at, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
              0) != MAP_FAILED;
}

// Moves the pages of [from, from + bytes) to at, replacing what was mapped there, and leaves
// from reserved and inaccessible. The old addresses are never unmapped on the way
// (MREMAP_DONTUNMAP, then a reservation mapped over them), so that no other thread's mmap (a
// new thread's stack, say) can be given them in between and then be overwritten.
bool move_pages(std::byte* from, std::byte* at, uint64_t bytes) {
  if (mremap(from, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, at) ==
      MAP_FAILED) {
    return false;
  }
  // On failure the old addresses stay mapped, empty and unused: nothing else can take them.
  reserve_at(from, bytes);
  return true;
}

// Whether this kernel moves private anonymous pages without unmapping their old addresses
// (MREMAP_DONTUNMAP, Linux 5.7).
bool moves_without_unmapping() {
  constexpr uint64_t kPage = 4096;
  void* raw = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return false;
  auto* scratch = static_cast<std::byte*>(raw);
  const bool moved = mremap(scratch, kPage, kPage, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
                            scratch + kPage) != MAP_FAILED;
  munmap(scratch, 2 * kPage);
  return moved;
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

// The bracketed choice in /sys/kernel/mm/transparent_hugepage/enabled: "always", "madvise" or
// "never" (also when the file is missing).
std::string thp_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  auto open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "never";
  return line.substr(open + 1, close - open - 1);
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
    create_shared(size, MFD_HUGETLB | MFD_HUGE_2MB, mode == "hugetlb");
  }
  if (fd_ < 0 && moves_without_unmapping()) create_anonymous(size, mode);
  if (fd_ < 0 && !moves_) {
    support::log().warn(
        "{}: this kernel cannot move pages without unmapping them (MREMAP_DONTUNMAP, Linux "
        "5.7): the tier is shared memory, mapped twice, without transparent huge pages",
        name_);
    create_shared(size, 0, true);
  }

  if (options.numa_node >= 0) numa_tonode_memory(base_, size, options.numa_node);
  // Allocate every page now, so that the tier's memory is all there from the start.
  if (madvise(base_, size, MADV_POPULATE_WRITE) != 0) {
    if (errno != EINVAL) {
      int err = errno;
      munmap(base_, size);
      if (fd_ >= 0) close(fd_);
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
  if (huge_pages_ == "hugetlb") {
    huge_bytes_ = size;
  } else if (moves_) {
    huge_bytes_ = support::memory_usage(base_, size).anonymous_huge;
    if (huge_bytes_ > 0) huge_pages_ = "thp";
    if (mode != "off" && huge_bytes_ < size) {
      auto level = mode == "thp" ? spdlog::level::warn : spdlog::level::info;
      support::log().log(level,
                         "{}: {} of {} on 2MiB pages (transparent huge pages: {}); O_DIRECT I/O "
                         "from 4KiB pages can be about half as fast",
                         name_, format_size(huge_bytes_), format_size(size), thp_mode());
    }
    where_ = std::make_unique<std::atomic<std::byte*>[]>(frame_count());
    for (uint32_t f = 0; f < frame_count(); ++f) where_[f].store(home_address(f));
    frame_at_.assign(options.view_pages, kNoFrame);
  }
  view_bytes_ = options.view_pages * frame_size();
  if (view_bytes_ > 0) {
    try {
      views_ = reserve_aligned(view_bytes_, std::max(frame_size(), kHugePage));
    } catch (...) {
      munmap(base_, size);
      if (fd_ >= 0) close(fd_);
      throw;
    }
  }
  support::log().info("{}: {} frames of {} ({}), huge pages: {} ({}), locked: {}", name_,
                      frame_count(), format_size(frame_size()), format_size(size), huge_pages_,
                      format_size(huge_bytes_), locked_);
}

// A memfd (hugetlb pages with MFD_HUGETLB in flags), mapped at base_; fd_ stays -1 when that
// fails and is not required.
void HostArena::create_shared(uint64_t size, unsigned flags, bool required) {
  fd_ = memfd_create(name_.c_str(), MFD_CLOEXEC | flags);
  if (fd_ >= 0 && ftruncate(fd_, static_cast<off_t>(size)) == 0 &&
      mmap(base_, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_, 0) != MAP_FAILED) {
    if ((flags & MFD_HUGETLB) != 0) huge_pages_ = "hugetlb";
    return;
  }
  int err = errno;
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!required) return;
  munmap(base_, size);
  base_ = nullptr;
  if ((flags & MFD_HUGETLB) == 0) {
    throw Error(Errc::system,
                fmt::format("{}: cannot create {} of shared memory: {}", name_, format_size(size),
                            std::strerror(err)),
                err);
  }
  throw Error(Errc::system,
              fmt::format("{}: huge_pages=hugetlb: cannot have {} 2MiB pages ({} are free; "
                          "raise vm.nr_hugepages): {}",
                          name_, size / kHugePage, free_hugetlb_pages(), std::strerror(err)),
              err);
}

// Private anonymous memory at base_, advised for transparent huge pages, or against them for
// mode "off".
// Not inherited by a child process: a fork would copy the locked pages.
void HostArena::create_anonymous(uint64_t size, const std::string& mode) {
  if (mmap(base_, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
      MAP_FAILED) {
    int err = errno;
    munmap(base_, size);
    errno = err;
    fail_system(fmt::format("{}: cannot map {} of memory", name_, format_size(size)));
  }
  moves_ = true;
  madvise(base_, size, MADV_DONTFORK);
  madvise(base_, size, mode == "off" ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
}

HostArena::~HostArena() {
  if (views_ != nullptr) munmap(views_, view_bytes_);
  if (base_ != nullptr) munmap(base_, bytes());
  if (fd_ >= 0) close(fd_);
}

void HostArena::map(std::byte* at, uint32_t frame) {
  if (!moves_frames()) {
    off_t offset = static_cast<off_t>(static_cast<uint64_t>(frame) * frame_size());
    if (mmap(at, frame_size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd_,
             offset) == MAP_FAILED) {
      fail_system(
          fmt::format("{}: mapping a frame into a tensor view (is vm.max_map_count too "
                      "low for this many resident pages?)",
                      name_));
    }
    return;
  }
  std::byte* from = where_[frame].load(std::memory_order_relaxed);
  if (from == at) return;
  assert(frame_at_[place_index(at)] == kNoFrame && "map at a place that shows another frame");
  if (!move_pages(from, at, frame_size())) {
    fail_system(
        fmt::format("{}: moving a frame into a tensor view (is vm.max_map_count too low for "
                    "this many resident pages?)",
                    name_));
  }
  if (from != home_address(frame)) frame_at_[place_index(from)] = kNoFrame;
  frame_at_[place_index(at)] = frame;
  where_[frame].store(at, std::memory_order_release);
}

void HostArena::unmap(std::byte* at, uint64_t bytes_to_unmap) {
  if (!moves_frames()) {
    if (!reserve_at(at, bytes_to_unmap)) {
      fail_system(fmt::format("{}: unmapping a frame from a tensor view", name_));
    }
    return;
  }
  for (uint64_t offset = 0; offset < bytes_to_unmap; offset += frame_size()) {
    std::byte* place = at + offset;
    uint32_t& frame = frame_at_[place_index(place)];
    if (frame == kNoFrame) continue;
    std::byte* home = home_address(frame);
    if (!move_pages(place, home, frame_size())) {
      fail_system(fmt::format("{}: moving a frame home from a tensor view", name_));
    }
    where_[frame].store(home, std::memory_order_release);
    frame = kNoFrame;
  }
}

}  // namespace tiermem::detail
