// sim/channel.hpp: one direction of a simulated link on the virtual clock.
//
// Page requests are served in submission order. At most queue_depth are in service; each
// waits the link's latency (overlapping with the others in service), then streams its page
// over the link's bandwidth, one stream at a time. So a deep queue hides latency and the
// bandwidth bounds throughput, as with an NVMe drive or a PCIe copy engine.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace tiermem::sim {

class Channel {
 public:
  Channel(double gbps, double latency_us, uint32_t queue_depth, uint64_t page_size)
      : transfer_ns_(std::max<uint64_t>(1, std::llround(static_cast<double>(page_size) / gbps))),
        latency_ns_(static_cast<uint64_t>(std::llround(latency_us * 1000.0))),
        slots_(queue_depth, 0) {}

  // Submits one page that can start no earlier than earliest; returns when it completes.
  uint64_t submit(uint64_t earliest) {
    uint64_t start = std::max(earliest, slots_[next_slot_]);  // a slot frees in order
    uint64_t end = std::max(start + latency_ns_, stream_free_) + transfer_ns_;
    stream_free_ = end;
    slots_[next_slot_] = end;
    next_slot_ = next_slot_ + 1 == slots_.size() ? 0 : next_slot_ + 1;
    busy_ns_ += transfer_ns_;
    return end;
  }

  // Time one page streams.
  uint64_t transfer_ns() const noexcept { return transfer_ns_; }

  // Time spent streaming: what this direction's I/O costs when perfectly pipelined.
  uint64_t busy_ns() const noexcept { return busy_ns_; }

 private:
  uint64_t transfer_ns_;
  uint64_t latency_ns_;
  std::vector<uint64_t> slots_;  // completion times of the last queue_depth requests
  size_t next_slot_ = 0;
  uint64_t stream_free_ = 0;
  uint64_t busy_ns_ = 0;
};

}  // namespace tiermem::sim
