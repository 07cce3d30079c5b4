// tiermem/file_io.cpp: FileIo, IoFile and BufferRegistration on top of an io::Engine.
//
// A request becomes up to three kinds of engine requests: the partial blocks at its ends on
// the buffered descriptor, the whole blocks directly on the caller's memory, or, where that
// memory is misaligned for O_DIRECT, the whole blocks through bounce buffers that each chain
// to the next piece from their completion. An Operation counts its engine requests and
// reports once, with the lowest failing offset, when the last one ends.
#include "tiermem/file_io.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <vector>

#include "io/engine.hpp"
#include "support/align.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"
#include "tiermem/io_config.hpp"
#include "tiermem/locked_buffer.hpp"

namespace tiermem {

namespace {

constexpr unsigned kStatxDioAlign = 0x2000;  // STATX_DIOALIGN; glibc 2.36 lacks the name
constexpr uint64_t kDefaultAlign = 4096;     // where the kernel does not say
// Bounce pieces are a multiple of this, so that any file's granule divides them.
constexpr uint64_t kMaxGranule = 64 << 10;

std::string errno_text(int error) {
  return fmt::format("{} (errno {})", std::strerror(error), error);
}

// The kernel's O_DIRECT alignment of an open file: {memory, file offset}; {0, 0} when the file
// system says it cannot do direct I/O.
std::pair<uint64_t, uint64_t> direct_alignment(int fd) {
  struct statx st {};
  if (statx(fd, "", AT_EMPTY_PATH, kStatxDioAlign, &st) != 0 ||
      (st.stx_mask & kStatxDioAlign) == 0) {
    return {kDefaultAlign, kDefaultAlign};
  }
  // The kernel's stx_dio_mem_align and stx_dio_offset_align follow stx_dev_minor and
  // stx_mnt_id; glibc 2.36 has them in unnamed padding.
  uint32_t align[2];
  std::memcpy(align,
              reinterpret_cast<const unsigned char*>(&st) + offsetof(struct statx, stx_dev_minor) +
                  sizeof(uint32_t) + sizeof(uint64_t),
              sizeof align);
  return {align[0], align[1]};
}

}  // namespace

struct FileIo::Impl {
  Impl(const IoConfig& config, std::unique_ptr<io::Engine> e)
      : engine(std::move(e)),
        window(config.queue_depth),
        bounce_piece(support::round_up(config.block_size, kMaxGranule)) {}

  std::unique_ptr<io::Engine> engine;
  const uint32_t window;        // bounce pieces in flight per request
  const uint64_t bounce_piece;  // bytes of one bounce piece
};

struct IoFile::State {
  ~State() {
    wait_idle();
    if (direct_file.fd >= 0) {
      io->engine->unregister_file(direct_file);
      ::close(direct_file.fd);
    }
    ::close(buffered_file.fd);
  }

  void begin_request() {
    std::lock_guard lock(mutex);
    ++in_flight;
  }
  void end_request() noexcept {
    std::lock_guard lock(mutex);
    assert(in_flight > 0);
    if (--in_flight == 0) idle.notify_all();
  }
  void wait_idle() {
    std::unique_lock lock(mutex);
    idle.wait(lock, [this] { return in_flight == 0; });
  }

  std::shared_ptr<FileIo::Impl> io;
  std::string path;
  io::File buffered_file;  // always open: partial blocks, and everything when not direct
  io::File direct_file;    // fd -1 when the file is used buffered
  uint64_t mem_align = kDefaultAlign;
  // Direct I/O only in whole granules: the file offset alignment, at least one page, so that
  // no page is touched by direct and buffered I/O of one request.
  uint64_t granule = kDefaultAlign;

  std::mutex mutex;
  std::condition_variable idle;
  uint64_t in_flight = 0;
};

namespace {

class Operation;

// One engine request of an operation.
class Part final : public io::Completion {
 public:
  Part(Operation& op, const io::File& file, uint64_t offset, std::byte* memory, uint64_t length,
       bool write)
      : op_(op),
        request_{write ? io::Op::write : io::Op::read, &file, offset, memory, length, this} {}

  const io::Request& request() const noexcept { return request_; }
  io::Request& request() noexcept { return request_; }
  // Bounce parts only: request().buffer points into it. LockedBuffers come from an arena that
  // keeps and reuses them, so this costs no mapping or locking after the first time.
  LockedBuffer bounce;

