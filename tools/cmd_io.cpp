// tools/cmd_io.cpp: `tiermem io`, the ds_io equivalent: one read or write measurement of the
// I/O engine over striped files, in GB/s, IOPS and latency percentiles.
#include <fmt/format.h>

#include <iostream>

#include "tiermem/config.hpp"
#include "tiermem/error.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"
#include "tools/io_bench.hpp"
#include "tools/io_options.hpp"
#include "tools/io_pool.hpp"

namespace tiermem::tools {

namespace {

// --to dram|gpu: the sequential read or write through a pool (tools/io_pool.hpp).
int run_io_to_pool(const po::variables_map& vars, const std::string& to, const IoTrial& trial,
                   const IoTarget& target) {
  if (to != "dram" && to != "gpu") {
    throw Error(Errc::invalid_argument, fmt::format("--to '{}' is not buffer, dram or gpu", to));
  }
  if (trial.random || !target.files.empty() || trial.seconds > 0) {
    throw Error(Errc::invalid_argument,
                "--to dram|gpu streams tensors in order through a pool's own files: it takes "
                "neither --pattern rand, --file nor --time");
  }
  PoolIoTrial pool_trial{.tier = parse_tier(to),
                         .write = trial.write,
                         .size = target.size,
                         .tensor = size_option(vars, "tensor"),
                         .page = size_option(vars, "page"),
                         .dirs = target.dirs,
                         .engine = trial.engine,
                         .threads = trial.threads,
                         .queue_depth = trial.queue_depth,
                         .block = trial.block,
                         .direct = trial.direct};
  PoolIoOutcome outcome = run_pool_io(pool_trial);
  std::cout << fmt::format(
      "{} through a pool, nvme {} {}: {:.2f} GiB in tensors of {}, pages of {}; dram tier {}{}\n",
      trial.write ? "write" : "read", trial.write ? "<-" : "->", to,
      static_cast<double>(outcome.bytes) / (1ull << 30), format_size(pool_trial.tensor),
      format_size(pool_trial.page), format_size(outcome.dram_bytes),
      pool_trial.tier == Tier::gpu
          ? fmt::format(", gpu tier {} ({})", format_size(outcome.gpu_bytes), outcome.gpu_backend)
          : "");
  std::cout << fmt::format("{:.3f} GB/s ({:.2f} s)\n", outcome.gbps, outcome.seconds);
  boost::json::object moved;
  for_each_move(outcome.moved, [&](const std::string& pair, int from, int tier) {
    std::cout << fmt::format("  {:<14} {:>12}\n", pair,
                             human_bytes(static_cast<double>(outcome.moved[from][tier])));
    moved[pair] = outcome.moved[from][tier];
  });
  if (vars.count("json")) {
    boost::json::object json;
    json["op"] = trial.write ? "write" : "read";
    json["to"] = to;
    json["gpu_backend"] = outcome.gpu_backend;
    json["bytes"] = outcome.bytes;
    json["seconds"] = outcome.seconds;
    json["gbps"] = outcome.gbps;
    json["moved_bytes"] = moved;
    print_json_last(json);
  }
  return 0;
}

}  // namespace

int run_io(std::span<char*> args) {
  return guarded("io", [&] {
    po::options_description options("io options");
    options.add_options()                                                                  //
        ("op", po::value<std::string>()->default_value("read"), "read or write")           //
        ("pattern", po::value<std::string>()->default_value("seq"), "seq or rand")         //
        ("block", po::value<std::string>()->default_value("1MiB"), "bytes per request")    //
        ("qd", po::value<uint32_t>()->default_value(32), "requests in flight per thread")  //
        ("threads", po::value<uint32_t>()->default_value(1),
         "I/O threads (rings); each streams through its own part of the blocks, like fio's "
         "numjobs with offset_increment")  //
        ("time", po::value<double>()->default_value(0),
         "seconds to run, going round the file again as needed; 0: every block once")  //
        ("to", po::value<std::string>()->default_value("buffer"),
         "buffer (the I/O engine into memory of its own), or dram or gpu: through a pool, "
         "tensors streamed between its NVMe tier and that tier (see --tensor, --page)")  //
        ("tensor", po::value<std::string>()->default_value("64MiB"),
         "with --to dram|gpu: bytes per tensor (one pin each)")  //
        ("page", po::value<std::string>()->default_value("2MiB"),
         "with --to dram|gpu: the pool's page size")  //
        ("json", "print one JSON object as the last line");
    add_target_options(options, "1GiB");
    add_engine_options(options, "1GiB");
    po::variables_map vars;
    if (!parse_args(args, options, vars,
                    "usage: tiermem io [--op read|write] [--dir DIR]... [--file PATH]... "
                    "[--size SIZE] [--block SIZE] [--qd N] [--threads N] [--engine uring|psync] "
                    "[--direct|--no-direct] [--pattern seq|rand] [--time S] [--to buffer|dram|gpu] "
                    "[--json]")) {
      return 0;
    }
    IoTrial trial = trial_from(vars);
    const std::string& op = vars["op"].as<std::string>();
    const std::string& pattern = vars["pattern"].as<std::string>();
    if (op != "read" && op != "write") {
      throw Error(Errc::invalid_argument, fmt::format("--op '{}' is not read or write", op));
    }
    if (pattern != "seq" && pattern != "rand") {
      throw Error(Errc::invalid_argument,
                  fmt::format("--pattern '{}' is not seq or rand", pattern));
    }
    trial.write = op == "write";
    trial.random = pattern == "rand";
    trial.block = size_option(vars, "block");
    trial.queue_depth = vars["qd"].as<uint32_t>();
    trial.threads = vars["threads"].as<uint32_t>();
    trial.seconds = vars["time"].as<double>();
    IoTarget target = target_from(vars);
    const std::string& to = vars["to"].as<std::string>();
    if (to != "buffer") return run_io_to_pool(vars, to, trial, target);
    uint64_t in_flight = uint64_t{trial.queue_depth} * trial.threads * trial.block;
    IoBench bench(target, buffer_from(vars, trial.block, in_flight));
    if (!trial.write) bench.prepare_reads(trial);
    IoOutcome outcome = bench.run(trial);

    std::cout << fmt::format(
        "{} {}: {:.2f} GiB in {} blocks over {} file{}, qd {} x {} thread{}, {}, {}, {}\n", op,
        pattern, static_cast<double>(outcome.bytes) / (1ull << 30), format_size(trial.block),
        bench.paths().size(), bench.paths().size() == 1 ? "" : "s", trial.queue_depth,
        trial.threads, trial.threads == 1 ? "" : "s", outcome.engine,
        outcome.direct ? "O_DIRECT" : "buffered",
        outcome.fixed_buffers ? "fixed buffers" : "unregistered buffers");
    std::cout << fmt::format(
        "{:.3f} GB/s, {:.0f} IOPS, latency p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us "
        "({} requests in {:.2f} s)\n",
        outcome.gbps, outcome.iops, outcome.p50_us, outcome.p99_us, outcome.max_us,
        outcome.requests, outcome.seconds);
    if (vars.count("json")) {
      boost::json::object json;
      describe(json, trial, outcome);
      json["files"] = bench.paths().size();
      print_json_last(json);
    }
    return 0;
  });
}

}  // namespace tiermem::tools
