// policies/params.cpp: the spec parser and the parameter getters every policy's maker reads
// its parameters with, built-in or registered, so that all of them report bad values alike.
#include "policies/params.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "tiermem/error.hpp"

namespace tiermem::policy {

Params Params::parse(std::string_view text) {
  Params params;
  size_t colon = text.find(':');
  params.name_ = std::string(text.substr(0, colon));
  auto fault = [&](size_t pos, std::string_view what) {
    return Error(Errc::config, fmt::format("policy spec '{}': {} at position {}", text, what, pos));
  };
  if (params.name_.empty()) throw fault(0, "missing policy name");
  if (colon == std::string_view::npos) return params;
  size_t pos = colon + 1;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    size_t eq = item.find('=');
    if (eq == 0 || eq == std::string_view::npos || eq + 1 == item.size()) {
      throw fault(pos, "expected key=value");
    }
    auto [it, inserted] =
        params.values_.emplace(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    if (!inserted) throw fault(pos, fmt::format("parameter '{}' given twice", it->first));
    pos = comma + 1;
  }
  return params;
}

std::optional<std::string_view> Params::get_string(std::string_view key) const {
  if (std::find(asked_.begin(), asked_.end(), key) == asked_.end()) asked_.emplace_back(key);
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

double Params::get_double(std::string_view key, double fallback, double min, double max) const {
  std::optional<std::string_view> text = get_string(key);
  if (!text) return fallback;
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(std::string(*text), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text->size() || !(value >= min && value <= max)) {
    throw Error(Errc::config, fmt::format("policy '{}': {}={} is not a number in [{}, {}]", name_,
                                          key, *text, min, max));
  }
  return value;
}

uint64_t Params::get_uint(std::string_view key, uint64_t fallback, uint64_t min,
                          uint64_t max) const {
  std::optional<std::string_view> text = get_string(key);
  if (!text) return fallback;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    throw Error(Errc::config, fmt::format("policy '{}': {}={} is not an integer in [{}, {}]", name_,
                                          key, *text, min, max));
  }
  return value;
}

void Params::check_all_asked() const {
  for (const auto& [key, value] : values_) {
    if (std::find(asked_.begin(), asked_.end(), key) != asked_.end()) continue;
    std::string known;
    for (const std::string& name : asked_) {
      known += known.empty() ? "" : ", ";
      known += name;
    }
    throw Error(Errc::config, fmt::format("policy '{}' has no parameter '{}' (accepted: {})", name_,
                                          key, known.empty() ? "none" : known));
  }
}

}  // namespace tiermem::policy

namespace tiermem::policies {

std::optional<uint8_t> param_tier(const Params& params) {
  std::optional<std::string_view> text = params.get_string("tier");
  if (!text) return std::nullopt;
  if (*text == "gpu") return uint8_t{0};
  if (*text == "dram") return uint8_t{1};
  throw Error(Errc::config, fmt::format("policy '{}': tier={} is not a tier that can be "
                                        "prefetched into (gpu, dram)",
                                        params.name(), *text));
}

size_t param_choice(const Params& params, std::string_view key,
                    std::initializer_list<std::string_view> choices) {
  std::optional<std::string_view> text = params.get_string(key);
  if (!text) return 0;
  size_t index = 0;
  std::string names;
  for (std::string_view choice : choices) {
    if (*text == choice) return index;
    names += index++ == 0 ? "" : ", ";
    names += choice;
  }
  throw Error(Errc::config,
              fmt::format("policy '{}': {}={} is not one of {}", params.name(), key, *text, names));
}

uint64_t required_capacity(const Params& params, const Context& context) {
  if (context.capacity_pages == 0) {
    throw Error(Errc::config, fmt::format("policy '{}' needs the tier's capacity in pages, "
                                          "and its owner gave 0",
                                          params.name()));
  }
  return context.capacity_pages;
}

uint64_t required_page_size(const Params& params, const Context& context) {
  if (context.page_size == 0) {
    throw Error(Errc::config, fmt::format("policy '{}' needs the page size, and its owner gave 0",
                                          params.name()));
  }
  return context.page_size;
}

}  // namespace tiermem::policies
