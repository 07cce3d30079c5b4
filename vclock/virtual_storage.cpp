// vclock/virtual_storage.cpp: requests queued on the modelled NVMe link, completed by events.
#include "vclock/virtual_storage.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

double write_gbps(const sim::Link& link) {
  return link.write_gbps > 0 ? link.write_gbps : link.gbps;
}

}  // namespace

VirtualStorage::VirtualStorage(EventClock& clock, const sim::Link& link, uint64_t page_size,
                               bool data)
    : clock_(clock),
      reads_(link.gbps, link.latency_us, link.queue_depth, page_size),
      writes_(write_gbps(link), link.latency_us, link.queue_depth, page_size),
      data_(data) {}

void VirtualStorage::submit(std::span<const io::Request> batch) {
  for (const io::Request& request : batch) {
    if (request.done == nullptr || request.file == nullptr) {
      throw Error(Errc::invalid_argument, "a request of the batch has no file or completion");
    }
  }
  for (const io::Request& request : batch) {
    const Key key{request.file, request.offset};
    const uint64_t length = request.length;
    if (request.op == io::Op::write) {
      bytes_written_ += length;
      if (data_) {
        // Taken now: the engine may reuse the buffer once the write completes, not before,
        // but what it wrote is what a later read must see.
        const auto* bytes = static_cast<const std::byte*>(request.buffer);
        stored_[key].assign(bytes, bytes + length);
      }
      clock_.schedule(writes_.submit(clock_.now_ns()),
                      [done = request.done, length] { done->complete({.bytes = length}); });
      continue;
    }
    bytes_read_ += length;
    clock_.schedule(reads_.submit(clock_.now_ns()), [this, key, request, length] {
      if (data_) {
        auto it = stored_.find(key);
        const uint64_t kept =
            it == stored_.end() ? 0 : std::min<uint64_t>(length, it->second.size());
        if (kept != 0) std::memcpy(request.buffer, it->second.data(), kept);
        std::memset(static_cast<std::byte*>(request.buffer) + kept, 0, length - kept);
      }
      request.done->complete({.bytes = length});
    });
  }
}

}  // namespace tiermem::detail
