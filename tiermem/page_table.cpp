// tiermem/page_table.cpp: the reserved entry array and its id allocation.
#include "tiermem/page_table.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

// Address space for count entries; the kernel commits it as it is touched.
template <class T>
T* reserve(uint64_t count) {
  void* memory = mmap(nullptr, count * sizeof(T), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    int err = errno;
    throw Error(Errc::system,
                fmt::format("reserving the page table for {} pages: {}", count, std::strerror(err)),
                err);
  }
  return static_cast<T*>(memory);
}

}  // namespace

PageTable::PageTable(uint64_t capacity, bool durable) : ids_(capacity) {
  // Zeroed anonymous memory is a valid array of default entries except for the frames (and
  // the durable slot choices), which allocate() sets for every id it hands out.
  entries_ = reserve<PageEntry>(capacity);
  if (durable) {
    try {
      durable_ = reserve<DurablePage>(capacity);
    } catch (...) {
      munmap(entries_, capacity * sizeof(PageEntry));
      throw;
    }
  }
}

PageTable::~PageTable() {
  munmap(entries_, capacity() * sizeof(PageEntry));
  if (durable_ != nullptr) munmap(durable_, capacity() * sizeof(DurablePage));
}

std::optional<PageId> PageTable::allocate(uint64_t count) {
  std::optional<PageId> first = ids_.allocate(count);
  if (first) {
    for (PageId id = *first; id < *first + count; ++id) {
      new (&entries_[id]) PageEntry();
      if (durable_ != nullptr) new (&durable_[id]) DurablePage();
    }
  }
  return first;
}

void PageTable::free(PageId first, uint64_t count) {
  ids_.free(first, count);
}

}  // namespace tiermem::detail
