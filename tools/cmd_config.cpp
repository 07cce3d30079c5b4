// tools/cmd_config.cpp: `tiermem config`: every configuration key, or the effective config.
#include <fmt/format.h>

#include <iostream>

#include "tiermem/config.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"

namespace tiermem::tools {

int run_config(std::span<char*> args) {
  return guarded("config", [&] {
    po::options_description options("config options");
    options.add_options()("keys", "list every key with its type and meaning");
    add_config_options(options);
    po::variables_map vars;
    if (!parse_args(args, options, vars,
                    "usage: tiermem config [--keys] [--config FILE] [--set KEY=VALUE ...]\n"
                    "Prints the configuration that FILE and the --set overrides give, as JSON, "
                    "after checking it.")) {
      return 0;
    }
    if (vars.count("keys")) {
      for (const ConfigKeyInfo& key : Config::keys()) {
        std::cout << fmt::format("{:<24} {:<7} {}\n", key.name, key.type, key.doc);
      }
      return 0;
    }
    Config config = config_from(vars, Config());
    config.validate();
    std::cout << config.to_json() << "\n";
    return 0;
  });
}

}  // namespace tiermem::tools
