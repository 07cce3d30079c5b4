// tools/command.hpp: the subcommands of the `tiermem` tool, one row each in main.cpp's table.
#pragma once

#include <span>
#include <string_view>

namespace tiermem::tools {

struct Command {
  std::string_view name;
  std::string_view summary;
  // args[0] is the subcommand's name; returns the process exit status.
  int (*run)(std::span<char*> args);
};

int run_ckpt(std::span<char*> args);
int run_config(std::span<char*> args);
int run_demo(std::span<char*> args);
int run_io(std::span<char*> args);
int run_stress(std::span<char*> args);
int run_sim(std::span<char*> args);
int run_trace(std::span<char*> args);
int run_tune(std::span<char*> args);

}  // namespace tiermem::tools
