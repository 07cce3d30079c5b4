// tiermem/cuda_gpu.cpp: the gpu tier in device memory: frames from CUDA's virtual memory
// management, copies on dedicated streams, completions on threads of tiermem's own, and the
// ordering of frames with the callers' streams.
//
// Why virtual memory management: a pin of many pages must be one contiguous device pointer,
// as in the DRAM tier, without copying. Each frame is one cuMemCreate allocation made at pool
// start; it is mapped once into a linear view (copies use that) and, when a pin needs it, at
// the page's place in a reserved view region, as the memfd frames of host_arena.cpp are
// mapped twice. Places are mapped lazily (show(), not map()) because cuMemSetAccess costs as
// much as copying a 2 MiB page: pins over consecutive frames use the linear view instead.
// cuMemMap can map an allocation only whole and from its start, hence one allocation per
// frame, and the page size must be a multiple of the device's allocation granularity.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "support/log.hpp"
#include "tiermem/cuda_driver.hpp"
#include "tiermem/cuda_file.hpp"
#include "tiermem/error.hpp"
#include "tiermem/gpu_backend.hpp"

namespace tiermem::detail {

namespace {

const CudaDriver& cu() {
  return *cuda_driver();
}

std::byte* as_pointer(CUdeviceptr address) {
  return reinterpret_cast<std::byte*>(static_cast<uintptr_t>(address));
}
CUdeviceptr as_device(const std::byte* pointer) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
}

// The callers' work on frames that may still be running: for every frame, the events recorded
// on the callers' streams when stream pins of it ended. Copies into or out of a frame wait
// for them on the device; a place whose frame they may still use stays mapped until they have
// finished (CudaArena::unmap: a kernel must never find its addresses gone); pins without a
// stream wait for them on the host. Events recorded by one unpin are shared by its frames.
class FrameUses {
 public:
  FrameUses(CUcontext context, uint32_t frames) : context_(context), uses_(frames) {}
  ~FrameUses() {
    CudaContextScope scope(context_);
    for (std::vector<Shared*>& list : uses_) {
      for (Shared* e : list) release(e);
    }
    for (CUevent e : free_) cu().cuEventDestroy(e);
  }

  bool any() const noexcept { return busy_frames_.load(std::memory_order_acquire) != 0; }

  // Records an event on stream after the work enqueued there so far and adds it to every
  // frame's uses.
  void end(CUstream stream, std::span<const uint32_t> frames) {
    std::lock_guard lock(mutex_);
    Shared* event = acquire();
    if (CUresult r = cu().cuEventRecord(event->event, stream); r != CUDA_SUCCESS) {
      release(event);
      cuda_check(r, "recording the end of a pin on its stream");
    }
    for (uint32_t frame : frames) {
      std::vector<Shared*>& list = uses_[frame];
      prune(list);
      if (list.size() >= kMaxUses) {  // the host runs far ahead of the device: wait a little
        cu().cuEventSynchronize(list.front()->event);
        prune(list);
      }
      if (list.empty()) busy_frames_.fetch_add(1, std::memory_order_release);
      ++event->refs;
      list.push_back(event);
    }
    release(event);  // acquire's reference
  }

  // Makes stream wait, on the device, until every recorded use of the frames has finished.
  void order(CUstream stream, std::span<const uint32_t> frames) {
    if (!any()) return;
    std::lock_guard lock(mutex_);
    for (uint32_t frame : frames) {
      for (Shared* e : uses_[frame]) {
        cuda_check(cu().cuStreamWaitEvent(stream, e->event, 0),
                   "ordering a stream after the earlier users of a gpu frame");
      }
    }
  }

  // Whether some recorded use of the frame may still be running (never blocks).
  bool busy(uint32_t frame) {
    if (!any()) return false;
    std::lock_guard lock(mutex_);
    prune(uses_[frame]);
    return !uses_[frame].empty();
  }

  // Blocks until every recorded use of the frame has finished, and forgets them.
  void wait(uint32_t frame) {
    if (!any()) return;
    std::lock_guard lock(mutex_);
    std::vector<Shared*>& list = uses_[frame];
    if (list.empty()) return;
    for (Shared* e : list) {
      cuda_check(cu().cuEventSynchronize(e->event), "waiting for the users of a gpu frame");
      release(e);
    }
    list.clear();
    busy_frames_.fetch_sub(1, std::memory_order_release);
  }

