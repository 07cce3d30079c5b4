// tools/cmd_ckpt.cpp: `tiermem ckpt`: safetensors checkpoints of a pool's tensors: a demo save,
// a check, a copy through a pool, the save timed against fio and a buffered write, and a
// checkpoint streamed in place timed against fio's read of the same file.
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "tiermem/checkpoint.hpp"
#include "tiermem/error.hpp"
#include "tiermem/pool.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"
#include "tools/operands.hpp"

extern char** environ;

namespace tiermem::tools {

namespace {

constexpr const char* kUsage =
    "usage: tiermem ckpt demo DIR [--size 4G] [--tensors N] [--shards K] [--json]\n"
    "       tiermem ckpt check PATH [--json]\n"
    "       tiermem ckpt copy SRC DST [--dram 1GiB] [--json]\n"
    "       tiermem ckpt bench DIR [--size 4G] [--rounds 3] [--tensors 8] [--no-checksums] "
    "[--staging-buffers N] [--json]\n"
    "       tiermem ckpt stream PATH [--dram SIZE] [--rounds 3] [--ahead 1] [--json]\n"
    "safetensors checkpoints of a pool's tensors (tiermem ckpt SUBCOMMAND --help for each)";

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n == 0 ? 0 : n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// A pool whose dram tier holds bytes of tensors (of tensor_count tensors), with its nvme files
// in dir.
Config pool_config(const std::string& dir, uint64_t dram, uint64_t nvme) {
  Config config;
  config.page_size = 2 << 20;
  config.dram.capacity =
      std::max<uint64_t>(dram, 4 * config.page_size) / config.page_size * config.page_size +
      2 * config.page_size;
  config.nvme.dirs = {dir};
  config.nvme.capacity = std::max(config.dram.capacity, nvme + 4 * config.page_size);
  config.nvme.file_size = config.nvme.capacity;
  return config;
}

// count tensors of size / count bytes (bf16), filled with a pattern through write pins.
std::vector<Tensor> demo_tensors(Pool& pool, uint64_t size, uint64_t count) {
  std::vector<Tensor> tensors;
  const uint64_t elements = std::max<uint64_t>(1, size / count / 2);
  for (uint64_t i = 0; i < count; ++i) {
    tensors.push_back(pool.allocate({elements}, DType::bf16, fmt::format("layer{}.weight", i)));
    const Pin pin = tensors.back().pin(Tier::dram, Access::write);
    auto* words = static_cast<uint64_t*>(pin.data());
    for (uint64_t w = 0; w < pin.size() / 8; ++w) words[w] = w * 0x9E3779B97F4A7C15ull + i;
  }
  return tensors;
}

boost::json::object result_json(const CheckpointResult& result) {
  boost::json::array files(result.files.begin(), result.files.end());
  return {{"files", std::move(files)},
          {"bytes", result.bytes_written},
          {"tensors", result.tensors},
          {"seconds", result.seconds},
          {"gb_per_s", result.bytes_written / result.seconds / 1e9},
          {"direct", result.direct}};
}

int demo(std::span<char*> args) {
  po::options_description options("tiermem ckpt demo: save a pool's tensors as a checkpoint");
  options.add_options()                                                              //
      ("size", po::value<std::string>()->default_value("1GiB"), "bytes of tensors")  //
      ("tensors", po::value<uint64_t>()->default_value(8), "how many tensors")       //
      ("shards", po::value<uint32_t>()->default_value(1),
       "split into this many shards with an index (DIR then holds them)")  //
      ("json", "print one JSON object last");
  std::vector<std::string> operands;
  std::vector<char*> rest = take_operands(args, 1, operands);
  po::variables_map vars;
  if (!parse_args(rest, options, vars, "usage: tiermem ckpt demo DIR [options]")) return 0;
  require_operands(operands, 1, "DIR");
  const std::string& dir = operands[0];
  const uint64_t size = size_option(vars, "size");
  const uint64_t count = std::max<uint64_t>(1, vars["tensors"].as<uint64_t>());
  const uint32_t shards = std::max<uint32_t>(1, vars["shards"].as<uint32_t>());
  std::filesystem::create_directories(dir);
  Pool pool(pool_config(dir, size, size));
  const std::vector<Tensor> tensors = demo_tensors(pool, size, count);
  CheckpointOptions ckpt;
  ckpt.metadata["written_by"] = "tiermem ckpt demo";
  std::string path = dir + "/model.safetensors";
  if (shards > 1) {
    ckpt.max_shard_bytes = (size + shards - 1) / shards;
    path = dir;
  }
  const CheckpointResult result = save_checkpoint(tensors, path, ckpt).get();
  std::cout << fmt::format("saved {} tensors, {} in {:.3f} s ({:.2f} GB/s, {}) to {}\n",
                           result.tensors, human_bytes(result.bytes_written), result.seconds,
                           result.bytes_written / result.seconds / 1e9,
                           result.direct ? "O_DIRECT" : "buffered", path);
  if (vars.count("json")) print_json_last(result_json(result));
  return 0;
}

int check(std::span<char*> args) {
  po::options_description options("tiermem ckpt check: check a checkpoint file or index");
  options.add_options()("json", "print one JSON object last");
  std::vector<std::string> operands;
  std::vector<char*> rest = take_operands(args, 1, operands);
  po::variables_map vars;
  if (!parse_args(rest, options, vars,
                  "usage: tiermem ckpt check PATH [--json]   (PATH: a .safetensors file, an "
                  "index .json, or a directory with model.safetensors.index.json)")) {
    return 0;
  }
  require_operands(operands, 1, "PATH");
  const CheckpointReport report = check_checkpoint(operands[0]);
  std::cout << fmt::format("ok: {} files, {} tensors, {}, {} checksums verified\n",
                           report.files.size(), report.tensors, human_bytes(report.bytes),
                           report.checksums_verified);
  if (vars.count("json")) {
    print_json_last({{"ok", true},
                     {"files", boost::json::array(report.files.begin(), report.files.end())},
                     {"tensors", report.tensors},
                     {"bytes", report.bytes},
                     {"checksums_verified", report.checksums_verified}});
  }
  return 0;
}

// Reads a file's tensor into a pool tensor through write pins of at most chunk bytes.
int copy(std::span<char*> args) {
  po::options_description options(
      "tiermem ckpt copy: open a checkpoint in place as a pool's tensors, and save them again");
  options.add_options()                                                                  //
      ("dram", po::value<std::string>()->default_value("1GiB"), "the pool's dram tier")  //
      ("json", "print one JSON object last");
  std::vector<std::string> operands;
  std::vector<char*> rest = take_operands(args, 2, operands);
  po::variables_map vars;
  if (!parse_args(rest, options, vars,
                  "usage: tiermem ckpt copy SRC DST [options]   (SRC: a file or an index; DST: "
                  "one .safetensors file)")) {
    return 0;
  }
  require_operands(operands, 2, "SRC and DST");
  const std::string scratch = std::filesystem::path(operands[1]).parent_path().string();
  Pool pool(pool_config(scratch.empty() ? "." : scratch, size_option(vars, "dram"), 0));
  const std::vector<Tensor> tensors = open_checkpoint(pool, operands[0]);
  const CheckpointResult result = save_checkpoint(tensors, operands[1]).get();
  std::cout << fmt::format("copied {} tensors, {} to {} in {:.3f} s\n", result.tensors,
                           human_bytes(result.bytes_written), operands[1], result.seconds);
  if (vars.count("json")) print_json_last(result_json(result));
  return 0;
}

// fio's sequential write (or read: rw "read") of size bytes of file, O_DIRECT, 1 MiB, QD 32,
// io_uring, huge-page buffers where enough huge pages are free; returns {seconds, bytes per
// second}. Run as an argv vector, never through a shell.
std::pair<double, double> run_fio(const std::string& file, uint64_t size, bool huge,
                                  const std::string& rw = "write") {
  std::vector<std::string> argv = {"fio",
                                   "--name=ckpt",
                                   "--filename=" + file,
                                   fmt::format("--size={}", size),
                                   "--rw=" + rw,
                                   "--bs=1M",
                                   "--iodepth=32",
                                   "--direct=1",
                                   "--ioengine=io_uring",
                                   huge ? "--mem=mmaphuge" : "--mem=malloc",
                                   rw == "write" ? "--end_fsync=1" : "--end_fsync=0",
                                   "--output-format=json"};
  std::vector<char*> pointers;
  for (std::string& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw Error(Errc::system, "pipe for fio", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  pid_t pid = 0;
  const auto start = Clock::now();
  const int spawned = posix_spawnp(&pid, "fio", &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::string text;
  char buffer[65536];
  for (ssize_t n; spawned == 0 && (n = ::read(out[0], buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(out[0]);
  if (spawned != 0) throw Error(Errc::unsupported, "cannot run fio (is it installed?)", spawned);
  int status = 0;
  waitpid(pid, &status, 0);
  const double seconds = seconds_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(Errc::system, fmt::format("fio failed (status {}): {}", status, text));
  }
  // fio may print notes before its JSON.
  const boost::json::value report = boost::json::parse(text.substr(text.find('{')));
  const double bw = boost::json::value_to<double>(report.at("jobs").at(0).at(rw).at("bw_bytes"));
  return {seconds, bw};
}

// Free 2 MiB huge pages, for fio's --mem=mmaphuge.
uint64_t free_huge_pages() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  while (meminfo >> key >> value) {
    if (key == "HugePages_Free:") return value;
    meminfo.ignore(256, '\n');
  }
  return 0;
}

// What torch.save does: a buffered write of each tensor, then fsync.
double buffered_save(const std::vector<Tensor>& tensors, const std::string& file) {
  const auto start = Clock::now();
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(Errc::system, fmt::format("cannot create '{}'", file), errno);
  for (const Tensor& tensor : tensors) {
    const Pin pin = tensor.pin(Tier::dram, Access::read);
    for (uint64_t done = 0; done < pin.size();) {
      const ssize_t n =
          ::write(fd, static_cast<const std::byte*>(pin.data()) + done, pin.size() - done);
      if (n <= 0) {
        ::close(fd);
        throw Error(Errc::io, fmt::format("writing '{}'", file), errno);
      }
      done += static_cast<uint64_t>(n);
    }
  }
  ::fsync(fd);
  ::close(fd);
  return seconds_since(start);
}

int bench(std::span<char*> args) {
  po::options_description options(
      "tiermem ckpt bench: a save against fio's sequential write and a buffered write + fsync "
      "on the same directory, alternating, and a save behind a compute step as long");
  options.add_options()                                                                //
      ("size", po::value<std::string>()->default_value("4GiB"), "bytes of tensors")    //
      ("rounds", po::value<uint32_t>()->default_value(3), "rounds of the three runs")  //
      ("tensors", po::value<uint64_t>()->default_value(8), "how many tensors")         //
      ("no-checksums", "save without xxh3 checksums (to see what hashing costs)")      //
      ("staging-buffers", po::value<uint32_t>(),
       "staging buffers of 16 MiB (CheckpointOptions::staging_buffers; default 8)")  //
      ("json", "print one JSON object last");
  std::vector<std::string> operands;
  std::vector<char*> rest = take_operands(args, 1, operands);
  po::variables_map vars;
  if (!parse_args(rest, options, vars, "usage: tiermem ckpt bench DIR [options]")) return 0;
  CheckpointOptions ckpt;
  ckpt.checksums = vars.count("no-checksums") == 0;
  if (vars.count("staging-buffers")) ckpt.staging_buffers = vars["staging-buffers"].as<uint32_t>();
  require_operands(operands, 1, "DIR");
  const std::string& dir = operands[0];
  const uint64_t size = size_option(vars, "size");
  const uint32_t rounds = std::max<uint32_t>(1, vars["rounds"].as<uint32_t>());
  std::filesystem::create_directories(dir);
  Pool pool(pool_config(dir, size, size));
  const std::vector<Tensor> tensors = demo_tensors(pool, size, vars["tensors"].as<uint64_t>());
  const bool huge = free_huge_pages() >= 20;  // 32 x 1 MiB of buffers and fio's margin
  const std::string target = dir + "/tiermem-ckpt-bench.safetensors";
  const std::string fio_file = dir + "/tiermem-ckpt-bench.fio";
  const std::string plain_file = dir + "/tiermem-ckpt-bench.buffered";
  std::vector<double> save_s, fio_s, plain_s, vs_fio, vs_plain, hidden;
  uint64_t bytes = 0;
  for (uint32_t round = 0; round < rounds; ++round) {
    const CheckpointResult saved = save_checkpoint(tensors, target, ckpt).get();
    bytes = saved.bytes_written;
    std::filesystem::remove(target);
    const auto [fio_seconds, fio_bw] = run_fio(fio_file, size, huge);
    std::filesystem::remove(fio_file);
    const double plain = buffered_save(tensors, plain_file);
    std::filesystem::remove(plain_file);
    // The save again, behind a compute step as long as the save alone took.
    const auto start = Clock::now();
    std::future<CheckpointResult> behind = save_checkpoint(tensors, target, ckpt);
    std::this_thread::sleep_for(std::chrono::duration<double>(saved.seconds));
    const double compute = seconds_since(start);
    behind.get();
    const double total = seconds_since(start);
    std::filesystem::remove(target);
    const double save_gbs = saved.bytes_written / saved.seconds / 1e9;
    const double fio_gbs = fio_bw / 1e9;
    const double plain_gbs = size / plain / 1e9;
    save_s.push_back(save_gbs);
    fio_s.push_back(fio_gbs);
    plain_s.push_back(plain_gbs);
    vs_fio.push_back(save_gbs / fio_gbs);
    vs_plain.push_back(save_gbs / plain_gbs);
    hidden.push_back(1 - (total - compute) / saved.seconds);
    std::cout << fmt::format(
        "round {}: save {:.2f} GB/s ({:.3f} s, {}), fio {:.2f} GB/s ({}), buffered+fsync {:.2f} "
        "GB/s; behind compute: {:.3f} s total for {:.3f} s compute, {:.0f}% hidden\n",
        round + 1, save_gbs, saved.seconds, saved.direct ? "O_DIRECT" : "buffered", fio_gbs,
        huge ? "mmaphuge" : "malloc", plain_gbs, total, compute, 100 * hidden.back());
  }
  std::cout << fmt::format(
      "median: save {:.2f} GB/s, fio {:.2f} GB/s, buffered+fsync {:.2f} GB/s; save/fio {:.2f}x, "
      "save/buffered {:.2f}x, hidden behind compute {:.0f}%\n",
      median(save_s), median(fio_s), median(plain_s), median(vs_fio), median(vs_plain),
      100 * median(hidden));
  if (vars.count("json")) {
    print_json_last({{"bytes", bytes},
                     {"rounds", rounds},
                     {"fio_mem", huge ? "mmaphuge" : "malloc"},
                     {"save_gb_per_s", median(save_s)},
                     {"fio_gb_per_s", median(fio_s)},
                     {"buffered_gb_per_s", median(plain_s)},
                     {"save_vs_fio", median(vs_fio)},
                     {"save_vs_buffered", median(vs_plain)},
                     {"hidden", median(hidden)}});
  }
  return 0;
}

// Streams tensors in order through the pool's dram tier, as ZeRO-Inference streams layers:
// each is pinned and read (a word per 4 KiB) while the next `ahead` are prefetched. Returns
// the seconds taken.
double stream_layers(const std::vector<Tensor>& tensors, uint32_t ahead, uint64_t& sum) {
  const auto start = Clock::now();
  for (size_t i = 0; i < tensors.size(); ++i) {
    for (size_t next = i + 1; next <= i + ahead && next < tensors.size(); ++next) {
      tensors[next].prefetch(Tier::dram);
    }
    if (tensors[i].size_bytes() == 0) continue;  // an empty tensor has no page to pin
    const Pin pin = tensors[i].pin(Tier::dram, Access::read);
    const auto* bytes = static_cast<const std::byte*>(pin.data());
    for (uint64_t at = 0; at + 8 <= pin.size(); at += 4096) {
      uint64_t word;
      std::memcpy(&word, bytes + at, 8);
      sum += word;
    }
  }
  return seconds_since(start);
}

int stream(std::span<char*> args) {
  po::options_description options(
      "tiermem ckpt stream: a checkpoint opened in place (open_checkpoint) and streamed layer by "
      "layer through a dram tier smaller than it, against fio's sequential read of the same "
      "file, alternating");
  options.add_options()                                                                     //
      ("dram", po::value<std::string>(), "the dram tier (default: a quarter of the data)")  //
      ("rounds", po::value<uint32_t>()->default_value(3), "rounds of the two runs")         //
      ("ahead", po::value<uint32_t>()->default_value(1), "tensors prefetched ahead")        //
      ("json", "print one JSON object last");
  std::vector<std::string> operands;
  std::vector<char*> rest = take_operands(args, 1, operands);
  po::variables_map vars;
  if (!parse_args(rest, options, vars, "usage: tiermem ckpt stream PATH [options]")) return 0;
  require_operands(operands, 1, "PATH");
  const std::string& path = operands[0];
  const SafetensorsFile header = read_safetensors_header(path);
  const uint64_t data = header.file_size - header.data_offset;
  uint64_t largest = 0;
  for (const SafetensorsTensor& tensor : header.tensors) {
    largest = std::max(largest, tensor.size_bytes());
  }
  const uint64_t dram = vars.count("dram") ? size_option(vars, "dram") : data / 4;
  const uint32_t ahead = vars["ahead"].as<uint32_t>();
  const uint32_t rounds = std::max<uint32_t>(1, vars["rounds"].as<uint32_t>());
  Config config = pool_config(std::filesystem::path(path).parent_path().string(), dram, 0);
  if (config.dram.capacity < (ahead + 1) * largest) {
    throw Error(
        Errc::invalid_argument,
        fmt::format("--dram {} cannot hold {} tensors of up to {} (the one read and {} "
                    "ahead)",
                    format_size(config.dram.capacity), ahead + 1, format_size(largest), ahead));
  }
  config.policy.prefetch_budget = std::max<uint64_t>(ahead * largest, config.page_size);
  Pool pool(config);
  const std::vector<Tensor> tensors = open_checkpoint(pool, path);
  const bool huge = free_huge_pages() >= 20;
  std::vector<double> pool_gbs, fio_gbs, ratio;
  uint64_t sum = 0;
  for (uint32_t round = 0; round < rounds; ++round) {
    for (const Tensor& tensor : tensors) tensor.evict(Tier::dram);  // every round from the file
    const double seconds = stream_layers(tensors, ahead, sum);
    const auto [fio_seconds, fio_bw] = run_fio(path, header.file_size, huge, "read");
    pool_gbs.push_back(data / seconds / 1e9);
    fio_gbs.push_back(fio_bw / 1e9);
    ratio.push_back(pool_gbs.back() / fio_gbs.back());
    std::cout << fmt::format("round {}: stream {:.2f} GB/s ({:.3f} s), fio read {:.2f} GB/s ({})\n",
                             round + 1, pool_gbs.back(), seconds, fio_gbs.back(),
                             huge ? "mmaphuge" : "malloc");
  }
  const Stats stats = pool.stats();
  std::cout << fmt::format(
      "median: stream {:.2f} GB/s, fio {:.2f} GB/s, stream/fio {:.2f}x; {} tensors, {} of data "
      "through a dram tier of {} (huge pages: {}); checksum {:x}\n",
      median(pool_gbs), median(fio_gbs), median(ratio), tensors.size(), format_size(data),
      format_size(config.dram.capacity), stats.dram_huge_pages, sum);
  if (vars.count("json")) {
    print_json_last({{"bytes", data},
                     {"rounds", rounds},
                     {"dram_bytes", config.dram.capacity},
                     {"fio_mem", huge ? "mmaphuge" : "malloc"},
                     {"stream_gb_per_s", median(pool_gbs)},
                     {"fio_gb_per_s", median(fio_gbs)},
                     {"stream_vs_fio", median(ratio)}});
  }
  return 0;
}

}  // namespace

int run_ckpt(std::span<char*> args) {
  return guarded("ckpt", [&] {
    const std::string_view action = args.size() > 1 ? args[1] : "";
    const std::span<char*> rest = args.subspan(std::min<size_t>(1, args.size()));
    if (action == "demo") return demo(rest);
    if (action == "check") return check(rest);
    if (action == "copy") return copy(rest);
    if (action == "bench") return bench(rest);
    if (action == "stream") return stream(rest);
    const bool help = action == "--help" || action == "-h";
    (help ? std::cout : std::cerr) << kUsage << "\n";
    return help ? 0 : 2;
  });
}

}  // namespace tiermem::tools
