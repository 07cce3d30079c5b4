// bench/stream_baseline.cpp: what a user writes by hand to stream a file of LAYERS layers of
// LAYER_BYTES, PASSES times, without tiermem: the baseline that bench/stream_vs_baseline.sh holds
// tiermem's layer streaming (bench/stream_bench) against.
//
//   stream_baseline --variant direct|pread|mmap --file PATH --layers N --layer-bytes SIZE
//                   [--passes P]
//   stream_baseline --create --file PATH --layers N --layer-bytes SIZE
//
// Every variant reads layer 0, 1, ..., N-1 in file order, P times over, and sums each layer as
// 64-bit words (the unsigned, wrapping sum of every aligned 8-byte word, little-endian, so every
// byte is touched); the checksum printed is the sum over all the layers read. --create writes the
// file with layer i filled with byte i mod 256, the bytes bench/stream_bench writes into its pool,
// so the checksums of all the variants and of tiermem's stream agree for the same N and P.
//
//   direct: io_uring (one ring of 32 entries, no SQPOLL, no registered buffers or files) on the
//     file opened with O_DIRECT, 1 MiB reads, at most 32 in flight, into two buffers of
//     LAYER_BYTES from mmap(MAP_PRIVATE | MAP_ANONYMOUS), each aligned to 2 MiB and advised with
//     madvise(MADV_HUGEPAGE) (not touched before the first read lands in them). Double buffering:
//     the reads of layer k+1 go into the other buffer, then layer k is summed 1 MiB at a time,
//     and between slices completions are reaped and new reads submitted without waiting, so 32
//     stay in flight while summing; then it waits for the rest of layer k+1. The JSON line also
//     gives anon_huge_bytes, AnonHugePages of /proc/self/smaps_rollup at the end: how much of
//     the buffers got transparent huge pages.
//   pread: the file opened without O_DIRECT, one buffer of LAYER_BYTES from new[] (no madvise),
//     one pread() per layer (repeated for short reads), then the sum: reading and summing do not
//     overlap beyond the kernel's own readahead. No posix_fadvise.
//   mmap: the whole file mapped PROT_READ, MAP_SHARED; before layer k is summed,
//     madvise(MADV_WILLNEED) on layer k+1's range (layer 0 again after the last layer of a pass)
//     starts its readahead; the sum of layer k faults its pages in where they are not there yet.
//
// Prints one JSON line: {"variant", "seconds", "bytes", "gbps", "checksum"} (gbps: 1e9 bytes per
// second; the checksum as a hex string). Only the streaming loop is timed (not the open, the mmap
// or the buffer allocation). --create prints nothing. SIZE: a number of bytes with an optional
// unit, K/KiB, M/MiB, G/GiB (powers of 1024). LAYER_BYTES must be a multiple of 4 KiB (O_DIRECT).
// Exits 2 on bad arguments (with the usage), 1 on an I/O error (with the file name and the
// errno text).
#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

namespace {

constexpr uint64_t kChunk = 1 << 20;     // the direct variant's read size, and the sum's slice
constexpr unsigned kQueueDepth = 32;     // direct reads in flight
constexpr uint64_t kHugePage = 2 << 20;  // the direct buffers' alignment
constexpr uint64_t kBlock = 4096;        // LAYER_BYTES must be a multiple of it

const char* const kUsage =
    "usage: stream_baseline --variant direct|pread|mmap --file PATH --layers N --layer-bytes SIZE "
    "[--passes P]\n"
    "       stream_baseline --create --file PATH --layers N --layer-bytes SIZE\n";

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "stream_baseline: %s\n%s", why.c_str(), kUsage);
  std::exit(2);
}

// An I/O error: the file, what failed, and the errno text.
[[noreturn]] void io_error(const std::string& path, const char* what, int err) {
  std::fprintf(stderr, "stream_baseline: %s: %s: %s\n", path.c_str(), what, std::strerror(err));
  std::exit(1);
}

