// io/uring_engine.cpp: the io_uring engine: several rings, each served by its own thread.
//
// submit() splits requests into block_size pieces and hands them to the rings round-robin
// through a small locked queue per ring (a ring's own thread keeps single-piece requests it
// submits from a completion, so chains stay on one ring without waking another). Each ring's
// thread keeps up to queue_depth pieces in flight, submits everything it prepared in one
// system call, checks every CQE, continues short transfers and retries EAGAIN/EINTR. A thread
// with nothing to do sleeps in io_uring_enter with a read of an eventfd armed in its ring;
// submitters write that eventfd only when the thread said it is going to sleep.
#include <fmt/format.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "io/engines.hpp"
#include "io/piece.hpp"
#include "io/request_tracker.hpp"
#include "support/align.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"

namespace tiermem::io {

namespace {

constexpr uint64_t kWakeTag = UINT64_MAX;     // user_data of the eventfd read
constexpr uint64_t kFixedChunk = 1ull << 30;  // io_uring's limit on one fixed buffer
constexpr unsigned kBufferSlots = 1u << 14;   // fixed-buffer table (the kernel's maximum)
constexpr unsigned kFileSlots = 1u << 12;     // registered-file table
constexpr size_t kMaxRegions = 256;           // registered regions at once
constexpr unsigned kMaxReapBatch = 64;

// Registered memory regions, looked up on every submit without a lock: each entry is guarded
// by a sequence number (odd while it is being rewritten), so lookups never see a half-written
// entry and registration never blocks submitters.
class RegionTable {
 public:
  // The fixed-buffer index whose chunk holds all of [p, p + length), or -1.
  int32_t find(const std::byte* p, uint64_t length) const noexcept {
    auto at = reinterpret_cast<uintptr_t>(p);
    size_t used = used_.load(std::memory_order_acquire);
    for (size_t i = 0; i < used; ++i) {
      const Entry& e = entries_[i];
      uint64_t version = e.version.load(std::memory_order_acquire);
      if (version % 2 != 0) continue;
      // Acquire loads keep the second look at version after them; a value from a rewrite
      // carries the odd version with it.
      uintptr_t base = e.base.load(std::memory_order_acquire);
      uint64_t size = e.length.load(std::memory_order_acquire);
      uint32_t slot = e.first_slot.load(std::memory_order_acquire);
      if (e.version.load(std::memory_order_relaxed) != version) continue;
      if (size == 0 || at < base || at - base >= size || length > size - (at - base)) continue;
      uint64_t first = (at - base) / kFixedChunk;
      if ((at - base + length - 1) / kFixedChunk != first) return -1;
      return static_cast<int32_t>(slot + first);
    }
    return -1;
  }

  // Under the owner's registration lock: a free entry's index, or -1.
  int32_t free_entry() const noexcept {
    for (size_t i = 0; i < kMaxRegions; ++i) {
      if (entries_[i].length.load(std::memory_order_relaxed) == 0) return static_cast<int32_t>(i);
    }
    return -1;
  }
  // Under the owner's registration lock: the entry registered at base, or -1.
  int32_t entry_at(uintptr_t base) const noexcept {
    for (size_t i = 0; i < used_.load(std::memory_order_relaxed); ++i) {
      if (entries_[i].length.load(std::memory_order_relaxed) != 0 &&
          entries_[i].base.load(std::memory_order_relaxed) == base) {
        return static_cast<int32_t>(i);
      }
    }
    return -1;
  }
  uint32_t first_slot(int32_t entry) const noexcept {
    return entries_[entry].first_slot.load(std::memory_order_relaxed);
  }
  uint64_t length(int32_t entry) const noexcept {
    return entries_[entry].length.load(std::memory_order_relaxed);
  }

  // Under the owner's registration lock: sets an entry (length 0 frees it).
  void set(int32_t index, uintptr_t base, uint64_t length, uint32_t first_slot) noexcept {
    Entry& e = entries_[index];
    e.version.fetch_add(1, std::memory_order_relaxed);  // odd: being rewritten
    e.base.store(base, std::memory_order_release);
    e.length.store(length, std::memory_order_release);
    e.first_slot.store(first_slot, std::memory_order_release);
    e.version.fetch_add(1, std::memory_order_release);
    if (static_cast<size_t>(index) >= used_.load(std::memory_order_relaxed)) {
      used_.store(static_cast<size_t>(index) + 1, std::memory_order_release);
    }
  }

