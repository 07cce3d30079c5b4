// tiermem/host_arena.hpp: frames in host memory: the DRAM tier, and the emulated GPU tier.
//
// The frames are one memfd, mapped once as the linear view and again, frame by frame, into
// tensor views; both mappings share the same physical pages, so a resident page costs its
// frame and nothing else. Huge pages matter for I/O on this kind of disk (a 1 MiB request from
// scattered 4 KiB pages needs more segments than a virtio queue takes, so it is split), so the
// arena prefers hugetlb pages when enough are reserved, then shmem transparent huge pages when
// the kernel enables them for madvised memory, and says which it got.
#pragma once

#include <string>

#include "tiermem/frame_arena.hpp"

namespace tiermem::detail {

struct HostArenaOptions {
  std::string name = "dram";         // for messages and the memfd's name
  uint64_t frame_size = 2ull << 20;  // a power of two
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

  std::byte* frame_address(uint32_t frame) const noexcept override {
    return base_ + static_cast<uint64_t>(frame) * frame_size();
  }
  std::byte* view_base() const noexcept override { return views_; }
  void map(std::byte* at, uint32_t frame) override;
  void unmap(std::byte* at, uint64_t bytes) override;

  // "hugetlb", "thp" or "none".
  const std::string& huge_pages() const noexcept { return huge_pages_; }
  bool locked() const noexcept { return locked_; }
  std::byte* base() const noexcept { return base_; }

 private:
  std::string name_;
  int fd_ = -1;
  std::byte* base_ = nullptr;
  std::byte* views_ = nullptr;
  uint64_t view_bytes_ = 0;
  std::string huge_pages_ = "none";
  bool locked_ = false;
};

}  // namespace tiermem::detail
