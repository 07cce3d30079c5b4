// vclock/virtual_storage.hpp: the NVMe tier of a pool on a virtual clock: an I/O engine whose
// requests are served by a modelled link (sim/channel.hpp, as the simulator models it) and
// complete when the host advances the clock past their end.
//
// With data, bytes written are kept in memory by (file, offset) and read back from there
// (never-written ones read as zeros); data-less, nothing is kept and buffers are not touched.
// No thread, no file.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "io/engine.hpp"
#include "sim/channel.hpp"
#include "tiermem/sim.hpp"
#include "vclock/event_clock.hpp"

namespace tiermem::detail {

class VirtualStorage final : public io::Engine {
 public:
  // link: the NVMe link; requests are page_size bytes (the pool's pages).
  VirtualStorage(EventClock& clock, const sim::Link& link, uint64_t page_size, bool data);

  std::string_view name() const noexcept override { return "virtual"; }
  void submit(std::span<const io::Request> batch) override;
  bool register_buffer(void*, size_t) override { return false; }
  bool register_file(io::File&) override { return false; }

  uint64_t bytes_read() const noexcept { return bytes_read_; }
  uint64_t bytes_written() const noexcept { return bytes_written_; }

 private:
  using Key = std::pair<const io::File*, uint64_t>;

  EventClock& clock_;
  sim::Channel reads_, writes_;
  const bool data_;
  std::map<Key, std::vector<std::byte>> stored_;  // with data: what was written where
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
};

}  // namespace tiermem::detail
