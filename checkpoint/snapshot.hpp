// checkpoint/snapshot.hpp: the tensors of one save, read as they were when the save began.
// The save copies each tensor's bytes in order through read pins; a write or read_write pin
// of a tensor not yet wholly copied first copies the rest of it into memory of the save's own
// (the core's before-write hook), and the save takes the rest from there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "persist/checksum.hpp"
#include "tiermem/pool_core.hpp"
#include "tiermem/tensor.hpp"

namespace tiermem::checkpoint {

class Snapshot {
 public:
  struct Info {
    std::string name;
    DType dtype;
    std::vector<uint64_t> shape;
    uint64_t bytes;
  };

  // Reads the tensors' names, dtypes and shapes and starts watching for writes to them.
  // Throws Error(invalid_argument) for an empty handle or a tensor or name given twice,
  // Error(released) for a stale handle.
  explicit Snapshot(std::span<const Tensor> tensors);
  // Stops watching (waits for a copy a write pin is making).
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  size_t size() const noexcept { return entries_.size(); }
  const Info& info(size_t i) const noexcept { return entries_[i]->info; }

  // Copies bytes [offset, offset + out.size()) of tensor i, as they were at the start, into
  // out, and when hash is not null feeds them to it as they are copied (hashing_copy.hpp).
  // Per tensor, calls must ask for consecutive ranges from 0. Throws the pins' errors, or the
  // error a copy before a write met. Thread-safe.
  void copy(size_t i, uint64_t offset, std::span<std::byte> out, persist::Checksum* hash);

 private:
  struct Entry {
    Info info;
    Tensor tensor;
    uint64_t pin_bytes;  // bytes per read pin: a part of the pool's dram tier
    std::mutex mutex;    // held while bytes are copied out of the tensor
    uint64_t copied = 0;
    bool saved_before_write = false;  // rest holds bytes [copied, bytes) of the start
    std::vector<std::byte> rest;
    std::exception_ptr error;  // what saving the rest met
  };
  // The watcher of one pool's write pins.
  class Watcher final : public detail::WriteObserver {
   public:
    explicit Watcher(detail::PoolCore& core) : core_(core) {}
    void before_write(uint64_t tensor_key) noexcept override;

    detail::PoolCore& core_;
    std::unordered_map<uint64_t, Entry*> entries;  // by PoolCore::key_of
  };

  static void read(Entry& entry, uint64_t offset, std::span<std::byte> out,
                   persist::Checksum* hash);

  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::unique_ptr<Watcher>> watchers_;  // one per pool
};

}  // namespace tiermem::checkpoint
