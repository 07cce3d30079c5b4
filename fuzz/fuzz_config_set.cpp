// fuzz/fuzz_config_set.cpp: Config::set, behind every --set KEY=VALUE, over every key of
// Config::keys() (the first byte picks it, the rest is the value), and parse_size. A refused
// value changes nothing; an accepted one prints as text that set() takes back to the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "tiermem/config.hpp"

using namespace tiermem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto keys = Config::keys();
  std::string_view key = keys[data[0] % keys.size()].name;
  std::string_view value(reinterpret_cast<const char*>(data) + 1, size - 1);

  uint64_t bytes = 0;
  if (fuzz::accepted([&] { bytes = parse_size(value); })) {
    fuzz::require(parse_size(format_size(bytes)) == bytes, "parse_size(format_size(n)) == n");
  }

  Config config;
  const std::string before = config.get(key);
  if (!fuzz::accepted([&] { config.set(key, value); })) {
    fuzz::require(config.get(key) == before, "a refused value leaves the field unchanged");
    return 0;
  }
  std::string text = config.get(key);
  Config again;
  again.set(key, text);
  fuzz::require(again.get(key) == text, "set(key, get(key)) keeps the value");
  fuzz::accepted([&] { config.validate(); });
  fuzz::accepted([&] { config.validate_virtual(); });
  return 0;
}