 private:
  struct Entry {
    std::atomic<uint64_t> version{0};
    std::atomic<uintptr_t> base{0};
    std::atomic<uint64_t> length{0};
    std::atomic<uint32_t> first_slot{0};
  };
  std::array<Entry, kMaxRegions> entries_;
  std::atomic<size_t> used_{0};  // entries at or above this were never set
};

// The first run of count free slots in a table, marked used; -1 when there is none.
int32_t take_slots(std::vector<bool>& used, uint32_t count) {
  uint32_t run = 0;
  for (uint32_t i = 0; i < used.size(); ++i) {
    run = used[i] ? 0 : run + 1;
    if (run == count) {
      uint32_t first = i + 1 - count;
      for (uint32_t j = first; j <= i; ++j) used[j] = true;
      return static_cast<int32_t>(first);
    }
  }
  return -1;
}

// One ring and the thread that serves it.
class Ring {
 public:
  Ring(RequestTracker& tracker, TransferHook* hook, const EngineConfig& config, int attach_to);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  // Ends the thread once everything it was given has completed.
  void stop();

  // Hands over pieces first, first + stride, ... of pieces, then wakes the thread if needed.
  void post(std::span<const Piece> pieces, size_t first, size_t stride);

  io_uring* ring() noexcept { return &ring_; }
  int fd() const noexcept { return ring_.ring_fd; }
  // True when the calling thread is this ring's own.
  bool is_current() const noexcept;

 private:
  void run();
  void take_incoming();
  bool has_incoming();
  void start_pending();
  void issue(uint32_t slot);
  void on_result(uint64_t tag, int32_t result);
  void finish(uint32_t slot);
  void arm_wake();
  // Handles up to reap_batch_ completions: what they submit goes out before the next batch is
  // looked at, so the device gets new work while the rest is still being handled.
  void reap();

  RequestTracker& tracker_;
  TransferHook* const hook_;
  io_uring ring_{};
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;  // the eventfd read's target
  bool wake_armed_ = false;  // the eventfd read is in the ring
  std::thread thread_;

  // Shared with submitters.
  std::mutex mutex_;
  std::vector<Piece> incoming_;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stopping_{false};

  // The thread's own.
  std::vector<Piece> taken_;
  std::deque<Piece> pending_;  // waiting for a free slot
  std::vector<Piece> slots_;   // in flight, indexed by user_data
  std::vector<uint32_t> free_;
  // An eighth of the queue depth: 4 KiB random reads at QD 64 measured best at 4 to 8, and
  // worse at 16 (-3 %) and 32 (-8 %); sequential 1 MiB reads did not care.
  const unsigned reap_batch_;
};

thread_local const Ring* t_current_ring = nullptr;

Ring::Ring(RequestTracker& tracker, TransferHook* hook, const EngineConfig& config, int attach_to)
    : tracker_(tracker),
      hook_(hook),
      slots_(config.queue_depth),
      reap_batch_(std::clamp(config.queue_depth / 8, 1u, kMaxReapBatch)) {
  for (uint32_t i = config.queue_depth; i-- > 0;) free_.push_back(i);
  io_uring_params params{};
  if (config.sqpoll) {
    params.flags |= IORING_SETUP_SQPOLL;
    params.sq_thread_idle = 50;  // ms of spinning before the kernel thread sleeps
    if (attach_to >= 0) {        // one polling thread for all rings: there are few cores
      params.flags |= IORING_SETUP_ATTACH_WQ;
      params.wq_fd = static_cast<uint32_t>(attach_to);
    }
  } else {
    // Completions are processed when the thread enters the kernel anyway; no need to
    // interrupt it for them.
    params.flags |= IORING_SETUP_COOP_TASKRUN;
  }
  // One entry more than queue_depth for the eventfd read; the completion queue is twice as
  // large, so it can never overflow.
  int rc = io_uring_queue_init_params(config.queue_depth + 1, &ring_, &params);
  if (rc == -EINVAL && (params.flags & IORING_SETUP_COOP_TASKRUN) != 0) {
    params = io_uring_params{};
    rc = io_uring_queue_init_params(config.queue_depth + 1, &ring_, &params);
  }
  if (rc < 0) {
    throw Error(Errc::unsupported,
                fmt::format("io_uring_queue_init with {} entries{}: {}", config.queue_depth + 1,
                            config.sqpoll ? " and SQPOLL" : "", std::strerror(-rc)),
                -rc);
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    int error = errno;
    io_uring_queue_exit(&ring_);
    throw Error(Errc::system, fmt::format("eventfd: {}", std::strerror(error)), error);
  }
}

Ring::~Ring() {
  assert(!thread_.joinable());
  io_uring_queue_exit(&ring_);
  close(wake_fd_);
}

bool Ring::is_current() const noexcept {
  return t_current_ring == this;
}

void Ring::stop() {
  stopping_.store(true, std::memory_order_release);
  eventfd_write(wake_fd_, 1);
  if (thread_.joinable()) thread_.join();
}

void Ring::post(std::span<const Piece> pieces, size_t first, size_t stride) {
  if (first >= pieces.size()) return;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = first; i < pieces.size(); i += stride) incoming_.push_back(pieces[i]);
  }
  // Pairs with run(): the thread sets sleeping_ and then looks at incoming_ under the lock, so
  // either it sees these pieces or this sees sleeping_ set.
  if (!is_current() && sleeping_.exchange(false)) eventfd_write(wake_fd_, 1);
}