  void complete(const io::Result& result) noexcept override;

 private:
  Operation& op_;
  io::Request request_;
};

// One caller request.
class Operation {
 public:
  Operation(IoFile::State& file, bool write, std::byte* memory, uint64_t offset, uint64_t length,
            IoCallback done)
      : file_(file),
        write_(write),
        memory_(memory),
        offset_(offset),
        length_(length),
        done_(std::move(done)) {}

  IoFile::State& file() const noexcept { return file_; }
  bool write() const noexcept { return write_; }
  std::byte* memory_at(uint64_t file_offset) const noexcept {
    return memory_ + (file_offset - offset_);
  }

  // Builds the engine requests, submits them and lets go: the last to end reports.
  void start() {
    std::vector<Part*> parts;
    try {
      plan(parts);
      std::vector<io::Request> batch;
      for (Part* part : parts) batch.push_back(part->request());
      pending_.fetch_add(static_cast<uint32_t>(parts.size()), std::memory_order_relaxed);
      file_.io->engine->submit(batch);
    } catch (...) {
      for (Part* part : parts) delete part;
      file_.end_request();
      delete this;
      throw;
    }
    finish_one();  // the guard that kept the count above zero while submitting
  }

  void fail(int error, uint64_t offset) noexcept {
    failed_.store(true, std::memory_order_relaxed);
    std::lock_guard lock(error_mutex_);
    if (offset < error_offset_) {
      error_ = error;
      error_offset_ = offset;
    }
  }

  // Points a bounce part at the next piece of the bounce range (filling it first for a write).
  // False when the range is done, or another piece failed.
  bool next_bounce(Part& part) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return false;
    uint64_t piece = file_.io->bounce_piece;
    uint64_t at = bounce_next_.fetch_add(piece, std::memory_order_relaxed);
    if (at >= bounce_end_) return false;
    io::Request& request = part.request();
    request.offset = at;
    request.length = std::min(piece, bounce_end_ - at);
    if (write_) std::memcpy(part.bounce.data(), memory_at(at), request.length);
    return true;
  }

  void finish_one() noexcept {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::exception_ptr error;
    if (error_ != 0) error = std::make_exception_ptr(make_error());
    IoFile::State& file = file_;
    IoCallback done = std::move(done_);
    delete this;
    done(error);
    file.end_request();
  }

 private:
  void plan(std::vector<Part*>& parts) {
    const uint64_t end = offset_ + length_;
    auto add = [&](const io::File& f, uint64_t from, uint64_t to) {
      parts.push_back(new Part(*this, f, from, memory_at(from), to - from, write_));
    };
    if (length_ == 0) return;
    if (file_.direct_file.fd < 0) {
      add(file_.buffered_file, offset_, end);
      return;
    }
    uint64_t g = file_.granule;
    uint64_t head_end = std::min(support::round_up(offset_, g), end);
    uint64_t tail_begin = std::max(end & ~(g - 1), head_end);
    if (head_end > offset_) add(file_.buffered_file, offset_, head_end);
    if (end > tail_begin) add(file_.buffered_file, tail_begin, end);
    if (tail_begin == head_end) return;
    if (reinterpret_cast<uintptr_t>(memory_at(head_end)) % file_.mem_align == 0) {
      add(file_.direct_file, head_end, tail_begin);
      return;
    }
    bounce_next_.store(head_end, std::memory_order_relaxed);
    bounce_end_ = tail_begin;
    // No more buffers than pieces: a short range must not allocate one only to find it done.
    const uint64_t pieces = std::min<uint64_t>(
        file_.io->window, support::div_ceil(tail_begin - head_end, file_.io->bounce_piece));
    for (uint64_t i = 0; i < pieces; ++i) {
      auto part = std::make_unique<Part>(*this, file_.direct_file, 0, nullptr, 0, write_);
      part->bounce = LockedBuffer::allocate(file_.io->bounce_piece);
      part->request().buffer = part->bounce.data();
      next_bounce(*part);  // true: nothing has started, so nothing has failed
      parts.push_back(part.release());
    }
  }

  Error make_error() const {
    const char* verb = write_ ? "writing" : "reading";
    if (error_ == ENODATA && !write_) {
      return Error(Errc::io,
                   fmt::format("reading {}: the file ends at offset {}, inside the request of {} "
                               "bytes at offset {}",
                               file_.path, error_offset_, length_, offset_),
                   error_);
    }
    return Error(Errc::io,
                 fmt::format("{} {}: {} at offset {} (request of {} bytes at offset {})", verb,
                             file_.path, errno_text(error_), error_offset_, length_, offset_),
                 error_);
  }

