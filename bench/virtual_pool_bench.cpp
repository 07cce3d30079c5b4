// bench/virtual_pool_bench.cpp: a pool on the virtual clock, as a simulator drives it (issue
// 10). See bench/RESULTS.md.
//
//   PinMiss: one thread pins pages of a data-less pool round robin through a DRAM tier of a
//     quarter of them, so that every pin fetches its page and evicts another (two page
//     operations, counted as items), and advances the clock through it.
//   PinHit: pins of resident pages.
//   Replay/fast, Replay/pool: the same zipf trace through the fast model and through the pool
//     (sim::simulate_on_pool) in the same run; items are page accesses.
//   TrainingStep1TB: a 1 TiB model (2 MiB pages: fp16 parameters and gradients, fp32 master
//     weights, momentum and variance, 16 bytes per parameter) on 64 GiB of modelled DRAM and
//     8 GiB of gpu, data-less: opening the pool, allocating its tensors and one ZeRO-Infinity
//     step (forward reads the parameters in gpu, backward reads them and writes the gradients,
//     the optimizer reads the gradients and updates its states in dram). Counters: the
//     process's peak resident memory, the memory it grew by per page, virtual seconds.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tiermem/tiermem.hpp"
#include "tiermem/virtual_clock.hpp"
#include "tiermem/workload.hpp"

namespace {

using namespace tiermem;

constexpr uint64_t kPage = 2 << 20;

// Resident memory of the process now, from /proc/self/statm.
uint64_t resident_bytes() {
  unsigned long size = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * 4096;
}

uint64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

VirtualDevices dataless() {
  VirtualDevices devices;
  devices.data = false;
  devices.tensors_start_on_nvme = true;
  return devices;
}

Config virtual_config(uint64_t dram, uint64_t gpu, uint64_t nvme) {
  Config config;
  config.page_size = kPage;
  config.dram.capacity = dram;
  config.gpu.capacity = gpu;
  config.nvme.capacity = nvme;
  return config;
}

// Pins [first, first + count) pages of t, running the clock until they are in.
void pin_and_wait(Pool& pool, Tensor& t, Tier tier, Access access, uint64_t first, uint64_t count) {
  std::future<Pin> later = t.pin_async(tier, access, {first * kPage, count * kPage});
  while (later.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    pool.advance(*pool.next_event_ns());
  }
  later.get().reset();
}

void PinMiss(benchmark::State& state) {
  const uint64_t pages = 4096;
  Pool pool(virtual_config(pages / 4 * kPage, 0, pages * kPage), dataless());
  Tensor t = pool.allocate({pages * kPage}, DType::u8, "t");
  uint64_t page = 0;
  for (auto _ : state) {
    pin_and_wait(pool, t, Tier::dram, Access::read, page, 1);
    page = (page + 1) % pages;
  }
  state.SetItemsProcessed(2 * static_cast<int64_t>(state.iterations()));  // fetch + eviction
  state.counters["misses"] = static_cast<double>(pool.stats().tiers[1].misses);
}
BENCHMARK(PinMiss);

void PinHit(benchmark::State& state) {
  Pool pool(virtual_config(64 * kPage, 0, 64 * kPage), dataless());
  Tensor t = pool.allocate({64 * kPage}, DType::u8, "t");
  pin_and_wait(pool, t, Tier::dram, Access::read, 0, 64);
  uint64_t page = 0;
  for (auto _ : state) {
    Pin pin = t.pin(Tier::dram, Access::read, {page * kPage, kPage});
    benchmark::DoNotOptimize(pin.size());
    page = (page + 1) % 64;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(PinHit);

void Replay(benchmark::State& state) {
  workload::RandomAccesses options;
  options.pages = 1 << 16;
  options.tensors = 16;
  options.events = 200'000;
  options.alpha = 1.0;
  options.write_fraction = 0.2;
  options.compute_ns = 20'000;
  static const Trace trace = workload::random_accesses(options);
  sim::Config config;
  config.eviction = "lru";
  config.dram_bytes = trace.footprint_bytes() / 4;
  config.belady_baseline = false;
  const bool through_pool = state.range(0) == 1;
  uint64_t misses = 0;
  for (auto _ : state) {
    sim::Result r =
        through_pool ? sim::simulate_on_pool(trace, config) : sim::simulate(trace, config);
    misses = r.misses;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace.page_accesses()));
  state.counters["misses"] = static_cast<double>(misses);
  state.SetLabel(through_pool ? "pool" : "fast");
}
BENCHMARK(Replay)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// One ZeRO-Infinity training step of a model of total_bytes of state.
void TrainingStep1TB(benchmark::State& state) {
  const uint64_t total = uint64_t{1} << 40;
  const uint64_t layers = 128;
  // Per parameter: fp16 parameter and gradient (2 + 2), fp32 master, momentum, variance (12).
  const uint64_t params_per_layer = total / 16 / layers;
  for (auto _ : state) {
    const uint64_t rss_before = resident_bytes();
    Pool pool(virtual_config(uint64_t{64} << 30, uint64_t{8} << 30, total), dataless());
    struct Layer {
      Tensor param, grad, master, momentum, variance;
    };
    std::vector<Layer> model;
    for (uint64_t l = 0; l < layers; ++l) {
      auto make = [&](const char* what, DType dtype) {
        return pool.allocate({params_per_layer}, dtype, std::string(what) + std::to_string(l));
      };
      model.push_back({make("param", DType::f16), make("grad", DType::f16),
                       make("master", DType::f32), make("momentum", DType::f32),
                       make("variance", DType::f32)});
    }
    const uint64_t pages = pool.stats().tiers[2].frames;
    // Layers are pinned a slice of 512 MiB at a time, as a framework would stream them.
    auto stream = [&](Tensor& t, Tier tier, Access access) {
      const uint64_t n = t.page_count(), slice = 256;
      for (uint64_t first = 0; first < n; first += slice) {
        pin_and_wait(pool, t, tier, access, first, std::min(slice, n - first));
      }
    };
    for (Layer& l : model) stream(l.param, Tier::gpu, Access::read);  // forward
    for (auto l = model.rbegin(); l != model.rend(); ++l) {           // backward
      stream(l->param, Tier::gpu, Access::read);
      stream(l->grad, Tier::gpu, Access::write);
    }
    for (Layer& l : model) {  // optimizer, on the cpu
      stream(l.grad, Tier::dram, Access::read);
      stream(l.master, Tier::dram, Access::read_write);
      stream(l.momentum, Tier::dram, Access::read_write);
      stream(l.variance, Tier::dram, Access::read_write);
    }
    const uint64_t rss_after = resident_bytes();
    state.counters["pages"] = static_cast<double>(pages);
    state.counters["bytes_per_page"] =
        static_cast<double>(rss_after - rss_before) / static_cast<double>(pages);
    state.counters["virtual_s"] = static_cast<double>(pool.now_ns()) / 1e9;
    state.counters["peak_rss_MiB"] = static_cast<double>(peak_resident_bytes()) / (1 << 20);
  }
}
BENCHMARK(TrainingStep1TB)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
