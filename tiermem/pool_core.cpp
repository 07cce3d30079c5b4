// tiermem/pool_core.cpp: building the tiers, checking arguments, the lock-free pin of resident
// pages, and the jobs that turn the migration engine's reports into futures.
#include "tiermem/pool_core.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <fstream>
#include <limits>

#include "policies/registry.hpp"
#include "support/align.hpp"
#include "support/clock.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"
#include "tiermem/io_config.hpp"
#include "tiermem/page_state.hpp"
#include "vclock/null_arena.hpp"
#include "vclock/virtual_gpu.hpp"
#include "vclock/virtual_storage.hpp"

namespace tiermem::detail {

namespace {

// A pin waiting for the migration engine: it completes the future with the Pin, or, on error,
// unpins what it got and completes the future with the error.
class PinJob final : public Job {
 public:
  PinJob(PoolCore& core, uint64_t requests, const std::vector<PageId>& pinned_already, Tier tier,
         Access access, PageId first_page, uint32_t page_count, uint64_t in_page, uint64_t size,
         std::optional<GpuStream> stream)
      : Job(requests),
        core_(core),
        pinned_(pinned_already),
        tier_(tier),
        access_(access),
        first_page_(first_page),
        page_count_(page_count),
        in_page_(in_page),
        size_(size),
        stream_(stream) {}

  std::future<Pin> future() { return promise_.get_future(); }

 private:
  void on_request_done(const PageRequest& request, bool ok, bool effect) override {
    if (!ok || !effect) return;
    (request.unread ? unread_ : pinned_).push_back(request.page);
  }

  void finished(std::exception_ptr error) noexcept override {
    const bool write = access_ != Access::read;
    Pin pin;
    bool unread_pinned = true;
    if (!error) {
      try {
        pin = core_.make_pin(first_page_, page_count_, tier_, access_, in_page_, size_, stream_);
      } catch (...) {
        error = std::current_exception();  // make_pin unpinned every page
        pinned_.clear();
        unread_pinned = false;
      }
    }
    if (error) {
      for (PageId page : pinned_) core_.unpin_page(page, tier_, write);
      if (!unread_.empty()) core_.engine().undo_unread_pages(unread_, tier_, unread_pinned);
      promise_.set_exception(std::move(error));
    } else {
      // The pin is confirmed: pages that came without their bytes are about to be overwritten,
      // so their NVMe copy is now stale.
      for (PageId page : unread_) {
        PageState stale;
        stale.set_valid(Tier::nvme, true);
        core_.page_state(page).fetch_and(~stale.word, std::memory_order_acq_rel);
      }
      core_.count_pin();
      promise_.set_value(std::move(pin));
    }
    delete this;
  }

  PoolCore& core_;
  std::vector<PageId> pinned_;
  std::vector<PageId> unread_;
  Tier tier_;
  Access access_;
  PageId first_page_;
  uint32_t page_count_;
  uint64_t in_page_;  // where the range starts in its first page
  uint64_t size_;
  std::optional<GpuStream> stream_;
  std::promise<Pin> promise_;
};

// Evictions and flushes: waits for every request and counts those that did something.
class CountJob final : public Job {
 public:
  using Job::Job;
  std::future<uint64_t> future() { return promise_.get_future(); }

 private:
  void on_request_done(const PageRequest&, bool, bool effect) override { effects_ += effect; }
  void finished(std::exception_ptr error) noexcept override {
    if (error) {
      promise_.set_exception(std::move(error));
    } else {
      promise_.set_value(effects_);
    }
    delete this;
  }

  uint64_t effects_ = 0;
  std::promise<uint64_t> promise_;
};

uint64_t max_map_count() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  uint64_t value = 0;
  in >> value;
  return value;
}

}  // namespace

namespace {

// Page ids: more than NVMe slots, so that freed runs of ids can be fragmented without harm,
// but few enough that the arenas' view regions (a page of addresses per id) stay within
// 32 TiB each.
uint64_t page_id_count(const Config& config) {
  return std::min<uint64_t>({4 * NvmeStore::slot_count(config.nvme, config.page_size),
                             (32ull << 40) / config.page_size,
                             uint64_t{std::numeric_limits<uint32_t>::max() - 1}});
}

const Config& validated(const Config& config, bool virtual_clock = false) {
  if (virtual_clock) {
    config.validate_virtual();
  } else {
    config.validate();
  }
  support::set_log_level(config.log_level);
  return config;
}

}  // namespace

