// tools/cmd_sim.cpp: `tiermem sim`: replay a trace against eviction and prefetch policies and
// tier capacities on simulated devices; report, sweep capacities into miss-ratio curves on
// several threads, plot.
//
// The trace is streamed from its file by every run (memory follows its pages, plus 8 bytes per
// page access of next uses when Belady needs them, computed once and shared); only --model pool
// and --schedule read it whole.
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "tiermem/config.hpp"
#include "tiermem/sim.hpp"
#include "tiermem/virtual_clock.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"
#include "tools/operands.hpp"

extern char** environ;

namespace tiermem::tools {

namespace {

constexpr std::string_view kUsage =
    "usage: tiermem sim TRACE [--eviction SPEC]... [--prefetch SPEC] [--dram SIZE|N%] "
    "[--gpu SIZE|N%]\n"
    "                   [--sweep N|LIST] [--jobs N] [--csv | --json] [--plot FILE.png]\n"
    "                   [--model fast|pool] [--timing] [--progress]\n"
    "       tiermem sim --list\n"
    "Replays TRACE on simulated tiers: tiermem's binary or CSV form (see `tiermem trace`) or\n"
    "libCacheSim's oracleGeneral, csv or txt, any of them zstd-compressed, told apart by content.\n"
    "Sizes take units (512MiB, 8GiB) or a percentage of the trace's footprint. Every figure is\n"
    "simulated and deterministic; accesses_per_sec is per simulated second (--timing adds the\n"
    "replay speed of the runs asked for, not of the Belady baseline).";

// "8GiB" or "50%" of the footprint.
uint64_t capacity(const std::string& text, uint64_t footprint, const std::string& option) {
  if (!text.empty() && text.back() == '%') {
    char* end = nullptr;
    double percent = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() - 1 || !(percent >= 0 && percent <= 1000)) {
      throw Error(Errc::invalid_argument,
                  "--" + option + " '" + text + "' is not a percentage in [0, 1000]");
    }
    return static_cast<uint64_t>(static_cast<double>(footprint) * percent / 100.0);
  }
  try {
    return parse_size(text);
  } catch (const Error& e) {
    throw Error(Errc::invalid_argument, "--" + option + ": " + e.what());
  }
}

// --sweep N: N capacities from footprint/N to the footprint; else a comma-separated list.
std::vector<uint64_t> sweep_points(const std::string& text, uint64_t footprint) {
  std::vector<uint64_t> points;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    uint64_t n = std::strtoull(text.c_str(), nullptr, 10);
    if (n < 1 || n > 1000) {
      throw Error(Errc::invalid_argument, "--sweep " + text + " is not a count in [1, 1000]");
    }
    for (uint64_t k = 1; k <= n; ++k) points.push_back(footprint * k / n);
    return points;
  }
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = std::min(text.find(',', pos), text.size());
    points.push_back(capacity(text.substr(pos, comma - pos), footprint, "sweep"));
    pos = comma + 1;
  }
  return points;
}

class TextFields final : public sim::ResultVisitor {
 public:
  explicit TextFields(bool csv) : csv_(csv) {}
  std::string names;
  std::string values;
  void label(std::string_view n, std::string_view v) override { add(n, std::string(v)); }
  void counter(std::string_view n, uint64_t v) override { add(n, std::to_string(v)); }
  void ratio(std::string_view n, double v) override {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", v);
    add(n, text);
  }

 private:
  void add(std::string_view name, const std::string& value) {
    if (csv_) {
      names += names.empty() ? "" : ",";
      names += name;
      values += values.empty() ? "" : ",";
      values += value;
    } else {
      values += "  " + std::string(name) + " " + value + "\n";
    }
  }
  bool csv_;
};

struct Run {
  uint64_t dram_bytes;
  uint64_t gpu_bytes;
  sim::Result result;
  double replay_per_sec;  // wall clock
};

constexpr unsigned kMaxJobs = 1024;

// Runs body(0..count-1) on up to jobs threads (this one among them). After a failure no run
// starts; the first failure by index is rethrown once all have stopped.
void run_parallel(size_t count, unsigned jobs, const std::function<void(size_t)>& body) {
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(count);
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count;) {
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
        next.store(count);
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min<size_t>(jobs, count); ++t) threads.emplace_back(work);
  work();
  for (std::thread& thread : threads) thread.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

