// fuzz/fuzz_trace_binary.cpp: the trace file readers, from a memory file: the binary form and
// every other form told apart by content (libCacheSim's oracleGeneral, csv and txt, tiermem's
// CSV, any of them zstd-compressed), read whole (read_trace) and streamed (TraceReader). Both
// must accept the same files and yield the same accesses; accepted traces replay in the
// simulator, whole and streamed.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "tiermem/trace.hpp"

using namespace tiermem;

namespace {

// A file in memory, rewritten for every input: the readers take a path.
const std::string& memory_file(const uint8_t* data, size_t size) {
  static const int fd = ::memfd_create("fuzz-trace", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  fuzz::require(fd >= 0 && ::ftruncate(fd, 0) == 0, "a memory file");
  fuzz::require(::pwrite(fd, data, size, 0) == static_cast<ssize_t>(size), "a memory file");
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = memory_file(data, size);
  Trace whole;
  bool read = fuzz::accepted([&] { whole = read_trace(path, 4096); });
  std::vector<TraceAccess> streamed;
  std::vector<uint32_t> tensor_pages;
  uint64_t page_size = 0;
  bool streamed_ok = fuzz::accepted([&] {
    TraceReader reader(path, 4096);
    page_size = reader.page_size();
    for (auto batch = reader.next(); !batch.empty(); batch = reader.next()) {
      streamed.insert(streamed.end(), batch.begin(), batch.end());
    }
    tensor_pages = reader.tensor_pages();
  });
  fuzz::require(read == streamed_ok, "read_trace and TraceReader accept the same files");
  if (read) {
    fuzz::require(whole.accesses == streamed && whole.tensor_pages == tensor_pages &&
                      whole.page_size == page_size,
                  "read_trace and TraceReader yield the same trace");
  }
  if (!read) return 0;
  fuzz::require(whole.footprint_bytes() <= whole.page_count() * whole.page_size,
                "the footprint fits the tensors");
  fuzz::replay(whole);
  sim::Config config;
  config.dram_bytes = 16 * whole.page_size;
  config.memory_limit = 4 << 20;
  fuzz::accepted([&] { sim::simulate(path, config, 4096); });  // streamed, Belady's too
  return 0;
}