PoolCore::PoolCore(const Config& config, std::unique_ptr<io::Engine> io, const GpuWrapper& wrap_gpu)
    : config_(validated(config)),
      page_size_(config.page_size),
      page_shift_(static_cast<uint32_t>(std::countr_zero(config.page_size))),
      clock_(std::make_unique<SteadyClock>()),
      io_(std::move(io)) {
  const uint64_t page_ids = page_id_count(config_);
  const auto dram_frames = static_cast<uint32_t>(config_.dram.capacity / page_size_);
  auto host = std::make_unique<HostArena>(HostArenaOptions{.name = "dram",
                                                           .frame_size = page_size_,
                                                           .frames = dram_frames,
                                                           .huge_pages = config_.dram.huge_pages,
                                                           .lock = config_.dram.pinned,
                                                           .numa_node = config_.dram.numa_node,
                                                           .view_pages = page_ids});
  host_dram_ = host.get();
  dram_ = std::move(host);
  const auto gpu_frames = static_cast<uint32_t>(config_.gpu.capacity / page_size_);
  if (gpu_frames > 0) {
    gpu_ = make_gpu_backend(config_.gpu, gpu_frames, page_size_, page_ids,
                            {host_dram_->base(), host_dram_->bytes()});
    if (wrap_gpu) gpu_ = wrap_gpu(std::move(gpu_));
  }

  if (!io_) {
    io_ = make_io_engine(config_.io);
  }
  if (config_.io.register_buffers &&
      !io_->register_buffer(host_dram_->base(), host_dram_->bytes())) {
    support::log().info("io: the dram tier could not be registered as fixed buffers");
  }
  // Locked before the files are touched: they may be another pool's.
  if (config_.nvme.persistent) persistence_ = std::make_unique<PoolPersistence>(config_);
  nvme_ = std::make_unique<NvmeStore>(config_.nvme, page_size_, *io_);
  if (gpu_) gpu_->attach_storage(nvme_->files());
  pages_ = std::make_unique<PageTable>(page_ids, config_.nvme.persistent);
  build_policies_and_engine(dram_frames, gpu_frames);
  if (persistence_) restore_tensors();

  // Every resident page can be a mapping of its own in its tensor's view.
  uint64_t mappings = 2ull * (dram_frames + gpu_frames) + 1024;
  if (uint64_t limit = max_map_count(); limit != 0 && mappings > limit) {
    support::log().warn(
        "{} resident pages may need up to {} memory mappings, more than vm.max_map_count ({}); "
        "raise it (sysctl vm.max_map_count={}) or use a larger page_size",
        dram_frames + gpu_frames, mappings, limit, mappings);
  }
}

PoolCore::PoolCore(const Config& config, const VirtualDevices& devices)
    : config_(validated(config, true)),
      page_size_(config.page_size),
      page_shift_(static_cast<uint32_t>(std::countr_zero(config.page_size))) {
  devices.nvme.validate("nvme");
  devices.pcie.validate("pcie");
  auto events = std::make_unique<EventClock>();
  events_ = events.get();
  clock_ = std::move(events);
  const uint64_t page_ids = page_id_count(config_);
  const auto dram_frames = static_cast<uint32_t>(config_.dram.capacity / page_size_);
  if (devices.data) {
    auto host = std::make_unique<HostArena>(HostArenaOptions{.name = "dram (virtual)",
                                                             .frame_size = page_size_,
                                                             .frames = dram_frames,
                                                             .huge_pages = "off",
                                                             .lock = false,
                                                             .numa_node = -1,
                                                             .view_pages = page_ids});
    host_dram_ = host.get();
    dram_ = std::move(host);
  } else {
    dram_ = std::make_unique<NullArena>(dram_frames, page_size_);
  }
  const auto gpu_frames = static_cast<uint32_t>(config_.gpu.capacity / page_size_);
  if (gpu_frames > 0) {
    gpu_ = make_virtual_gpu(*events_, devices.pcie, gpu_frames, page_size_, page_ids, devices.data);
  }
  io_ = std::make_unique<VirtualStorage>(*events_, devices.nvme, page_size_, devices.data);
  nvme_ = std::make_unique<NvmeStore>(config_.nvme, page_size_);
  pages_ = std::make_unique<PageTable>(page_ids, false);
  tensors_start_on_nvme_ = devices.tensors_start_on_nvme;
  build_policies_and_engine(dram_frames, gpu_frames);
}

