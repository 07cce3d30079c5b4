// io/piece.hpp: one block_size piece of a request on its way through an engine, and the rules
// every engine applies to the result of each system call on it: a short transfer is continued
// for the remainder, EAGAIN/EINTR are retried, an error or an early end of file stops it.
#pragma once

#include <cassert>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "io/engine.hpp"
#include "io/transfer_hook.hpp"

namespace tiermem::io {

struct RequestState;  // io/request_tracker.hpp

struct Piece {
  // One system call moves at most this much: io_uring lengths are 32-bit and pread/pwrite
  // stop at 0x7ffff000 bytes anyway.
  static constexpr uint64_t kMaxCall = 1ull << 30;
  // EAGAIN/EINTR this many times in a row on one piece is taken as the error itself, so that
  // a file that always refuses cannot keep a request alive for ever.
  static constexpr uint32_t kMaxRetries = 1000;

  enum class Step { again, finished };

  RequestState* request = nullptr;
  Op op = Op::read;
  const File* file = nullptr;
  uint64_t offset = 0;  // file offset of the piece's first byte
  std::byte* buffer = nullptr;
  uint64_t length = 0;
  uint64_t done = 0;          // bytes transferred so far
  int32_t fixed_buffer = -1;  // io_uring fixed-buffer index covering the piece, or -1
  uint32_t retries = 0;       // consecutive EAGAIN/EINTR
  int error = 0;              // set when the piece failed
  uint64_t error_offset = 0;

  uint64_t next_offset() const noexcept { return offset + done; }
  std::byte* next_buffer() const noexcept { return buffer + done; }
  uint64_t remaining() const noexcept { return length - done; }

  // The length of the next system call, or a negative errno the hook made up for it.
  int64_t next_call(TransferHook* hook) const noexcept {
    uint64_t want = remaining() < kMaxCall ? remaining() : kMaxCall;
    if (hook == nullptr) return static_cast<int64_t>(want);
    int64_t got = hook->before_transfer(op, *file, next_offset(), want);
    assert(got < 0 || (got >= 1 && static_cast<uint64_t>(got) <= want));
    return got;
  }

  // Applies one system call's result: bytes moved, or -errno. Returns again when another call
  // is needed (the remainder of a short transfer, or a retry), finished when the piece is done
  // or failed (error says which).
  Step advance(int64_t result) noexcept {
    if (result > 0) {
      done += static_cast<uint64_t>(result);
      assert(done <= length);
      retries = 0;
      return done == length ? Step::finished : Step::again;
    }
    if ((result == -EAGAIN || result == -EINTR) && ++retries <= kMaxRetries) return Step::again;
    // 0 bytes: a read hit the end of the file; a write that moves nothing will never finish.
    error = result < 0 ? static_cast<int>(-result) : (op == Op::read ? ENODATA : EIO);
    error_offset = next_offset();
    return Step::finished;
  }
};

}  // namespace tiermem::io