// A progress line on stderr about every second, from a thread of its own: the page accesses
// read by the first pass over the trace, then the share of those that all runs replay, and
// runs done. On a terminal the line is rewritten in place and cleared at the end.
class Progress {
 public:
  explicit Progress(bool enabled) : terminal_(::isatty(STDERR_FILENO) != 0) {
    if (enabled) thread_ = std::thread([this] { loop(); });
  }
  ~Progress() { stop(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(uint64_t pages) noexcept { replayed_.fetch_add(pages, std::memory_order_relaxed); }
  // The pass is over; runs replaying total page accesses in all begin.
  void start_runs(uint64_t total, size_t runs) {
    std::lock_guard lock(mutex_);
    total_ = total;
    runs_ = runs;
    replayed_.store(0, std::memory_order_relaxed);
  }
  void run_done() noexcept { done_.fetch_add(1, std::memory_order_relaxed); }
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    if (terminal_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  void loop() {
    auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      uint64_t replayed = replayed_.load(std::memory_order_relaxed);
      const char* start_line = terminal_ ? "\r\033[K" : "";
      const char* end_line = terminal_ ? "" : "\n";
      if (runs_ == 0) {
        std::fprintf(stderr, "%stiermem sim: reading the trace: %llu page accesses, %.0fs%s",
                     start_line, static_cast<unsigned long long>(replayed), elapsed, end_line);
      } else {
        std::fprintf(
            stderr, "%stiermem sim: %.0f%% of %llu page accesses, %zu of %zu runs done, %.0fs%s",
            start_line,
            total_ ? 100.0 * static_cast<double>(replayed) / static_cast<double>(total_) : 0.0,
            static_cast<unsigned long long>(total_), done_.load(std::memory_order_relaxed), runs_,
            elapsed, end_line);
      }
      std::fflush(stderr);
    }
  }

  const bool terminal_;
  uint64_t total_ = 0;  // under mutex_, as runs_
  size_t runs_ = 0;     // 0: the first pass
  std::atomic<uint64_t> replayed_{0};
  std::atomic<size_t> done_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

void list_policies() {
  auto print = [](const char* title, const std::vector<sim::PolicyInfo>& rows) {
    std::printf("%s\n", title);
    for (const sim::PolicyInfo& row : rows) {
      std::printf("  %-11s %s\n", row.name.c_str(), row.doc.c_str());
      if (!row.params.empty()) std::printf("  %-11s params: %s\n", "", row.params.c_str());
    }
  };
  print("eviction policies (--eviction NAME[:KEY=VALUE,...]):", sim::eviction_policies());
  print("prefetch policies (--prefetch NAME[:KEY=VALUE,...]):", sim::prefetch_policies());
}

// text as a gnuplot single-quoted string. Inside one gnuplot substitutes nothing (no
// backquoted commands, no @macros, no backslash escapes) and reads '' as '; control characters
// become '?', as a title needs none.
std::string gnuplot_string(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "''";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      quoted += '?';
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// text as a double-quoted field of a gnuplot data file, read back by columnheader().
std::string data_field(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    quoted += c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  }
  return quoted + "\"";
}

// Draws a sweep with gnuplot: demand miss ratios (Belady's dashed), and bytes fetched (demand
// and prefetch: what a prefetcher trades misses for) relative to Belady's, or in GiB without a
// baseline. Nothing from the command line or the trace becomes gnuplot code: the script is
// fixed, the curves' titles are the data file's column headers, the trace's name is a quoted
// string variable, and gnuplot draws into the temporary directory, from where the picture is
// copied to png.
void plot(const std::vector<Run>& runs, const std::vector<std::string>& evictions,
          const std::string& trace_name, const std::string& png) {
  char dir_template[] = "/tmp/tiermem-plot-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    throw Error(Errc::system, "cannot create a temporary directory for gnuplot", errno);
  }
  std::filesystem::path dir(dir_template);
  const bool baseline = runs.front().result.has_baseline;
  std::ofstream data(dir / "curves.dat");
  data << "dram_gib";
  for (const std::string& eviction : evictions) data << " " << data_field(eviction);
  if (baseline) data << " " << data_field("belady (optimum)");
  for (const std::string& eviction : evictions) data << " " << data_field(eviction);
  data << "\n";
  for (size_t i = 0; i < runs.size(); i += evictions.size()) {
    data << static_cast<double>(runs[i].dram_bytes) / (1ull << 30);
    for (size_t e = 0; e < evictions.size(); ++e) data << " " << runs[i + e].result.miss_ratio();
    const sim::Result& first = runs[i].result;
    if (baseline) {
      data << " "
           << (first.accesses ? static_cast<double>(first.belady_misses) / first.accesses : 0.0);
    }
    for (size_t e = 0; e < evictions.size(); ++e) {
      const sim::Result& r = runs[i + e].result;
      auto bytes = static_cast<double>(r.bytes_fetched);
      if (!baseline) {
        data << " " << bytes / (1ull << 30);
      } else if (r.belady_bytes_fetched > 0) {
        data << " " << bytes / static_cast<double>(r.belady_bytes_fetched);
      } else {
        data << " NaN";  // nothing to fetch at the optimum: no ratio
      }
    }
    data << "\n";
  }
  data.close();
  std::ofstream script(dir / "curves.gp");
  script << "set terminal pngcairo size 960,900\nset output out\n"
         << "set multiplot layout 2,1 title 'tiermem sim: '.name noenhanced\n"
         << "set xlabel 'dram capacity (GiB)'\nset grid\nset key outside right noenhanced\n"
         << "set ylabel 'demand miss ratio'\nset yrange [0:*]\n"
         << "if (baseline) {\n"
         << "  plot for [c=2:curves+1] data using 1:c with linespoints title columnheader(c), \\\n"
         << "       data using 1:curves+2 with lines dashtype 2 title columnheader(curves+2)\n"
         << "} else {\n"
         << "  plot for [c=2:curves+1] data using 1:c with linespoints title columnheader(c)\n"
         << "}\n"
         << "bytes = curves + 2 + baseline\n"
         << "if (baseline) {\n"
         << "  set ylabel 'bytes fetched (demand + prefetch) / Belady''s'\n"
         << "  plot for [c=bytes:bytes+curves-1] data using 1:c with linespoints \\\n"
         << "       title columnheader(c), 1 with lines dashtype 2 title 'belady (optimum)'\n"
         << "} else {\n"
         << "  set ylabel 'bytes fetched, demand + prefetch (GiB)'\n"
         << "  plot for [c=bytes:bytes+curves-1] data using 1:c with linespoints \\\n"
         << "       title columnheader(c)\n"
         << "}\n"
         << "unset multiplot\n";
  script.close();
  std::filesystem::path picture = dir / "curves.png";
  std::string variables =
      "out=" + gnuplot_string(picture.string()) +
      "; data=" + gnuplot_string((dir / "curves.dat").string()) +
      "; name=" + gnuplot_string(std::filesystem::path(trace_name).filename().string()) +
      "; curves=" + std::to_string(evictions.size()) + "; baseline=" + (baseline ? "1" : "0");
  std::string script_path = (dir / "curves.gp").string();
  char* argv[] = {const_cast<char*>("gnuplot"), const_cast<char*>("-e"), variables.data(),
                  script_path.data(), nullptr};
  pid_t pid = 0;
  int spawned = ::posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ);
  int status = 0;
  if (spawned == 0) ::waitpid(pid, &status, 0);
  std::error_code copied;
  if (spawned == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    std::filesystem::copy_file(picture, png, std::filesystem::copy_options::overwrite_existing,
                               copied);
  }
  std::filesystem::remove_all(dir);
  if (spawned != 0) {
    throw Error(Errc::unsupported, "cannot run gnuplot (is it installed?)", spawned);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(Errc::system, "gnuplot failed to draw " + png);
  }
  if (copied) {
    throw Error(Errc::system, "cannot write " + png + ": " + copied.message(), copied.value());
  }
}

int simulate_command(std::span<char*> args) {
  po::options_description options("tiermem sim");
  options.add_options()                                    //
      ("list", "list the eviction and prefetch policies")  //
      ("eviction", po::value<std::vector<std::string>>()->composing(),
       "eviction policy spec, for every tier (repeatable: one run each; default lru)")       //
      ("prefetch", po::value<std::string>()->default_value("none"), "prefetch policy spec")  //
      ("dram", po::value<std::string>()->default_value("50%"), "dram tier capacity")         //
      ("gpu", po::value<std::string>()->default_value("0"),
       "gpu tier capacity; 0: none (gpu accesses go to dram)")  //
      ("nvme", po::value<std::string>()->default_value(""),
       "nvme<->dram link: gbps=2,write_gbps=0,lat_us=100,qd=32 (any subset)")  //
      ("pcie", po::value<std::string>()->default_value(""),
       "dram<->gpu link: gbps=55,write_gbps=0,lat_us=10,qd=4 (any subset)")                      //
      ("budget", po::value<std::string>()->default_value("256MiB"), "prefetch bytes in flight")  //
      ("memory-limit", po::value<std::string>()->default_value("4GiB"),
       "tables each replay may allocate (64 bytes per page, 8 per page access for Belady's next "
       "uses, shared); a trace that needs more is refused")  //
      ("page-size", po::value<std::string>()->default_value("2MiB"),
       "page size of traces that give none (CSV, libCacheSim's: an object of S bytes is "
       "ceil(S/page size) pages)")  //
      ("schedule", po::value<std::string>(),
       "trace file holding the access order the application registers (one iteration)")  //
      ("future", po::value<std::string>()->default_value("trace"),
       "where Belady learns next uses: trace (an oracle) or schedule (the registered order, "
       "as in a live pool)")  //
      ("sweep", po::value<std::string>(),
       "dram capacities: N points up to the footprint, or a list (1GiB,25%,...)")  //
      ("model", po::value<std::string>()->default_value("fast"),
       "fast: the simulator's own model of the tiers; pool: through a data-less pool on a "
       "virtual clock, the migration engine deciding (slower; for checking the fast one)")  //
      ("no-belady", "skip the Belady baseline run (no gap figures)")                        //
      ("ignore-trace-prefetches",
       "do not replay the trace's prefetch records (the application's announcements)")  //
      ("timing",
       "also report each run's replay speed in wall-clock accesses per second (the runs asked "
       "for, not the baseline; runs share the cores with --jobs above 1)")  //
      ("jobs", po::value<unsigned>()->default_value(0),
       "runs replayed at once, on threads of their own, each with tables of its own; 0: one "
       "per core")                                                                             //
      ("progress", "a progress line on stderr every second (default: when it is a terminal)")  //
      ("csv", "print one CSV row per run")                                                     //
      ("json", "print the report, then one JSON object as the last line")                      //
      ("plot", po::value<std::string>(),
       "draw the sweep's miss ratios and bytes fetched (against Belady's) into FILE.png");
  std::vector<std::string> files;
  std::vector<char*> rest = take_operands(args, 1, files);
  po::variables_map vars;
  if (!parse_args(rest, options, vars, kUsage)) return 0;
  if (vars.count("list")) {
    list_policies();
    return 0;
  }
  require_operands(files, 1, "one trace file (tiermem sim TRACE ...)");
  if (vars.count("plot") && !vars.count("sweep")) {
    throw Error(Errc::invalid_argument, "--plot draws miss-ratio curves: give --sweep too");
  }
  const std::string& path = files[0];
  const uint64_t page_size = size_option(vars, "page-size");
  sim::Config config;
  config.prefetch = vars["prefetch"].as<std::string>();
  config.nvme = sim::Link::parse(vars["nvme"].as<std::string>(), config.nvme);
  config.pcie = sim::Link::parse(vars["pcie"].as<std::string>(), config.pcie);
  config.prefetch_budget = size_option(vars, "budget");
  config.memory_limit = size_option(vars, "memory-limit");
  config.belady_baseline = !vars.count("no-belady");
  config.trace_prefetches = !vars.count("ignore-trace-prefetches");
  const std::string& future = vars["future"].as<std::string>();
  if (future != "trace" && future != "schedule") {
    throw Error(Errc::invalid_argument, "--future '" + future + "' is not trace or schedule");
  }
  config.future = future == "schedule" ? sim::Future::schedule : sim::Future::trace;
  const std::string& model = vars["model"].as<std::string>();
  if (model != "fast" && model != "pool") {
    throw Error(Errc::invalid_argument, "--model '" + model + "' is not fast or pool");
  }
  const bool pool = model == "pool";
  unsigned jobs = vars["jobs"].as<unsigned>();
  if (jobs > kMaxJobs) {
    throw Error(Errc::invalid_argument,
                fmt::format("--jobs {} is more than {} threads", jobs, kMaxJobs));
  }
  if (jobs == 0) jobs = std::max(1u, std::thread::hardware_concurrency());
  if (vars.count("schedule")) {
    config.schedule =
        std::make_shared<const Trace>(read_trace(vars["schedule"].as<std::string>(), page_size));
  }
  std::vector<std::string> evictions = vars.count("eviction")
                                           ? vars["eviction"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{"lru"};
  // One pass finds the footprint and, where streamed runs need them, the next uses they share.
  // The pool and a schedule take the trace whole, and find their own.
  const bool streamed = !pool && !config.schedule;
  const bool share_next =
      streamed && std::any_of(evictions.begin(), evictions.end(), [&](const std::string& eviction) {
        sim::Config run = config;
        run.eviction = eviction;
        return sim::needs_next_uses(run);
      });
  Progress progress(vars.count("progress") || ::isatty(STDERR_FILENO));
  sim::TraceScan scan = sim::scan_trace(path, page_size, share_next, config.memory_limit,
                                        [&](uint64_t pages) { progress.add(pages); });
  config.next_uses = scan.next_uses;
  std::shared_ptr<const Trace> whole;
  if (pool) whole = std::make_shared<const Trace>(read_trace(path, page_size));
  const uint64_t footprint = scan.footprint_bytes;
  config.gpu_bytes = capacity(vars["gpu"].as<std::string>(), footprint, "gpu");
  std::vector<uint64_t> drams =
      vars.count("sweep")
          ? sweep_points(vars["sweep"].as<std::string>(), footprint)
          : std::vector<uint64_t>{capacity(vars["dram"].as<std::string>(), footprint, "dram")};

  // The runs asked for, dram point by point, then each point's baseline.
  const size_t asked = drams.size() * evictions.size();
  const size_t count = asked + (config.belady_baseline ? drams.size() : 0);
  std::vector<sim::Result> results(count);
  std::vector<double> seconds(count);
  progress.start_runs(scan.page_accesses * count, count);
  run_parallel(count, jobs, [&](size_t i) {
    sim::Config run = config;
    run.dram_bytes = drams[(i < asked ? i / evictions.size() : i - asked)];
    run.belady_baseline = false;
    run.progress = [&](uint64_t pages) { progress.add(pages); };
    const bool baseline = i >= asked;
    if (baseline) {
      run = sim::baseline_config(run);
    } else {
      run.eviction = evictions[i % evictions.size()];
    }
    auto start = std::chrono::steady_clock::now();
    if (!pool) {
      results[i] = sim::simulate(path, run, page_size);
    } else {  // the baseline from the fast model, as simulate_on_pool's own
      results[i] = baseline ? sim::simulate(*whole, run) : sim::simulate_on_pool(*whole, run);
    }
    seconds[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.run_done();
  });
  progress.stop();
  std::vector<Run> runs;
  for (size_t i = 0; i < asked; ++i) {
    Run run{drams[i / evictions.size()], config.gpu_bytes, results[i],
            seconds[i] > 0 ? static_cast<double>(results[i].accesses) / seconds[i] : 0.0};
    if (config.belady_baseline) run.result.add_baseline(results[asked + i / evictions.size()]);
    runs.push_back(std::move(run));
  }
  bool timing = vars.count("timing") != 0;
  if (vars.count("csv")) {
    for (size_t i = 0; i < runs.size(); ++i) {
      TextFields fields(true);
      runs[i].result.visit(fields);
      if (i == 0) {
        std::printf("dram_bytes,gpu_bytes,%s%s\n", fields.names.c_str(),
                    timing ? ",replay_accesses_per_sec" : "");
      }
      std::printf("%llu,%llu,%s", static_cast<unsigned long long>(runs[i].dram_bytes),
                  static_cast<unsigned long long>(runs[i].gpu_bytes), fields.values.c_str());
      if (timing) std::printf(",%.6g", runs[i].replay_per_sec);
      std::printf("\n");
    }
  } else {
    std::printf("trace %s (%s): %llu page accesses, footprint %s\n", path.c_str(),
                scan.format.c_str(), static_cast<unsigned long long>(scan.page_accesses),
                format_size(footprint).c_str());
    for (const Run& run : runs) {
      TextFields fields(false);
      run.result.visit(fields);
      std::printf("%s + %s, dram %s, gpu %s\n%s", run.result.eviction.c_str(),
                  run.result.prefetch.c_str(), format_size(run.dram_bytes).c_str(),
                  format_size(run.gpu_bytes).c_str(), fields.values.c_str());
      if (timing) std::printf("  replay_accesses_per_sec %.6g\n", run.replay_per_sec);
    }
  }
  if (vars.count("plot")) plot(runs, evictions, path, vars["plot"].as<std::string>());
  if (vars.count("json")) {
    boost::json::array all;
    for (const Run& run : runs) {
      boost::json::object fields = boost::json::parse(run.result.to_json()).as_object();
      fields["dram_bytes"] = run.dram_bytes;
      fields["gpu_bytes"] = run.gpu_bytes;
      if (timing) fields["replay_accesses_per_sec"] = run.replay_per_sec;
      all.push_back(std::move(fields));
    }
    boost::json::object report = all.front().as_object();
    if (all.size() > 1) report["runs"] = std::move(all);
    print_json_last(report);
  }
  return 0;
}

}  // namespace

int run_sim(std::span<char*> args) {
  return guarded("sim", [&] { return simulate_command(args); });
}

}  // namespace tiermem::tools
