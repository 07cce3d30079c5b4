// io/psync_engine.cpp: the fallback engine: a pool of threads doing pread/pwrite.
//
// For machines where io_uring cannot be set up (old kernels, seccomp, container policy).
// Requests are split into block_size pieces on one shared queue; each thread takes a piece and
// moves it completely (continuing short transfers, retrying EAGAIN/EINTR), so `threads` is the
// number of pieces in flight.
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "io/engines.hpp"
#include "io/piece.hpp"
#include "io/request_tracker.hpp"

namespace tiermem::io {

namespace {

class PsyncEngine final : public Engine {
 public:
  PsyncEngine(const EngineConfig& config, TransferHook* hook)
      : tracker_(config.block_size), hook_(hook) {
    try {
      for (uint32_t i = 0; i < config.threads; ++i) threads_.emplace_back([this] { run(); });
    } catch (...) {
      stop();
      throw;
    }
  }

  ~PsyncEngine() override {
    tracker_.wait_idle();
    stop();
  }

  std::string_view name() const noexcept override { return "psync"; }

  void submit(std::span<const Request> batch) override {
    std::vector<Piece> pieces;
    tracker_.start(batch, pieces);
    if (pieces.empty()) return;
    {
      std::lock_guard lock(mutex_);
      queue_.insert(queue_.end(), pieces.begin(), pieces.end());
    }
    if (pieces.size() == 1) {
      ready_.notify_one();
    } else {
      ready_.notify_all();
    }
  }

  // pread/pwrite have no idea of registered memory or files.
  bool register_buffer(void*, size_t) override { return false; }
  bool register_file(File&) override { return false; }

 private:
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

  void run() {
    for (;;) {
      Piece piece;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        piece = queue_.front();
        queue_.pop_front();
      }
      move(piece);
      tracker_.finish(piece);
    }
  }

  void move(Piece& piece) const {
    for (;;) {
      int64_t result = piece.next_call(hook_);
      if (result >= 0) {
        auto length = static_cast<size_t>(result);
        auto offset = static_cast<off_t>(piece.next_offset());
        ssize_t moved = piece.op == Op::read
                            ? pread(piece.file->fd, piece.next_buffer(), length, offset)
                            : pwrite(piece.file->fd, piece.next_buffer(), length, offset);
        result = moved < 0 ? -errno : moved;
      }
      if (piece.advance(result) == Piece::Step::finished) return;
    }
  }

  RequestTracker tracker_;
  TransferHook* const hook_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Piece> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

std::unique_ptr<Engine> make_psync_engine(const EngineConfig& config, TransferHook* hook) {
  check_config(config);
  return std::make_unique<PsyncEngine>(config, hook);
}

}  // namespace tiermem::io