// A count or a size: digits, then for a size an optional K/KiB, M/MiB or G/GiB (any case).
uint64_t parse_number(const std::string& option, const std::string& text, bool size) {
  size_t end = 0;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  if (end == 0 || end > 15) usage_error(option + " '" + text + "' is not a number");
  uint64_t value = std::stoull(text.substr(0, end));
  std::string unit = text.substr(end);
  for (char& c : unit) c = static_cast<char>(c | 0x20);
  int shift = -1;
  if (unit.empty() || (size && unit == "b")) shift = 0;
  if (size && (unit == "k" || unit == "kib")) shift = 10;
  if (size && (unit == "m" || unit == "mib")) shift = 20;
  if (size && (unit == "g" || unit == "gib")) shift = 30;
  if (shift < 0) usage_error(option + " '" + text + "': unknown unit");
  if (value > (UINT64_MAX >> 34)) usage_error(option + " '" + text + "' is too large");
  return value << shift;
}

// The unsigned, wrapping sum of the 8-byte words of [data, data + bytes); bytes % 8 == 0.
uint64_t sum_words(const unsigned char* data, uint64_t bytes) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < bytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    sum += word;
  }
  return sum;
}

struct Args {
  std::string variant, path;
  uint64_t layers = 0, layer_bytes = 0, passes = 1;
  bool create = false;
};

Args parse_args(int argc, char** argv) {
  Args args;
  bool have_layers = false, have_bytes = false;
  for (int i = 1; i < argc; ++i) {
    std::string option = argv[i];
    if (option == "--create") {
      args.create = true;
      continue;
    }
    if (option == "-h" || option == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("unknown option or missing value: '" + option + "'");
    std::string value = argv[++i];
    if (option == "--variant") {
      args.variant = value;
    } else if (option == "--file") {
      args.path = value;
    } else if (option == "--layers") {
      args.layers = parse_number(option, value, false);
      have_layers = true;
    } else if (option == "--layer-bytes") {
      args.layer_bytes = parse_number(option, value, true);
      have_bytes = true;
    } else if (option == "--passes") {
      args.passes = parse_number(option, value, false);
    } else {
      usage_error("unknown option '" + option + "'");
    }
  }
  if (args.path.empty()) usage_error("--file is required");
  if (!have_layers || args.layers == 0) usage_error("--layers N (N >= 1) is required");
  if (!have_bytes || args.layer_bytes == 0 || args.layer_bytes % kBlock != 0) {
    usage_error("--layer-bytes SIZE is required: a positive multiple of 4KiB");
  }
  if (args.passes == 0) usage_error("--passes must be at least 1");
  if (args.create != args.variant.empty()) usage_error("give either --variant or --create");
  if (!args.create && args.variant != "direct" && args.variant != "pread" &&
      args.variant != "mmap") {
    usage_error("unknown variant '" + args.variant + "'");
  }
  return args;
}

// Writes the data file: layer i filled with byte i mod 256, then fsync.
void create_file(const Args& args) {
  int fd = ::open(args.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_error(args.path, "cannot create", errno);
  std::unique_ptr<unsigned char[]> buffer(new unsigned char[kChunk]);
  for (uint64_t layer = 0; layer < args.layers; ++layer) {
    std::memset(buffer.get(), static_cast<int>(layer & 0xff), kChunk);
    for (uint64_t done = 0; done < args.layer_bytes;) {
      uint64_t want = std::min(kChunk, args.layer_bytes - done);
      ssize_t n = ::write(fd, buffer.get(), want);
      if (n < 0) {
        if (errno == EINTR) continue;
        io_error(args.path, "write", errno);
      }
      done += static_cast<uint64_t>(n);
    }
  }
  if (::fsync(fd) != 0) io_error(args.path, "fsync", errno);
  if (::close(fd) != 0) io_error(args.path, "close", errno);
}

// The reads of one layer into one buffer, at most kQueueDepth in flight on the ring.
class DirectReader {
 public:
  DirectReader(const std::string& path, int fd, uint64_t layer_bytes)
      : path_(path), fd_(fd), layer_bytes_(layer_bytes) {
    int ret = io_uring_queue_init(kQueueDepth, &ring_, 0);
    if (ret < 0) io_error(path_, "io_uring_queue_init", -ret);
  }
  ~DirectReader() { io_uring_queue_exit(&ring_); }
  DirectReader(const DirectReader&) = delete;
  DirectReader& operator=(const DirectReader&) = delete;

  // Starts reading the layer at file offset `offset` into `buffer`; the previous one is done.
  void start(uint64_t offset, unsigned char* buffer) {
    offset_ = offset;
    buffer_ = buffer;
    next_ = 0;
    landed_ = 0;
    pump(false);
  }

  // Reaps what has completed and submits reads up to kQueueDepth in flight; with `wait`, waits
  // for one completion first when any are in flight.
  void pump(bool wait) {
    if (wait && in_flight_ > 0) {
      io_uring_cqe* cqe = nullptr;
      int ret = io_uring_wait_cqe(&ring_, &cqe);
      if (ret < 0 && ret != -EINTR) io_error(path_, "io_uring_wait_cqe", -ret);
    }
    io_uring_cqe* cqe = nullptr;
    while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
      int res = cqe->res;
      uint64_t want = cqe->user_data;
      io_uring_cqe_seen(&ring_, cqe);
      --in_flight_;
      if (res < 0) io_error(path_, "read (io_uring, O_DIRECT)", -res);
      if (static_cast<uint64_t>(res) != want) io_error(path_, "short read (io_uring)", EIO);
      landed_ += want;
    }
    unsigned queued = 0;
    while (in_flight_ < kQueueDepth && next_ < layer_bytes_) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) break;
      uint64_t want = std::min(kChunk, layer_bytes_ - next_);
      io_uring_prep_read(sqe, fd_, buffer_ + next_, static_cast<unsigned>(want), offset_ + next_);
      sqe->user_data = want;
      next_ += want;
      ++in_flight_;
      ++queued;
    }
    if (queued > 0) {
      int ret = io_uring_submit(&ring_);
      if (ret < 0) io_error(path_, "io_uring_submit", -ret);
    }
  }

  // Waits until the whole layer has landed.
  void finish() {
    while (landed_ < layer_bytes_) pump(true);
  }

 private:
  std::string path_;
  int fd_;
  uint64_t layer_bytes_;
  io_uring ring_{};
  uint64_t offset_ = 0, next_ = 0, landed_ = 0;
  unsigned char* buffer_ = nullptr;
  unsigned in_flight_ = 0;
};

