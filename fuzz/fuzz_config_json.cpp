// fuzz/fuzz_config_json.cpp: Config::from_json, the parser of configuration files and of
// tiermem_pool_open's argument; what it accepts must print and load back the same, and
// validate() must answer it with a value or an Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "tiermem/config.hpp"

using namespace tiermem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  Config config;
  if (!fuzz::accepted([&] { config = Config::from_json(json, "<fuzz>"); })) return 0;
  Config again = Config::from_json(config.to_json(), "<to_json>");
  for (const ConfigKeyInfo& key : Config::keys()) {
    fuzz::require(again.get(key.name) == config.get(key.name),
                  "from_json(to_json()) gives every key its value back");
  }
  fuzz::accepted([&] { config.validate(); });
  fuzz::accepted([&] { config.validate_virtual(); });
  return 0;
}
