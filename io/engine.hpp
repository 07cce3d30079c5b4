// io/engine.hpp: the one interface every asynchronous I/O engine implements.
//
// An engine moves bytes between memory and files: requests are (file, offset, buffer, length)
// with their own completion. Engines know nothing of tensors, pages or tiers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace tiermem::io {

enum class Op : uint8_t { read, write };

// An open file as engines see it. The caller owns it; it must outlive every request on it.
struct File {
  int fd = -1;
  std::string path;         // for error messages
  bool direct = false;      // opened with O_DIRECT: offsets, lengths and buffers are aligned
  int32_t registered = -1;  // slot in the engine's registered-file table; set by register_file
};

// How a request ended. bytes == the request's length exactly when error == 0. A read that
// meets the end of the file before its length ends with error ENODATA, error_offset the offset
// where the file ended. A write the kernel accepts no byte of ends with EIO.
struct Result {
  uint64_t bytes = 0;         // bytes transferred
  int error = 0;              // 0, or the errno of the first piece that failed
  uint64_t error_offset = 0;  // file offset of that piece
};

// Told once per request that it ended. Called on an engine thread (or inline, in submit, by
// engines that complete synchronously), never with an engine lock held: it may call submit()
// again. It must not block for long: it holds up the other completions of its thread.
class Completion {
 public:
  virtual void complete(const Result& result) noexcept = 0;

 protected:
  ~Completion() = default;
};

struct Request {
  Op op = Op::read;
  const File* file = nullptr;
  uint64_t offset = 0;
  void* buffer = nullptr;
  uint64_t length = 0;
  Completion* done = nullptr;  // not owned; must live until complete() returns
};

struct EngineConfig {
  std::string kind = "auto";      // auto (uring, else psync with a log line), uring, psync
  uint32_t threads = 2;           // rings, or worker threads for psync
  uint32_t queue_depth = 32;      // requests in flight per ring
  uint64_t block_size = 1 << 20;  // requests are split into pieces of at most this many bytes
  bool sqpoll = false;            // io_uring kernel-side submission polling
};

// Thread safety: every member may be called from any thread at once, including from inside a
// completion. Errors in setting up throw tiermem::Error; errors of requests arrive in Result.
class Engine {
 public:
  virtual ~Engine() = default;  // waits until every submitted request has completed

  // "uring" or "psync" (or the wrapped engine's name for wrappers).
  virtual std::string_view name() const noexcept = 0;

  // Starts every request of the batch and returns without waiting for any. Each request's
  // completion is called exactly once. A short transfer is continued for the remainder; an
  // error ends the request with that errno. Never blocks on I/O; it may wait briefly for
  // room in a submission queue.
  virtual void submit(std::span<const Request> batch) = 0;

  // Registers memory that requests will use often (io_uring fixed buffers), so that the
  // kernel need not pin its pages per request. Requests may use other memory too. Returns
  // false when the engine cannot register it (RLIMIT_MEMLOCK, or an engine without the idea);
  // requests still work then.
  virtual bool register_buffer(void* base, size_t length) = 0;

  // Forgets the region registered at base (no effect for a base never registered). The kernel
  // keeps registered pages pinned, so unregister before the memory is unmapped or given back
  // to an allocator, and only when no request on it is in flight or being submitted.
  virtual void unregister_buffer(void* base) { (void)base; }

  // Registers a file for faster lookups in the kernel; sets file.registered on success.
  // Returns false when the engine cannot; requests on the file still work then. Call it before
  // submitting requests on the file: file.registered is not synchronised with them.
  virtual bool register_file(File& file) = 0;

  // Forgets a registered file and sets file.registered to -1. The kernel holds the file open
  // while it is registered, so unregister before closing it, and only when no request on it
  // is in flight or being submitted.
  virtual void unregister_file(File& file) { file.registered = -1; }
};

// Builds the engine config.kind names. Throws tiermem::Error(unsupported) when "uring" is
// asked for and io_uring cannot be set up, Error(invalid_argument) for an unknown kind.
std::unique_ptr<Engine> make_engine(const EngineConfig& config);

}  // namespace tiermem::io