 private:
  static constexpr size_t kMaxUses = 16;

  struct Shared {
    CUevent event;
    uint32_t refs;
  };

  Shared* acquire() {
    CUevent event = nullptr;
    if (!free_.empty()) {
      event = free_.back();
      free_.pop_back();
    } else {
      cuda_check(cu().cuEventCreate(&event, CU_EVENT_DISABLE_TIMING), "creating a CUDA event");
    }
    return new Shared{event, 1};
  }
  void release(Shared* e) {
    if (--e->refs > 0) return;
    free_.push_back(e->event);
    delete e;
  }
  // Drops the uses that have finished.
  void prune(std::vector<Shared*>& list) {
    const bool had = !list.empty();
    std::erase_if(list, [&](Shared* e) {
      if (cu().cuEventQuery(e->event) != CUDA_SUCCESS) return false;
      release(e);
      return true;
    });
    if (had && list.empty()) busy_frames_.fetch_sub(1, std::memory_order_release);
  }

  CUcontext context_;
  std::mutex mutex_;
  std::vector<std::vector<Shared*>> uses_;
  std::vector<CUevent> free_;
  std::atomic<uint32_t> busy_frames_{0};
};

// One copy stream and the thread that tells each copy's completion once its event has
// passed. The stream runs copies in the order they were enqueued, so the thread waits for
// their events in that order. The thread is tiermem's own: completions go on to start more
// copies, which a CUDA host function must not do.
class CopyStream {
 public:
  CopyStream(CUcontext context, const char* name) : context_(context), name_(name) {
    CudaContextScope scope(context_);
    cuda_check(cu().cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING),
               fmt::format("creating the {} copy stream", name_));
    thread_ = std::thread([this] { serve(); });
  }
  ~CopyStream() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    thread_.join();
    CudaContextScope scope(context_);
    for (CUevent e : free_) cu().cuEventDestroy(e);
    cu().cuStreamDestroy(stream_);
  }

  // Enqueues work on the stream (enqueue(stream) returns its CUresult) and records an event
  // after it; done is told when the event has passed, or at once when enqueueing failed.
  template <class Enqueue>
  void run(uint64_t bytes, io::Completion& done, Enqueue&& enqueue) noexcept {
    std::string failure;  // done is told outside the lock: it may start another copy here
    {
      std::lock_guard lock(mutex_);  // the queue's order is the stream's order
      try {
        CudaContextScope scope(context_);
        CUresult r = enqueue(stream_);
        CUevent event = nullptr;
        if (r == CUDA_SUCCESS) r = take_event(event);
        if (r == CUDA_SUCCESS) r = cu().cuEventRecord(event, stream_);
        if (r == CUDA_SUCCESS) {
          queue_.push_back({event, &done, bytes});
        } else {
          if (event != nullptr) free_.push_back(event);
          failure = cuda_error_text(r);
        }
      } catch (const Error& e) {
        failure = e.what();
      }
    }
    if (!failure.empty()) {
      support::log().error("gpu: a copy on the {} stream failed: {}", name_, failure);
      done.complete({.bytes = 0, .error = EIO});
      return;
    }
    ready_.notify_one();
  }

 private:
  struct Pending {
    CUevent event;
    io::Completion* done;
    uint64_t bytes;
  };

  CUresult take_event(CUevent& event) {
    if (!free_.empty()) {
      event = free_.back();
      free_.pop_back();
      return CUDA_SUCCESS;
    }
    return cu().cuEventCreate(&event, CU_EVENT_DISABLE_TIMING);
  }

  void serve() noexcept {
    CudaContextScope scope(context_);
    for (;;) {
      Pending p{};
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        p = queue_.front();
        queue_.pop_front();
      }
      CUresult r = cu().cuEventSynchronize(p.event);
      {
        std::lock_guard lock(mutex_);
        free_.push_back(p.event);
      }
      if (r != CUDA_SUCCESS) {
        support::log().error("gpu: a copy on the {} stream failed: {}", name_, cuda_error_text(r));
        p.done->complete({.bytes = 0, .error = EIO});
      } else {
        p.done->complete({.bytes = p.bytes});
      }
    }
  }

  CUcontext context_;
  const char* name_;
  CUstream stream_ = nullptr;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Pending> queue_;
  std::vector<CUevent> free_;
  bool stopping_ = false;
  std::thread thread_;
};

