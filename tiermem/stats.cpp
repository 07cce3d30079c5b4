// tiermem/stats.cpp: the one visitor walk that names every counter, and the text and JSON forms
// built from it.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "support/json.hpp"
#include "tiermem/stats.hpp"

namespace tiermem {

void Stats::visit(StatsVisitor& v) const {
  v.label("gpu.backend", gpu_backend);
  v.label("io.engine", io_engine);
  v.label("dram.huge_pages", dram_huge_pages);
  v.counter("dram.huge_bytes", dram_huge_bytes);
  v.counter("dram.locked", dram_locked ? 1 : 0);
  for (int t = 0; t < kTierCount; ++t) {
    std::string_view tier = to_string(static_cast<Tier>(t));
    const TierStats& s = tiers[t];
    v.counter(fmt::format("{}.capacity_bytes", tier), s.capacity_bytes);
    v.counter(fmt::format("{}.frames", tier), s.frames);
    v.counter(fmt::format("{}.free_frames", tier), s.free_frames);
    v.counter(fmt::format("{}.hits", tier), s.hits);
    v.counter(fmt::format("{}.misses", tier), s.misses);
    v.counter(fmt::format("{}.prefetched", tier), s.prefetched);
    v.counter(fmt::format("{}.evictions", tier), s.evictions);
    v.counter(fmt::format("{}.writebacks", tier), s.writebacks);
  }
  for (int from = 0; from < kTierCount; ++from) {
    for (int to = 0; to < kTierCount; ++to) {
      if (from == to) continue;
      auto name = fmt::format("moves.{}_to_{}", to_string(static_cast<Tier>(from)),
                              to_string(static_cast<Tier>(to)));
      v.counter(name + ".pages", moves[from][to]);
      v.counter(name + ".bytes", moved_bytes[from][to]);
    }
  }
  v.counter("zero_fills", zero_fills);
  v.counter("pins", pins);
  v.counter("tensors", tensors);
  v.counter("tensor_bytes", tensor_bytes);
  v.counter("prefetch.issued", prefetch_issued);
  v.counter("prefetch.useful", prefetch_useful);
  v.counter("prefetch.late", prefetch_late);
  v.counter("prefetch.useless", prefetch_useless);
  v.counter("prefetch.dropped", prefetch_dropped);
  v.counter("io_errors", io_errors);
  v.counter("access_events_dropped", access_events_dropped);
}

std::string Stats::to_text() const {
  struct Text final : StatsVisitor {
    std::string out;
    void counter(std::string_view name, uint64_t value) override {
      fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
    }
    void label(std::string_view name, std::string_view value) override {
      fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
    }
  } text;
  visit(text);
  return text.out;
}

std::string Stats::to_json() const {
  struct Json final : StatsVisitor {
    boost::json::object out;
    void counter(std::string_view name, uint64_t value) override { out[name] = value; }
    void label(std::string_view name, std::string_view value) override { out[name] = value; }
  } json;
  visit(json);
  return json_text(json.out);
}

}  // namespace tiermem
