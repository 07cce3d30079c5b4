// tiermem/pool.hpp: the pool that owns the tiers and allocates tensors from them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tiermem/config.hpp"
#include "tiermem/export.h"
#include "tiermem/stats.hpp"
#include "tiermem/tensor.hpp"

namespace tiermem {

struct VirtualDevices;

// One step of an application's access order: a byte range of a tensor, used in a tier.
struct ScheduleStep {
  Tensor tensor;
  ByteRange range = ByteRange::whole();
  Tier tier = Tier::dram;
};

struct TensorOptions {
  // Each write or read_write pin, when it ends, starts writing its pages down to nvme
  // (without waiting), so that the tensor is durable soon after it is written.
  bool write_through = false;
};

// A Pool allocates the DRAM region (and the GPU staging area) once, reserves its NVMe space,
// and starts its I/O engine. All its memory is given back when it is destroyed; the backing
// files are removed unless nvme.keep_files is set.
//
// A persistent pool (nvme.persistent, with nvme.dirs) outlives its process. Its files keep
// their names, and a manifest in the first directory names its tensors (name, shape, dtype)
// and where each page's durable copy lives, with a checksum. flush() returns when the data and
// the manifest are on disk; a pool opened later on the same directories finds every tensor as
// the last flush left it (Pool::find), whether this one was closed, killed or lost its power:
// a crash at any instant leaves each tensor as one flush or another left it, never torn. Its
// destructor flushes. Tensor names are unique in it. Only one pool at a time may have the
// directories (a lock). Each page takes two slots of NVMe space (the durable copy is never
// overwritten in place). Every page read back from the files is checked against its checksum:
// a damaged one fails the pin with Error(corrupt) naming the tensor, the page and the file.
//
// Thread safety: every call may be made from any thread at once. A child process made by
// fork() must not use its parent's pools or pins: their DRAM tier is not copied into it (a
// fork would otherwise copy its locked pages), so pins' pointers are not valid there. A child
// that wants tiered memory opens a pool of its own.
class TIERMEM_API Pool {
 public:
  // Validates config and builds the tiers. Throws Error(invalid_argument) or Error(config) for
  // a bad config, Error(system) or Error(out_of_space) when memory or disk cannot be had. A
  // persistent pool also throws Error(busy) when another pool has its directories,
  // Error(corrupt) when its manifest is damaged (naming the tensor where it can), and
  // Error(invalid_argument) when the manifest was written with another page_size or NVMe
  // geometry (naming the field and both values); nothing on disk is changed then.
  explicit Pool(const Config& config);
  // A pool on modelled devices and a virtual clock (tiermem/virtual_clock.hpp). config's tier
  // capacities, page size (from 4 KiB: Config::validate_virtual) and policies apply;
  // nvme.dirs, io and gpu.backend do not. Not thread safe: its host drives it from one thread.
  // Throws what Pool(config) throws for the config, and Error(invalid_argument) for a link value
  // out of the range sim::Link::validate() accepts, naming the link, the field, the value and the
  // range.
  Pool(const Config& config, const VirtualDevices& devices);
  // Waits for in-flight I/O (asynchronous pins included: their futures get their Pins or
  // errors); a persistent pool first flushes (an error is logged: the manifest on disk then
  // keeps what the last flush made durable). No call may be running. Pins should have ended: a Pin
  // that outlives its Pool is logged as an error, and keeps the pool's memory and files until it
  // ends (its pointer stays valid), so that ending it later is safe. Tensor handles must not be
  // used afterwards.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Allocates a tensor of the given shape. Its pages start unbacked and read as zeros.
  // NVMe space for every page is reserved now, so later evictions never run out of space.
  // Throws Error(invalid_argument) for an empty shape, a zero or overflowing dimension or
  // an empty name, or a name a live tensor of a persistent pool has, and Error(out_of_space)
  // when the NVMe tier cannot hold the tensor; the pool is unchanged then.
  Tensor allocate(std::span<const uint64_t> shape, DType dtype, std::string_view name,
                  const TensorOptions& options = {});
  Tensor allocate(std::initializer_list<uint64_t> shape, DType dtype, std::string_view name,
                  const TensorOptions& options = {}) {
    return allocate(std::span<const uint64_t>(shape.begin(), shape.size()), dtype, name, options);
  }

  // Writes every dirty page of every tensor down to nvme. Blocks until confirmed. In a
  // persistent pool it then syncs the files and publishes a new manifest, and returns when both
  // are durable. A page written while the flush runs may be durable with its old bytes or its
  // new ones. Throws what Tensor::flush throws, and Error(io) or Error(system) when syncing or
  // writing the manifest fails (the manifest on disk is unchanged then).
  void flush();

  // A live tensor by name; an empty Tensor (false) when none has it. Names are unique in a
  // persistent pool; elsewhere it returns one of the tensors of that name. Thread safe.
  Tensor find(std::string_view name);

  // A persistent pool: reads the durable copy of every page from the files and checks it
  // against its checksum (pages are also checked whenever a pin reads them back). Blocks;
  // allocations, releases and flushes wait meanwhile. Returns the pages checked. Throws
  // Error(corrupt) naming every damaged tensor and page (the first 16) and its file and offset,
  // Error(io) when a file cannot be read, Error(unsupported) for a pool that is not persistent.
  uint64_t verify();

  // Registers the application's access order: one iteration of an order that repeats, such as
  // every layer's weights in forward order, once per token. The "schedule" prefetch policy
  // reads ahead along it and the "belady" eviction policy judges next uses by it. Replaces an
  // earlier schedule; an empty one withdraws it. Register it again after releasing tensors in
  // it. Throws Error(invalid_argument) or Error(released) naming a bad step; the earlier
  // schedule then stays.
  void set_schedule(std::span<const ScheduleStep> steps);

  // Records every access from now on to path, in tiermem's binary trace format (see
  // tiermem/trace.hpp), for `tiermem sim` to replay. Throws Error(busy) while recording
  // already, Error(system) when the file cannot be created.
  void start_trace(const std::string& path);
  // Finishes the trace file; no-op when not recording.
  void stop_trace();
  // Marks a span of the application's compute in the trace, so that a replay can tell how
  // much I/O it could hide. No-ops when not recording.
  void compute_begin();
  void compute_end();

  // A snapshot of the counters. Never blocks on I/O.
  Stats stats() const;

  const Config& config() const noexcept;

  // The pool's clock in nanoseconds: virtual time on a virtual clock (starting at 0), the
  // steady clock otherwise.
  uint64_t now_ns() const noexcept;
  // On a virtual clock: completes every transfer due by until_ns (and the pins, prefetches
  // and write-backs waiting for them), in time order, and moves the clock to until_ns (never
  // back). Returns the events run. Throws Error(unsupported) in a live pool.
  uint64_t advance(uint64_t until_ns);
  // On a virtual clock: when the next transfer completes; nullopt when none is under way.
  // Throws Error(unsupported) in a live pool.
  std::optional<uint64_t> next_event_ns() const;

 protected:
  // A pool over a core built elsewhere (tiermem's own tests use it to put a fault-injecting
  // I/O engine under a pool).
  TIERMEM_INTERNAL explicit Pool(std::unique_ptr<detail::PoolCore> core);

 private:
  friend class detail::PoolCore;  // PoolCore::of(pool), for the rooms built on the core
  std::unique_ptr<detail::PoolCore> core_;
};

}  // namespace tiermem
