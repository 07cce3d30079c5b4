// tools/main.cpp: the `tiermem` command-line tool: a table of subcommands and its dispatcher.
#include <cstdio>
#include <iostream>
#include <span>
#include <string_view>

#include "tiermem/tiermem.h"
#include "tools/command.hpp"

namespace tiermem::tools {
namespace {

// The version of the library loaded, which is what a user of the tool runs.
int run_version(std::span<char*> args) {
  if (args.size() > 1) {
    std::string_view arg = args[1];
    bool help = arg == "--help" || arg == "-h";
    (help ? std::cout : std::cerr) << "usage: tiermem version   (or tiermem --version)\n";
    return help ? 0 : 2;
  }
  std::printf("tiermem %s\n", tiermem_version(nullptr, nullptr, nullptr));
  return 0;
}

constexpr Command kCommands[] = {
    {"demo", "stream a model's layers, 4x larger than the DRAM tier, and report", run_demo},
    {"io", "measure the I/O engine on files: GB/s, IOPS, latency (like DeepNVMe's ds_io)", run_io},
    {"stress",
     "random calls of the whole API from many threads, checked byte by byte against a model",
     run_stress},
    {"config", "list configuration keys, or check and print a configuration", run_config},
    {"tune", "find the best io.threads, io.queue_depth and io.block_size for a disk", run_tune},
    {"version", "print the version", run_version},
    {"ckpt", "save, check, copy and benchmark safetensors checkpoints of a pool's tensors",
     run_ckpt},
    {"sim", "replay a trace against eviction/prefetch policies on simulated tiers", run_sim},
    {"trace", "generate, convert and describe access traces", run_trace},
};

void print_usage() {
  std::cout << "usage: tiermem COMMAND [options]   (tiermem COMMAND --help for its options)\n"
               "       tiermem --version\n\n"
               "commands:\n";
  for (const Command& command : kCommands) {
    std::printf("  %-8s %.*s\n", std::string(command.name).c_str(),
                static_cast<int>(command.summary.size()), command.summary.data());
  }
}

}  // namespace
}  // namespace tiermem::tools

int main(int argc, char** argv) {
  using tiermem::tools::kCommands;
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    tiermem::tools::print_usage();
    return argc < 2 ? 2 : 0;
  }
  std::string_view name = argv[1];
  if (name == "--version") name = "version";
  for (const auto& command : kCommands) {
    if (command.name == name) return command.run(std::span<char*>(argv + 1, argc - 1));
  }
  std::cerr << "tiermem: unknown command '" << name << "'\n";
  tiermem::tools::print_usage();
  return 2;
}
