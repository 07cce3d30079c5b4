// vclock/virtual_gpu.hpp: the gpu tier of a pool on a virtual clock: copies between DRAM and
// the gpu frames queued on the modelled PCIe link, each direction a channel, completed by
// events when the host advances the clock. With data, the frames are host memory (as in the
// emulated gpu) and each copy is made when it completes; data-less, frames have no memory.
#pragma once

#include <memory>

#include "sim/channel.hpp"
#include "tiermem/gpu_backend.hpp"
#include "tiermem/sim.hpp"
#include "vclock/event_clock.hpp"

namespace tiermem::detail {

std::unique_ptr<GpuBackend> make_virtual_gpu(EventClock& clock, const sim::Link& pcie,
                                             uint32_t frames, uint64_t frame_size,
                                             uint64_t view_pages, bool data);

}  // namespace tiermem::detail
