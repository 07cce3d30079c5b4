// tools/cmd_stress.cpp: `tiermem stress`: the model-checked workload (check/model_check.hpp) on
// a pool of the user's configuration, with faults injected where asked; every byte verified.
#include <fmt/format.h>

#include <boost/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "check/crash_check.hpp"
#include "check/model_check.hpp"
#include "tiermem/tiermem.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"

namespace tiermem::tools {

int run_stress(std::span<char*> args) {
  return guarded("stress", [&] {
    po::options_description options("stress options");
    options.add_options()                                                                  //
        ("dram", po::value<std::string>()->default_value("256MiB"), "DRAM tier capacity")  //
        ("gpu", po::value<std::string>()->default_value("64MiB"), "GPU tier capacity (0: none)")(
            "total", po::value<std::string>()->default_value("0"),
            "tensor bytes live at once at most (0: 4x the DRAM tier)")                  //
        ("threads", po::value<uint32_t>()->default_value(8), "threads issuing calls")   //
        ("seconds", po::value<double>()->default_value(10), "how long to issue calls")  //
        ("operations", po::value<uint64_t>()->default_value(0),
         "calls per thread, instead of --seconds (0: use --seconds)")                        //
        ("max-tensors", po::value<uint32_t>()->default_value(24), "live tensors at most")    //
        ("max-pin-pages", po::value<uint32_t>()->default_value(4), "largest pin, in pages")  //
        ("faults", po::value<std::string>(),
         "inject I/O faults, e.g. eio=0.01,enospc.write=0.01,short=0.01,latency=200us (the "
         "io.faults key; see `tiermem config`)")  //
        ("watchdog", po::value<double>()->default_value(60),
         "seconds after which a call counts as hung (the run aborts naming it)")  //
        ("seed", po::value<uint64_t>()->default_value(1), "random seed")          //
        ("virtual",
         "a pool on a virtual clock with modelled devices (tiermem/virtual_clock.hpp), bytes "
         "kept, one thread (--threads is taken as 1), no I/O faults")  //
        ("persistent",
         "a persistent pool (nvme.persistent) in a scratch directory, closed and opened again "
         "during the run, every tensor found by name and checked")  //
        ("crash",
         "with --persistent: the run goes on in child processes killed at random moments; "
         "after each kill the pool must hold what a flush made durable")  //
        ("json", "print one JSON object as the last line");
    add_config_options(options);
    po::variables_map vars;
    if (!parse_args(args, options, vars,
                    "usage: tiermem stress [--dram SIZE] [--gpu SIZE] [--total SIZE] "
                    "[--threads N] [--seconds S | --operations N] [--faults SPEC] [--virtual] "
                    "[--persistent [--crash]] [--seed N] [--json]\n"
                    "Random calls from the whole API on several threads, checked against a "
                    "model of every tensor's bytes;\nexits 3 when a byte differs, a call fails "
                    "in a way its contract does not allow, or a descriptor or thread leaks.")) {
      return 0;
    }
    Config base;
    base.dram.capacity = size_option(vars, "dram");
    base.gpu.capacity = size_option(vars, "gpu");
    base.nvme.capacity = 0;  // sized from the tensors below unless a config says otherwise
    if (vars.count("faults")) base.io.faults = vars["faults"].as<std::string>();
    Config config = config_from(vars, base);
    check::ModelOptions model;
    model.total_bytes = size_option(vars, "total");
    model.threads = vars["threads"].as<uint32_t>();
    model.seconds = vars["seconds"].as<double>();
    model.max_operations = vars["operations"].as<uint64_t>();
    model.max_tensors = vars["max-tensors"].as<uint32_t>();
    model.max_pin_pages = vars["max-pin-pages"].as<uint32_t>();
    model.watchdog_seconds = vars["watchdog"].as<double>();
    model.seed = vars["seed"].as<uint64_t>();
    if (vars.count("virtual")) {
      if (!config.io.faults.empty()) {
        throw Error(Errc::invalid_argument,
                    "--virtual models its devices: I/O faults (--faults, io.faults) do not apply");
      }
      model.devices = VirtualDevices{};
    }
    model.persistent = vars.count("persistent") != 0;
    if (model.persistent && model.devices) {
      throw Error(Errc::invalid_argument, "--virtual keeps no files: --persistent does not apply");
    }
    if (vars.count("crash") && !model.persistent) {
      throw Error(Errc::invalid_argument, "--crash needs --persistent");
    }
    if (model.total_bytes == 0) model.total_bytes = 4 * config.dram.capacity;
    if (config.nvme.capacity == 0) {
      // Room for every tensor's pages, with slack for partial last pages; a persistent pool
      // takes two slots a page, and a released tensor's until the next flush.
      config.nvme.capacity =
          (model.total_bytes * 2 + 64ull * model.max_tensors * config.page_size) *
          (model.persistent ? 2 : 1);
    }

    // Traces recorded during the run, and a persistent pool's files, go to a private
    // directory, removed at the end.
    const char* tmp = std::getenv("TMPDIR");
    std::string scratch =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tiermem-stress.XXXXXX";
    if (mkdtemp(scratch.data()) == nullptr) {
      throw Error(Errc::system, "cannot create a scratch directory for traces", errno);
    }
    model.scratch_dir = scratch;
    std::string text, json;
    bool ok = false;
    if (vars.count("crash")) {
      const check::CrashReport report = check::run_crash_check(config, model);
      text = report.to_text();
      json = report.to_json();
      ok = report.ok();
    } else {
      const check::ModelReport report = check::run_model(config, model);
      text = report.to_text();
      json = report.to_json();
      ok = report.ok();
    }
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
    std::cout << text;
    if (vars.count("json")) print_json_last(boost::json::parse(json).as_object());
    return ok ? 0 : 3;
  });
}

}  // namespace tiermem::tools