void Ring::run() {
  t_current_ring = this;
  io_uring_register_ring_fd(&ring_);  // saves a file lookup per io_uring_enter when it works
  for (;;) {
    take_incoming();
    start_pending();
    bool stopping = stopping_.load(std::memory_order_acquire);
    if (stopping && free_.size() == slots_.size() && pending_.empty() && !wake_armed_) break;
    unsigned wait_nr = 0;
    if (io_uring_cq_ready(&ring_) == 0) {
      sleeping_.store(true);
      if (has_incoming()) {
        sleeping_.store(false, std::memory_order_relaxed);
      } else {
        // Something will complete: a piece in flight, or the eventfd read, which stop() and
        // submitters complete by writing the eventfd.
        if (!wake_armed_ && !stopping) arm_wake();
        wait_nr = 1;
      }
    }
    int rc = io_uring_submit_and_wait(&ring_, wait_nr);
    sleeping_.store(false, std::memory_order_relaxed);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      support::log().error("io_uring_enter: {}", std::strerror(-rc));
    }
    reap();
  }
  // Here, not in io_uring_queue_exit: the registration belongs to this thread, and undoing it
  // from the destroying thread would undo that thread's own registration at the same index.
  io_uring_unregister_ring_fd(&ring_);
  t_current_ring = nullptr;
}

void Ring::take_incoming() {
  {
    std::lock_guard lock(mutex_);
    taken_.swap(incoming_);
  }
  pending_.insert(pending_.end(), taken_.begin(), taken_.end());
  taken_.clear();
}

bool Ring::has_incoming() {
  std::lock_guard lock(mutex_);
  return !incoming_.empty();
}

void Ring::start_pending() {
  while (!free_.empty() && !pending_.empty()) {
    uint32_t slot = free_.back();
    free_.pop_back();
    slots_[slot] = pending_.front();
    pending_.pop_front();
    issue(slot);
  }
}

