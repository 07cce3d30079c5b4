// tools/io_options.cpp: options shared by `tiermem io` and `tiermem tune`.
#include "tools/io_options.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "tiermem/config.hpp"
#include "tiermem/error.hpp"

namespace tiermem::tools {

void add_target_options(po::options_description& options, const char* default_size) {
  options.add_options()  //
      ("dir", po::value<std::vector<std::string>>()->composing(),
       "directory for a new file, removed at the end (repeatable: blocks are striped over "
       "one file per directory); default $TMPDIR or /tmp")  //
      ("file", po::value<std::vector<std::string>>()->composing(),
       "use this file, created when missing and kept (repeatable, striped like --dir)")  //
      ("size", po::value<std::string>()->default_value(default_size),
       "bytes over all files; reads first fill files that are shorter");
}

IoTarget target_from(const po::variables_map& vars) {
  IoTarget target;
  if (vars.count("dir")) target.dirs = vars["dir"].as<std::vector<std::string>>();
  if (vars.count("file")) target.files = vars["file"].as<std::vector<std::string>>();
  if (target.dirs.empty() && target.files.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    target.dirs.emplace_back(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  }
  target.size = size_option(vars, "size");
  return target;
}

void add_engine_options(po::options_description& options, const char* default_buffer) {
  options.add_options()                                                                     //
      ("engine", po::value<std::string>()->default_value("uring"), "uring, psync or auto")  //
      ("direct", "O_DIRECT (the default)")                                                  //
      ("no-direct", "buffered I/O instead of O_DIRECT")                                     //
      ("sqpoll", "io_uring kernel-side submission polling")                                 //
      ("no-fixed-buffers", "do not register the buffer with io_uring")                      //
      ("buffer", po::value<std::string>()->default_value(default_buffer),
       "most memory for requests (huge-page backed); requests in flight beyond it share it");
}

IoTrial trial_from(const po::variables_map& vars) {
  IoTrial trial;
  trial.engine = vars["engine"].as<std::string>();
  if (vars.count("direct") && vars.count("no-direct")) {
    throw Error(Errc::invalid_argument, "--direct and --no-direct contradict each other");
  }
  trial.direct = vars.count("no-direct") == 0;
  trial.sqpoll = vars.count("sqpoll") != 0;
  trial.register_buffers = vars.count("no-fixed-buffers") == 0;
  return trial;
}

uint64_t buffer_from(const po::variables_map& vars, uint64_t largest_block, uint64_t in_flight) {
  return std::max(largest_block, std::min(in_flight, size_option(vars, "buffer")));
}

void describe(boost::json::object& json, const IoTrial& trial, const IoOutcome& outcome) {
  json["op"] = trial.write ? "write" : "read";
  json["pattern"] = trial.random ? "rand" : "seq";
  json["engine"] = outcome.engine;
  json["direct"] = outcome.direct;
  json["fixed_buffers"] = outcome.fixed_buffers;
  json["block"] = trial.block;
  json["qd"] = trial.queue_depth;
  json["threads"] = trial.threads;
  json["requests"] = outcome.requests;
  json["bytes"] = outcome.bytes;
  json["seconds"] = outcome.seconds;
  json["gbps"] = outcome.gbps;
  json["iops"] = outcome.iops;
  json["p50_us"] = outcome.p50_us;
  json["p99_us"] = outcome.p99_us;
  json["max_us"] = outcome.max_us;
}

}  // namespace tiermem::tools
