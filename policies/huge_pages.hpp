// policies/huge_pages.hpp: an allocator that backs large per-page tables with transparent huge
// pages.
//
// Policies and the simulator index tables by dense page id; with millions of pages every
// access lands on a random 4 KiB page of memory, and under a hypervisor each TLB miss costs a
// two-level page walk. Tables of 2 MiB or more are therefore 2 MiB aligned and advised
// MADV_HUGEPAGE (transparent huge pages are in madvise mode on our machines), so a table of
// 20 MiB needs 10 TLB entries. Smaller tables come from the ordinary heap.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace tiermem::policies {

template <class T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHugePage = 2u << 20;

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) {
      if (void* p = std::malloc(bytes)) return static_cast<T*>(p);
      throw std::bad_alloc();
    }
    size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p == nullptr) throw std::bad_alloc();
    ::madvise(p, rounded, MADV_HUGEPAGE);  // a hint: without THP the table still works
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept { std::free(p); }

  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

// A table indexed by page id.
template <class T>
using PageTable = std::vector<T, HugePageAllocator<T>>;

}  // namespace tiermem::policies
