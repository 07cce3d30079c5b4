// checkpoint/snapshot.cpp: Snapshot: copy before write.
#include "checkpoint/snapshot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "checkpoint/hashing_copy.hpp"
#include "tiermem/error.hpp"

namespace tiermem::checkpoint {

Snapshot::Snapshot(std::span<const Tensor> tensors) {
  std::set<std::string> names;
  for (const Tensor& tensor : tensors) {
    detail::PoolCore& core = detail::PoolCore::of(tensor);
    auto entry = std::make_unique<Entry>();
    entry->info = {tensor.name(), tensor.dtype(), tensor.shape(), tensor.size_bytes()};
    entry->tensor = tensor;
    // A quarter of the dram tier per pin, in whole pages, so that the save's pins fit beside
    // the application's.
    const uint64_t page = core.config().page_size;
    entry->pin_bytes = std::max(page, core.config().dram.capacity / 4 / page * page);
    if (!names.insert(entry->info.name).second) {
      throw Error(Errc::invalid_argument,
                  fmt::format("a checkpoint holds one tensor per name; '{}' is given twice",
                              entry->info.name));
    }
    auto watcher = std::find_if(watchers_.begin(), watchers_.end(),
                                [&](const auto& w) { return &w->core_ == &core; });
    if (watcher == watchers_.end()) {
      watchers_.push_back(std::make_unique<Watcher>(core));
      watcher = watchers_.end() - 1;
    }
    (*watcher)->entries.emplace(detail::PoolCore::key_of(tensor), entry.get());
    entries_.push_back(std::move(entry));
  }
  for (const auto& watcher : watchers_) watcher->core_.add_write_observer(watcher.get());
}

Snapshot::~Snapshot() {
  for (const auto& watcher : watchers_) watcher->core_.remove_write_observer(watcher.get());
}

void Snapshot::read(Entry& entry, uint64_t offset, std::span<std::byte> out,
                    persist::Checksum* hash) {
  // Pins start on page boundaries of the tensor, so each spans at most pin_bytes / page pages.
  const uint64_t page = entry.pin_bytes > 0 ? entry.pin_bytes : 1;
  for (uint64_t done = 0; done < out.size();) {
    const uint64_t at = offset + done;
    const uint64_t length = std::min<uint64_t>(out.size() - done, page - at % page);
    const Pin pin = entry.tensor.pin(Tier::dram, Access::read, {at, length});
    hashing_copy(out.subspan(done, length), static_cast<const std::byte*>(pin.data()), hash);
    done += length;
  }
}

void Snapshot::copy(size_t i, uint64_t offset, std::span<std::byte> out, persist::Checksum* hash) {
  Entry& entry = *entries_[i];
  std::lock_guard lock(entry.mutex);
  if (entry.error) std::rethrow_exception(entry.error);
  if (entry.saved_before_write) {
    const uint64_t base = entry.info.bytes - entry.rest.size();
    hashing_copy(out, entry.rest.data() + (offset - base), hash);
  } else {
    read(entry, offset, out, hash);
  }
  entry.copied = offset + out.size();
  if (entry.copied == entry.info.bytes) std::vector<std::byte>().swap(entry.rest);
}

void Snapshot::Watcher::before_write(uint64_t tensor_key) noexcept {
  const auto found = entries.find(tensor_key);
  if (found == entries.end()) return;
  Entry& entry = *found->second;
  std::lock_guard lock(entry.mutex);
  if (entry.saved_before_write || entry.error || entry.copied == entry.info.bytes) return;
  try {
    entry.rest.resize(entry.info.bytes - entry.copied);
    // Not hashed here: the save hashes these bytes when it takes them from rest.
    read(entry, entry.copied, entry.rest, nullptr);
    entry.saved_before_write = true;
  } catch (...) {
    // The save fails, not the application's pin.
    entry.error = std::current_exception();
    std::vector<std::byte>().swap(entry.rest);
  }
}

}  // namespace tiermem::checkpoint
