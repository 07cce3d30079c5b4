// bench/bench_pool.cpp: the pool's fast paths and its memory overhead.
//
//   PinResident       pin + unpin of pages already resident in dram (the lock-free path)
//   AllocateRelease   allocate + release of a tensor (no page touched)
//   DramFootprint     memory the system spends for a dram tier whose every page is mapped,
//                     over its configured size, and page metadata bytes per page
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "policies/page_list.hpp"
#include "tiermem/page_table.hpp"
#include "tiermem/tiermem.hpp"

namespace {

using namespace tiermem;

// A scratch directory for the NVMe tier, removed at exit.
const std::string& scratch() {
  static const std::string path = [] {
    const char* base = getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tiermem-bench.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }();
  static const struct Remover {
    ~Remover() { std::filesystem::remove_all(path); }
  } remover;
  return path;
}

Config bench_config(uint64_t dram) {
  Config config;
  config.dram.capacity = dram;
  config.nvme.dirs = {scratch()};
  config.nvme.capacity = 4 * dram;
  return config;
}

// One pool for the pin benchmarks, with a resident tensor per thread.
struct PinFixture {
  Pool pool{bench_config(256ull << 20)};
  std::vector<Tensor> tensors;
  PinFixture() {
    for (int i = 0; i < 16; ++i) {
      std::string name = "t";
      name += std::to_string(i);
      tensors.push_back(pool.allocate({8ull << 20}, DType::u8, name));
      tensors.back().pin(Tier::dram, Access::write).reset();  // make every page resident
    }
  }
};

PinFixture& pin_fixture() {
  static PinFixture fixture;
  return fixture;
}

void PinResident(benchmark::State& state) {
  Tensor tensor = pin_fixture().tensors[state.thread_index() % 16];
  const uint64_t pages = static_cast<uint64_t>(state.range(0));
  const ByteRange range{0, pages * (2ull << 20)};
  for (auto _ : state) {
    Pin pin = tensor.pin(Tier::dram, Access::read, range);
    benchmark::DoNotOptimize(pin.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PinResident)->Arg(1)->Arg(4)->ThreadRange(1, 2)->UseRealTime();

void AllocateRelease(benchmark::State& state) {
  static Pool pool(bench_config(64ull << 20));
  const uint64_t bytes = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    Tensor tensor = pool.allocate({bytes}, DType::u8, "t");
    tensor.release();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(AllocateRelease)->Arg(4096)->Arg(64ull << 20);

// Bytes the kernel reports for a /proc/meminfo key, system-wide.
uint64_t meminfo(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value) {
    if (name == key + ":")
      return key.rfind("HugePages_", 0) == 0 ? value * (2ull << 20) : value << 10;
    in.ignore(256, '\n');
  }
  return 0;
}

// What the kernel spends on shared memory, huge pages and page tables (all the dram tier
// allocates), plus the process's anonymous memory (page table entries of tiermem, heap).
uint64_t memory_in_use() {
  std::ifstream status("/proc/self/status");
  std::string name;
  uint64_t anon = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("RssAnon:", 0) == 0) anon = std::stoull(line.substr(8)) << 10;
  }
  return meminfo("Shmem") + meminfo("PageTables") + meminfo("HugePages_Total") -
         meminfo("HugePages_Free") + anon;
}

void DramFootprint(benchmark::State& state) {
  const uint64_t capacity = static_cast<uint64_t>(state.range(0));
  double ratio = 0;
  for (auto _ : state) {
    uint64_t before = memory_in_use();
    Pool pool(bench_config(capacity));
    Tensor tensor = pool.allocate({capacity}, DType::u8, "all");
    for (uint64_t offset = 0; offset < capacity; offset += 64ull << 20) {
      tensor.pin(Tier::dram, Access::read, {offset, 64ull << 20}).reset();  // map every page
    }
    // Signed: other processes on the machine may free more than the pool took meanwhile.
    const int64_t grown = static_cast<int64_t>(memory_in_use()) - static_cast<int64_t>(before);
    ratio = static_cast<double>(grown) / static_cast<double>(capacity);
    state.counters["huge_pages_thp"] = pool.stats().dram_huge_pages == "thp";
    state.counters["huge_pages_hugetlb"] = pool.stats().dram_huge_pages == "hugetlb";
  }
  state.counters["footprint_ratio"] = ratio;
  // Per page: its page-table entry, and a node in the eviction policy's lists (lru, fifo,
  // clock, 2q, arc and s3-fifo all use page_list.hpp).
  state.counters["page_entry_bytes"] = sizeof(detail::PageEntry);
  state.counters["policy_node_bytes"] = sizeof(policies::PageLinks::Node);
}
BENCHMARK(DramFootprint)
    ->Arg(1ull << 30)
    ->Iterations(1)
    ->Repetitions(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