// Device frames and their places (see the banner).
class CudaArena final : public FrameArena {
 public:
  CudaArena(CUcontext context, CUdevice device, const std::string& device_name, uint32_t frames,
            uint64_t frame_size, uint64_t view_pages, FrameUses& uses)
      : FrameArena(frames, frame_size), context_(context), uses_(uses) {
    CudaContextScope scope(context_);
    CUmemAllocationProp prop{};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = device};
    int rdma = 0;
    cu().cuDeviceGetAttribute(&rdma, CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED,
                              device);
    prop.allocFlags.gpuDirectRDMACapable = rdma != 0;  // for GPUDirect Storage
    size_t granularity = 0;
    cuda_check(
        cu().cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM),
        "asking the device's allocation granularity");
    if (frame_size % granularity != 0) {
      throw Error(
          Errc::invalid_argument,
          fmt::format("page_size {} is not a multiple of the allocation granularity of "
                      "CUDA device {} ({}), {}; use a page_size that is, or "
                      "gpu.backend=emulated",
                      format_size(frame_size), device, device_name, format_size(granularity)));
    }
    size_t free_bytes = 0, total_bytes = 0;
    cuda_check(cu().cuMemGetInfo(&free_bytes, &total_bytes), "asking the device's free memory");
    auto out_of_memory = [&](uint64_t got) {
      return Error(
          Errc::system,
          fmt::format("gpu.capacity {}: CUDA device {} ({}) has {} free of {}{}",
                      format_size(bytes()), device, device_name, format_size(free_bytes),
                      format_size(total_bytes),
                      got == 0 ? std::string()
                               : fmt::format("; it ran out after {} of frames", format_size(got))),
          ENOMEM);
    };
    if (bytes() > free_bytes) throw out_of_memory(0);

    access_.location = prop.location;
    access_.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    handles_.reserve(frames);
    try {
      for (uint32_t f = 0; f < frames; ++f) {
        CUmemGenericAllocationHandle handle = 0;
        CUresult r = cu().cuMemCreate(&handle, frame_size, &prop, 0);
        if (r == CUDA_ERROR_OUT_OF_MEMORY) throw out_of_memory(handles_.size() * frame_size);
        cuda_check(r, "creating a gpu frame (cuMemCreate)");
        handles_.push_back(handle);
      }
      cuda_check(cu().cuMemAddressReserve(&linear_, bytes(), granularity, 0, 0),
                 fmt::format("reserving {} of device addresses", format_size(bytes())));
      for (uint32_t f = 0; f < frames; ++f) {
        cuda_check(cu().cuMemMap(linear_ + f * frame_size, frame_size, 0, handles_[f], 0),
                   "mapping a gpu frame into the linear view");
      }
      cuda_check(cu().cuMemSetAccess(linear_, bytes(), &access_, 1),
                 "giving the device access to its frames");
      view_bytes_ = view_pages * frame_size;
      if (view_bytes_ > 0) {
        cuda_check(cu().cuMemAddressReserve(&views_, view_bytes_, frame_size, 0, 0),
                   fmt::format("reserving {} of device addresses for tensor views",
                               format_size(view_bytes_)));
      }
    } catch (...) {
      release_all();
      throw;
    }
  }

  ~CudaArena() override { release_all(); }

  std::byte* frame_address(uint32_t frame) const noexcept override {
    return as_pointer(linear_ + static_cast<uint64_t>(frame) * frame_size());
  }
  std::byte* view_base() const noexcept override { return as_pointer(views_); }

  // Places are mapped lazily (FrameArena::maps_lazily): cuMemSetAccess costs 25-30 us per
  // mapping on an H100 (cuMemMap about 1 us; one call over many mappings costs as much as one
  // call each), as long as copying a 2 MiB page over PCIe, and the driver serialises it. Pins
  // of one page or of consecutive frames use the linear view and need no mapping at all.
  bool maps_lazily() const noexcept override { return true; }
  void map(std::byte*, uint32_t) override {}

  // Maps the frame at the place and gives the device access to it. A place still mapped with
  // another frame is unmapped first. Other retiring places are left to unmap(), which every
  // eviction calls: show() runs once per page of a pin, and unmaps at once a place it retires.
  void show(std::byte* at, uint32_t frame) override {
    const CUdeviceptr place = as_device(at);
    std::lock_guard lock(mutex_);
    auto mapped = mapped_.find(place);
    if (mapped != mapped_.end() && mapped->second == frame) return;
    CudaContextScope scope(context_);
    if (mapped != mapped_.end()) unmap_locked(mapped);
    // The place's last mapping may still be retiring: its users must finish first.
    if (auto it = retiring_.find(place); it != retiring_.end()) {
      uses_.wait(it->second);
      cuda_check(cu().cuMemUnmap(place, frame_size()), "unmapping a gpu frame from a tensor view");
      retiring_.erase(it);
    }
    cuda_check(cu().cuMemMap(place, frame_size(), 0, handles_[frame], 0),
               "mapping a gpu frame into a tensor view");
    if (CUresult r = cu().cuMemSetAccess(place, frame_size(), &access_, 1); r != CUDA_SUCCESS) {
      cu().cuMemUnmap(place, frame_size());
      cuda_check(r, "giving the device access to a tensor view");
    }
    mapped_.emplace(place, frame);
  }

  // The places leave the view at once for the engine, but a place whose frame the callers'
  // streams may still be using stays mapped until that work has finished (a kernel must
  // never find its addresses gone), without blocking the engine: the frame itself may be
  // filled again meanwhile, since copies into it wait for that work on the device.
  void unmap(std::byte* at, uint64_t bytes) override {
    const CUdeviceptr first = as_device(at);
    std::lock_guard lock(mutex_);
    // Places are mapped one frame each, and cuMemUnmap takes whole mappings.
    auto it = mapped_.lower_bound(first);
    auto in_range = [&] { return it != mapped_.end() && it->first < first + bytes; };
    if (!in_range() && retiring_.empty()) return;  // the common case: no context switch
    CudaContextScope scope(context_);
    while (in_range()) it = unmap_locked(it);
    retire(false);
  }

  // Waits for the users of every retiring place and unmaps it (at the end of the pool).
  void retire_all() {
    std::lock_guard lock(mutex_);
    CudaContextScope scope(context_);
    retire(true);
  }

  CUdeviceptr linear() const noexcept { return linear_; }

 private:
  using Places = std::map<CUdeviceptr, uint32_t>;

  // Unmaps one place now, or lets it retire while its frame's users may still run. The caller
  // holds mutex_ and has made context_ current (retire() too).
  Places::iterator unmap_locked(Places::iterator it) {
    if (uses_.busy(it->second)) {
      retiring_.emplace(it->first, it->second);
    } else {
      cuda_check(cu().cuMemUnmap(it->first, frame_size()),
                 "unmapping a gpu frame from a tensor view");
    }
    return mapped_.erase(it);
  }

  // Unmaps the retiring places whose users have finished; with wait, all of them, waiting.
  void retire(bool wait) {
    for (auto it = retiring_.begin(); it != retiring_.end();) {
      if (wait) {
        uses_.wait(it->second);
      } else if (uses_.busy(it->second)) {
        ++it;
        continue;
      }
      cuda_check(cu().cuMemUnmap(it->first, frame_size()),
                 "unmapping a gpu frame from a tensor view");
      it = retiring_.erase(it);
    }
  }

  void release_all() noexcept {
    CudaContextScope scope(context_);
    for (const auto& [place, frame] : mapped_) cu().cuMemUnmap(place, frame_size());
    for (const auto& [place, frame] : retiring_) cu().cuMemUnmap(place, frame_size());
    mapped_.clear();
    retiring_.clear();
    if (views_ != 0) cu().cuMemAddressFree(views_, view_bytes_);
    if (linear_ != 0) {
      for (size_t f = 0; f < handles_.size(); ++f) {
        cu().cuMemUnmap(linear_ + f * frame_size(), frame_size());
      }
      cu().cuMemAddressFree(linear_, bytes());
    }
    for (CUmemGenericAllocationHandle handle : handles_) cu().cuMemRelease(handle);
    handles_.clear();
    views_ = linear_ = 0;
  }

  CUcontext context_;
  FrameUses& uses_;
  CUmemAccessDesc access_{};
  std::vector<CUmemGenericAllocationHandle> handles_;
  CUdeviceptr linear_ = 0;
  CUdeviceptr views_ = 0;
  uint64_t view_bytes_ = 0;
  std::mutex mutex_;
  Places mapped_;    // place -> the frame mapped there
  Places retiring_;  // unmapped for the engine, not yet for the device
};

