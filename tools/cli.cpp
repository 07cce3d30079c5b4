// tools/cli.cpp: shared option handling for the subcommands.
#include "tools/cli.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "support/json.hpp"
#include "tiermem/error.hpp"

namespace tiermem::tools {

void add_config_options(po::options_description& options) {
  options.add_options()                                         //
      ("config", po::value<std::string>(), "JSON config file")  //
      ("set", po::value<std::vector<std::string>>()->composing(),
       "override one config key: KEY=VALUE (repeatable); see `tiermem config --keys`");
}

Config config_from(const po::variables_map& vars, Config base) {
  Config config =
      vars.count("config") ? Config::from_file(vars["config"].as<std::string>()) : std::move(base);
  if (vars.count("set")) {
    for (const std::string& assignment : vars["set"].as<std::vector<std::string>>()) {
      size_t eq = assignment.find('=');
      if (eq == std::string::npos) {
        throw Error(Errc::invalid_argument,
                    "--set '" + assignment + "' is not of the form KEY=VALUE");
      }
      config.set(std::string_view(assignment).substr(0, eq),
                 std::string_view(assignment).substr(eq + 1));
    }
  }
  return config;
}

bool parse_args(std::span<char*> args, const po::options_description& options,
                po::variables_map& vars, std::string_view usage) {
  po::options_description all(options);
  all.add_options()("help,h", "show this help");
  try {
    po::store(
        po::command_line_parser(static_cast<int>(args.size()), args.data()).options(all).run(),
        vars);
    // Help before notify(), which throws for a required option that --help does not need.
    if (vars.count("help")) {
      std::cout << usage << "\n\n" << all << "\n";
      return false;
    }
    po::notify(vars);
  } catch (const po::error& e) {
    throw Error(Errc::invalid_argument, e.what());
  }
  return true;
}

int guarded(std::string_view name, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {  // tiermem::Error among them
    std::cerr << "tiermem " << name << ": error: " << e.what() << "\n";
  }
  return 1;
}

void print_json_last(const boost::json::object& report) {
  std::cout << json_text(report) << std::endl;
}

void for_each_move(const uint64_t (&counts)[kTierCount][kTierCount],
                   const std::function<void(const std::string& name, int from, int to)>& each) {
  for (int from = 0; from < kTierCount; ++from) {
    for (int to = 0; to < kTierCount; ++to) {
      if (counts[from][to] == 0) continue;
      each(fmt::format("{}_to_{}", to_string(static_cast<Tier>(from)),
                       to_string(static_cast<Tier>(to))),
           from, to);
    }
  }
}

std::string human_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.2f %s", bytes, kUnits[unit]);
  return text;
}

uint64_t size_option(const po::variables_map& vars, const std::string& name) {
  const std::string& text = vars[name].as<std::string>();
  try {
    return parse_size(text);
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, "--" + name + ": " + e.what());
  }
}

}  // namespace tiermem::tools
