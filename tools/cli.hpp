// tools/cli.hpp: what every subcommand shares: config options, --json reports, error exits.
#pragma once

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <functional>
#include <span>
#include <string>

#include "tiermem/config.hpp"
#include "tiermem/types.hpp"

namespace tiermem::tools {

namespace po = boost::program_options;

// Adds --config FILE and --set KEY=VALUE (repeatable) to options.
void add_config_options(po::options_description& options);

// base, then the file named by --config, then each --set in order.
Config config_from(const po::variables_map& vars, Config base);

// Parses args (args[0] is the subcommand). Returns false after printing help for --help.
// Throws Error(invalid_argument) naming an unknown or malformed option.
bool parse_args(std::span<char*> args, const po::options_description& options,
                po::variables_map& vars, std::string_view usage);

// Runs body; a tiermem::Error or a bad option becomes "tiermem NAME: error: ..." on stderr
// and exit status 1.
int guarded(std::string_view name, const std::function<int()>& body);

// Prints report as one line of JSON; callers print it after their human lines, so that it is
// the output's last line.
void print_json_last(const boost::json::object& report);

// Calls each(name, from, to) for every pair of tiers whose count is not zero, with the name
// Stats::visit gives that pair's moves ("nvme_to_dram"), so reports and stats agree.
void for_each_move(const uint64_t (&counts)[kTierCount][kTierCount],
                   const std::function<void(const std::string& name, int from, int to)>& each);

// Bytes for people: "1.50 GiB", "512 KiB", "100 B".
std::string human_bytes(double bytes);

// Parses a size option's text ("256MiB") with tiermem's rules; the option's name is in errors.
uint64_t size_option(const po::variables_map& vars, const std::string& name);

}  // namespace tiermem::tools
