// tools/cmd_stress.cpp: `tiermem stress`: random pins from many threads over oversubscribed
// tiers, then every byte verified.
#include <iostream>

#include <fmt/format.h>

#include "tiermem/tiermem.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"
#include "tools/stress.hpp"

namespace tiermem::tools {

int run_stress(std::span<char*> args) {
  return guarded("stress", [&] {
    po::options_description options("stress options");
    options.add_options()                                                                  //
        ("dram", po::value<std::string>()->default_value("256MiB"), "DRAM tier capacity")  //
        ("gpu", po::value<std::string>()->default_value("64MiB"), "GPU tier capacity (0: none)")(
            "total", po::value<std::string>()->default_value("1GiB"), "bytes of all tensors")  //
        ("threads", po::value<uint32_t>()->default_value(4), "pinning threads")                //
        ("seconds", po::value<double>()->default_value(10), "how long to run")                 //
        ("max-pin-pages", po::value<uint32_t>()->default_value(4), "largest pin, in pages")    //
        ("seed", po::value<uint64_t>()->default_value(1), "random seed")                       //
        ("verify", "check every byte (during the run and at the end)")                         //
        ("json", "print one JSON object as the last line");
    add_config_options(options);
    po::variables_map vars;
    if (!parse_args(args, options, vars,
                    "usage: tiermem stress [--dram SIZE] [--gpu SIZE] [--total SIZE] "
                    "[--threads N] [--seconds S] [--verify] [--json]")) {
      return 0;
    }
    Config base;
    base.dram.capacity = size_option(vars, "dram");
    base.gpu.capacity = size_option(vars, "gpu");
    base.nvme.capacity = 0;  // sized from --total below unless a config says otherwise
    Config config = config_from(vars, base);
    StressOptions stress;
    stress.total_bytes = size_option(vars, "total");
    stress.threads = vars["threads"].as<uint32_t>();
    stress.seconds = vars["seconds"].as<double>();
    stress.max_pin_pages = vars["max-pin-pages"].as<uint32_t>();
    stress.seed = vars["seed"].as<uint64_t>();
    stress.verify = vars.count("verify") != 0;
    if (config.nvme.capacity == 0) {
      // Room for every tensor's pages, with slack for partial last pages.
      config.nvme.capacity = stress.total_bytes * 2 + 64 * config.page_size;
    }

    Pool pool(config);
    StressReport report = tools::run_stress(pool, stress);
    Stats stats = pool.stats();
    uint64_t moved = 0;
    for (auto& row : stats.moved_bytes) {
      for (uint64_t bytes : row) moved += bytes;
    }
    std::cout << fmt::format(
        "{} tensors, {} threads, {:.1f} s: {} pins ({} read, {} write, {} retried), "
        "{} pinned, {} moved between tiers\n",
        report.tensors, stress.threads, report.seconds, report.operations, report.read_pins,
        report.write_pins, report.retries, human_bytes(static_cast<double>(report.bytes_pinned)),
        human_bytes(static_cast<double>(moved)));
    if (stress.verify) {
      std::cout << fmt::format("verified: {} ({} bytes checked, {} mismatches)\n",
                               report.verified() ? "true" : "false", report.bytes_checked,
                               report.mismatches);
    }
    if (vars.count("json")) {
      boost::json::object json;
      json["tensors"] = report.tensors;
      json["threads"] = stress.threads;
      json["seconds"] = report.seconds;
      json["operations"] = report.operations;
      json["read_pins"] = report.read_pins;
      json["write_pins"] = report.write_pins;
      json["retries"] = report.retries;
      json["bytes_pinned"] = report.bytes_pinned;
      json["bytes_moved"] = moved;
      if (stress.verify) {
        json["verified"] = report.verified();
        json["mismatches"] = report.mismatches;
        json["bytes_checked"] = report.bytes_checked;
      }
      json["stats"] = boost::json::parse(stats.to_json());
      print_json_last(json);
    }
    return stress.verify && !report.verified() ? 3 : 0;
  });
}

}  // namespace tiermem::tools