void Ring::issue(uint32_t slot) {
  Piece& piece = slots_[slot];
  for (;;) {
    int64_t length = piece.next_call(hook_);
    if (length < 0) {
      if (piece.advance(length) == Piece::Step::again) continue;
      finish(slot);
      return;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    // At most queue_depth pieces and the eventfd read are ever unsubmitted, and the queue
    // has room for all of them; submitting first makes room anyway should that change.
    while (sqe == nullptr) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    const File& file = *piece.file;
    int fd = file.registered >= 0 ? file.registered : file.fd;
    auto bytes = static_cast<unsigned>(length);
    if (piece.op == Op::read) {
      if (piece.fixed_buffer >= 0) {
        io_uring_prep_read_fixed(sqe, fd, piece.next_buffer(), bytes, piece.next_offset(),
                                 piece.fixed_buffer);
      } else {
        io_uring_prep_read(sqe, fd, piece.next_buffer(), bytes, piece.next_offset());
      }
    } else {
      if (piece.fixed_buffer >= 0) {
        io_uring_prep_write_fixed(sqe, fd, piece.next_buffer(), bytes, piece.next_offset(),
                                  piece.fixed_buffer);
      } else {
        io_uring_prep_write(sqe, fd, piece.next_buffer(), bytes, piece.next_offset());
      }
    }
    if (file.registered >= 0) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, slot);
    return;
  }
}

void Ring::on_result(uint64_t tag, int32_t result) {
  if (tag == kWakeTag) {
    wake_armed_ = false;
    return;
  }
  auto slot = static_cast<uint32_t>(tag);
  assert(slot < slots_.size());
  if (slots_[slot].advance(result) == Piece::Step::again) {
    issue(slot);
  } else {
    finish(slot);
  }
}

void Ring::finish(uint32_t slot) {
  Piece piece = slots_[slot];
  free_.push_back(slot);
  tracker_.finish(piece);  // may call a completion, which may post to this ring
}

void Ring::arm_wake() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, kWakeTag);
  wake_armed_ = true;
}

void Ring::reap() {
  std::array<io_uring_cqe*, kMaxReapBatch> cqes;
  std::array<std::pair<uint64_t, int32_t>, kMaxReapBatch> results;
  unsigned n = io_uring_peek_batch_cqe(&ring_, cqes.data(), reap_batch_);
  // Copied out and released first, so the completion queue has room for what the
  // completions below submit.
  for (unsigned i = 0; i < n; ++i) results[i] = {cqes[i]->user_data, cqes[i]->res};
  io_uring_cq_advance(&ring_, n);
  for (unsigned i = 0; i < n; ++i) on_result(results[i].first, results[i].second);
}

class UringEngine final : public Engine {
 public:
  UringEngine(const EngineConfig& config, TransferHook* hook)
      : tracker_(config.block_size), buffer_slots_(kBufferSlots), file_slots_(kFileSlots) {
    for (uint32_t i = 0; i < config.threads; ++i) {
      int attach_to = config.sqpoll && !rings_.empty() ? rings_.front()->fd() : -1;
      rings_.push_back(std::make_unique<Ring>(tracker_, hook, config, attach_to));
      // Sparse tables, filled by register_buffer/register_file; kernels without them just
      // run without fixed buffers or files.
      if (io_uring_register_buffers_sparse(rings_.back()->ring(), kBufferSlots) < 0) {
        fixed_buffers_ = false;
      }
      if (io_uring_register_files_sparse(rings_.back()->ring(), kFileSlots) < 0) {
        fixed_files_ = false;
      }
    }
    try {
      for (auto& ring : rings_) ring->start();
    } catch (...) {
      for (auto& ring : rings_) ring->stop();
      throw;
    }
  }

  ~UringEngine() override {
    tracker_.wait_idle();
    for (auto& ring : rings_) ring->stop();
  }

  std::string_view name() const noexcept override { return "uring"; }

  void submit(std::span<const Request> batch) override {
    std::vector<Piece> pieces;
    tracker_.start(batch, pieces);
    if (pieces.empty()) return;
    for (Piece& piece : pieces) piece.fixed_buffer = regions_.find(piece.buffer, piece.length);
    size_t n = rings_.size();
    size_t start = next_ring_.fetch_add(pieces.size(), std::memory_order_relaxed);
    for (size_t r = 0; r < n; ++r) {
      if (rings_[r]->is_current()) start = r;
    }
    // Piece i goes to ring (start + i) % n.
    for (size_t r = 0; r < n; ++r) rings_[r]->post(pieces, (r + n - start % n) % n, n);
  }

