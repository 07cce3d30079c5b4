// tiermem/host_arena.hpp: frames in host memory: the DRAM tier, and the emulated GPU tier.
//
// Two kinds of memory, chosen at start (see docs/DESIGN.md, "Frames and views"):
// - hugetlb pages, when enough are reserved: a memfd mapped once as the linear view and again,
//   frame by frame, at tensor places; both mappings share the same pages.
// - otherwise anonymous memory, advised for transparent huge pages, which cannot be mapped
//   twice: a frame lives at its home in the region while free and is moved (mremap) to its
//   page's place while the page is resident, and back when the page leaves. A 2 MiB-aligned
//   frame keeps its huge page across the moves. Consumers that registered the region at start
//   (io_uring fixed buffers, CUDA) hold its pages and reach a frame through its home address
//   wherever it is mapped now. A kernel that cannot move pages without unmapping their old
//   addresses (before Linux 5.7) gets shared memory mapped twice, as with hugetlb.
// Either way a resident page costs its frame and nothing else.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "tiermem/frame_arena.hpp"

namespace tiermem::detail {

struct HostArenaOptions {
  std::string name = "dram";         // for messages and the memfd's name
  uint64_t frame_size = 2ull << 20;  // a power of two, at least 4 KiB
  uint32_t frames = 1;
  std::string huge_pages = "auto";  // auto, hugetlb, thp, off
  bool lock = true;                 // mlock, when RLIMIT_MEMLOCK allows (else a warning)
  int numa_node = -1;               // bind to this node; -1: no binding
  uint64_t view_pages = 0;          // places in the view region (the pool's page ids)
};

class HostArena final : public FrameArena {
 public:
  // Creates, populates and (optionally) locks the memory. Throws Error(system) naming the size
  // when memory cannot be had, Error(invalid_argument) for a NUMA node that does not exist or
  // hugetlb asked for but impossible.
  explicit HostArena(const HostArenaOptions& options);
  ~HostArena() override;

  // Where the frame is now: its page's place while mapped there (anonymous memory), else its
  // home in the region.
  std::byte* frame_address(uint32_t frame) const noexcept override {
    return moves_frames() ? where_[frame].load(std::memory_order_acquire) : home_address(frame);
  }
  std::byte* home_address(uint32_t frame) const noexcept override {
    return base_ + static_cast<uint64_t>(frame) * frame_size();
  }
  std::byte* view_base() const noexcept override { return views_; }
  // Throw Error(system) when the kernel refuses (vm.max_map_count); the frame then stays where
  // it was.
  void map(std::byte* at, uint32_t frame) override;
  void unmap(std::byte* at, uint64_t bytes) override;

  // "hugetlb", "thp" or "none", and how many bytes of the region the kernel gave 2 MiB pages.
  const std::string& huge_pages() const noexcept { return huge_pages_; }
  uint64_t huge_bytes() const noexcept { return huge_bytes_; }
  bool locked() const noexcept { return locked_; }
  // The region of homes, as registered with io_uring and CUDA.
  std::byte* base() const noexcept { return base_; }

 private:
  bool moves_frames() const noexcept { return moves_; }
  void create_shared(uint64_t size, unsigned flags, bool required);
  void create_anonymous(uint64_t size, const std::string& mode);
  uint64_t place_index(const std::byte* at) const noexcept {
    return static_cast<uint64_t>(at - views_) / frame_size();
  }

  static constexpr uint32_t kNoFrame = UINT32_MAX;

  std::string name_;
  int fd_ = -1;         // the memfd of shared memory; -1 for anonymous memory
  bool moves_ = false;  // anonymous memory: frames move to their places
  std::byte* base_ = nullptr;
  std::byte* views_ = nullptr;
  uint64_t view_bytes_ = 0;
  std::string huge_pages_ = "none";
  uint64_t huge_bytes_ = 0;
  bool locked_ = false;
  // Anonymous memory only. where_[f]: frame f's address now. frame_at_[i]: the frame at place
  // i, or kNoFrame. Each entry is changed by map/unmap of its own frame or place only.
  std::unique_ptr<std::atomic<std::byte*>[]> where_;
  std::vector<uint32_t> frame_at_;
};

}  // namespace tiermem::detail