  IoFile::State& file_;
  const bool write_;
  std::byte* const memory_;
  const uint64_t offset_;
  const uint64_t length_;
  IoCallback done_;
  std::atomic<uint32_t> pending_{1};
  std::atomic<bool> failed_{false};
  std::mutex error_mutex_;
  int error_ = 0;
  uint64_t error_offset_ = UINT64_MAX;
  std::atomic<uint64_t> bounce_next_{0};
  uint64_t bounce_end_ = 0;
};

void Part::complete(const io::Result& result) noexcept {
  Operation& op = op_;
  if (result.error != 0) op.fail(result.error, result.error_offset);
  if (bounce.data() != nullptr) {
    if (result.error == 0 && !op.write()) {
      std::memcpy(op.memory_at(request_.offset), bounce.data(), request_.length);
    }
    if (op.next_bounce(*this)) {
      op.file().io->engine->submit({&request_, 1});
      return;
    }
  }
  delete this;
  op.finish_one();
}

int open_flags(OpenMode mode) {
  switch (mode) {
    case OpenMode::read:
      return O_RDONLY;
    case OpenMode::write:
      return O_WRONLY | O_CREAT;
    case OpenMode::read_write:
      return O_RDWR | O_CREAT;
  }
  throw Error(Errc::invalid_argument, fmt::format("unknown open mode {}", static_cast<int>(mode)));
}

}  // namespace

// --- FileIo ---

FileIo::FileIo(const IoConfig& config)
    : impl_(std::make_shared<Impl>(config, detail::make_io_engine(config))) {}
FileIo::~FileIo() = default;
FileIo::FileIo(FileIo&&) noexcept = default;
FileIo& FileIo::operator=(FileIo&&) noexcept = default;

std::string_view FileIo::engine() const noexcept {
  return impl_->engine->name();
}

IoFile FileIo::open(const std::string& path, OpenMode mode, bool direct) {
  auto state = std::make_unique<IoFile::State>();
  state->io = impl_;
  state->path = path;
  int flags = open_flags(mode) | O_CLOEXEC;
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    int error = errno;
    throw Error(Errc::system, fmt::format("opening {}: {}", path, errno_text(error)), error);
  }
  // From here on the State closes what is open if anything throws.
  state->buffered_file = io::File{fd, path, false, -1};
  if (!direct) return IoFile(std::move(state));

  int direct_fd = ::open(path.c_str(), (flags & ~O_CREAT) | O_DIRECT);
  if (direct_fd < 0 && errno != EINVAL) {
    int error = errno;
    throw Error(Errc::system, fmt::format("opening {} with O_DIRECT: {}", path, errno_text(error)),
                error);
  }
  if (direct_fd >= 0) {
    struct stat a {};
    struct stat b {};
    if (fstat(fd, &a) != 0 || fstat(direct_fd, &b) != 0 || a.st_dev != b.st_dev ||
        a.st_ino != b.st_ino) {
      ::close(direct_fd);
      throw Error(Errc::system, fmt::format("{} was replaced while it was being opened", path));
    }
    auto [mem_align, offset_align] = direct_alignment(direct_fd);
    uint64_t granule = std::max<uint64_t>(offset_align, static_cast<uint64_t>(getpagesize()));
    if (offset_align == 0 || !support::is_pow2(granule) || granule > kMaxGranule) {
      ::close(direct_fd);
      direct_fd = -1;
    } else {
      state->mem_align = std::max<uint64_t>(mem_align, 1);
      state->granule = granule;
    }
  }
  if (direct_fd < 0) {
    support::log().info("{}: the file system refuses O_DIRECT; using buffered I/O", path);
    return IoFile(std::move(state));
  }
  state->direct_file = io::File{direct_fd, path, true, -1};
  impl_->engine->register_file(state->direct_file);
  return IoFile(std::move(state));
}

BufferRegistration FileIo::register_buffer(std::span<std::byte> memory) {
  if (!impl_->engine->register_buffer(memory.data(), memory.size())) return {};
  return BufferRegistration(impl_, memory.data());
}

// --- BufferRegistration ---

