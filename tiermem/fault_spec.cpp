// tiermem/fault_spec.cpp: parsing the io.faults configuration value into a FaultPlan.
#include "tiermem/fault_spec.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

#include "tiermem/config.hpp"
#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

[[noreturn]] void refuse(std::string_view item, std::string_view why) {
  throw Error(Errc::config, fmt::format("io.faults: item '{}': {}", item, why));
}

double parse_chance(std::string_view item, std::string_view text) {
  double value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0 ||
      value > 1) {
    refuse(item, fmt::format("'{}' is not a probability from 0 to 1", text));
  }
  return value;
}

uint64_t parse_number(std::string_view item, std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    refuse(item, fmt::format("'{}' is not a whole number", text));
  }
  return value;
}

std::chrono::microseconds parse_duration(std::string_view item, std::string_view text) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view unit(end, text.data() + text.size() - end);
  constexpr uint64_t kMaxMicroseconds = 10'000'000;  // 10 s: longer would look like a hang
  uint64_t scale = unit == "us" ? 1 : unit == "ms" ? 1000 : unit == "s" ? 1'000'000 : 0;
  if (ec != std::errc() || end == text.data() || scale == 0 || number > kMaxMicroseconds / scale) {
    refuse(item,
           fmt::format("'{}' is not a duration of at most 10s with a unit (us, ms, s)", text));
  }
  return std::chrono::microseconds(number * scale);
}

uint64_t parse_offset(std::string_view item, std::string_view text) {
  try {
    return parse_size(text);
  } catch (const Error& e) {
    refuse(item, e.what());
  }
}

}  // namespace

io::FaultPlan parse_fault_spec(std::string_view spec) {
  io::FaultPlan plan;
  size_t start = 0;
  while (start < spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    const std::string_view item = spec.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    const size_t sep = item.find_first_of("=@");
    if (sep == std::string_view::npos || sep + 1 == item.size()) {
      refuse(item, "expected NAME=VALUE or ERROR@BEGIN-END");
    }
    const std::string_view name = item.substr(0, sep), value = item.substr(sep + 1);
    if (item[sep] == '=' && name == "short") {
      plan.short_probability = parse_chance(item, value);
    } else if (item[sep] == '=' && name == "retry") {
      plan.retry_probability = parse_chance(item, value);
    } else if (item[sep] == '=' && name == "latency") {
      plan.latency = parse_duration(item, value);
    } else if (item[sep] == '=' && name == "seed") {
      plan.seed = parse_number(item, value);
    } else {
      // ERROR[.read|.write]
      const size_t dot = name.find('.');
      const std::string_view error = name.substr(0, dot);
      const std::string_view ops = dot == std::string_view::npos ? "" : name.substr(dot + 1);
      const int code = error == "eio" ? EIO : error == "enospc" ? ENOSPC : 0;
      if (code == 0) {
        refuse(item, fmt::format("unknown fault '{}' (known: eio, enospc, short, retry, latency, "
                                 "seed)",
                                 error));
      }
      if (!ops.empty() && ops != "read" && ops != "write") {
        refuse(item, fmt::format("'{}' is neither read nor write", ops));
      }
      const bool reads = ops != "write", writes = ops != "read";
      if (item[sep] == '=') {
        plan.chances.push_back({.probability = parse_chance(item, value),
                                .error = code,
                                .reads = reads,
                                .writes = writes});
      } else {
        const size_t dash = value.find('-');
        if (dash == std::string_view::npos) refuse(item, "expected a byte range BEGIN-END");
        const uint64_t begin = parse_offset(item, value.substr(0, dash));
        const uint64_t end = parse_offset(item, value.substr(dash + 1));
        if (end <= begin) {
          refuse(item, fmt::format("the range ends at {}, not after its begin {}", end, begin));
        }
        plan.fail_ranges.push_back(
            {.begin = begin, .end = end, .error = code, .reads = reads, .writes = writes});
      }
    }
  }
  return plan;
}

}  // namespace tiermem::detail