  bool register_buffer(void* base, size_t length) override {
    if (base == nullptr || length == 0) return false;
    std::lock_guard lock(register_mutex_);
    if (!fixed_buffers_) return false;
    auto chunks = static_cast<uint32_t>(support::div_ceil(length, kFixedChunk));
    int32_t entry = regions_.free_entry();
    int32_t first = entry < 0 ? -1 : take_slots(buffer_slots_, chunks);
    if (first < 0) {
      support::log().warn("cannot register {} bytes at {}: the fixed-buffer tables are full",
                          length, base);
      return false;
    }
    std::vector<iovec> iovs(chunks);
    for (uint32_t c = 0; c < chunks; ++c) {
      iovs[c].iov_base = static_cast<std::byte*>(base) + c * kFixedChunk;
      iovs[c].iov_len = std::min<uint64_t>(kFixedChunk, length - c * kFixedChunk);
    }
    for (size_t r = 0; r < rings_.size(); ++r) {
      int rc = io_uring_register_buffers_update_tag(rings_[r]->ring(), first, iovs.data(), nullptr,
                                                    chunks);
      if (rc < 0) {
        support::log().info("io_uring cannot register {} bytes at {} ({}); using them unfixed",
                            length, base, std::strerror(-rc));
        clear_buffer_slots(r, first, chunks);
        return false;
      }
    }
    regions_.set(entry, reinterpret_cast<uintptr_t>(base), length, first);
    return true;
  }

  void unregister_buffer(void* base) override {
    std::lock_guard lock(register_mutex_);
    int32_t entry = regions_.entry_at(reinterpret_cast<uintptr_t>(base));
    if (entry < 0) return;
    uint32_t first = regions_.first_slot(entry);
    auto chunks = static_cast<uint32_t>(support::div_ceil(regions_.length(entry), kFixedChunk));
    regions_.set(entry, 0, 0, 0);
    clear_buffer_slots(rings_.size(), first, chunks);
  }

  bool register_file(File& file) override {
    std::lock_guard lock(register_mutex_);
    if (!fixed_files_ || file.registered >= 0) return file.registered >= 0;
    int32_t slot = take_slots(file_slots_, 1);
    if (slot < 0) return false;
    for (size_t r = 0; r < rings_.size(); ++r) {
      int rc = io_uring_register_files_update(rings_[r]->ring(), slot, &file.fd, 1);
      if (rc < 0) {
        support::log().info("io_uring cannot register {} ({})", file.path, std::strerror(-rc));
        clear_file_slot(r, slot);
        return false;
      }
    }
    file.registered = slot;
    return true;
  }

  void unregister_file(File& file) override {
    std::lock_guard lock(register_mutex_);
    if (file.registered < 0) return;
    clear_file_slot(rings_.size(), file.registered);
    file.registered = -1;
  }

 private:
  // Empties fixed-buffer slots [first, first + count) in rings [0, rings) and frees them.
  void clear_buffer_slots(size_t rings, uint32_t first, uint32_t count) {
    std::vector<iovec> empty(count, iovec{nullptr, 0});
    for (size_t r = 0; r < rings; ++r) {
      io_uring_register_buffers_update_tag(rings_[r]->ring(), first, empty.data(), nullptr, count);
    }
    for (uint32_t i = first; i < first + count; ++i) buffer_slots_[i] = false;
  }

  // Empties a registered-file slot in rings [0, rings) and frees it.
  void clear_file_slot(size_t rings, int32_t slot) {
    int none = -1;
    for (size_t r = 0; r < rings; ++r) {
      io_uring_register_files_update(rings_[r]->ring(), slot, &none, 1);
    }
    file_slots_[slot] = false;
  }

  RequestTracker tracker_;  // declared first: the rings use it until they stop
  std::vector<std::unique_ptr<Ring>> rings_;
  std::atomic<size_t> next_ring_{0};
  RegionTable regions_;
  std::mutex register_mutex_;  // guards the slot maps and every registration call
  std::vector<bool> buffer_slots_;
  std::vector<bool> file_slots_;
  bool fixed_buffers_ = true;
  bool fixed_files_ = true;
};

}  // namespace

std::unique_ptr<Engine> make_uring_engine(const EngineConfig& config, TransferHook* hook) {
  check_config(config);
  return std::make_unique<UringEngine>(config, hook);
}

}  // namespace tiermem::io