// The primary context of a device, retained for the backend's life. It is the context the
// CUDA runtime uses, so the callers' cudaStream_t belong to it.
class PrimaryContext {
 public:
  explicit PrimaryContext(CUdevice device) : device_(device) {
    cuda_check(cu().cuDevicePrimaryCtxRetain(&context_, device_),
               fmt::format("retaining the primary context of CUDA device {}", device_));
  }
  ~PrimaryContext() { cu().cuDevicePrimaryCtxRelease(device_); }
  PrimaryContext(const PrimaryContext&) = delete;
  PrimaryContext& operator=(const PrimaryContext&) = delete;
  CUcontext get() const noexcept { return context_; }

 private:
  CUdevice device_;
  CUcontext context_ = nullptr;
};

// The DRAM region, page-locked for the device once at pool start, so that copies run at
// pinned speed (registering takes about 0.7 s per GiB: never per copy). The driver holds the
// region's pages, so a frame moved to a tensor place is still copied through its home address
// at pinned speed; through the place, as pageable memory, copies would run at 0.14-0.19x.
class HostRegistration {
 public:
  HostRegistration(CUcontext context, std::span<std::byte> host) : context_(context), host_(host) {
    if (host_.empty()) return;
    CudaContextScope scope(context_);
    auto start = std::chrono::steady_clock::now();
    CUresult r = cu().cuMemHostRegister(host_.data(), host_.size(), CU_MEMHOSTREGISTER_PORTABLE);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r == CUDA_SUCCESS) {
      registered_ = true;
      support::log().info("gpu: the dram tier ({}) is registered with CUDA ({:.2f} s)",
                          format_size(host_.size()), seconds);
    } else {
      support::log().warn(
          "gpu: cannot register the dram tier ({}) with CUDA: {}; copies to and "
          "from the gpu tier run at pageable-memory speed",
          format_size(host_.size()), cuda_error_text(r));
    }
  }
  ~HostRegistration() {
    if (!registered_) return;
    CudaContextScope scope(context_);
    cu().cuMemHostUnregister(host_.data());
  }
  HostRegistration(const HostRegistration&) = delete;
  HostRegistration& operator=(const HostRegistration&) = delete;

  bool registered() const noexcept { return registered_; }

 private:
  CUcontext context_;
  std::span<std::byte> host_;
  bool registered_ = false;
};