void PoolCore::build_policies_and_engine(uint32_t dram_frames, uint32_t gpu_frames) {
  for (Tier tier : {Tier::gpu, Tier::dram}) {
    uint32_t frames = tier == Tier::gpu ? gpu_frames : dram_frames;
    if (frames == 0) continue;
    eviction_[at(tier)] = policies::make_eviction_policy(
        config_.policy.eviction, {.capacity_pages = frames, .page_size = page_size_});
  }
  prefetch_ = policies::make_prefetch_policy(
      config_.policy.prefetch, {.capacity_pages = dram_frames, .page_size = page_size_});
  prefetch_active_ = prefetch_->name() != "none";

  engine_ = std::make_unique<MigrationEngine>(
      MigrationEngine::Parts{.pages = *pages_,
                             .tensors = tensors_,
                             .dram = *dram_,
                             .gpu = gpu_.get(),
                             .io = *io_,
                             .nvme = *nvme_,
                             .eviction = {eviction_[0].get(), eviction_[1].get()},
                             .prefetch = *prefetch_,
                             .log = log_,
                             .page_size = page_size_,
                             .prefetch_budget = config_.policy.prefetch_budget,
                             .scrub_frames = config_.scrub_frames,
                             .clock = *clock_,
                             .events = events_,
                             .persistent = persistence_ != nullptr});
}

void PoolCore::restore_tensors() {
  std::lock_guard lock(tensors_mutex_);
  for (const persist::ManifestTensor& tensor : persistence_->take_restored()) {
    const uint32_t slot = tensors_.acquire();
    TensorRecord& record = tensors_[slot];
    record.name = tensor.name;
    record.shape = tensor.shape;
    record.dtype = tensor.dtype;
    record.bytes = tensor.bytes;
    record.page_count = static_cast<uint32_t>(tensor.pages.size());
    record.options = {};
    record.in_manifest = true;
    engine_->restore_tensor(slot, record, PoolPersistence::durable_pages(tensor));
    record.generation.fetch_add(1, std::memory_order_release);
    names_.emplace(record.name, slot);
    live_tensors_.fetch_add(1, std::memory_order_relaxed);
    live_bytes_.fetch_add(record.bytes, std::memory_order_relaxed);
  }
}

uint64_t PoolCore::advance(uint64_t until_ns) {
  if (events_ == nullptr) {
    throw Error(Errc::unsupported,
                "advance(): this pool runs on the steady clock, not a virtual one");
  }
  if (until_ns < events_->now_ns()) {
    throw Error(Errc::invalid_argument,
                fmt::format("advance to {} ns: the clock is already at {} ns and never goes back",
                            until_ns, events_->now_ns()));
  }
  return events_->advance(until_ns);
}

std::optional<uint64_t> PoolCore::next_event_ns() const {
  if (events_ == nullptr) {
    throw Error(Errc::unsupported,
                "next_event_ns(): this pool runs on the steady clock, not a virtual one");
  }
  return events_->next_event_ns();
}

template <class T>
T PoolCore::await(std::future<T>& future) {
  while (events_ != nullptr &&
         future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (!events_->step()) {
      throw Error(Errc::busy,
                  "the call waits for something no scheduled transfer will bring (virtual clock)");
    }
  }
  return future.get();
}

PoolCore::~PoolCore() {
  engine_.reset();                     // waits for every operation
  if (gpu_) gpu_->attach_storage({});  // before the NVMe tier's files close
}

bool PoolCore::close() noexcept {
  if (persistence_) {
    try {
      flush(nullptr);
    } catch (const std::exception& e) {
      support::log().error(
          "closing the persistent pool in {}: {}; the manifest on disk keeps "
          "what the last flush made durable",
          config_.nvme.dirs[0], e.what());
    }
  }
  engine_->wait_idle();
  uint64_t pins = 0, tensors = 0;
  {
    std::lock_guard lock(tensors_mutex_);
    tensors_.for_each_live([&](uint32_t, const TensorRecord& record) {
      uint64_t before = pins;
      for (uint32_t i = 0; i < record.page_count; ++i) {
        pins += PageState{(*pages_)[record.first_page + i].state.load(std::memory_order_acquire)}
                    .all_pins();
      }
      tensors += pins != before;
    });
  }
  if (pins == 0) return true;
  support::log().error(
      "the pool was destroyed while Pins of {} tensors still held {} page pins; its memory and "
      "files stay until the last of those Pins ends",
      tensors, pins);
  orphan_pins_.store(pins, std::memory_order_relaxed);
  closed_.store(true, std::memory_order_release);
  return false;
}

// ---- tensors -----------------------------------------------------------------------------