BufferRegistration::BufferRegistration(BufferRegistration&& other) noexcept
    : io_(std::move(other.io_)), base_(std::exchange(other.base_, nullptr)) {}

BufferRegistration& BufferRegistration::operator=(BufferRegistration&& other) noexcept {
  if (this != &other) {
    BufferRegistration old(std::move(*this));
    io_ = std::move(other.io_);
    base_ = std::exchange(other.base_, nullptr);
  }
  return *this;
}

BufferRegistration::~BufferRegistration() {
  if (base_ != nullptr) io_->engine->unregister_buffer(base_);
}

// --- IoFile ---

IoFile::IoFile() noexcept = default;
IoFile::IoFile(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
IoFile::IoFile(IoFile&& other) noexcept = default;
IoFile& IoFile::operator=(IoFile&& other) noexcept = default;
IoFile::~IoFile() = default;

std::string_view IoFile::path() const noexcept {
  return state_ ? std::string_view(state_->path) : std::string_view();
}

bool IoFile::direct() const noexcept {
  return state_ && state_->direct_file.fd >= 0;
}

void IoFile::close() noexcept {
  state_.reset();
}

void IoFile::start(bool write, std::byte* memory, uint64_t length, uint64_t offset,
                   IoCallback done) {
  if (!state_) throw Error(Errc::invalid_argument, "the IoFile is not open");
  if (offset + length < offset) {
    throw Error(Errc::invalid_argument,
                fmt::format("{}: offset {} + length {} overflows", state_->path, offset, length));
  }
  state_->begin_request();
  (new Operation(*state_, write, memory, offset, length, std::move(done)))->start();
}

void IoFile::read_async(std::span<std::byte> buffer, uint64_t offset, IoCallback done) {
  start(false, buffer.data(), buffer.size(), offset, std::move(done));
}

void IoFile::write_async(std::span<const std::byte> data, uint64_t offset, IoCallback done) {
  // Writes only read the memory; the engine's requests have one pointer type for both.
  start(true, const_cast<std::byte*>(data.data()), data.size(), offset, std::move(done));
}

namespace {

// A callback that settles a promise, and the future to wait on.
std::pair<IoCallback, std::future<void>> promised() {
  auto promise = std::make_shared<std::promise<void>>();
  std::future<void> future = promise->get_future();
  IoCallback done = [promise](std::exception_ptr error) {
    if (error) {
      promise->set_exception(error);
    } else {
      promise->set_value();
    }
  };
  return {std::move(done), std::move(future)};
}

}  // namespace

std::future<void> IoFile::read_async(std::span<std::byte> buffer, uint64_t offset) {
  auto [done, future] = promised();
  read_async(buffer, offset, std::move(done));
  return std::move(future);
}

std::future<void> IoFile::write_async(std::span<const std::byte> data, uint64_t offset) {
  auto [done, future] = promised();
  write_async(data, offset, std::move(done));
  return std::move(future);
}

void IoFile::read(std::span<std::byte> buffer, uint64_t offset) {
  read_async(buffer, offset).get();
}

void IoFile::write(std::span<const std::byte> data, uint64_t offset) {
  write_async(data, offset).get();
}

uint64_t IoFile::size() const {
  if (!state_) throw Error(Errc::invalid_argument, "the IoFile is not open");
  struct stat st {};
  if (fstat(state_->buffered_file.fd, &st) != 0) {
    int error = errno;
    throw Error(Errc::system, fmt::format("stat {}: {}", state_->path, errno_text(error)), error);
  }
  return static_cast<uint64_t>(st.st_size);
}

void IoFile::truncate(uint64_t size) {
  if (!state_) throw Error(Errc::invalid_argument, "the IoFile is not open");
  if (ftruncate(state_->buffered_file.fd, static_cast<off_t>(size)) != 0) {
    int error = errno;
    throw Error(Errc::system,
                fmt::format("truncating {} to {} bytes: {}", state_->path, size, errno_text(error)),
                error);
  }
}

void IoFile::sync() {
  if (!state_) throw Error(Errc::invalid_argument, "the IoFile is not open");
  // One descriptor is enough: fdatasync writes back every dirty page of the file.
  if (fdatasync(state_->buffered_file.fd) != 0) {
    int error = errno;
    throw Error(Errc::io, fmt::format("syncing {}: {}", state_->path, errno_text(error)), error);
  }
}

}  // namespace tiermem
