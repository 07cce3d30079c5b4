// tiermem/file_io.hpp: asynchronous reads and writes of a caller's memory to files.
//
// What DeepNVMe's aio_handle offers, without its traps: every request has its own handle (a
// future or a callback; no handle-wide wait), every completion is checked and short transfers
// are continued, any memory address, offset and length works under O_DIRECT (nothing is
// dropped), and file systems that refuse O_DIRECT fall back to buffered I/O with a log line.
// Needs no Pool.
//
//   tiermem::FileIo io;                          // io_uring (else psync), config.io defaults
//   tiermem::IoFile file = io.open("/nvme/ckpt.bin", tiermem::OpenMode::read_write);
//   file.write(bytes, 0);                        // blocks; throws tiermem::Error
//   std::future<void> pending = file.read_async(buffer, 0);
//   pending.get();                               // throws that request's tiermem::Error
//
// How unaligned requests go under O_DIRECT: the whole blocks of the request move directly
// between the caller's memory and the disk. The partial blocks at either end go through the
// kernel's page cache on a second, buffered descriptor of the same file: the kernel then does
// the read-modify-write of each partial block under its own page lock, so neighbouring
// unaligned writes in flight at once (tensors written back to back) cannot undo each other,
// and a write that ends inside a block leaves the file exactly as long as it should be. The
// split is at page (and file-system block) boundaries, so direct and buffered I/O of one
// request never share a page. Where the caller's memory is not aligned for O_DIRECT, the whole
// blocks go through bounce buffers (LockedBuffers of io.block_size bytes, io.queue_depth of them
// per request), copied on the I/O threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tiermem/config.hpp"
#include "tiermem/export.h"

namespace tiermem {

// read: the file must exist. write and read_write: the file is created (mode 0600) when
// missing; an existing file is never truncated (see IoFile::truncate).
enum class OpenMode { read, write, read_write };

// Told once that an asynchronous request ended: error is null on success, else it holds the
// tiermem::Error(io) of the request. Called on an I/O thread; it must not block for long (it
// holds up other completions), may start new requests, and must not destroy the IoFile or
// FileIo it came from.
using IoCallback = std::function<void(std::exception_ptr error)>;

class IoFile;
class BufferRegistration;

// An I/O engine and its threads. Cheap to share: IoFiles and BufferRegistrations keep the
// engine alive, so they may outlive the FileIo they came from.
//
// Thread safety: every call may be made from any thread at once.
class TIERMEM_API FileIo {
 public:
  // Starts the engine named by config.engine ("auto": io_uring, else psync with a log line)
  // with config.threads, queue_depth, block_size and sqpoll. Throws Error(invalid_argument)
  // naming a value out of range, Error(unsupported) when "uring" is asked for and io_uring
  // cannot be set up here.
  explicit FileIo(const IoConfig& config = IoConfig{});
  ~FileIo();
  FileIo(FileIo&&) noexcept;
  FileIo& operator=(FileIo&&) noexcept;
  FileIo(const FileIo&) = delete;
  FileIo& operator=(const FileIo&) = delete;

  // "uring" or "psync".
  std::string_view engine() const noexcept;

  // Opens path. direct asks for O_DIRECT; where the file system refuses it, the file is used
  // buffered (IoFile::direct() says which) and a line is logged. Throws Error(system) naming
  // the path and errno.
  IoFile open(const std::string& path, OpenMode mode, bool direct = true);

  // Registers memory that many requests will use (io_uring fixed buffers), so the kernel
  // need not pin its pages for every request. Requests work the same without it. The
  // registration ends when the returned object is destroyed: destroy it before the memory is
  // freed, and only when no request on the memory is in flight.
  BufferRegistration register_buffer(std::span<std::byte> memory);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

class TIERMEM_API BufferRegistration {
 public:
  BufferRegistration() = default;
  BufferRegistration(BufferRegistration&& other) noexcept;
  BufferRegistration& operator=(BufferRegistration&& other) noexcept;
  BufferRegistration(const BufferRegistration&) = delete;
  BufferRegistration& operator=(const BufferRegistration&) = delete;
  ~BufferRegistration();

  // False when the engine could not register the memory (RLIMIT_MEMLOCK, or the psync engine
  // has no such thing); requests on it work all the same.
  bool active() const noexcept { return base_ != nullptr; }

 private:
  friend class FileIo;
  BufferRegistration(std::shared_ptr<FileIo::Impl> io, void* base) noexcept
      : io_(std::move(io)), base_(base) {}

  std::shared_ptr<FileIo::Impl> io_;
  void* base_ = nullptr;
};

// An open file bound to a FileIo's engine.
//
// Thread safety: every call may be made from any thread at once. Requests in flight at the
// same time must not overlap in the file where one of them writes (the result would be
// whichever landed last, as with pwrite); the caller's memory must stay valid and untouched
// (for reads) until the request ends.
class TIERMEM_API IoFile {
 public:
  IoFile() noexcept;  // not open
  IoFile(IoFile&& other) noexcept;
  IoFile& operator=(IoFile&& other) noexcept;
  IoFile(const IoFile&) = delete;
  IoFile& operator=(const IoFile&) = delete;
  // Waits for this file's requests, then closes it.
  ~IoFile();

  bool is_open() const noexcept { return state_ != nullptr; }
  std::string_view path() const noexcept;  // empty when not open
  // True when the file is used with O_DIRECT.
  bool direct() const noexcept;

  // Blocking reads and writes of all of the span at offset. Throw Error(io) naming the file,
  // the failing offset and errno (a read past the end of the file: ENODATA, at the offset
  // where the file ends), Error(invalid_argument) when the file is not open or offset + length
  // overflows.
  void read(std::span<std::byte> buffer, uint64_t offset);
  void write(std::span<const std::byte> data, uint64_t offset);

  // The same without blocking: the future holds the request's Error, if any. Errors in the
  // arguments throw at once, as for read/write.
  std::future<void> read_async(std::span<std::byte> buffer, uint64_t offset);
  std::future<void> write_async(std::span<const std::byte> data, uint64_t offset);
  // The same with a callback instead of a future (cheaper where requests are many).
  void read_async(std::span<std::byte> buffer, uint64_t offset, IoCallback done);
  void write_async(std::span<const std::byte> data, uint64_t offset, IoCallback done);

  // The file's size, and setting it (ftruncate). Throw Error(system) naming the file.
  uint64_t size() const;
  void truncate(uint64_t size);
  // Makes every completed write durable (fdatasync). Throws Error(io) naming the file.
  void sync();

  // Waits for this file's requests, then closes it; the IoFile is not open afterwards.
  void close() noexcept;

  struct State;

 private:
  friend class FileIo;
  TIERMEM_INTERNAL explicit IoFile(std::unique_ptr<State> state) noexcept;
  TIERMEM_INTERNAL void start(bool write, std::byte* memory, uint64_t length, uint64_t offset,
                              IoCallback done);

  std::unique_ptr<State> state_;
};

}  // namespace tiermem