CUdevice device_handle(int ordinal) {
  CUdevice device = 0;
  cuda_check(cu().cuDeviceGet(&device, ordinal), fmt::format("opening CUDA device {}", ordinal));
  return device;
}

std::string device_name(CUdevice device) {
  char name[256] = {};
  cu().cuDeviceGetName(name, sizeof(name), device);
  return name;
}

class CudaGpu final : public GpuBackend {
 public:
  CudaGpu(const GpuTierConfig& config, uint32_t frames, uint64_t frame_size, uint64_t view_pages,
          std::span<std::byte> host)
      : device_(device_handle(config.device)),
        name_(device_name(device_)),
        direct_storage_(config.direct_storage),
        context_(device_),
        arena_(context_.get(), device_, name_, frames, frame_size, view_pages, uses_),
        uses_(context_.get(), frames),
        host_(context_.get(), host),
        h2d_(context_.get(), "host-to-device"),
        d2h_(context_.get(), "device-to-host") {
    support::log().info("gpu: CUDA device {} ({}, driver {}.{}): {} frames of {} ({})", device_,
                        name_, cu().version / 1000, cu().version % 1000 / 10, frames,
                        format_size(frame_size), format_size(arena_.bytes()));
  }
  ~CudaGpu() override {
    try {
      arena_.retire_all();  // before uses_ goes: the callers' last work must end first
    } catch (const Error& e) {
      support::log().error("gpu: {}", e.what());
    }
  }

