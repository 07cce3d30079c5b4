// bench/stream_bench.cpp: layer streaming driven from C++, the reference that
// bench/python_bench.py holds its Python stream against: the same pool configuration (one JSON
// file for both), the same loop, the same directory for the NVMe files.
//
//   stream_bench CONFIG_JSON LAYERS LAYER_BYTES TOKENS [--checksum]
//
// Writes LAYERS tensors of LAYER_BYTES (layer i filled with byte i), evicts them all, then
// streams them TOKENS times in order: prefetch layer i+1 into dram, pin layer i for reading,
// unpin. Prints one JSON object: the streaming seconds, the bytes pinned, and the pages read
// from nvme. With --checksum each pinned layer is also summed as 64-bit words, the sum
// bench/stream_baseline.cpp computes (bench/stream_vs_baseline.sh), and the JSON object gives it
// as "checksum"; without it no byte is read. Exits 2 on bad arguments, 1 on a tiermem error (its
// message on stderr).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tiermem/tiermem.hpp"

namespace {

// The unsigned, wrapping sum of the 8-byte words of [data, data + bytes), as
// bench/stream_baseline.cpp sums; a tail shorter than a word is left out.
uint64_t sum_words(const unsigned char* data, uint64_t bytes) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i + 8 <= bytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    sum += word;
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tiermem;
  const bool checksum = argc == 6 && std::strcmp(argv[5], "--checksum") == 0;
  if (argc != 5 && !checksum) {
    std::fprintf(stderr,
                 "usage: stream_bench CONFIG_JSON LAYERS LAYER_BYTES TOKENS [--checksum]\n");
    return 2;
  }
  try {
    Config config = Config::from_file(argv[1]);
    const auto layers = static_cast<int>(std::stoul(argv[2]));
    const uint64_t layer_bytes = parse_size(argv[3]);
    const auto tokens = static_cast<int>(std::stoul(argv[4]));
    Pool pool(config);
    std::vector<Tensor> weights;
    for (int i = 0; i < layers; ++i) {
      weights.push_back(pool.allocate({layer_bytes}, DType::u8, "layer" + std::to_string(i)));
      Pin pin = weights.back().pin(Tier::dram, Access::write);
      std::memset(pin.data(), i, pin.size());
    }
    for (Tensor& w : weights) w.evict(Tier::dram);

    auto start = std::chrono::steady_clock::now();
    uint64_t pinned = 0, sum = 0;
    for (int token = 0; token < tokens; ++token) {
      for (int i = 0; i < layers; ++i) {
        if (i + 1 < layers) weights[i + 1].prefetch(Tier::dram);
        Pin pin = weights[i].pin(Tier::dram, Access::read);
        pinned += pin.size();
        if (checksum) sum += sum_words(static_cast<const unsigned char*>(pin.data()), pin.size());
      }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("{\"seconds\": %.6f, \"bytes\": %llu, \"nvme_to_dram_pages\": %llu", seconds,
                static_cast<unsigned long long>(pinned),
                static_cast<unsigned long long>(pool.stats().moves[2][1]));
    if (checksum)
      std::printf(", \"checksum\": \"0x%016llx\"", static_cast<unsigned long long>(sum));
    std::printf("}\n");
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "stream_bench: %s\n", error.what());
    return 1;
  }
}