Tensor PoolCore::allocate(std::span<const uint64_t> shape, DType dtype, std::string_view name,
                          const TensorOptions& options) {
  if (name.empty()) throw Error(Errc::invalid_argument, "a tensor needs a non-empty name");
  if (static_cast<unsigned>(dtype) > static_cast<unsigned>(DType::u64)) {
    throw Error(Errc::invalid_argument,
                fmt::format("tensor '{}': dtype {} is not a DType (0 to {})", name,
                            static_cast<unsigned>(dtype), static_cast<unsigned>(DType::u64)));
  }
  if (shape.empty()) {
    throw Error(Errc::invalid_argument,
                fmt::format("tensor '{}': the shape is empty; give at least one dimension", name));
  }
  uint64_t bytes = dtype_size(dtype);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) {
      throw Error(Errc::invalid_argument,
                  fmt::format("tensor '{}': dimension {} is 0; every dimension must be at "
                              "least 1",
                              name, i));
    }
    if (bytes > std::numeric_limits<uint64_t>::max() / shape[i]) {
      throw Error(Errc::invalid_argument,
                  fmt::format("tensor '{}': shape [{}] of {} overflows 2^64 bytes", name,
                              fmt::join(shape, ", "), to_string(dtype)));
    }
    bytes *= shape[i];
  }
  uint64_t pages = support::div_ceil(bytes, page_size_);
  if (pages > std::numeric_limits<uint32_t>::max()) {
    throw Error(Errc::invalid_argument,
                fmt::format("tensor '{}': {} needs {} pages of {}, more than 2^32-1", name,
                            format_size(bytes), pages, format_size(page_size_)));
  }

  return add_tensor(name, [&](TensorRecord& r) {
    r.shape.assign(shape.begin(), shape.end());
    r.dtype = dtype;
    r.bytes = bytes;
    r.page_count = static_cast<uint32_t>(pages);
    r.options = options;
    r.source = nullptr;
    r.in_manifest = false;
  });
}

Tensor PoolCore::add_file_tensor(std::string_view name, DType dtype,
                                 std::span<const uint64_t> shape,
                                 std::shared_ptr<const FileSource> source, uint64_t offset) {
  uint64_t bytes = dtype_size(dtype);
  for (uint64_t dim : shape) bytes *= dim;  // the file's header was checked: no overflow
  if (offset > source->size() || bytes > source->size() - offset) {
    throw Error(Errc::invalid_argument,
                fmt::format("tensor '{}': {} bytes at offset {} lie beyond the end of {} ({} "
                            "bytes)",
                            name, bytes, offset, source->path(), source->size()));
  }
  return add_tensor(name, [&](TensorRecord& r) {
    r.shape.assign(shape.begin(), shape.end());
    r.dtype = dtype;
    r.bytes = bytes;
    r.page_count = static_cast<uint32_t>(support::div_ceil(bytes, page_size_));
    r.options = {};
    r.source = source;
    r.source_offset = offset;
    r.in_manifest = false;
  });
}

std::shared_ptr<const FileSource> PoolCore::open_file_source(const std::string& path) {
  if (events_ != nullptr) {
    throw Error(Errc::unsupported,
                fmt::format("cannot stream {}: a pool on a virtual clock models its storage and "
                            "reads no file",
                            path));
  }
  return std::make_shared<const FileSource>(path, *io_);
}

Tensor PoolCore::add_tensor(std::string_view name,
                            const std::function<void(TensorRecord&)>& describe) {
  std::lock_guard lock(tensors_mutex_);
  if (persistence_ && names_.count(std::string(name)) != 0) {
    throw Error(Errc::invalid_argument,
                fmt::format("a tensor named '{}' exists already; names are unique in a "
                            "persistent pool (Pool::find gives it)",
                            name));
  }
  uint32_t slot = tensors_.acquire();
  TensorRecord& record = tensors_[slot];
  try {
    // Filled under the engine's mutex: the engine still reads this slot's record for accesses
    // to the pages of the tensor it held before (a race tsan found in the model test).
    engine_->add_tensor(slot, record, tensors_start_on_nvme_, [&](TensorRecord& r) {
      r.name = std::string(name);
      describe(r);
    });
  } catch (...) {
    tensors_.release(slot);
    throw;
  }
  engine_->trace_tensor(slot, record.page_count);
  record.generation.fetch_add(1, std::memory_order_release);
  names_.emplace(record.name, slot);
  live_tensors_.fetch_add(1, std::memory_order_relaxed);
  live_bytes_.fetch_add(record.bytes, std::memory_order_relaxed);
  return handle(slot);
}

Tensor PoolCore::handle(uint32_t slot) {
  Tensor tensor;
  tensor.core_ = this;
  tensor.slot_ = slot;
  tensor.generation_ = tensors_[slot].generation.load(std::memory_order_acquire);
  return tensor;
}

Tensor PoolCore::find(std::string_view name) {
  std::lock_guard lock(tensors_mutex_);
  auto it = names_.find(std::string(name));
  return it == names_.end() ? Tensor() : handle(it->second);
}

void PoolCore::release(Tensor& tensor) {
  std::lock_guard lock(tensors_mutex_);
  TensorRecord& record = tensors_[tensor.slot_];
  (void)this->record(tensor);      // throws for a stale handle
  engine_->remove_tensor(record);  // makes the generation even: every handle goes stale
  for (auto [it, end] = names_.equal_range(record.name); it != end; ++it) {
    if (it->second == tensor.slot_) {
      names_.erase(it);
      break;
    }
  }
  live_tensors_.fetch_sub(1, std::memory_order_relaxed);
  live_bytes_.fetch_sub(record.bytes, std::memory_order_relaxed);
  tensors_.release(tensor.slot_);
}

