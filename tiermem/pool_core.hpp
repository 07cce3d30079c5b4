// tiermem/pool_core.hpp: the pool behind the public Pool, Tensor and Pin.
//
// It owns the tiers, the page and tensor tables, the I/O engine, the policies and the
// migration engine, and answers every public call: it checks arguments, serves pins of
// resident pages with a CAS per page and no lock, and hands everything else to the migration
// engine.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/engine.hpp"
#include "tiermem/access_log.hpp"
#include "tiermem/clock.hpp"
#include "tiermem/config.hpp"
#include "tiermem/gpu_backend.hpp"
#include "tiermem/host_arena.hpp"
#include "tiermem/migration_engine.hpp"
#include "tiermem/nvme_store.hpp"
#include "tiermem/page_table.hpp"
#include "tiermem/policy.hpp"
#include "tiermem/pool.hpp"
#include "tiermem/pool_persistence.hpp"
#include "tiermem/tensor_table.hpp"
#include "tiermem/virtual_clock.hpp"
#include "vclock/event_clock.hpp"

namespace tiermem::detail {

// Told before a write or read_write pin of a tensor starts (checkpoint/ keeps a save's
// snapshot of the tensor with it). Called on the pinning thread, before the pin touches any
// page; it may pin the tensor for reading, must not pin it for writing, and must not throw.
class WriteObserver {
 public:
  // tensor_key: PoolCore::key_of the tensor about to be written.
  virtual void before_write(uint64_t tensor_key) noexcept = 0;

 protected:
  ~WriteObserver() = default;
};

class PoolCore {
 public:
  // Wraps the gpu backend the config asks for (tests hold its copies back).
  using GpuWrapper = std::function<std::unique_ptr<GpuBackend>(std::unique_ptr<GpuBackend>)>;

  // io: the engine to use; null builds the one config.io names (tests pass a fault injector).
  explicit PoolCore(const Config& config, std::unique_ptr<io::Engine> io = nullptr,
                    const GpuWrapper& wrap_gpu = {});
  // A pool on modelled devices and a virtual clock (Pool's constructor of that name).
  PoolCore(const Config& config, const VirtualDevices& devices);
  ~PoolCore();
  PoolCore(const PoolCore&) = delete;

  // For ~Pool: waits for the engine's work to end, then returns true when no page is pinned,
  // and the core may be deleted. Otherwise Pins outlive their pool, a misuse that is logged,
  // not a crash: the core stays whole, and the last of those Pins to end deletes it.
  bool close() noexcept;
  PoolCore& operator=(const PoolCore&) = delete;

  Tensor allocate(std::span<const uint64_t> shape, DType dtype, std::string_view name,
                  const TensorOptions& options);
  void release(Tensor& tensor);
  Tensor find(std::string_view name);
  // A read-only tensor whose NVMe copy is bytes of a file outside the pool, from offset on
  // (checkpoint/stream.cpp); its shape may be empty (a scalar) or hold zeros. Throws
  // Error(invalid_argument) when the bytes lie beyond the file's end, or the name is taken in
  // a persistent pool.
  Tensor add_file_tensor(std::string_view name, DType dtype, std::span<const uint64_t> shape,
                         std::shared_ptr<const FileSource> source, uint64_t offset);
  // A file to stream tensors from, registered with the pool's I/O engine. Throws
  // Error(system) naming the path and errno, Error(unsupported) on a virtual clock.
  std::shared_ptr<const FileSource> open_file_source(const std::string& path);

  // The live record behind a handle; throws Error(released) for a stale one.
  const TensorRecord& record(const Tensor& tensor) const;

  // stream: set for Tensor::pin_on_stream (tier is gpu then).
  Pin pin(const Tensor& tensor, Tier tier, Access access, ByteRange range,
          std::optional<GpuStream> stream = std::nullopt);
  std::future<Pin> pin_async(const Tensor& tensor, Tier tier, Access access, ByteRange range,
                             std::optional<GpuStream> stream = std::nullopt);
  void prefetch(const Tensor& tensor, Tier tier, ByteRange range);
  uint64_t evict(const Tensor& tensor, Tier tier);
  void flush(const Tensor* tensor);  // null: every tensor; publishes a persistent pool's manifest
  uint64_t verify();
  void set_schedule(std::span<const ScheduleStep> steps);
  void start_trace(const std::string& path);
  void stop_trace();
  PageResidency residency(const Tensor& tensor, uint64_t page) const;
  std::vector<PageResidency> residency(const Tensor& tensor) const;

  // Drops a pin's counts on its pages; never blocks, never allocates (but for write-through
  // tensors, which start writing their pages down).
  void unpin(const Pin& pin) noexcept;
  // Drops one page's count of one pin.
  void unpin_page(PageId page, Tier tier, bool write) noexcept;
  // Counts one successful pin call.
  void count_pin() noexcept { AccessLog::Writer(log_).pin(); }
  // A Pin over pages already pinned, starting in_page bytes into the first. For the gpu tier
  // it first orders the pin after earlier device work on the frames (GpuBackend::begin_use);
  // if that, or making the range contiguous, fails it unpins the pages and throws.
  Pin make_pin(PageId first, uint32_t count, Tier tier, Access access, uint64_t in_page,
               uint64_t size, std::optional<GpuStream> stream);
  std::atomic<uint64_t>& page_state(PageId page) noexcept;

