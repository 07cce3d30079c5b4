// sim/byte_source.cpp: trace bytes from a file, through libzstd's streaming decompressor when
// the file holds zstd frames, so that memory stays one block however large the content.
#include "sim/byte_source.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "sim/file_io.hpp"
#include "tiermem/error.hpp"

namespace tiermem::sim {

namespace {

constexpr std::array<unsigned char, 4> kZstdMagic = {0x28, 0xB5, 0x2F, 0xFD};

}  // namespace

ByteSource::ByteSource(const std::string& path) : path_(path), fd_(open_for_reading(path)) {
  try {
    input_.resize(ZSTD_DStreamInSize());
    input_size_ = read_fully(fd_, input_, path_);
  } catch (...) {
    ::close(fd_);
    throw;
  }
  if (input_size_ >= kZstdMagic.size() &&
      std::memcmp(input_.data(), kZstdMagic.data(), kZstdMagic.size()) == 0) {
    stream_ = ZSTD_createDStream();
    if (stream_ == nullptr) {
      ::close(fd_);
      throw Error(Errc::system, fmt::format("cannot decompress {}: no memory for zstd", path_));
    }
  }
}

ByteSource::~ByteSource() {
  ZSTD_freeDStream(stream_);
  ::close(fd_);
}

std::span<const std::byte> ByteSource::peek(size_t n) {
  size_t have = peeked_.size() - peeked_used_;
  if (have < n) {
    peeked_.erase(peeked_.begin(), peeked_.begin() + static_cast<ptrdiff_t>(peeked_used_));
    peeked_used_ = 0;
    peeked_.resize(n);
    size_t got = stream_ ? decompress(std::span(peeked_).subspan(have))
                         : read_raw(std::span(peeked_).subspan(have));
    peeked_.resize(have + got);
  }
  return std::span<const std::byte>(peeked_).subspan(peeked_used_,
                                                     std::min(n, peeked_.size() - peeked_used_));
}

size_t ByteSource::read(std::span<std::byte> buffer) {
  size_t done = std::min(buffer.size(), peeked_.size() - peeked_used_);
  std::memcpy(buffer.data(), peeked_.data() + peeked_used_, done);
  peeked_used_ += done;
  if (done == buffer.size()) return done;
  buffer = buffer.subspan(done);
  return done + (stream_ ? decompress(buffer) : read_raw(buffer));
}

size_t ByteSource::read_raw(std::span<std::byte> buffer) {
  // What the constructor read ahead first, then the file.
  size_t done = std::min(buffer.size(), input_size_ - input_used_);
  std::memcpy(buffer.data(), input_.data() + input_used_, done);
  input_used_ += done;
  return done + read_fully(fd_, buffer.subspan(done), path_);
}

size_t ByteSource::decompress(std::span<std::byte> buffer) {
  ZSTD_outBuffer out{buffer.data(), buffer.size(), 0};
  while (out.pos < out.size) {
    if (input_used_ == input_size_) {
      input_size_ = read_fully(fd_, input_, path_);
      input_used_ = 0;
      if (input_size_ == 0) {
        if (frame_open_) {
          throw Error(
              Errc::invalid_argument,
              fmt::format("trace {}: truncated: the zstd stream ends inside a frame", path_));
        }
        break;
      }
    }
    ZSTD_inBuffer in{input_.data(), input_size_, input_used_};
    size_t hint = ZSTD_decompressStream(stream_, &out, &in);
    input_used_ = in.pos;
    if (ZSTD_isError(hint)) {
      throw Error(Errc::invalid_argument,
                  fmt::format("trace {}: corrupt zstd stream: {}", path_, ZSTD_getErrorName(hint)));
    }
    frame_open_ = hint != 0;  // 0: a frame has just ended
  }
  return out.pos;
}

}  // namespace tiermem::sim
