// tools/cmd_tune.cpp: `tiermem tune`, the ds_nvme_tune equivalent: sweeps block size x queue
// depth x threads within a time budget and prints the best as a config snippet a Pool takes.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <tuple>

#include "support/json.hpp"
#include "tiermem/config.hpp"
#include "tiermem/error.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"
#include "tools/io_bench.hpp"
#include "tools/io_options.hpp"

namespace tiermem::tools {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "1M,8M" or "32,128" into numbers; sizes with tiermem's units.
std::vector<uint64_t> list_option(const po::variables_map& vars, const std::string& name,
                                  bool sizes) {
  std::vector<uint64_t> values;
  std::stringstream text(vars[name].as<std::string>());
  for (std::string item; std::getline(text, item, ',');) {
    try {
      values.push_back(sizes ? parse_size(item) : std::stoull(item));
    } catch (const std::exception&) {
      throw Error(Errc::invalid_argument,
                  fmt::format("--{}: '{}' is not a {}", name, item, sizes ? "size" : "number"));
    }
  }
  if (values.empty()) throw Error(Errc::invalid_argument, fmt::format("--{} is empty", name));
  return values;
}

void progress(size_t done, size_t total, const std::string& last) {
  constexpr size_t kWidth = 30;
  size_t filled = done * kWidth / total;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu  %-48s", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), done, total, last.c_str());
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

struct Point {
  uint64_t block;
  uint32_t qd;
  uint32_t threads;
  double read_gbps = 0;
  double write_gbps = 0;
};

}  // namespace

int run_tune(std::span<char*> args) {
  return guarded("tune", [&] {
    po::options_description options("tune options");
    options.add_options()                                                                      //
        ("op", po::value<std::string>()->default_value("both"), "read, write or both")         //
        ("blocks", po::value<std::string>()->default_value("1MiB,8MiB"), "block sizes")        //
        ("qds", po::value<std::string>()->default_value("32,128"), "queue depths per thread")  //
        ("threads", po::value<std::string>()->default_value("1,2,4,8"), "thread counts")       //
        ("budget", po::value<double>()->default_value(180), "seconds for the whole sweep")     //
        ("json", "print one JSON object as the last line");
    // 4 GiB: on a VM, a file of 1 GiB comes back from the host's cache, faster than the disk.
    add_target_options(options, "4GiB");
    add_engine_options(options, "1GiB");
    po::variables_map vars;
    if (!parse_args(args, options, vars,
                    "usage: tiermem tune [--dir DIR]... [--size SIZE] [--op read|write|both] "
                    "[--blocks 1M,8M] [--qds 32,128] [--threads 1,2,4,8] [--budget S] [--json]")) {
      return 0;
    }
    auto start = std::chrono::steady_clock::now();
    const std::string& op = vars["op"].as<std::string>();
    if (op != "read" && op != "write" && op != "both") {
      throw Error(Errc::invalid_argument, fmt::format("--op '{}' is not read, write or both", op));
    }
    std::vector<bool> writes;
    if (op != "write") writes.push_back(false);
    if (op != "read") writes.push_back(true);
    std::vector<Point> points;
    uint64_t largest_block = 0;
    uint64_t largest_in_flight = 0;
    const std::vector<uint64_t> qds = list_option(vars, "qds", false);
    const std::vector<uint64_t> thread_counts = list_option(vars, "threads", false);
    for (uint64_t block : list_option(vars, "blocks", true)) {
      for (uint64_t qd : qds) {
        for (uint64_t threads : thread_counts) {
          points.push_back(Point{block, static_cast<uint32_t>(qd), static_cast<uint32_t>(threads)});
          largest_block = std::max(largest_block, block);
          largest_in_flight = std::max(largest_in_flight, block * qd * threads);
        }
      }
    }
    IoTrial base = trial_from(vars);
    IoTarget target = target_from(vars);
    IoBench bench(target, buffer_from(vars, largest_block, largest_in_flight));
    {
      IoTrial layout = base;
      layout.block = 1 << 20;
      bench.prepare_reads(layout);
    }

    // Each trial gets an equal share of what is left, less what starting and draining one has
    // cost so far; 5 % of the budget stays in reserve for the estimate's errors.
    const double budget = 0.95 * vars["budget"].as<double>();
    const size_t trials = points.size() * writes.size();
    size_t done = 0;
    double overhead = 0;
    progress(0, trials, "");
    for (Point& point : points) {
      for (bool write : writes) {
        double left = budget - seconds_since(start);
        IoTrial trial = base;
        trial.write = write;
        trial.block = point.block;
        trial.queue_depth = point.qd;
        trial.threads = point.threads;
        trial.seconds = std::max(0.2, left / static_cast<double>(trials - done) - overhead);
        auto trial_start = std::chrono::steady_clock::now();
        IoOutcome outcome = bench.run(trial);
        // Starting, registering and draining what is still in flight at the deadline.
        overhead = std::max(overhead, seconds_since(trial_start) - trial.seconds);
        (write ? point.write_gbps : point.read_gbps) = outcome.gbps;
        ++done;
        progress(done, trials,
                 fmt::format("{} {} qd {} x {}: {:.2f} GB/s", write ? "write" : "read",
                             format_size(point.block), point.qd, point.threads, outcome.gbps));
      }
    }

    // Read and write together: the harmonic mean, which a slow side pulls down.
    auto score = [&](const Point& p) {
      if (writes.size() == 1) return writes[0] ? p.write_gbps : p.read_gbps;
      return p.read_gbps > 0 && p.write_gbps > 0 ? 2 / (1 / p.read_gbps + 1 / p.write_gbps) : 0.0;
    };
    // Differences of a few percent are noise on a shared disk, and threads and memory in flight
    // cost the pool: the best is the cheapest point within kNoise of the fastest.
    constexpr double kNoise = 0.03;
    double fastest = 0;
    for (const Point& p : points) fastest = std::max(fastest, score(p));
    auto cost = [](const Point& p) { return std::tuple(p.block * p.qd * p.threads, p.threads); };
    const Point* best = nullptr;
    for (const Point& p : points) {
      if (score(p) >= (1 - kNoise) * fastest && (best == nullptr || cost(p) < cost(*best))) {
        best = &p;
      }
    }

    std::cout << fmt::format("{:>8} {:>5} {:>7} {:>10} {:>10}\n", "block", "qd", "threads",
                             "read GB/s", "write GB/s");
    for (const Point& p : points) {
      std::cout << fmt::format("{:>8} {:>5} {:>7} {:>10.2f} {:>10.2f}{}\n", format_size(p.block),
                               p.qd, p.threads, p.read_gbps, p.write_gbps,
                               &p == best ? "  <- best" : "");
    }
    boost::json::object io;
    io["engine"] = base.engine;
    io["threads"] = best->threads;
    io["queue_depth"] = best->qd;
    io["block_size"] = format_size(best->block);
    boost::json::object snippet;
    snippet["io"] = io;
    std::string text = json_text(snippet);
    Config::from_json(text, "tiermem tune");  // what it prints, a Pool must take
    std::cout << fmt::format(
        "best: the cheapest within {:.0f} % of the fastest ({:.0f} s); for a config file:\n{}\n",
        kNoise * 100, seconds_since(start), text);
    if (vars.count("json")) {
      boost::json::object json;
      json["config"] = snippet;
      json["read_gbps"] = best->read_gbps;
      json["write_gbps"] = best->write_gbps;
      json["seconds"] = seconds_since(start);
      boost::json::array all;
      for (const Point& p : points) {
        all.push_back(boost::json::object{{"block", p.block},
                                          {"qd", p.qd},
                                          {"threads", p.threads},
                                          {"read_gbps", p.read_gbps},
                                          {"write_gbps", p.write_gbps}});
      }
      json["results"] = all;
      print_json_last(json);
    }
    return 0;
  });
}

}  // namespace tiermem::tools