  Stats stats();
  const Config& config() const noexcept { return config_; }

  // The core behind a handle, and a key naming the tensor among this core's (slot and
  // generation). Throw Error(invalid_argument) for an empty handle.
  static PoolCore& of(const Tensor& tensor);
  static PoolCore& of(Pool& pool) noexcept { return *pool.core_; }
  static uint64_t key_of(const Tensor& tensor) noexcept {
    return uint64_t{tensor.slot_} << 32 | tensor.generation_;
  }
  // Write observers: while any is registered, every write and read_write pin first tells each
  // of them (WriteObserver); otherwise pins pay one relaxed atomic load for this. Removing one
  // waits for its calls in progress to return.
  void add_write_observer(WriteObserver* observer);
  void remove_write_observer(WriteObserver* observer);

  // The clock: virtual, or steady. advance() and next_event_ns() throw Error(unsupported) in
  // a live pool.
  uint64_t now_ns() const noexcept { return clock_->now_ns(); }
  uint64_t advance(uint64_t until_ns);
  std::optional<uint64_t> next_event_ns() const;
  bool on_virtual_clock() const noexcept { return events_ != nullptr; }
  MigrationEngine& engine() noexcept { return *engine_; }

 private:
  // Where a byte range falls in a tensor's pages.
  struct PageSpan {
    uint64_t offset;
    uint64_t length;
    uint32_t first;  // index of the first page
    uint32_t count;
  };
  struct PinStart {
    Pin pin;                 // set when every page was resident
    std::future<Pin> later;  // set otherwise
  };

  // Shared by both constructors, once the devices are built.
  void build_policies_and_engine(uint32_t dram_frames, uint32_t gpu_frames);
  // A persistent pool's tensors, as its manifest left them.
  void restore_tensors();
  // A handle on the live tensor in slot; tensors_mutex_ held.
  Tensor handle(uint32_t slot);
  // Registers a new tensor named name, which describe() fills in (under the engine's mutex).
  Tensor add_tensor(std::string_view name, const std::function<void(TensorRecord&)>& describe);
  // The value of a future; on a virtual clock, runs events until it is ready (blocking calls
  // move virtual time forward), and throws Error(busy) when nothing scheduled can make it so.
  template <class T>
  T await(std::future<T>& future);
  FrameArena& arena(Tier tier) noexcept;  // gpu: only with a gpu tier
  PageSpan page_span(const TensorRecord& record, ByteRange range) const;
  std::byte* pin_address(Tier tier, PageId first, uint32_t count);
  void check_pinnable(Tier tier) const;
  PinStart start_pin(const Tensor& tensor, Tier tier, Access access, ByteRange range,
                     std::optional<GpuStream> stream);
  // Calls use(frames) with the gpu frames of pinned pages, for the backend's stream ordering,
  // a bounded batch at a time so that pins and unpins allocate nothing.
  template <class Use>
  void with_gpu_frames(PageId first, uint32_t count, Use&& use) const;
  uint64_t wait_for(std::vector<PageRequest>& requests);

  Config config_;
  uint64_t page_size_;
  uint32_t page_shift_;  // log2(page_size_)
  std::unique_ptr<Clock> clock_;
  EventClock* events_ = nullptr;  // clock_, on a virtual clock
  std::unique_ptr<FrameArena> dram_;
  HostArena* host_dram_ = nullptr;  // dram_, when it is host memory (not data-less)
  std::unique_ptr<GpuBackend> gpu_;
  std::unique_ptr<io::Engine> io_;
  std::unique_ptr<PoolPersistence> persistence_;  // a persistent pool's; before its files
  std::unique_ptr<NvmeStore> nvme_;
  std::unique_ptr<PageTable> pages_;
  TensorTable tensors_;
  AccessLog log_;
  std::unique_ptr<policy::EvictionPolicy> eviction_[2];
  std::unique_ptr<policy::PrefetchPolicy> prefetch_;
  bool prefetch_active_ = false;
  bool tensors_start_on_nvme_ = false;  // VirtualDevices::tensors_start_on_nvme
  std::unique_ptr<MigrationEngine> engine_;

  std::atomic<bool> closed_{false};       // ~Pool ran while pages were pinned
  std::atomic<uint64_t> orphan_pins_{0};  // page pins left then; the last unpin deletes this
  std::mutex tensors_mutex_;              // allocation and release of tensor slots, publishing
  // Live tensors by name (unique in a persistent pool); tensors_mutex_.
  std::unordered_multimap<std::string, uint32_t> names_;
  std::atomic<uint64_t> live_tensors_{0};
  std::atomic<uint64_t> live_bytes_{0};

  std::atomic<uint32_t> write_observer_count_{0};
  std::shared_mutex write_observers_mutex_;  // shared by the calls, exclusive to change
  std::vector<WriteObserver*> write_observers_;
};

}  // namespace tiermem::detail