const TensorRecord& PoolCore::record(const Tensor& tensor) const {
  const TensorRecord& record = const_cast<TensorTable&>(tensors_)[tensor.slot_];
  if (record.generation.load(std::memory_order_acquire) != tensor.generation_) {
    throw Error(Errc::released, "the tensor behind this handle was released");
  }
  return record;
}

// ---- pins --------------------------------------------------------------------------------

PoolCore::PageSpan PoolCore::page_span(const TensorRecord& record, ByteRange range) const {
  if (range.offset >= record.bytes) {
    throw Error(Errc::invalid_argument,
                fmt::format("byte offset {} is beyond the end of tensor '{}' ({} bytes)",
                            range.offset, record.name, record.bytes));
  }
  uint64_t room = record.bytes - range.offset;
  uint64_t length = range.length == ByteRange::whole().length ? room : range.length;
  if (length == 0 || length > room) {
    throw Error(Errc::invalid_argument,
                fmt::format("byte range of {} bytes at offset {} does not fit tensor '{}' ({} "
                            "bytes)",
                            length, range.offset, record.name, record.bytes));
  }
  uint64_t first = range.offset >> page_shift_;
  uint64_t last = (range.offset + length - 1) >> page_shift_;
  return {range.offset, length, static_cast<uint32_t>(first),
          static_cast<uint32_t>(last - first + 1)};
}

FrameArena& PoolCore::arena(Tier tier) noexcept {
  return tier == Tier::gpu ? gpu_->arena() : *dram_;
}

void PoolCore::check_pinnable(Tier tier) const {
  if (static_cast<unsigned>(tier) >= kTierCount) {
    throw Error(Errc::invalid_argument, fmt::format("tier {} is not a Tier (gpu 0, dram 1, nvme 2)",
                                                    static_cast<unsigned>(tier)));
  }
  if (tier == Tier::nvme) {
    throw Error(Errc::invalid_argument, "only the gpu and dram tiers can be pinned, not nvme");
  }
  if (tier == Tier::gpu && !gpu_) {
    throw Error(Errc::invalid_argument, "the pool has no gpu tier (gpu.capacity is 0)");
  }
}

PoolCore::PinStart PoolCore::start_pin(const Tensor& tensor, Tier tier, Access access,
                                       ByteRange range, std::optional<GpuStream> stream) {
  const TensorRecord& record = this->record(tensor);
  check_pinnable(tier);
  if (static_cast<unsigned>(access) > static_cast<unsigned>(Access::read_write)) {
    throw Error(Errc::invalid_argument,
                fmt::format("access {} is not an Access (read 0, write 1, read_write 2)",
                            static_cast<unsigned>(access)));
  }
  if (stream) gpu_->check_stream(*stream);
  if (access != Access::read && record.source) {
    throw Error(Errc::invalid_argument,
                fmt::format("tensor '{}' is read-only: it is streamed from {}; copy it into a "
                            "tensor of the pool's own to change it",
                            record.name, record.source->path()));
  }
  const PageSpan span = page_span(record, range);
  if (access != Access::read && write_observer_count_.load(std::memory_order_relaxed) != 0) {
    std::shared_lock lock(write_observers_mutex_);
    for (WriteObserver* observer : write_observers_) observer->before_write(key_of(tensor));
  }
  const uint32_t frames = arena(tier).frame_count();
  if (span.count > frames) {
    throw Error(
        Errc::out_of_space,
        fmt::format("a pin of {} pages ({}) of tensor '{}' can never fit the {} tier's "
                    "{} frames",
                    span.count, format_size(span.length), record.name, to_string(tier), frames));
  }
  const bool write = access != Access::read;
  const PageId first = record.first_page + span.first;
  const uint64_t in_page = span.offset & (page_size_ - 1);

  uint32_t resident = 0;
  const bool tracing = engine_->tracing();
  const uint64_t now = tracing ? clock_->now_ns() : 0;
  const bool drain = prefetch_active_ || tracing;
  for (bool pinnable = true; pinnable && resident < span.count;) {
    bool full = false;
    {
      AccessLog::Writer log(log_);
      for (; resident < span.count && !log.full(); ++resident) {
        std::atomic<uint64_t>& word = (*pages_)[first + resident].state;
        uint64_t old = word.load(std::memory_order_relaxed);
        PageState pinned;
        do {
          pinned.word = old;
          pinnable = try_fast_pin(pinned, tier, write);
        } while (pinnable &&
                 !word.compare_exchange_weak(old, pinned.word, std::memory_order_acquire,
                                             std::memory_order_relaxed));
        if (!pinnable) break;
        log.hit({first + resident, now, tier, access}, PageState{old}.prefetched());
      }
      if (resident == span.count) log.pin();
      full = log.full();
    }
    // A pin of more resident pages than a stripe holds drains it, waiting for the engine if
    // need be, so that the policies hear of every page (a stripe that fills in one pin would
    // otherwise drop the rest: LRU would forget the pages of every large pin).
    if (full) engine_->drain(/*wait=*/resident < span.count && pinnable);
  }
  if (drain) engine_->drain(/*wait=*/false);
  if (resident == span.count) {
    return {make_pin(first, span.count, tier, access, in_page, span.length, stream), {}};
  }

  std::vector<PageId> pinned(resident);
  for (uint32_t i = 0; i < resident; ++i) pinned[i] = first + i;
  std::vector<PageRequest> requests;
  requests.reserve(span.count - resident);
  auto* job = new PinJob(*this, span.count - resident, pinned, tier, access, first, span.count,
                         in_page, span.length, stream);
  std::future<Pin> later = job->future();
  for (uint32_t i = resident; i < span.count; ++i) {
    uint64_t page_start = static_cast<uint64_t>(span.first + i) * page_size_;
    uint64_t page_end = std::min(page_start + page_size_, record.bytes);
    requests.push_back({.page = first + i,
                        .goal = Goal::pin,
                        .tier = tier,
                        .write = write,
                        .skip_read = access == Access::write && span.offset <= page_start &&
                                     span.offset + span.length >= page_end,
                        .job = job});
  }
  engine_->submit(requests);
  return {Pin(), std::move(later)};
}

