// tools/cmd_io.cpp: `tiermem io`, the ds_io equivalent: one read or write measurement of the
// I/O engine over striped files, in GB/s, IOPS and latency percentiles.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "tiermem/config.hpp"
#include "tiermem/error.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"
#include "tools/io_bench.hpp"
#include "tools/io_options.hpp"

namespace tiermem::tools {

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
        ("json", "print one JSON object as the last line");
    add_target_options(options, "1GiB");
    add_engine_options(options, "1GiB");
    po::variables_map vars;
    if (!parse_args(args, options, vars,
                    "usage: tiermem io [--op read|write] [--dir DIR]... [--file PATH]... "
                    "[--size SIZE] [--block SIZE] [--qd N] [--threads N] [--engine uring|psync] "
                    "[--direct|--no-direct] [--pattern seq|rand] [--time S] [--json]")) {
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
    uint64_t in_flight = uint64_t{trial.queue_depth} * trial.threads * trial.block;
    IoBench bench(target, std::max(trial.block, std::min(in_flight, size_option(vars, "buffer"))));
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
