// checkpoint/file_writer.cpp: write_safetensors.
#include "checkpoint/file_writer.hpp"

#include <fmt/format.h>

#include <cassert>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>

#include "checkpoint/safetensors_format.hpp"
#include "persist/checksum.hpp"
#include "persist/durable_file.hpp"

namespace tiermem::checkpoint {

namespace {

// The staging buffers in flight: which are being written, and the first error.
class Inflight {
 public:
  explicit Inflight(uint32_t count) : busy_(count, false) {}

  // Waits until buffer i is free; rethrows the first write error.
  void acquire(uint32_t i) {
    std::unique_lock lock(mutex_);
    freed_.wait(lock, [&] { return !busy_[i] || error_; });
    if (error_) std::rethrow_exception(error_);
    busy_[i] = true;
  }
  void release(uint32_t i, std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    busy_[i] = false;
    if (error && !error_) error_ = error;
    freed_.notify_all();
  }
  // Waits for every buffer; rethrows the first write error.
  void drain() {
    std::unique_lock lock(mutex_);
    freed_.wait(lock,
                [&] { return std::none_of(busy_.begin(), busy_.end(), [](bool b) { return b; }); });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<bool> busy_;
  std::exception_ptr error_;
};

}  // namespace

std::string checksum_key(const std::string& tensor) {
  return "tiermem.xxh3." + tensor;
}

WrittenFile write_safetensors(Snapshot& snapshot, const std::vector<size_t>& tensors,
                              const std::string& target,
                              const std::map<std::string, std::string>& metadata, bool checksums,
                              FileIo& io, const StagingMemory& staging) {
  std::vector<SafetensorsTensor> layout;
  std::map<std::string, std::string> meta = metadata;
  uint64_t data_bytes = 0;
  for (size_t i : tensors) {
    const Snapshot::Info& info = snapshot.info(i);
    layout.push_back({info.name, info.dtype, info.shape, data_bytes, data_bytes + info.bytes});
    data_bytes += info.bytes;
    if (checksums) meta[checksum_key(info.name)] = std::string(16, '0');
  }
  const uint64_t data_offset = encode_header(layout, meta).size();

  persist::TempFile temp(target);
  temp.reserve(data_offset + data_bytes);
  IoFile file = io.open(temp.path(), OpenMode::write, /*direct=*/true);
  Inflight inflight(staging.count());
  persist::Checksum hash;
  // Fill the buffers in turn; each is written as soon as it is full (or the data end).
  uint32_t current = 0;
  uint64_t fill = 0;
  uint64_t written = 0;  // data bytes handed to the engine
  auto submit = [&] {
    const std::span<std::byte> buffer = staging.buffer(current).first(fill);
    file.write_async(buffer, data_offset + written,
                     [&inflight, i = current](std::exception_ptr error) {
                       inflight.release(i, std::move(error));
                     });
    written += fill;
    fill = 0;
    current = (current + 1) % staging.count();
  };
  try {
    inflight.acquire(current);
    for (size_t n = 0; n < tensors.size(); ++n) {
      const Snapshot::Info& info = snapshot.info(tensors[n]);
      hash.reset();
      for (uint64_t offset = 0; offset < info.bytes;) {
        const std::span<std::byte> room = staging.buffer(current).subspan(fill);
        const uint64_t length = std::min<uint64_t>(room.size(), info.bytes - offset);
        snapshot.copy(tensors[n], offset, room.first(length), checksums ? &hash : nullptr);
        offset += length;
        fill += length;
        if (fill == staging.buffer(current).size()) {
          submit();
          inflight.acquire(current);
        }
      }
      if (checksums) {
        meta[checksum_key(info.name)] = fmt::format("{:016x}", hash.digest());
      }
    }
    if (fill > 0) {
      submit();
    } else {
      inflight.release(current, nullptr);
    }
    inflight.drain();
  } catch (...) {
    // No write may outlive the buffers and the file: wait for those in flight.
    try {
      inflight.release(current, nullptr);
      inflight.drain();
    } catch (...) {
    }
    throw;
  }
  const std::string header = encode_header(layout, meta);
  assert(header.size() == data_offset && "checksums have a fixed width");
  file.write(std::as_bytes(std::span(header)), 0);
  file.sync();
  const bool direct = file.direct();
  file.close();
  temp.publish();
  return {data_offset + data_bytes, direct};
}

}  // namespace tiermem::checkpoint