  std::string_view name() const noexcept override { return "cuda"; }
  FrameArena& arena() noexcept override { return arena_; }
  bool copies_through_registration() const noexcept override { return host_.registered(); }

  void copy_in(uint32_t frame, const std::byte* host, uint64_t bytes,
               io::Completion& done) override {
    h2d_.run(bytes, done, [&](CUstream stream) {
      uses_.order(stream, {&frame, 1});
      return cu().cuMemcpyHtoDAsync(as_device(arena_.frame_address(frame)), host, bytes, stream);
    });
  }
  void copy_out(std::byte* host, uint32_t frame, uint64_t bytes, io::Completion& done) override {
    d2h_.run(bytes, done, [&](CUstream stream) {
      uses_.order(stream, {&frame, 1});
      return cu().cuMemcpyDtoHAsync(host, as_device(arena_.frame_address(frame)), bytes, stream);
    });
  }
  void zero(uint32_t frame, io::Completion& done) override {
    const uint64_t bytes = arena_.frame_size();
    h2d_.run(bytes, done, [&](CUstream stream) {
      uses_.order(stream, {&frame, 1});
      return cu().cuMemsetD8Async(as_device(arena_.frame_address(frame)), 0, bytes, stream);
    });
  }

  void attach_storage(std::span<const io::File* const> files) override {
    files_.reset();
    if (files.empty()) return;
    files_ = CudaFileReader::open(direct_storage_, context_.get(), files, arena_.linear(),
                                  arena_.bytes());
  }
  bool reads_direct() const noexcept override { return files_ != nullptr; }
  void read_direct(uint32_t frame, const io::File& file, uint64_t offset, uint64_t bytes,
                   io::Completion& done) override {
    // cuFile writes the frame outside the copy streams: the callers' last work on it (through
    // a retiring place) must have finished on the host's watch.
    try {
      CudaContextScope scope(context_.get());
      uses_.wait(frame);
    } catch (const Error& e) {
      support::log().error("gpu: {}", e.what());
      done.complete({.bytes = 0, .error = EIO});
      return;
    }
    files_->read(file, offset, static_cast<uint64_t>(frame) * arena_.frame_size(), bytes, done);
  }

  void check_stream(GpuStream stream) const override {
    CudaContextScope scope(context_.get());
    CUcontext owner = nullptr;
    CUresult r = cu().cuStreamGetCtx(stream, &owner);
    if (r != CUDA_SUCCESS) {
      throw Error(Errc::invalid_argument,
                  fmt::format("the stream {} is not a CUDA stream of this process: {}",
                              static_cast<void*>(stream), cuda_error_text(r)));
    }
    if (owner != context_.get()) {
      throw Error(Errc::invalid_argument,
                  fmt::format("the stream {} belongs to another CUDA context than the gpu "
                              "tier's (the primary context of device {}, gpu.device)",
                              static_cast<void*>(stream), device_));
    }
  }
  bool begin_needed() const noexcept override { return uses_.any(); }
  void begin_use(std::span<const uint32_t> frames, const GpuStream* stream) override {
    CudaContextScope scope(context_.get());
    if (stream != nullptr) {
      uses_.order(*stream, frames);
    } else {
      for (uint32_t frame : frames) uses_.wait(frame);
    }
  }
  void end_use(std::span<const uint32_t> frames, GpuStream stream) override {
    CudaContextScope scope(context_.get());
    uses_.end(stream, frames);
  }

 private:
  CUdevice device_;
  std::string name_;
  std::string direct_storage_;
  PrimaryContext context_;
  // The arena checks the device's memory before uses_ sizes its table by the frame count;
  // it keeps a reference to uses_ and uses it only later.
  CudaArena arena_;
  mutable FrameUses uses_;
  HostRegistration host_;
  CopyStream h2d_;
  CopyStream d2h_;
  std::unique_ptr<CudaFileReader> files_;
};

}  // namespace

std::unique_ptr<GpuBackend> make_cuda_gpu(const GpuTierConfig& config, uint32_t frames,
                                          uint64_t frame_size, uint64_t view_pages,
                                          std::span<std::byte> host) {
  return std::make_unique<CudaGpu>(config, frames, frame_size, view_pages, host);
}

}  // namespace tiermem::detail
