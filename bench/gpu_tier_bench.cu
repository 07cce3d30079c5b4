// bench/gpu_tier_bench.cu: the CUDA gpu tier against its references, measured in one run.
//
//   copy    DRAM->GPU through pins (pin in gpu of pages resident in dram), GPU->DRAM
//           through evictions (write-back of dirty gpu pages) and through pins (pin in dram
//           of pages only in gpu), each against one cudaMemcpyAsync of a cudaHostAlloc buffer
//           of the same size; medians of --reps.
//   stream  a layer set larger than the DRAM tier streamed NVMe->GPU, ZeRO-Inference style,
//           each layer pinned on a stream: NVMe->DRAM alone, NVMe->GPU alone, a simulated
//           compute kernel per layer alone (--compute times the measured NVMe->GPU time of a
//           layer), and NVMe->GPU with that compute: how much of the transfer time is hidden.
//   vmm     what the gpu tier pays per page for mapping: cuMemMap + cuMemSetAccess +
//           cuMemUnmap of one frame, through the driver entry points of the runtime.
// Each prints a table and, last, one JSON object. bench/gpu_tier.sh runs them beside fio.
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tiermem/tiermem.hpp"

namespace {

using namespace tiermem;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check(cudaError_t r, const char* what) {
  if (r != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(r));
    std::exit(1);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// --key value options, with defaults.
struct Options {
  std::map<std::string, std::string> values;
  std::string get(const std::string& key, const std::string& fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  uint64_t size(const std::string& key, const std::string& fallback) const {
    return parse_size(get(key, fallback));
  }
  double number(const std::string& key, double fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : std::stod(it->second);
  }
};

Config base_config(const Options& o, uint64_t dram, uint64_t gpu, uint64_t nvme) {
  Config config;
  config.page_size = o.size("page", "2MiB");
  config.dram.capacity = dram;
  config.gpu.capacity = gpu;
  config.gpu.backend = "cuda";
  config.gpu.direct_storage = o.get("direct-storage", "auto");
  config.nvme.dirs = {o.get("dir", "/tmp")};
  config.nvme.capacity = nvme;
  config.nvme.keep_files = o.number("keep-files", 0) != 0;  // named files (cuFile needs them?)
  config.io.threads = static_cast<uint32_t>(o.number("io-threads", 2));
  config.log_level = o.get("log", "info");
  return config;
}

// ---- copy --------------------------------------------------------------------------------

int run_copy(const Options& o) {
  const uint64_t size = o.size("size", "1GiB");
  const int reps = static_cast<int>(o.number("reps", 11));
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");

  // The reference: one copy of a page-locked buffer of the same size.
  void* host = nullptr;
  void* device = nullptr;
  check(cudaHostAlloc(&host, size, cudaHostAllocDefault), "cudaHostAlloc");
  check(cudaMalloc(&device, size), "cudaMalloc");
  std::memset(host, 1, size);
  auto time_copy = [&](cudaMemcpyKind kind) {
    auto start = Clock::now();
    if (kind == cudaMemcpyHostToDevice) {
      check(cudaMemcpyAsync(device, host, size, kind, stream), "copy");
    } else {
      check(cudaMemcpyAsync(host, device, size, kind, stream), "copy");
    }
    check(cudaStreamSynchronize(stream), "sync");
    return since(start);
  };

  // tiermem: the same bytes as one tensor, between the dram and gpu tiers.
  Config config = base_config(o, size + (64ull << 20), size, 2 * size);
  Pool pool(config);
  Tensor t = pool.allocate({size}, DType::u8, "t");
  {
    Pin pin = t.pin(Tier::dram, Access::write);
    std::memset(pin.data(), 2, size);
  }
  auto time_pin = [&] {
    t.evict(Tier::gpu);  // clean: dropped, nothing copied
    auto start = Clock::now();
    Pin pin = t.pin(Tier::gpu, Access::read);  // dram -> gpu
    return since(start);
  };
  auto time_evict = [&] {
    { Pin pin = t.pin(Tier::gpu, Access::read_write); }  // the gpu copy becomes the only one
    auto start = Clock::now();
    t.evict(Tier::gpu);  // gpu -> dram
    return since(start);
  };
  auto time_pin_out = [&] {
    { Pin pin = t.pin(Tier::gpu, Access::read_write); }
    auto start = Clock::now();
    Pin pin = t.pin(Tier::dram, Access::read);  // gpu -> dram, the gpu copy stays
    return since(start);
  };

  // Reference and tiermem alternate; the ratio is the median of the repetitions' ratios.
  std::vector<double> memcpy_in, pin_in, memcpy_out, evict_out, pin_out;
  std::vector<double> ratio_in, ratio_out, ratio_pin_out;
  for (int r = -1; r < reps; ++r) {  // one warm-up
    double a = time_copy(cudaMemcpyHostToDevice), b = time_pin();
    double c = time_copy(cudaMemcpyDeviceToHost), d = time_evict();
    double e = time_copy(cudaMemcpyDeviceToHost), f = time_pin_out();
    if (r < 0) continue;
    memcpy_in.push_back(a);
    pin_in.push_back(b);
    memcpy_out.push_back(c);
    evict_out.push_back(d);
    pin_out.push_back(f);
    ratio_in.push_back(a / b);
    ratio_out.push_back(c / d);
    ratio_pin_out.push_back(e / f);
  }
  check(cudaFreeHost(host), "free");
  check(cudaFree(device), "free");
  auto gbps = [&](const std::vector<double>& t) {
    return static_cast<double>(size) / median(t) / 1e9;
  };
  const double h2d_ratio = median(ratio_in), d2h_ratio = median(ratio_out),
               pin_d2h_ratio = median(ratio_pin_out);
  const Stats s = pool.stats();

  std::printf(
      "copy of %s in pages of %s, %d alternating repetitions (medians); dram tier huge "
      "pages: %s\n",
      format_size(size).c_str(), format_size(config.page_size).c_str(), reps,
      s.dram_huge_pages.c_str());
  std::printf("  %-34s %8.2f GB/s\n", "cudaMemcpyAsync H2D (pinned)", gbps(memcpy_in));
  std::printf("  %-34s %8.2f GB/s  ratio %.3f (min %.3f)\n", "tiermem pin dram->gpu", gbps(pin_in),
              h2d_ratio, *std::min_element(ratio_in.begin(), ratio_in.end()));
  std::printf("  %-34s %8.2f GB/s\n", "cudaMemcpyAsync D2H (pinned)", gbps(memcpy_out));
  std::printf("  %-34s %8.2f GB/s  ratio %.3f (min %.3f)\n", "tiermem evict gpu->dram",
              gbps(evict_out), d2h_ratio, *std::min_element(ratio_out.begin(), ratio_out.end()));
  std::printf("  %-34s %8.2f GB/s  ratio %.3f (min %.3f)\n", "tiermem pin in dram gpu->dram",
              gbps(pin_out), pin_d2h_ratio,
              *std::min_element(ratio_pin_out.begin(), ratio_pin_out.end()));
  std::printf(
      "{\"bench\":\"copy\",\"bytes\":%llu,\"page\":%llu,\"memcpy_h2d_gbps\":%.3f,"
      "\"pin_h2d_gbps\":%.3f,\"h2d_ratio\":%.4f,\"memcpy_d2h_gbps\":%.3f,"
      "\"evict_d2h_gbps\":%.3f,\"d2h_ratio\":%.4f,\"pin_d2h_gbps\":%.3f,"
      "\"pin_d2h_ratio\":%.4f,\"dram_huge_pages\":\"%s\"}\n",
      static_cast<unsigned long long>(size), static_cast<unsigned long long>(config.page_size),
      gbps(memcpy_in), gbps(pin_in), h2d_ratio, gbps(memcpy_out), gbps(evict_out), d2h_ratio,
      gbps(pin_out), pin_d2h_ratio, s.dram_huge_pages.c_str());
  check(cudaStreamDestroy(stream), "stream");
  return 0;
}

// ---- stream ------------------------------------------------------------------------------

__device__ uint64_t global_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// The simulated compute step: one block reads the layer's first bytes (so the kernel depends
// on the data) and keeps the device busy for ns.
__global__ void compute(const uint64_t* layer, uint64_t words, uint64_t ns, uint64_t* sink) {
  const uint64_t start = global_ns();
  uint64_t sum = 0;
  for (uint64_t i = threadIdx.x; i < words && i < 4096; i += blockDim.x) sum += layer[i];
  while (global_ns() - start < ns) {
  }
  if (sum == 42) *sink = sum;  // keeps the reads
}

__host__ __device__ uint64_t fill_word(uint64_t layer, uint64_t k) {
  return (layer + 1) * 0xD1B54A32D192ED03ull ^ k;
}

__global__ void fill(uint64_t* words, uint64_t n, uint64_t layer) {
  for (uint64_t k = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; k < n;
       k += uint64_t{gridDim.x} * blockDim.x) {
    words[k] = fill_word(layer, k);
  }
}

int run_stream(const Options& o) {
  const uint64_t layer = o.size("layer", "64MiB");
  const auto layers = static_cast<uint32_t>(o.number("layers", 64));
  const uint64_t dram = o.size("dram", "1GiB");
  const uint64_t gpu = o.size("gpu", "512MiB");
  const double compute_ratio = o.number("compute", 1.2);
  const uint64_t set = layer * layers;
  if (set <= dram) {
    std::fprintf(stderr, "stream: the layer set (%s) must be larger than the dram tier (%s)\n",
                 format_size(set).c_str(), format_size(dram).c_str());
    return 2;
  }
  Config config = base_config(o, dram, gpu, set + (1ull << 30));
  config.policy.eviction = "lru";
  config.policy.prefetch = o.get("prefetch", "schedule");
  config.policy.prefetch_budget = o.size("prefetch-budget", "256MiB");
  Pool pool(config);

  // Load: every layer written once from the host; the set ends up on nvme.
  std::vector<Tensor> tensors;
  auto start = Clock::now();
  for (uint32_t i = 0; i < layers; ++i) {
    tensors.push_back(pool.allocate({layer / 2}, DType::bf16, "layer" + std::to_string(i)));
    Pin pin = tensors.back().pin(Tier::dram, Access::write);
    auto* words = static_cast<uint64_t*>(pin.data());
    for (uint64_t k = 0; k < layer / 8; ++k) words[k] = i * 0x9E3779B97F4A7C15ull + k;
  }
  pool.flush();
  for (const Tensor& t : tensors) t.evict(Tier::dram);
  const double load_s = since(start);

  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  uint64_t* sink = nullptr;
  check(cudaMalloc(&sink, sizeof(uint64_t)), "cudaMalloc");

  // One pass over every layer in tier, with compute_ns of simulated compute per layer (0: no
  // kernel). Leaves nothing of the set in dram or gpu for the next pass: the set is larger
  // than the dram tier and LRU streams it, but the last layers would stay, so they go.
  auto pass = [&](Tier tier, uint64_t compute_ns) {
    std::vector<ScheduleStep> order;
    for (const Tensor& t : tensors) order.push_back({.tensor = t, .tier = tier});
    pool.set_schedule(order);
    const Stats before = pool.stats();
    auto begin = Clock::now();
    for (const Tensor& t : tensors) {
      if (tier == Tier::dram) {
        Pin pin = t.pin(Tier::dram, Access::read);
        continue;
      }
      Pin pin = t.pin_on_stream(stream, Access::read);
      if (compute_ns > 0) {
        compute<<<1, 256, 0, stream>>>(static_cast<const uint64_t*>(pin.data()), layer / 8,
                                       compute_ns, sink);
        check(cudaGetLastError(), "launch");
      }
    }
    check(cudaStreamSynchronize(stream), "sync");
    const double seconds = since(begin);
    const Stats after = pool.stats();
    for (const Tensor& t : tensors) {
      t.evict(Tier::gpu);
      t.evict(Tier::dram);
    }
    const uint64_t from_nvme = after.moved_bytes[2][0] + after.moved_bytes[2][1] -
                               before.moved_bytes[2][0] - before.moved_bytes[2][1];
    return std::pair{seconds, from_nvme};
  };
  auto compute_only = [&](uint64_t compute_ns) {
    Tensor t = tensors[0];
    Pin pin = t.pin_on_stream(stream, Access::read);
    auto begin = Clock::now();
    for (uint32_t i = 0; i < layers; ++i) {
      compute<<<1, 256, 0, stream>>>(static_cast<const uint64_t*>(pin.data()), layer / 8,
                                     compute_ns, sink);
    }
    check(cudaStreamSynchronize(stream), "sync");
    return since(begin);
  };

  if (o.get("only", "") == "transfer") {  // one NVMe->GPU pass: for rounds alternating with fio
    const auto [seconds, bytes] = pass(Tier::gpu, 0);
    std::printf("stream nvme->gpu: %s in %.3f s = %.3f GB/s (%s from nvme)\n",
                format_size(set).c_str(), seconds, static_cast<double>(set) / seconds / 1e9,
                format_size(bytes).c_str());
    std::printf("{\"bench\":\"stream\",\"nvme_gpu_gbps\":%.3f}\n",
                static_cast<double>(set) / seconds / 1e9);
    return 0;
  }
  pass(Tier::gpu, 0);  // warm-up: maps, events, the disk's own caches
  const auto [dram_s, dram_bytes] = pass(Tier::dram, 0);
  const auto [gpu_s, gpu_bytes] = pass(Tier::gpu, 0);
  const auto compute_ns = static_cast<uint64_t>(gpu_s / layers * compute_ratio * 1e9);
  const double compute_s = compute_only(compute_ns);
  const auto [both_s, both_bytes] = pass(Tier::gpu, compute_ns);
  const double hidden = 1 - (both_s - compute_s) / gpu_s;

  // Write-back: every layer overwritten on the device by a kernel on the stream (a write pin
  // fetches nothing), then the set flushed: dirty gpu pages go GPU->DRAM->NVMe as evictions
  // and the final flush need them, ordered after the kernels by the pins' events.
  const Stats before_writes = pool.stats();
  auto begin = Clock::now();
  for (uint32_t i = 0; i < layers; ++i) {
    Pin pin = tensors[i].pin_on_stream(stream, Access::write);
    fill<<<132, 256, 0, stream>>>(static_cast<uint64_t*>(pin.data()), layer / 8, i);
    check(cudaGetLastError(), "launch");
  }
  pool.flush();
  const double write_s = since(begin);
  const Stats s = pool.stats();
  const uint64_t written = s.moved_bytes[1][2] - before_writes.moved_bytes[1][2];
  // The last layer, read back in dram, holds what its kernel wrote.
  uint64_t wrong = 0;
  {
    Pin pin = tensors[layers - 1].pin(Tier::dram, Access::read);
    const auto* words = static_cast<const uint64_t*>(pin.data());
    for (uint64_t k = 0; k < layer / 8; ++k) wrong += words[k] != fill_word(layers - 1, k);
  }

  auto gbps = [](uint64_t bytes, double seconds) {
    return static_cast<double>(bytes) / seconds / 1e9;
  };
  std::printf(
      "stream: %u layers of %s (%s) through a dram tier of %s and a gpu tier of %s, "
      "pages of %s, prefetch %s (budget %s); load %.2f s; dram huge pages %s\n",
      layers, format_size(layer).c_str(), format_size(set).c_str(), format_size(dram).c_str(),
      format_size(gpu).c_str(), format_size(config.page_size).c_str(),
      config.policy.prefetch.c_str(), format_size(config.policy.prefetch_budget).c_str(), load_s,
      s.dram_huge_pages.c_str());
  std::printf("  %-40s %7.3f s %8.2f GB/s (%s from nvme)\n", "nvme->dram", dram_s,
              gbps(set, dram_s), format_size(dram_bytes).c_str());
  std::printf("  %-40s %7.3f s %8.2f GB/s (%s from nvme)\n", "nvme->gpu", gpu_s, gbps(set, gpu_s),
              format_size(gpu_bytes).c_str());
  std::printf("  %-40s %7.3f s (%.2f ms a layer, %.2fx its transfer)\n", "compute alone", compute_s,
              compute_ns / 1e6, compute_ratio);
  std::printf("  %-40s %7.3f s %8.2f GB/s (%s from nvme)\n", "nvme->gpu with compute", both_s,
              gbps(set, both_s), format_size(both_bytes).c_str());
  std::printf(
      "  transfer time hidden: %.1f %%  (1 - (with compute - compute alone) / "
      "transfer alone)\n",
      100 * hidden);
  std::printf("  %-40s %7.3f s %8.2f GB/s (%s to nvme; %llu words of the last layer wrong)\n",
              "gpu->dram->nvme write-back", write_s, gbps(set, write_s),
              format_size(written).c_str(), static_cast<unsigned long long>(wrong));
  std::printf(
      "{\"bench\":\"stream\",\"layers\":%u,\"layer_bytes\":%llu,\"set_bytes\":%llu,"
      "\"dram_bytes\":%llu,\"gpu_bytes\":%llu,\"nvme_dram_gbps\":%.3f,\"nvme_gpu_gbps\":%.3f,"
      "\"compute_s\":%.4f,\"transfer_s\":%.4f,\"both_s\":%.4f,\"hidden\":%.4f,"
      "\"nvme_to_gpu_direct_pages\":%llu,\"dram_huge_pages\":\"%s\","
      "\"writeback_gbps\":%.3f,\"writeback_wrong_words\":%llu}\n",
      layers, static_cast<unsigned long long>(layer), static_cast<unsigned long long>(set),
      static_cast<unsigned long long>(dram), static_cast<unsigned long long>(gpu),
      gbps(set, dram_s), gbps(set, gpu_s), compute_s, gpu_s, both_s, hidden,
      static_cast<unsigned long long>(s.moves[2][0]), s.dram_huge_pages.c_str(), gbps(set, write_s),
      static_cast<unsigned long long>(wrong));
  check(cudaFree(sink), "free");
  check(cudaStreamDestroy(stream), "stream");
  return 0;
}

// ---- vmm ---------------------------------------------------------------------------------

template <class F>
F entry(const char* name) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  check(cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &found), name);
  return reinterpret_cast<F>(fn);
}

int run_vmm(const Options& o) {
  const uint64_t page = o.size("page", "2MiB");
  const int frames = static_cast<int>(o.number("frames", 256));
  check(cudaFree(nullptr), "init");  // the primary context
  auto mem_create = entry<decltype(&cuMemCreate)>("cuMemCreate");
  auto reserve = entry<decltype(&cuMemAddressReserve)>("cuMemAddressReserve");
  auto map = entry<decltype(&cuMemMap)>("cuMemMap");
  auto set_access = entry<decltype(&cuMemSetAccess)>("cuMemSetAccess");
  auto unmap = entry<decltype(&cuMemUnmap)>("cuMemUnmap");
  auto release = entry<decltype(&cuMemRelease)>("cuMemRelease");
  auto address_free = entry<decltype(&cuMemAddressFree)>("cuMemAddressFree");
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  CUmemAccessDesc access{prop.location, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
  std::vector<CUmemGenericAllocationHandle> handles(frames);
  auto start = Clock::now();
  for (auto& h : handles) {
    if (mem_create(&h, page, &prop, 0) != CUDA_SUCCESS) return 1;
  }
  const double create_us = since(start) / frames * 1e6;
  CUdeviceptr base = 0;
  if (reserve(&base, page * frames, page, 0, 0) != CUDA_SUCCESS) return 1;
  std::vector<double> map_us, access_us, unmap_us;
  double two_threads_us = 0;
  for (int round = 0; round < 3; ++round) {
    for (int f = 0; f < frames; ++f) {
      auto t0 = Clock::now();
      map(base + f * page, page, 0, handles[f], 0);
      auto t1 = Clock::now();
      set_access(base + f * page, page, &access, 1);
      auto t2 = Clock::now();
      map_us.push_back(std::chrono::duration<double>(t1 - t0).count() * 1e6);
      access_us.push_back(std::chrono::duration<double>(t2 - t1).count() * 1e6);
    }
    for (int f = 0; f < frames; ++f) {
      auto t0 = Clock::now();
      unmap(base + f * page, page);
      unmap_us.push_back(since(t0) * 1e6);
    }
  }
  // The same from two threads at once, half the frames each: does the driver serialize it?
  {
    auto half = [&](int from, int to) {
      for (int f = from; f < to; ++f) {
        map(base + f * page, page, 0, handles[f], 0);
        set_access(base + f * page, page, &access, 1);
      }
    };
    auto t0 = Clock::now();
    std::thread other([&] {
      check(cudaFree(nullptr), "context");
      half(frames / 2, frames);
    });
    half(0, frames / 2);
    other.join();
    two_threads_us = since(t0) / frames * 1e6;
    for (int f = 0; f < frames; ++f) unmap(base + f * page, page);
  }
  // One cuMemSetAccess over the whole run of mappings.
  for (int f = 0; f < frames; ++f) map(base + f * page, page, 0, handles[f], 0);
  auto t0 = Clock::now();
  set_access(base, page * frames, &access, 1);
  const double range_us = since(t0) * 1e6;
  for (int f = 0; f < frames; ++f) unmap(base + f * page, page);
  address_free(base, page * frames);
  for (auto h : handles) release(h);
  std::printf(
      "vmm, frames of %s: cuMemCreate %.1f us, cuMemMap %.1f us, cuMemSetAccess %.1f "
      "us, cuMemUnmap %.1f us (medians of %zu)\n",
      format_size(page).c_str(), create_us, median(map_us), median(access_us), median(unmap_us),
      map_us.size());
  std::printf(
      "vmm: one cuMemSetAccess over %d mappings (%s): %.1f us; map + access from two "
      "threads: %.1f us a frame\n",
      frames, format_size(page * frames).c_str(), range_us, two_threads_us);
  std::printf(
      "{\"bench\":\"vmm\",\"page\":%llu,\"create_us\":%.2f,\"map_us\":%.2f,"
      "\"set_access_us\":%.2f,\"unmap_us\":%.2f,\"set_access_range_us\":%.2f,"
      "\"range_frames\":%d,\"two_threads_us\":%.2f}\n",
      static_cast<unsigned long long>(page), create_us, median(map_us), median(access_us),
      median(unmap_us), range_us, frames, two_threads_us);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: gpu_tier_bench copy|stream|vmm [--key value]...\n"
        "  copy:   --size 1GiB --page 2MiB --reps 11 --dir /tmp\n"
        "  stream: --layer 64MiB --layers 64 --dram 1GiB --gpu 512MiB --compute 1.2\n"
        "          --prefetch schedule --prefetch-budget 256MiB --dir /tmp [--only transfer]\n"
        "  vmm:    --page 2MiB --frames 256\n");
    return 2;
  }
  Options o;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) {
      std::fprintf(stderr, "expected --key, got %s\n", argv[i]);
      return 2;
    }
    o.values[key.substr(2)] = argv[i + 1];
  }
  const std::string command = argv[1];
  try {
    if (command == "copy") return run_copy(o);
    if (command == "stream") return run_stream(o);
    if (command == "vmm") return run_vmm(o);
  } catch (const tiermem::Error& e) {
    std::fprintf(stderr, "gpu_tier_bench %s: %s\n", command.c_str(), e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown command %s\n", command.c_str());
  return 2;
}
