// tiermem/pool.hpp: the pool that owns the tiers and allocates tensors from them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>

#include "tiermem/config.hpp"
#include "tiermem/stats.hpp"
#include "tiermem/tensor.hpp"

namespace tiermem {

struct TensorOptions {
  // Each write or read_write pin, when it ends, starts writing its pages down to nvme
  // (without waiting), so that the tensor is durable soon after it is written.
  bool write_through = false;
};

// A Pool allocates the DRAM region (and the GPU staging area) once, reserves its NVMe space,
// and starts its I/O engine. All its memory is given back when it is destroyed; the backing
// files are removed unless nvme.keep_files is set.
//
// Thread safety: every call may be made from any thread at once.
class Pool {
 public:
  // Validates config and builds the tiers. Throws Error(invalid_argument) or Error(config) for
  // a bad config, Error(system) or Error(out_of_space) when memory or disk cannot be had.
  explicit Pool(const Config& config);
  // Waits for in-flight I/O. All Pins must have ended and no call may be running.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Allocates a tensor of the given shape. Its pages start unbacked and read as zeros.
  // NVMe space for every page is reserved now, so later evictions never run out of space.
  // Throws Error(invalid_argument) for an empty shape, a zero or overflowing dimension or
  // an empty name, and Error(out_of_space) when the NVMe tier cannot hold the tensor; the
  // pool is unchanged then.
  Tensor allocate(std::span<const uint64_t> shape, DType dtype, std::string_view name,
                  const TensorOptions& options = {});
  Tensor allocate(std::initializer_list<uint64_t> shape, DType dtype, std::string_view name,
                  const TensorOptions& options = {}) {
    return allocate(std::span<const uint64_t>(shape.begin(), shape.size()), dtype, name, options);
  }

  // Writes every dirty page of every tensor down to nvme. Blocks until confirmed.
  void flush();

  // A snapshot of the counters. Never blocks on I/O.
  Stats stats() const;

  const Config& config() const noexcept;

 protected:
  // A pool over a core built elsewhere (tiermem's own tests use it to put a fault-injecting
  // I/O engine under a pool).
  explicit Pool(std::unique_ptr<detail::PoolCore> core);

 private:
  std::unique_ptr<detail::PoolCore> core_;
};

}  // namespace tiermem