PoolCore& PoolCore::of(const Tensor& tensor) {
  if (tensor.core_ == nullptr) throw Error(Errc::invalid_argument, "empty Tensor handle");
  return *tensor.core_;
}

void PoolCore::add_write_observer(WriteObserver* observer) {
  std::unique_lock lock(write_observers_mutex_);
  write_observers_.push_back(observer);
  write_observer_count_.store(write_observers_.size(), std::memory_order_relaxed);
}

void PoolCore::remove_write_observer(WriteObserver* observer) {
  std::unique_lock lock(write_observers_mutex_);
  std::erase(write_observers_, observer);
  write_observer_count_.store(write_observers_.size(), std::memory_order_relaxed);
}

Pin PoolCore::pin(const Tensor& tensor, Tier tier, Access access, ByteRange range,
                  std::optional<GpuStream> stream) {
  PinStart start = start_pin(tensor, tier, access, range, stream);
  return start.later.valid() ? await(start.later) : std::move(start.pin);
}

std::future<Pin> PoolCore::pin_async(const Tensor& tensor, Tier tier, Access access,
                                     ByteRange range, std::optional<GpuStream> stream) {
  PinStart start = start_pin(tensor, tier, access, range, stream);
  if (start.later.valid()) return std::move(start.later);
  std::promise<Pin> ready;
  ready.set_value(std::move(start.pin));
  return ready.get_future();
}

template <class Use>
void PoolCore::with_gpu_frames(PageId first, uint32_t count, Use&& use) const {
  std::array<uint32_t, 256> frames;
  for (uint32_t done = 0; done < count;) {
    const uint32_t n = std::min<uint32_t>(count - done, frames.size());
    for (uint32_t i = 0; i < n; ++i) frames[i] = (*pages_)[first + done + i].frame[at(Tier::gpu)];
    use(std::span<const uint32_t>(frames.data(), n));
    done += n;
  }
}

Pin PoolCore::make_pin(PageId first, uint32_t count, Tier tier, Access access, uint64_t in_page,
                       uint64_t size, std::optional<GpuStream> stream) {
  std::byte* data = nullptr;
  try {
    if (tier == Tier::gpu && (stream || gpu_->begin_needed())) {
      with_gpu_frames(first, count, [&](std::span<const uint32_t> frames) {
        gpu_->begin_use(frames, stream ? &*stream : nullptr);
      });
    }
    std::byte* base = pin_address(tier, first, count);
    data = base != nullptr ? base + in_page : nullptr;
  } catch (...) {
    for (uint32_t i = 0; i < count; ++i) unpin_page(first + i, tier, access != Access::read);
    throw;
  }
  Pin pin;
  pin.core_ = this;
  pin.first_page_ = first;
  pin.page_count_ = count;
  pin.tier_ = tier;
  pin.access_ = access;
  pin.data_ = data;
  pin.size_ = size;
  pin.on_stream_ = stream.has_value();
  pin.stream_ = stream.value_or(nullptr);
  return pin;
}

