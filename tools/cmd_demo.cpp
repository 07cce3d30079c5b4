// tools/cmd_demo.cpp: `tiermem demo`: a model's weights, scaled down to four times the DRAM
// tier, loaded once and then streamed layer by layer for a few tokens, ZeRO-Inference style;
// reports what moved between tiers, how fast, and how often pins found their pages resident.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tiermem/tiermem.hpp"
#include "tiermem/workload.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"

namespace tiermem::tools {

namespace {

struct Weight {
  std::string name;
  uint64_t rows, cols;
};

// The model's shape with its widths scaled so that its weights come to about target bytes;
// the layer count stays, so the streaming order is the model's own.
workload::ModelShape scaled(const workload::ModelShape& model, uint64_t target) {
  uint64_t full = 0;
  for (const workload::LayerWeight& w : workload::layer_weights(model)) full += w.elements();
  full = (full * model.layers + uint64_t{model.vocab} * model.hidden) * model.dtype_bytes;
  double f = std::min(1.0, std::sqrt(static_cast<double>(target) / static_cast<double>(full)));
  workload::ModelShape shape = model;
  // Keep whole heads and widths that are multiples of 64, as real models do.
  uint32_t head_unit = std::max<uint32_t>(64, model.heads);
  shape.hidden = std::max(
      head_unit, static_cast<uint32_t>(std::lround(model.hidden * f / head_unit)) * head_unit);
  shape.ffn = std::max(64u, static_cast<uint32_t>(std::lround(model.ffn * f / 64)) * 64);
  return shape;
}

}  // namespace

int run_demo(std::span<char*> args) {
  return guarded("demo", [&] {
    po::options_description options("demo options");
    options.add_options()  //
        ("model", po::value<std::string>()->default_value("opt-13b"),
         "model whose layers to stream (tiermem trace models lists them)")                  //
        ("dram", po::value<std::string>()->default_value("256MiB"), "DRAM tier capacity")   //
        ("oversubscribe", po::value<double>()->default_value(4), "model size / DRAM tier")  //
        ("tokens", po::value<uint32_t>()->default_value(3), "passes over every layer")      //
        ("gpu", "pin layers in the gpu tier (CUDA where present, else emulated)")           //
        ("dir", po::value<std::string>(), "directory for the NVMe tier (default $TMPDIR)")  //
        ("json", "print one JSON object as the last line");
    add_config_options(options);
    po::variables_map vars;
    if (!parse_args(args, options, vars,
                    "usage: tiermem demo [--model NAME] [--dram SIZE] [--tokens N] [--gpu] "
                    "[--json]\nStreams a model's layers, scaled to --oversubscribe times the DRAM "
                    "tier, through the pool; the schedule prefetcher reads each layer ahead and "
                    "Belady's MIN, told the layer order, picks what to evict.")) {
      return 0;
    }
    const workload::ModelShape& model = workload::find_model(vars["model"].as<std::string>());
    const bool on_gpu = vars.count("gpu") != 0;
    const Tier tier = on_gpu ? Tier::gpu : Tier::dram;

    Config base;
    base.dram.capacity = size_option(vars, "dram");
    const auto target = static_cast<uint64_t>(static_cast<double>(base.dram.capacity) *
                                              vars["oversubscribe"].as<double>());
    base.nvme.capacity = 2 * target + (1ull << 30);
    if (vars.count("dir")) base.nvme.dirs = {vars["dir"].as<std::string>()};
    base.policy.eviction = "belady";
    base.policy.prefetch = "schedule";

    // The scaled model: an embedding, then every layer's weights.
    const workload::ModelShape shape = scaled(model, target);
    std::vector<Weight> weights{{"embed", shape.vocab, shape.hidden}};
    uint64_t largest = 0;
    for (uint32_t layer = 0; layer < shape.layers; ++layer) {
      for (const workload::LayerWeight& w : workload::layer_weights(shape)) {
        weights.push_back({fmt::format("layer{}.{}", layer, w.name), w.rows, w.cols});
      }
    }
    for (const Weight& w : weights)
      largest = std::max(largest, w.rows * w.cols * model.dtype_bytes);
    // A quarter of the DRAM tier, and room for two of the largest weights (the embedding can
    // exceed the quarter: a pin must fit the tier whole).
    if (on_gpu) {
      base.gpu.capacity = std::max(base.dram.capacity / 4, 2 * (largest + base.page_size - 1) /
                                                               base.page_size * base.page_size);
    }
    Config config = config_from(vars, base);

    Pool pool(config);
    std::vector<Tensor> tensors;
    std::vector<ScheduleStep> order;
    uint64_t model_bytes = 0;
    for (const Weight& w : weights) {
      tensors.push_back(pool.allocate({w.rows, w.cols}, shape.dtype, w.name));
      order.push_back({.tensor = tensors.back(), .tier = tier});
      model_bytes += tensors.back().size_bytes();
    }
    // Read once: stats() locks the pool and copies, too costly for the timed loop.
    const std::string gpu_backend = pool.stats().gpu_backend;
    const bool device_memory = on_gpu && gpu_backend == "cuda";
    std::cout << fmt::format(
        "{} scaled to hidden {} and ffn {}: {} tensors in {} layers, {} of weights; dram tier "
        "{}{}; page size {}; eviction {}, prefetch {}\n",
        model.name, shape.hidden, shape.ffn, tensors.size(), shape.layers,
        human_bytes(static_cast<double>(model_bytes)), format_size(config.dram.capacity),
        on_gpu ? fmt::format(", gpu tier {} ({})", format_size(config.gpu.capacity), gpu_backend)
               : "",
        format_size(config.page_size), config.policy.eviction, config.policy.prefetch);

    // Load: write every weight once (generated values stand in for a checkpoint).
    auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < tensors.size(); ++i) {
      Pin pin = tensors[i].pin(Tier::dram, Access::write);
      auto words = pin.as<uint16_t>();
      for (size_t k = 0; k < words.size(); ++k) words[k] = static_cast<uint16_t>(i * 31 + k);
    }
    double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // The schedule is the stream's order, registered once the load is done: during the load
    // the prefetcher would read ahead pages about to be overwritten, and Belady would judge
    // the load's evictions by the stream's next uses.
    pool.set_schedule(order);
    const Stats loaded = pool.stats();

    // Stream: every token reads every weight in order and computes on it (a checksum).
    start = std::chrono::steady_clock::now();
    uint64_t checksum = 0;
    const uint32_t tokens = vars["tokens"].as<uint32_t>();
    for (uint32_t token = 0; token < tokens; ++token) {
      for (const Tensor& tensor : tensors) {
        Pin pin = tensor.pin(tier, Access::read);
        if (device_memory) continue;  // not readable from the host
        const auto* bytes = static_cast<const unsigned char*>(pin.data());
        uint64_t sum = 0;
        for (uint64_t k = 0; k + 8 <= pin.size(); k += 8) {
          uint64_t word;
          std::memcpy(&word, bytes + k, 8);
          sum += word;
        }
        checksum ^= sum;
      }
    }
    double stream_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const Stats s = pool.stats();

    const uint64_t streamed = model_bytes * tokens;
    const int t = static_cast<int>(tier);
    const uint64_t hits = s.tiers[t].hits - loaded.tiers[t].hits;
    const uint64_t misses = s.tiers[t].misses - loaded.tiers[t].misses;
    const double hit_ratio = hits + misses == 0 ? 0 : static_cast<double>(hits) / (hits + misses);
    std::cout << fmt::format("load: {} written in {:.2f} s\n",
                             human_bytes(static_cast<double>(model_bytes)), load_s);
    std::cout << fmt::format(
        "stream: {} tokens, {} read through pins in {:.2f} s = {:.2f} GB/s; hit ratio {:.3f} "
        "({} hits, {} misses); prefetch: {} issued, {} useful, {} late, {} useless\n",
        tokens, human_bytes(static_cast<double>(streamed)), stream_s,
        static_cast<double>(streamed) / stream_s / 1e9, hit_ratio, hits, misses, s.prefetch_issued,
        s.prefetch_useful, s.prefetch_late, s.prefetch_useless);
    std::cout << "pages moved (load and stream):\n";
    for_each_move(s.moves, [&](const std::string& pair, int from, int to) {
      std::cout << fmt::format("  {:<14} {:>8} pages  {:>12}\n", pair, s.moves[from][to],
                               human_bytes(static_cast<double>(s.moved_bytes[from][to])));
    });
    std::cout << fmt::format("  {:<14} {:>8} pages\n", "zero filled", s.zero_fills);
    if (s.dram_huge_pages == "none") {
      std::cout << "note: the kernel gave the dram tier no 2 MiB pages (are transparent huge pages "
                   "off in /sys/kernel/mm/transparent_hugepage/enabled?); NVMe transfers from "
                   "4 KiB pages can run about half as fast\n";
    }
    if (vars.count("json")) {
      boost::json::object json;
      json["model"] = model.name;
      json["tensors"] = tensors.size();
      json["model_bytes"] = model_bytes;
      json["dram_bytes"] = config.dram.capacity;
      json["tokens"] = tokens;
      json["load_seconds"] = load_s;
      json["stream_seconds"] = stream_s;
      json["stream_gbps"] = static_cast<double>(streamed) / stream_s / 1e9;
      json["hit_ratio"] = hit_ratio;
      json["hits"] = hits;
      json["misses"] = misses;
      json["checksum"] = checksum;
      json["stats"] = boost::json::parse(s.to_json());
      print_json_last(json);
    }
    return 0;
  });
}

}  // namespace tiermem::tools
