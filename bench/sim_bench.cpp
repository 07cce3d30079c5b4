// bench/sim_bench.cpp: replay speed of the simulator, and the policy targets on layer
// streaming, measured against Belady in the same invocation. See bench/RESULTS.md.
//
//   LruReplay: reads a 10-million-event zipf trace (binary, from the page cache) and replays
//     it with LRU, no prefetch, no baseline; items_per_second counts page accesses including
//     the read.
//   LayerStreaming/*: opt-13b, DRAM at half the footprint; counters report the bytes fetched
//     relative to Belady's MIN (gap_bytes), the miss ratio and the stall.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tiermem/sim.hpp"
#include "tiermem/trace.hpp"
#include "tiermem/workload.hpp"

namespace {

using namespace tiermem;

bool zipf_trace_written = false;  // only a benchmark that replays it writes the trace

const std::string& zipf_trace_path() {
  static const std::string path = [] {
    std::string file = (std::filesystem::temp_directory_path() /
                        ("tiermem-bench-zipf-" + std::to_string(::getpid()) + ".bin"))
                           .string();
    workload::RandomAccesses options;
    options.pages = 1 << 20;
    options.tensors = 64;
    options.events = 10'000'000;
    options.alpha = 1.0;
    options.page_size = 4096;
    write_trace(workload::random_accesses(options), file, TraceFormat::binary);
    zipf_trace_written = true;
    return file;
  }();
  return path;
}

void LruReplay(benchmark::State& state) {
  const std::string& path = zipf_trace_path();
  sim::Config config;
  config.eviction = "lru";
  config.dram_bytes = uint64_t(state.range(0)) * 4096;
  config.belady_baseline = false;
  uint64_t accesses = 0;
  double miss_ratio = 0;
  for (auto _ : state) {
    sim::Result result = sim::simulate(path, config);  // streams the file as it replays
    accesses += result.accesses;
    miss_ratio = result.miss_ratio();
  }
  state.SetItemsProcessed(static_cast<int64_t>(accesses));
  state.counters["miss_ratio"] = miss_ratio;
}
BENCHMARK(LruReplay)->Arg(1 << 14)->Arg(1 << 17)->Unit(benchmark::kMillisecond);

void LayerStreaming(benchmark::State& state, const char* eviction, const char* prefetch) {
  static const Trace trace = [] {
    workload::LayerStreaming options;
    options.model = "opt-13b";
    options.tokens = 8;
    options.prompt = 128;
    options.batch = 64;
    return workload::layer_streaming(options);
  }();
  sim::Config config;
  config.eviction = eviction;
  config.prefetch = prefetch;
  config.dram_bytes = trace.footprint_bytes() / 2;
  sim::Result result;
  for (auto _ : state) result = sim::simulate(trace, config);
  state.SetItemsProcessed(static_cast<int64_t>(result.accesses) * state.iterations());
  state.counters["miss_ratio"] = result.miss_ratio();
  state.counters["gap_bytes"] = result.gap_bytes();
  state.counters["stall_s"] = static_cast<double>(result.stall_ns) / 1e9;
  state.counters["overlap"] = result.overlap_efficiency;
}
BENCHMARK_CAPTURE(LayerStreaming, lru_none, "lru", "none")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LayerStreaming, belady_none, "belady", "none")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LayerStreaming, belady_schedule, "belady", "schedule")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LayerStreaming, lru_schedule, "lru", "schedule")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LayerStreaming, s3fifo_none, "s3fifo", "none")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(LayerStreaming, arc_none, "arc", "none")->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (zipf_trace_written) std::filesystem::remove(zipf_trace_path());
  return 0;
}
