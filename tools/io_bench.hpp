// tools/io_bench.hpp: the measuring loop behind `tiermem io` and `tiermem tune`: keeps
// qd x threads requests of one block each in flight on a FileIo over striped files, and
// reports bandwidth, IOPS and latency percentiles.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tiermem::tools {

// Where the bytes go. Blocks are striped over the files round-robin: block k of the run is
// in file k % files at offset (k / files) * block.
struct IoTarget {
  std::vector<std::string> dirs;   // a new file in each (mode 0600), removed at the end
  std::vector<std::string> files;  // files used as they are (created when missing), kept
  uint64_t size = 1ull << 30;      // bytes over all files
};

// One measurement.
struct IoTrial {
  bool write = false;
  bool random = false;  // every block once, in a random order; else in order
  uint64_t block = 1ull << 20;
  uint32_t queue_depth = 32;  // requests in flight per thread
  uint32_t threads = 1;
  std::string engine = "uring";
  bool direct = true;
  bool sqpoll = false;
  bool register_buffers = true;
  // > 0: run this long, going round the blocks again as needed; 0: every block once.
  double seconds = 0;
};

struct IoOutcome {
  std::string engine;   // the engine that ran
  bool direct = false;  // O_DIRECT was in use on every file
  bool fixed_buffers = false;
  uint64_t requests = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  double gbps = 0;  // 10^9 bytes per second
  double iops = 0;
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
};

class IoBench {
 public:
  // Creates the files of target.dirs and maps buffer_bytes (at least one block of any trial)
  // of memory backed by transparent huge pages, so that requests are made of few physically
  // contiguous segments, as with fio --mem=mmaphuge. Throws tiermem::Error.
  IoBench(const IoTarget& target, uint64_t buffer_bytes);
  ~IoBench();  // closes its unnamed scratch files, which vanish then
  IoBench(const IoBench&) = delete;
  IoBench& operator=(const IoBench&) = delete;

  // Writes every file that is shorter than its share of the target, untimed, so that reads
  // find data (fio lays out its files the same way).
  void prepare_reads(const IoTrial& like);

  // Runs one trial. Throws tiermem::Error for bad parameters or the first failed request
  // (after the others in flight have ended).
  IoOutcome run(const IoTrial& trial);

  const std::vector<std::string>& paths() const noexcept { return paths_; }

 private:
  class Buffer;

  uint64_t size_;
  std::vector<std::string> paths_;
  std::vector<int> scratch_fds_;  // one unnamed file per --dir, reached as /proc/self/fd/N
  std::unique_ptr<Buffer> buffer_;
};

}  // namespace tiermem::tools
