// bench/persist_bench.cpp: what a persistent pool costs to open again, to verify and to flush
// a small change, on a pool of PAGES pages of 64 KiB in TENSORS tensors (bench/persist_vs_fio.sh
// runs it beside fio).
//
//   persist_bench DIR [PAGES] [TENSORS] [RUNS]    (defaults 100000 100 3)
//
// Makes the pool in DIR (which must hold none), fills every page and flushes (timed, but not a
// figure of interest). Then RUNS times, each after dropping the page cache when it may (root):
// opens the pool again (Pool's constructor: the manifest read and checked, every tensor and
// page restored; no page read), finds every tensor by name, runs Pool::verify() (every durable
// page read and checksummed), rewrites 1% of the pages (every hundredth) and times the flush
// that publishes them, and closes the pool; then opens it once more with a 16 MiB dram tier
// instead of 512 MiB, which leaves out most of what setting up the DRAM region costs (the
// manifest's share of the open). Prints one JSON object per run and one with the medians,
// each on its own line. Exits 2 on bad arguments, 1 on a tiermem error.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tiermem/tiermem.hpp"

namespace {

using namespace tiermem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kPage = 64 << 10;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string tensor_name(uint64_t i) {
  std::string name = "layer";
  name += std::to_string(i);
  return name;
}

// Page by page range of at most a quarter of the dram tier, each byte from the page's number
// and round, so that a rewrite changes every byte.
void write_pages(const Tensor& tensor, uint64_t first, uint64_t count, uint8_t round) {
  constexpr uint64_t kChunk = 1024 * kPage;
  for (uint64_t at = first * kPage; at < (first + count) * kPage; at += kChunk) {
    const uint64_t length = std::min(kChunk, (first + count) * kPage - at);
    Pin pin = tensor.pin(Tier::dram, Access::write, {at, length});
    std::memset(pin.data(), static_cast<int>(round + at / kPage), pin.size());
  }
}

void drop_page_cache() {
  sync();
  std::ofstream("/proc/sys/vm/drop_caches") << "3\n";  // fails quietly unless root
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 5) {
    std::fprintf(stderr, "usage: persist_bench DIR [PAGES] [TENSORS] [RUNS]\n");
    return 2;
  }
  try {
    const uint64_t pages = argc > 2 ? std::stoull(argv[2]) : 100000;
    const uint64_t tensors = argc > 3 ? std::stoull(argv[3]) : 100;
    const int runs = argc > 4 ? std::stoi(argv[4]) : 3;
    if (tensors == 0 || pages % tensors != 0 || runs < 1) {
      std::fprintf(stderr, "persist_bench: PAGES must be a multiple of TENSORS, RUNS >= 1\n");
      return 2;
    }
    const uint64_t per_tensor = pages / tensors;
    Config config;
    config.page_size = kPage;
    config.dram.capacity = 512ull << 20;
    config.nvme.dirs = {argv[1]};
    config.nvme.capacity = 2 * pages * kPage;  // two slots a page
    config.nvme.persistent = true;

    auto start = Clock::now();
    {
      Pool pool(config);
      for (uint64_t t = 0; t < tensors; ++t) {
        write_pages(pool.allocate({per_tensor * kPage}, DType::u8, tensor_name(t)), 0, per_tensor,
                    0);
      }
      pool.flush();
    }
    std::printf("{\"pages\": %llu, \"tensors\": %llu, \"fill_and_flush_s\": %.3f}\n",
                static_cast<unsigned long long>(pages), static_cast<unsigned long long>(tensors),
                since(start));
    std::fflush(stdout);

    Config small_dram = config;
    small_dram.dram.capacity = 16ull << 20;
    std::vector<double> open_s, verify_s, flush_s, close_s, small_open_s;
    uint64_t manifest_bytes = 0;
    for (int run = 0; run < runs; ++run) {
      drop_page_cache();
      start = Clock::now();
      auto pool = std::make_unique<Pool>(config);
      open_s.push_back(since(start));
      std::vector<Tensor> found;
      for (uint64_t t = 0; t < tensors; ++t) found.push_back(pool->find(tensor_name(t)));
      if (std::any_of(found.begin(), found.end(), [](const Tensor& t) { return !t; })) {
        throw Error(Errc::corrupt, "a tensor is missing after reopening");
      }
      start = Clock::now();
      const uint64_t checked = pool->verify();
      verify_s.push_back(since(start));
      if (checked != pages) throw Error(Errc::corrupt, "verify() checked another page count");
      // 1%: every hundredth page.
      for (uint64_t p = run; p < pages; p += 100) {
        write_pages(found[p / per_tensor], p % per_tensor, 1, static_cast<uint8_t>(run + 1));
      }
      start = Clock::now();
      pool->flush();
      flush_s.push_back(since(start));
      struct stat st {};
      if (stat((config.nvme.dirs[0] + "/tiermem.manifest").c_str(), &st) == 0) {
        manifest_bytes = static_cast<uint64_t>(st.st_size);
      }
      found.clear();
      start = Clock::now();
      pool.reset();
      close_s.push_back(since(start));
      drop_page_cache();
      start = Clock::now();
      pool = std::make_unique<Pool>(small_dram);
      small_open_s.push_back(since(start));
      pool.reset();
      std::printf(
          "{\"run\": %d, \"open_s\": %.4f, \"verify_s\": %.3f, \"verify_gbps\": %.3f, "
          "\"flush_1pct_s\": %.4f, \"close_s\": %.4f, \"open_16mib_dram_s\": %.4f, "
          "\"manifest_bytes\": %llu}\n",
          run, open_s.back(), verify_s.back(), pages * kPage / verify_s.back() / 1e9,
          flush_s.back(), close_s.back(), small_open_s.back(),
          static_cast<unsigned long long>(manifest_bytes));
      std::fflush(stdout);
    }
    std::printf(
        "{\"median_open_s\": %.4f, \"median_verify_s\": %.3f, \"median_verify_gbps\": %.3f, "
        "\"median_flush_1pct_s\": %.4f, \"median_close_s\": %.4f, "
        "\"median_open_16mib_dram_s\": %.4f, \"manifest_bytes\": %llu}\n",
        median(open_s), median(verify_s), pages * kPage / median(verify_s) / 1e9, median(flush_s),
        median(close_s), median(small_open_s), static_cast<unsigned long long>(manifest_bytes));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "persist_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
