// sim/result.cpp: the simulator's public odds and ends: link specs, the Result's derived
// figures and its visitor (the one place that names every figure), and the policy listings.
#include <fmt/format.h>

#include <boost/json.hpp>

#include <charconv>
#include <string>

#include "policies/registry.hpp"
#include "support/json.hpp"
#include "tiermem/error.hpp"
#include "tiermem/sim.hpp"

namespace tiermem::sim {

namespace {

// The ranges of a link's values, as parse() and validate() accept them.
constexpr double kMinGbps = 1e-6, kMaxGbps = 1e6, kMaxLatencyUs = 1e9;
constexpr uint32_t kMaxQueueDepth = 65536;

double parse_number(std::string_view text, std::string_view key, double min, double max) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(value >= min) ||
      !(value <= max)) {
    throw Error(Errc::invalid_argument,
                fmt::format("link {}={} is not a number in [{}, {}]", key, text, min, max));
  }
  return value;
}

double relative_gap(uint64_t value, uint64_t optimum) {
  if (optimum == 0) return 0;
  return (static_cast<double>(value) - static_cast<double>(optimum)) / static_cast<double>(optimum);
}

template <class Entry>
std::vector<PolicyInfo> listing(const std::vector<Entry>& table) {
  std::vector<PolicyInfo> out;
  for (const Entry& entry : table) out.push_back({entry.name, entry.params, entry.doc});
  return out;
}

void visit_tier(ResultVisitor& v, std::string_view tier, const TierResult& r) {
  auto name = [&](std::string_view field) { return fmt::format("{}.{}", tier, field); };
  v.counter(name("capacity_pages"), r.capacity_pages);
  v.counter(name("hits"), r.hits);
  v.counter(name("misses"), r.misses);
  v.counter(name("prefetched"), r.prefetched);
  v.counter(name("evictions"), r.evictions);
  v.counter(name("writebacks"), r.writebacks);
  v.counter(name("bytes_in"), r.bytes_in);
  v.counter(name("bytes_out"), r.bytes_out);
}

}  // namespace

Link Link::parse(std::string_view text, Link base) {
  Link link = base;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    if (key == "gbps") {
      link.gbps = parse_number(value, key, kMinGbps, kMaxGbps);
    } else if (key == "write_gbps") {
      link.write_gbps = parse_number(value, key, 0, kMaxGbps);
    } else if (key == "lat_us") {
      link.latency_us = parse_number(value, key, 0, kMaxLatencyUs);
    } else if (key == "qd") {
      link.queue_depth = static_cast<uint32_t>(parse_number(value, key, 1, kMaxQueueDepth));
      if (link.queue_depth != parse_number(value, key, 1, kMaxQueueDepth)) {
        throw Error(Errc::invalid_argument, fmt::format("link qd={} is not an integer", value));
      }
    } else {
      throw Error(Errc::invalid_argument,
                  fmt::format("link '{}': unknown key '{}' (known: gbps, write_gbps, lat_us, qd)",
                              text, key));
    }
    pos = comma + 1;
  }
  return link;
}

void Link::validate(std::string_view name) const {
  auto check = [&](std::string_view field, double value, double min, double max) {
    if (!(value >= min) || !(value <= max)) {  // NaN fails both
      throw Error(Errc::invalid_argument,
                  fmt::format("link {}: {} {} is not in [{}, {}]", name, field, value, min, max));
    }
  };
  check("gbps", gbps, kMinGbps, kMaxGbps);
  check("write_gbps", write_gbps, 0, kMaxGbps);
  check("latency_us", latency_us, 0, kMaxLatencyUs);
  check("queue_depth", queue_depth, 1, kMaxQueueDepth);
}

void Result::add_baseline(const Result& optimum) noexcept {
  has_baseline = true;
  belady_misses = optimum.misses;
  belady_bytes_fetched = optimum.bytes_fetched;
}

double Result::miss_ratio() const noexcept {
  return accesses == 0 ? 0.0 : static_cast<double>(misses) / static_cast<double>(accesses);
}

double Result::gap_misses() const noexcept {
  return has_baseline ? relative_gap(misses, belady_misses) : 0.0;
}

double Result::gap_bytes() const noexcept {
  return has_baseline ? relative_gap(bytes_fetched, belady_bytes_fetched) : 0.0;
}

void Result::visit(ResultVisitor& v) const {
  v.label("eviction", eviction);
  v.label("prefetch", prefetch);
  v.counter("page_size", page_size);
  v.counter("accesses", accesses);
  v.counter("hits", hits);
  v.counter("misses", misses);
  v.ratio("miss_ratio", miss_ratio());
  v.counter("bytes_read", bytes_read);
  v.counter("bytes_written", bytes_written);
  v.counter("bytes_fetched", bytes_fetched);
  v.counter("demand.fetches", demand_fetches);
  v.counter("demand.bytes", demand_bytes);
  v.counter("prefetch.fetches", prefetch_fetches);
  v.counter("prefetch.bytes", prefetch_bytes);
  v.counter("elapsed_ns", elapsed_ns);
  v.counter("compute_ns", compute_ns);
  v.counter("stall_ns", stall_ns);
  v.counter("io_ns", io_ns);
  v.ratio("overlap_efficiency", overlap_efficiency);
  v.ratio("accesses_per_sec", accesses_per_sec);
  v.counter("prefetch.issued", prefetch_issued);
  v.counter("prefetch.useful", prefetch_useful);
  v.counter("prefetch.late", prefetch_late);
  v.counter("prefetch.useless", prefetch_useless);
  v.counter("prefetch.dropped", prefetch_dropped);
  visit_tier(v, "gpu", gpu);
  visit_tier(v, "dram", dram);
  if (has_baseline) {
    v.counter("belady.misses", belady_misses);
    v.counter("belady.bytes_fetched", belady_bytes_fetched);
    v.ratio("gap.misses", gap_misses());
    v.ratio("gap.bytes", gap_bytes());
  }
}

std::vector<PolicyInfo> eviction_policies() {
  return listing(policies::eviction_policies());
}

std::vector<PolicyInfo> prefetch_policies() {
  return listing(policies::prefetch_policies());
}

std::string Result::to_json() const {
  struct Fields final : ResultVisitor {
    boost::json::object object;
    void label(std::string_view n, std::string_view v) override { object[n] = v; }
    void counter(std::string_view n, uint64_t v) override { object[n] = v; }
    void ratio(std::string_view n, double v) override { object[n] = v; }
  } fields;
  visit(fields);
  return json_text(fields.object);
}

}  // namespace tiermem::sim
