// tools/cmd_trace.cpp: `tiermem trace`: generate workload traces, convert between the trace
// forms (reading libCacheSim's and zstd-compressed files too, exporting oracleGeneral), and
// describe a trace.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "tiermem/config.hpp"
#include "tiermem/trace.hpp"
#include "tiermem/workload.hpp"
#include "tools/cli.hpp"
#include "tools/command.hpp"
#include "tools/operands.hpp"

namespace tiermem::tools {

namespace {

constexpr std::string_view kGenUsage =
    "usage: tiermem trace gen layers|optimizer|zipf|uniform -o FILE [options]\n"
    "  layers     ZeRO-Inference layer streaming of a model (a mixture of experts too)\n"
    "  optimizer  ZeRO-Infinity optimizer-state swapping of a model\n"
    "  zipf       zipf-distributed single-page accesses\n"
    "  uniform    uniformly random single-page accesses\n"
    "(tiermem trace gen WORKLOAD --help for its options)";

constexpr std::string_view kUsage =
    "usage: tiermem trace gen layers|optimizer|zipf|uniform -o FILE [options]\n"
    "       tiermem trace convert IN OUT [--to bin|csv|oracle] [--page-size SIZE]\n"
    "       tiermem trace info FILE [--page-size SIZE] [--json]\n"
    "       tiermem trace models [FILE.json]...\n"
    "(tiermem trace ACTION --help for its options)";

constexpr const char* kModelHelp =
    "model shape: a known name (see `tiermem trace models`) or a shape file FILE.json";

TraceFormat format_for(const std::string& path, const po::variables_map& vars) {
  std::string name = vars.count("to")         ? vars["to"].as<std::string>()
                     : path.ends_with(".csv") ? "csv"
                                              : "bin";
  if (name == "bin") return TraceFormat::binary;
  if (name == "csv") return TraceFormat::csv;
  if (name == "oracle") return TraceFormat::oracle_general;
  throw Error(Errc::invalid_argument, "--to '" + name + "' is not bin, csv or oracle");
}

void add_output_options(po::options_description& options) {
  options.add_options()                                                                   //
      ("output,o", po::value<std::string>()->required(), "trace file to write")           //
      ("to", po::value<std::string>(), "bin, csv or oracle (default: by the extension)")  //
      ("page-size", po::value<std::string>()->default_value("2MiB"), "page size");
}

Tier tier_option(const po::variables_map& vars, const std::string& name) {
  Tier tier = parse_tier(vars[name].as<std::string>());
  if (tier == Tier::nvme)
    throw Error(Errc::invalid_argument, "--" + name + " nvme cannot be accessed");
  return tier;
}

void write_output(const Trace& trace, const po::variables_map& vars) {
  const std::string& path = vars["output"].as<std::string>();
  write_trace(trace, path, format_for(path, vars));
  std::printf("wrote %s: %zu records, %llu page accesses, %zu tensors, footprint %s\n",
              path.c_str(), trace.accesses.size(),
              static_cast<unsigned long long>(trace.page_accesses()), trace.tensor_pages.size(),
              format_size(trace.footprint_bytes()).c_str());
}

int gen_layers(std::span<char*> args) {
  po::options_description options("tiermem trace gen layers: ZeRO-Inference layer streaming");
  add_output_options(options);
  options.add_options()                                                                           //
      ("model", po::value<std::string>()->default_value("opt-13b"), kModelHelp)                   //
      ("tokens", po::value<uint32_t>()->default_value(8), "decode steps")                         //
      ("prompt", po::value<uint32_t>()->default_value(512), "prompt tokens (prefill)")            //
      ("batch", po::value<uint32_t>()->default_value(1), "sequences decoded together")            //
      ("tflops", po::value<double>()->default_value(400), "GPU compute, TFLOP/s")                 //
      ("hbm-gbps", po::value<double>()->default_value(3000), "GPU memory bandwidth, GB/s")        //
      ("weight-tier", po::value<std::string>()->default_value("gpu"), "tier of weight accesses")  //
      ("kv-tier", po::value<std::string>()->default_value("dram"), "tier of KV-cache accesses")   //
      ("seed", po::value<uint64_t>()->default_value(1), "mixture of experts: routing seed")       //
      ("skew", po::value<double>()->default_value(1.0),
       "mixture of experts: zipf exponent of expert popularity (0: uniform)")  //
      ("drift", po::value<double>()->default_value(0.01),
       "mixture of experts: popularity drift, neighbour-rank swaps per expert and step")  //
      ("hints-ahead", po::value<uint32_t>(),
       "mixture of experts: announce each layer's routed experts as prefetch records, N layers "
       "ahead (0: as its router decides, just before they are read); default: no hints")  //
      ("schedule-out", po::value<std::string>(),
       "also write the order an application would register (one token's weights; of a "
       "mixture of experts, all but the routed experts)");
  po::variables_map vars;
  if (!parse_args(args, options, vars, "usage: tiermem trace gen layers -o FILE [options]"))
    return 0;
  std::string model = vars["model"].as<std::string>();
  workload::LayerStreaming o;
  o.model = model;
  o.tokens = vars["tokens"].as<uint32_t>();
  o.prompt = vars["prompt"].as<uint32_t>();
  o.batch = vars["batch"].as<uint32_t>();
  o.tflops = vars["tflops"].as<double>();
  o.hbm_gbps = vars["hbm-gbps"].as<double>();
  o.page_size = size_option(vars, "page-size");
  o.weight_tier = tier_option(vars, "weight-tier");
  o.kv_tier = tier_option(vars, "kv-tier");
  o.seed = vars["seed"].as<uint64_t>();
  o.skew = vars["skew"].as<double>();
  o.drift = vars["drift"].as<double>();
  if (vars.count("hints-ahead")) o.hints_ahead = vars["hints-ahead"].as<uint32_t>();
  write_output(workload::layer_streaming(o), vars);
  if (vars.count("schedule-out")) {
    const std::string& path = vars["schedule-out"].as<std::string>();
    write_trace(workload::layer_streaming_schedule(o), path, format_for(path, vars));
  }
  return 0;
}

int gen_optimizer(std::span<char*> args) {
  po::options_description options(
      "tiermem trace gen optimizer: ZeRO-Infinity optimizer-state swapping");
  add_output_options(options);
  options.add_options()                                                               //
      ("model", po::value<std::string>()->default_value("opt-13b"), kModelHelp)       //
      ("iterations", po::value<uint32_t>()->default_value(3), "training iterations")  //
      ("subgroup", po::value<uint64_t>()->default_value(1'000'000'000),
       "parameters per optimizer sub-group")                                                    //
      ("fwd-bwd-ms", po::value<double>()->default_value(500), "GPU compute per iteration, ms")  //
      ("adam-ns", po::value<double>()->default_value(1.0), "CPU Adam time per parameter, ns")   //
      ("tier", po::value<std::string>()->default_value("dram"), "tier of the accesses");
  po::variables_map vars;
  if (!parse_args(args, options, vars, "usage: tiermem trace gen optimizer -o FILE [options]")) {
    return 0;
  }
  std::string model = vars["model"].as<std::string>();
  workload::OptimizerSwapping o;
  o.model = model;
  o.iterations = vars["iterations"].as<uint32_t>();
  o.subgroup_params = vars["subgroup"].as<uint64_t>();
  o.forward_backward_ms = vars["fwd-bwd-ms"].as<double>();
  o.adam_ns_per_param = vars["adam-ns"].as<double>();
  o.page_size = size_option(vars, "page-size");
  o.tier = tier_option(vars, "tier");
  write_output(workload::optimizer_swapping(o), vars);
  return 0;
}

int gen_random(std::span<char*> args, bool zipf) {
  po::options_description options(zipf ? "tiermem trace gen zipf: zipf-distributed pages"
                                       : "tiermem trace gen uniform: uniformly random pages");
  add_output_options(options);
  options.add_options()                                                                     //
      ("pages", po::value<uint64_t>()->default_value(65536), "distinct pages")              //
      ("tensors", po::value<uint32_t>()->default_value(16), "tensors sharing them")         //
      ("events", po::value<uint64_t>()->default_value(1'000'000), "single-page accesses")   //
      ("writes", po::value<double>()->default_value(0), "fraction of accesses that write")  //
      ("compute-ns", po::value<uint64_t>()->default_value(0), "compute after each access")  //
      ("seed", po::value<uint64_t>()->default_value(1), "random seed")                      //
      ("tier", po::value<std::string>()->default_value("dram"), "tier of the accesses");
  if (zipf) options.add_options()("alpha", po::value<double>()->default_value(1.0), "skew");
  po::variables_map vars;
  if (!parse_args(args, options, vars, "usage: tiermem trace gen zipf|uniform -o FILE [options]")) {
    return 0;
  }
  workload::RandomAccesses o;
  o.pages = vars["pages"].as<uint64_t>();
  o.tensors = vars["tensors"].as<uint32_t>();
  o.events = vars["events"].as<uint64_t>();
  o.write_fraction = vars["writes"].as<double>();
  o.compute_ns = vars["compute-ns"].as<uint64_t>();
  o.seed = vars["seed"].as<uint64_t>();
  o.alpha = zipf ? vars["alpha"].as<double>() : 0.0;
  o.page_size = size_option(vars, "page-size");
  o.tier = tier_option(vars, "tier");
  write_output(workload::random_accesses(o), vars);
  return 0;
}

int gen(std::span<char*> args) {
  std::string_view kind = args.size() > 1 ? args[1] : "";
  std::span<char*> rest = args.subspan(std::min<size_t>(1, args.size()));
  if (kind == "layers") return gen_layers(rest);
  if (kind == "optimizer") return gen_optimizer(rest);
  if (kind == "zipf") return gen_random(rest, true);
  if (kind == "uniform") return gen_random(rest, false);
  if (kind == "--help" || kind == "-h") {
    std::cout << kGenUsage << "\n";
    return 0;
  }
  throw Error(Errc::invalid_argument,
              "tiermem trace gen needs a workload: layers, optimizer, "
              "zipf or uniform (got '" +
                  std::string(kind) + "')");
}

int convert(std::span<char*> args) {
  po::options_description options("tiermem trace convert: rewrite a trace in another form");
  options.add_options()                                                                     //
      ("to", po::value<std::string>(), "bin, csv or oracle (default: by OUT's extension)")  //
      ("page-size", po::value<std::string>()->default_value("2MiB"),
       "page size of an input that gives none (CSV, libCacheSim's)");
  std::vector<std::string> files;
  std::vector<char*> rest = take_operands(args, 2, files);
  po::variables_map vars;
  if (!parse_args(rest, options, vars, "usage: tiermem trace convert IN OUT [options]")) return 0;
  require_operands(files, 2, "IN and OUT trace files");
  Trace trace = read_trace(files[0], size_option(vars, "page-size"));
  write_trace(trace, files[1], format_for(files[1], vars));
  return 0;
}

int info(std::span<char*> args) {
  po::options_description options("tiermem trace info: what a trace holds");
  options.add_options()  //
      ("page-size", po::value<std::string>()->default_value("2MiB"),
       "page size of an input that gives none (CSV, libCacheSim's)")  //
      ("json", "print one JSON object");
  std::vector<std::string> files;
  std::vector<char*> rest = take_operands(args, 1, files);
  po::variables_map vars;
  if (!parse_args(rest, options, vars, "usage: tiermem trace info FILE [options]")) return 0;
  require_operands(files, 1, "one trace file");
  Trace trace = read_trace(files[0], size_option(vars, "page-size"));
  uint64_t ops[4] = {}, tiers[2] = {}, compute = 0, accesses = 0;
  for (const TraceAccess& a : trace.accesses) {
    ops[static_cast<int>(a.op)] += a.count;
    compute += a.compute_ns;
    if (a.op == TraceOp::prefetch) continue;
    tiers[a.tier == Tier::gpu ? 0 : 1] += a.count;
    ++accesses;
  }
  boost::json::object report{{"accesses", accesses},
                             {"page_accesses", trace.page_accesses()},
                             {"tensors", trace.tensor_pages.size()},
                             {"pages", trace.page_count()},
                             {"page_size", trace.page_size},
                             {"footprint_bytes", trace.footprint_bytes()},
                             {"reads", ops[0]},
                             {"writes", ops[1]},
                             {"read_writes", ops[2]},
                             {"prefetched_pages", ops[3]},
                             {"gpu_accesses", tiers[0]},
                             {"dram_accesses", tiers[1]},
                             {"compute_ns", compute}};
  for (const auto& [key, value] : report) std::cout << key << " " << value << "\n";
  if (vars.count("json")) print_json_last(report);
  return 0;
}

// The known models, or the shapes of the files given (which checks them).
int models(std::span<char*> args) {
  po::options_description options("tiermem trace models: model shapes");
  std::vector<std::string> files;
  std::vector<char*> rest = take_operands(args, args.size(), files);
  po::variables_map vars;
  if (!parse_args(rest, options, vars, "usage: tiermem trace models [FILE.json]...")) return 0;
  std::vector<workload::ModelShape> shapes;
  for (const std::string& file : files) {
    if (!file.ends_with(".json")) {
      throw Error(Errc::invalid_argument, "'" + file + "' is not a shape file (FILE.json)");
    }
    shapes.push_back(workload::load_model(file));
  }
  if (files.empty()) shapes.assign(workload::models().begin(), workload::models().end());
  int width = 12;
  for (const workload::ModelShape& m : shapes)
    width = std::max(width, static_cast<int>(m.name.size()));
  std::printf("%-*s %6s %6s %6s %5s %8s %7s %-6s %-5s %s\n", width, "model", "layers", "hidden",
              "ffn", "heads", "kv_heads", "vocab", "mlp", "dtype", "experts");
  for (const workload::ModelShape& m : shapes) {
    std::string experts =
        m.experts > 0 ? fmt::format("{} of {}", m.experts_per_token, m.experts) : std::string("-");
    std::printf("%-*s %6u %6u %6u %5u %8u %7u %-6s %-5s %s\n", width, m.name.c_str(), m.layers,
                m.hidden, m.ffn, m.heads, m.kv_heads, m.vocab, m.gated ? "gated" : "plain",
                std::string(to_string(m.dtype)).c_str(), experts.c_str());
  }
  return 0;
}

}  // namespace

int run_trace(std::span<char*> args) {
  return guarded("trace", [&] {
    std::string_view action = args.size() > 1 ? args[1] : "";
    std::span<char*> rest = args.subspan(std::min<size_t>(1, args.size()));
    if (action == "gen") return gen(rest);
    if (action == "convert") return convert(rest);
    if (action == "info") return info(rest);
    if (action == "models") return models(rest);
    if (action == "--help" || action == "-h") {
      std::cout << kUsage << "\n";
      return 0;
    }
    std::cerr << kUsage << "\n";
    return 2;
  });
}

}  // namespace tiermem::tools