// `bytes` of anonymous memory aligned to 2 MiB, advised MADV_HUGEPAGE.
unsigned char* huge_buffer(uint64_t bytes) {
  uint64_t reserve = bytes + kHugePage;
  void* raw = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) io_error("anonymous memory", "mmap", errno);
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = start + reserve, used_end = aligned + bytes;
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
  auto* buffer = reinterpret_cast<unsigned char*>(aligned);
  if (madvise(buffer, bytes, MADV_HUGEPAGE) != 0) io_error("anonymous memory", "madvise", errno);
  return buffer;
}

// AnonHugePages of /proc/self/smaps_rollup, in bytes; 0 when it cannot be read.
uint64_t anon_huge_bytes() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string key;
  uint64_t kib = 0;
  while (in >> key) {
    if (key == "AnonHugePages:") {
      in >> kib;
      return kib * 1024;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

uint64_t stream_direct(const Args& args, DirectReader& reader, unsigned char* const buffers[2]) {
  const uint64_t reads = args.layers * args.passes;
  uint64_t checksum = 0;
  reader.start(0, buffers[0]);
  reader.finish();
  for (uint64_t k = 0; k < reads; ++k) {
    unsigned char* current = buffers[k % 2];
    if (k + 1 < reads)
      reader.start(((k + 1) % args.layers) * args.layer_bytes, buffers[(k + 1) % 2]);
    for (uint64_t off = 0; off < args.layer_bytes; off += kChunk) {
      checksum += sum_words(current + off, std::min(kChunk, args.layer_bytes - off));
      if (k + 1 < reads) reader.pump(false);
    }
    if (k + 1 < reads) reader.finish();
  }
  return checksum;
}

uint64_t stream_pread(const Args& args, int fd) {
  std::unique_ptr<unsigned char[]> buffer(new unsigned char[args.layer_bytes]);
  uint64_t checksum = 0;
  for (uint64_t pass = 0; pass < args.passes; ++pass) {
    for (uint64_t layer = 0; layer < args.layers; ++layer) {
      const uint64_t offset = layer * args.layer_bytes;
      for (uint64_t done = 0; done < args.layer_bytes;) {
        ssize_t n = ::pread(fd, buffer.get() + done, args.layer_bytes - done,
                            static_cast<off_t>(offset + done));
        if (n < 0) {
          if (errno == EINTR) continue;
          io_error(args.path, "pread", errno);
        }
        if (n == 0) io_error(args.path, "pread: unexpected end of file", EIO);
        done += static_cast<uint64_t>(n);
      }
      checksum += sum_words(buffer.get(), args.layer_bytes);
    }
  }
  return checksum;
}

uint64_t stream_mmap(const Args& args, const unsigned char* map) {
  uint64_t checksum = 0;
  const uint64_t reads = args.layers * args.passes;
  for (uint64_t k = 0; k < reads; ++k) {
    const uint64_t layer = k % args.layers;
    if (k + 1 < reads) {
      const uint64_t next = (k + 1) % args.layers;
      if (madvise(const_cast<unsigned char*>(map) + next * args.layer_bytes, args.layer_bytes,
                  MADV_WILLNEED) != 0) {
        io_error(args.path, "madvise(MADV_WILLNEED)", errno);
      }
    }
    checksum += sum_words(map + layer * args.layer_bytes, args.layer_bytes);
  }
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  if (args.create) {
    create_file(args);
    return 0;
  }
  const int flags = O_RDONLY | O_CLOEXEC | (args.variant == "direct" ? O_DIRECT : 0);
  int fd = ::open(args.path.c_str(), flags);
  if (fd < 0) io_error(args.path, "cannot open", errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) io_error(args.path, "fstat", errno);
  const uint64_t file_bytes = args.layers * args.layer_bytes;
  if (static_cast<uint64_t>(st.st_size) < file_bytes) {
    std::fprintf(stderr, "stream_baseline: %s: %llu bytes, fewer than %llu layers of %llu\n",
                 args.path.c_str(), static_cast<unsigned long long>(st.st_size),
                 static_cast<unsigned long long>(args.layers),
                 static_cast<unsigned long long>(args.layer_bytes));
    return 1;
  }
  // What each variant sets up before the clock starts.
  unsigned char* buffers[2] = {nullptr, nullptr};
  std::unique_ptr<DirectReader> reader;
  if (args.variant == "direct") {
    buffers[0] = huge_buffer(args.layer_bytes);
    buffers[1] = huge_buffer(args.layer_bytes);
    reader = std::make_unique<DirectReader>(args.path, fd, args.layer_bytes);
  }
  const unsigned char* map = nullptr;
  if (args.variant == "mmap") {
    void* m = mmap(nullptr, file_bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) io_error(args.path, "mmap", errno);
    map = static_cast<const unsigned char*>(m);
  }

  uint64_t huge = 0, checksum = 0;
  auto start = std::chrono::steady_clock::now();
  if (args.variant == "direct") {
    checksum = stream_direct(args, *reader, buffers);
  } else if (args.variant == "pread") {
    checksum = stream_pread(args, fd);
  } else {
    checksum = stream_mmap(args, map);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (args.variant == "direct") huge = anon_huge_bytes();
  const uint64_t bytes = file_bytes * args.passes;
  std::printf(
      "{\"variant\": \"%s\", \"seconds\": %.6f, \"bytes\": %llu, \"gbps\": %.4f, "
      "\"checksum\": \"0x%016llx\"",
      args.variant.c_str(), seconds, static_cast<unsigned long long>(bytes),
      static_cast<double>(bytes) / seconds / 1e9, static_cast<unsigned long long>(checksum));
  if (args.variant == "direct") {
    std::printf(", \"anon_huge_bytes\": %llu", static_cast<unsigned long long>(huge));
  }
  std::printf("}\n");
  if (map != nullptr) munmap(const_cast<unsigned char*>(map), file_bytes);
  ::close(fd);
  return 0;
}
