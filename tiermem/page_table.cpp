// tiermem/page_table.cpp: the reserved entry array and its id allocation.
#include "tiermem/page_table.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "tiermem/error.hpp"

namespace tiermem::detail {

PageTable::PageTable(uint64_t capacity) : ids_(capacity) {
  void* memory = mmap(nullptr, capacity * sizeof(PageEntry), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    int err = errno;
    throw Error(
        Errc::system,
        fmt::format("reserving the page table for {} pages: {}", capacity, std::strerror(err)),
        err);
  }
  // Zeroed anonymous memory is a valid array of default entries except for the frames, which
  // allocate() sets for every id it hands out.
  entries_ = static_cast<PageEntry*>(memory);
}

PageTable::~PageTable() {
  munmap(entries_, capacity() * sizeof(PageEntry));
}

std::optional<PageId> PageTable::allocate(uint64_t count) {
  std::optional<PageId> first = ids_.allocate(count);
  if (first) {
    for (PageId id = *first; id < *first + count; ++id) new (&entries_[id]) PageEntry();
  }
  return first;
}

void PageTable::free(PageId first, uint64_t count) {
  ids_.free(first, count);
}

}  // namespace tiermem::detail