// Where pinned pages first .. first+count-1 are one contiguous range: their places in the
// tier's view region, or, for an arena that maps lazily, their frames' own addresses when the
// frames are consecutive, else the places, shown now. The pages are pinned, so their frames
// hold still.
std::byte* PoolCore::pin_address(Tier tier, PageId first, uint32_t count) {
  FrameArena& arena = this->arena(tier);
  if (arena.view_base() == nullptr) return nullptr;  // data-less: no memory to point at
  std::byte* place = arena.view_base() + (first << page_shift_);
  if (!arena.maps_lazily()) return place;
  const int t = at(tier);
  const uint32_t first_frame = (*pages_)[first].frame[t];
  uint32_t i = 1;
  while (i < count && (*pages_)[first + i].frame[t] == first_frame + i) ++i;
  if (i == count) return arena.frame_address(first_frame);
  for (i = 0; i < count; ++i) {
    arena.show(place + (static_cast<uint64_t>(i) << page_shift_), (*pages_)[first + i].frame[t]);
  }
  return place;
}

namespace {

// What one pin adds to a page's state word: its count in the tier, and a writer. add_pin
// also bumps the epoch for writes; only the counters are to come off again.
uint64_t pin_counts(Tier tier, bool write) {
  PageState delta;
  delta.add_pin(tier, write);
  return delta.word & ~(0xffull << PageState::kEpochShift);
}

}  // namespace

void PoolCore::unpin_page(PageId page, Tier tier, bool write) noexcept {
  [[maybe_unused]] PageState old{
      (*pages_)[page].state.fetch_sub(pin_counts(tier, write), std::memory_order_release)};
  assert(old.pins(tier) > 0 && (!write || old.writers() > 0) && "unpin of an unpinned page");
}

void PoolCore::unpin(const Pin& pin) noexcept {
  const bool write = pin.access_ != Access::read;
  if (pin.on_stream_) {
    // Before the counts drop, so that the frames are not given away unordered.
    try {
      with_gpu_frames(pin.first_page_, pin.page_count_, [&](std::span<const uint32_t> frames) {
        gpu_->end_use(frames, pin.stream_);
      });
    } catch (const std::exception& e) {
      support::log().critical("unpin: {}; the stream's work may still be using the pages",
                              e.what());
    }
  }
  // Read while the pages are still pinned: once they are not, the tensor may be released and
  // its slot and pages given to another (a race tsan found in the model test).
  const bool write_through =
      write && tensors_[(*pages_)[pin.first_page_].tensor].options.write_through;
  for (uint32_t i = 0; i < pin.page_count_; ++i) unpin_page(pin.first_page_ + i, pin.tier_, write);
  if (closed_.load(std::memory_order_acquire)) [[unlikely]] {
    if (orphan_pins_.fetch_sub(pin.page_count_, std::memory_order_acq_rel) == pin.page_count_) {
      delete this;
    }
    return;
  }
  // Flushing pages that meanwhile went to another tensor is harmless: a flush only writes down.
  if (!write_through) return;
  std::vector<PageRequest> requests;
  for (uint32_t i = 0; i < pin.page_count_; ++i) {
    requests.push_back({.page = pin.first_page_ + i, .goal = Goal::flush});
  }
  engine_->submit(requests);
}

std::atomic<uint64_t>& PoolCore::page_state(PageId page) noexcept {
  return (*pages_)[page].state;
}

// ---- prefetch, evict, flush --------------------------------------------------------------

void PoolCore::prefetch(const Tensor& tensor, Tier tier, ByteRange range) {
  const TensorRecord& record = this->record(tensor);
  check_pinnable(tier);
  const PageSpan span = page_span(record, range);
  std::vector<PageRequest> requests;
  for (uint32_t i = 0; i < span.count; ++i) {
    requests.push_back(
        {.page = record.first_page + span.first + i, .goal = Goal::announce, .tier = tier});
  }
  engine_->submit(requests);
}

uint64_t PoolCore::wait_for(std::vector<PageRequest>& requests) {
  if (requests.empty()) return 0;
  auto* job = new CountJob(requests.size());
  std::future<uint64_t> done = job->future();
  for (PageRequest& request : requests) request.job = job;
  engine_->submit(requests);
  return await(done);
}

uint64_t PoolCore::evict(const Tensor& tensor, Tier tier) {
  const TensorRecord& record = this->record(tensor);
  check_pinnable(tier);
  std::vector<PageRequest> requests;
  for (uint32_t i = 0; i < record.page_count; ++i) {
    requests.push_back({.page = record.first_page + i, .goal = Goal::evict, .tier = tier});
  }
  return wait_for(requests);
}

void PoolCore::flush(const Tensor* tensor) {
  std::vector<PageRequest> requests;
  auto add = [&](const TensorRecord& record) {
    for (uint32_t i = 0; i < record.page_count; ++i) {
      requests.push_back({.page = record.first_page + i, .goal = Goal::flush});
    }
  };
  if (tensor != nullptr) {
    add(record(*tensor));
  } else {
    std::lock_guard lock(tensors_mutex_);
    tensors_.for_each_live([&](uint32_t, const TensorRecord& record) { add(record); });
  }
  wait_for(requests);
  // A tensor's flush publishes that tensor alone: the copies evictions wrote of other tensors'
  // pages meanwhile, while their other pages were still dirty above, would bring them back torn.
  if (persistence_) {
    std::lock_guard lock(tensors_mutex_);
    persistence_->publish(*engine_, *nvme_, tensor != nullptr ? &record(*tensor) : nullptr);
  }
}

uint64_t PoolCore::verify() {
  if (!persistence_) {
    throw Error(Errc::unsupported, "verify(): the pool is not persistent (nvme.persistent)");
  }
  std::lock_guard lock(tensors_mutex_);
  return persistence_->verify(tensors_, *pages_, *nvme_);
}

void PoolCore::set_schedule(std::span<const ScheduleStep> steps) {
  auto schedule = std::make_shared<policy::Schedule>();
  for (const ScheduleStep& step : steps) {
    const TensorRecord& record = this->record(step.tensor);
    check_pinnable(step.tier);
    const PageSpan span = page_span(record, step.range);
    schedule->steps.push_back({.first = record.first_page + span.first,
                               .count = span.count,
                               .tier = static_cast<uint8_t>(step.tier)});
  }
  engine_->set_schedule(schedule->steps.empty() ? nullptr : std::move(schedule));
}

void PoolCore::start_trace(const std::string& path) {
  std::lock_guard lock(tensors_mutex_);  // no tensor comes or goes while they are declared
  std::vector<std::pair<uint32_t, uint32_t>> live;
  tensors_.for_each_live([&](uint32_t slot, const TensorRecord& record) {
    live.emplace_back(slot, record.page_count);
  });
  engine_->start_trace(std::make_unique<TraceWriter>(path, page_size_), live);
}

void PoolCore::stop_trace() {
  engine_->stop_trace();
}

PageResidency PoolCore::residency(const Tensor& tensor, uint64_t page) const {
  const TensorRecord& record = this->record(tensor);
  if (page >= record.page_count) {
    throw Error(Errc::invalid_argument, fmt::format("page {} is beyond tensor '{}' ({} pages)",
                                                    page, record.name, record.page_count));
  }
  PageState s{(*pages_)[record.first_page + page].state.load(std::memory_order_acquire)};
  PageResidency r;
  for (int t = 0; t < kTierCount; ++t) r.valid[t] = s.valid(static_cast<Tier>(t));
  r.dirty = s.dirty();
  r.in_flight = s.busy() || s.writing();
  r.pins[0] = static_cast<uint32_t>(s.pins(Tier::gpu));
  r.pins[1] = static_cast<uint32_t>(s.pins(Tier::dram));
  return r;
}

std::vector<PageResidency> PoolCore::residency(const Tensor& tensor) const {
  std::vector<PageResidency> pages(record(tensor).page_count);
  for (uint64_t i = 0; i < pages.size(); ++i) pages[i] = residency(tensor, i);
  return pages;
}

// ---- stats -------------------------------------------------------------------------------

Stats PoolCore::stats() {
  Stats s;
  engine_->fill_stats(s);
  AccessCounters counters = log_.counters();
  for (Tier tier : {Tier::gpu, Tier::dram}) {
    if (tier == Tier::gpu && !gpu_) continue;
    TierStats& t = s.tiers[at(tier)];
    t.frames = arena(tier).frame_count();
    t.capacity_bytes = t.frames * page_size_;
    t.hits += counters.hits[at(tier)];  // the engine counted those that came its way
  }
  TierStats& nvme = s.tiers[at(Tier::nvme)];
  nvme.frames = nvme_->slot_count();
  nvme.capacity_bytes = nvme.frames * page_size_;
  s.pins = counters.pins;
  s.prefetch_useful += counters.prefetch_useful;
  s.access_events_dropped = counters.dropped;
  s.tensors = live_tensors_.load(std::memory_order_relaxed);
  s.tensor_bytes = live_bytes_.load(std::memory_order_relaxed);
  s.gpu_backend = gpu_ ? std::string(gpu_->name()) : "none";
  s.io_engine = std::string(io_->name());
  s.dram_huge_pages = host_dram_ != nullptr ? host_dram_->huge_pages() : "none";
  s.dram_huge_bytes = host_dram_ != nullptr ? host_dram_->huge_bytes() : 0;
  s.dram_locked = host_dram_ != nullptr && host_dram_->locked();
  return s;
}

}  // namespace tiermem::detail
