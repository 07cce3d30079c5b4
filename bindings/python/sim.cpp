// bindings/python/sim.cpp: the simulator, traces and workload generators (the extension's
// _sim submodule; tiermem/sim.py is the Python face: keyword arguments, sizes, sweeps).
#include <fmt/format.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "errors.hpp"
#include "module.hpp"
#include "tiermem/config.hpp"
#include "tiermem/sim.hpp"
#include "tiermem/trace.hpp"
#include "tiermem/workload.hpp"

namespace py = pybind11;

namespace tiermem::python {

namespace {

Tier tier_from(py::handle value) {
  return parse_tier(value.cast<std::string>());
}

// Sets the fields of an options struct from keyword arguments, naming unknown keys.
template <class Options>
class Fields {
 public:
  using Setter = std::function<void(Options&, py::handle)>;
  Fields(const char* what, std::map<std::string, Setter> setters)
      : what_(what), setters_(std::move(setters)) {}

  void apply(Options& options, const py::kwargs& kwargs) const {
    for (auto [key, value] : kwargs) {
      auto name = py::cast<std::string>(key);
      auto it = setters_.find(name);
      if (it == setters_.end()) {
        std::string known;
        for (const auto& [k, setter] : setters_) known += (known.empty() ? "" : ", ") + k;
        fail(Errc::invalid_argument,
             fmt::format("{}: unknown option '{}' (known: {})", what_, name, known));
      }
      it->second(options, value);
    }
  }

 private:
  const char* what_;
  std::map<std::string, Setter> setters_;
};

// The model's name must outlive the generator call: the options hold a string_view of it.
template <class Options>
std::shared_ptr<Trace> generate(const Fields<Options>& fields, const py::kwargs& kwargs,
                                Trace (*generator)(const Options&)) {
  Options options;
  std::string model;
  if constexpr (requires { options.model; }) {
    if (kwargs.contains("model")) {
      model = kwargs["model"].cast<std::string>();
      options.model = model;
    }
  }
  py::kwargs rest;
  for (auto [key, value] : kwargs) {
    if (py::cast<std::string>(key) != "model") rest[key] = value;
  }
  fields.apply(options, rest);
  py::gil_scoped_release unlocked;
  return std::make_shared<Trace>(generator(options));
}

py::object json_loads(const std::string& text) {
  return py::module_::import("json").attr("loads")(text);
}

sim::Config sim_config_from(const py::dict& values) {
  sim::Config config;
  for (auto [key, value] : values) {
    auto name = py::cast<std::string>(key);
    if (value.is_none()) continue;
    if (name == "eviction") {
      config.eviction = value.cast<std::string>();
    } else if (name == "prefetch") {
      config.prefetch = value.cast<std::string>();
    } else if (name == "gpu") {
      config.gpu_bytes = size_from(value);
    } else if (name == "dram") {
      config.dram_bytes = size_from(value);
    } else if (name == "nvme") {
      config.nvme = sim::Link::parse(value.cast<std::string>(), config.nvme);
    } else if (name == "pcie") {
      config.pcie = sim::Link::parse(value.cast<std::string>(), config.pcie);
    } else if (name == "prefetch_budget") {
      config.prefetch_budget = size_from(value);
    } else if (name == "baseline") {
      config.belady_baseline = value.cast<bool>();
    } else if (name == "trace_prefetches") {
      config.trace_prefetches = value.cast<bool>();
    } else if (name == "schedule") {
      config.schedule = value.cast<std::shared_ptr<Trace>>();
    } else if (name == "future") {
      auto future = value.cast<std::string>();
      if (future != "trace" && future != "schedule") {
        fail(Errc::invalid_argument, fmt::format("future '{}' is not trace or schedule", future));
      }
      config.future = future == "schedule" ? sim::Future::schedule : sim::Future::trace;
    } else {
      fail(Errc::invalid_argument,
           fmt::format("simulate: unknown option '{}' (known: eviction, prefetch, gpu, dram, "
                       "nvme, pcie, prefetch_budget, baseline, trace_prefetches, schedule, "
                       "future)",
                       name));
    }
  }
  return config;
}

py::list policy_list(const std::vector<sim::PolicyInfo>& policies) {
  py::list list;
  for (const sim::PolicyInfo& p : policies) {
    py::dict d;
    d["name"] = p.name;
    d["params"] = p.params;
    d["doc"] = p.doc;
    list.append(d);
  }
  return list;
}

TraceFormat format_from(const std::string& name) {
  if (name == "binary") return TraceFormat::binary;
  if (name == "csv") return TraceFormat::csv;
  if (name == "oracle_general") return TraceFormat::oracle_general;
  fail(Errc::invalid_argument,
       fmt::format("trace format '{}' is not binary, csv or oracle_general", name));
}

}  // namespace

void bind_sim(py::module_& module) {
  py::module_ m = module.def_submodule("_sim", "The simulator's native part (see tiermem.sim).");

  py::class_<Trace, std::shared_ptr<Trace>>(m, "Trace", R"doc(
An access trace: the order in which an application accessed page ranges of its tensors, with
its compute in between (tiermem/trace.hpp). From tiermem.sim.read_trace, parse_csv, the
generators, or a pool's recording (Pool.start_trace).)doc")
      .def_readonly("page_size", &Trace::page_size, "Bytes per page.")
      .def_readonly("tensor_pages", &Trace::tensor_pages, "Pages of each tensor, by tensor id.")
      .def("__len__", [](const Trace& t) { return t.accesses.size(); })
      .def_property_readonly("page_count", &Trace::page_count, "Pages of all tensors.")
      .def_property_readonly("page_accesses", &Trace::page_accesses,
                             "Pages accessed, counting every page of every access.")
      .def_property_readonly("footprint_bytes", &Trace::footprint_bytes,
                             "Bytes of the pages ever accessed.")
      .def(
          "write",
          [](const Trace& t, py::object path, const std::string& format) {
            std::string file = py::module_::import("os").attr("fspath")(path).cast<std::string>();
            write_trace(t, file, format_from(format));
          },
          py::arg("path"), py::arg("format") = "binary",
          "Writes the trace: format 'binary', 'csv' or 'oracle_general' (libCacheSim).")
      .def("__repr__", [](const Trace& t) {
        return fmt::format("<tiermem.sim.Trace {} accesses of {} tensors, {} pages of {}>",
                           t.accesses.size(), t.tensor_pages.size(), t.page_count(),
                           format_size(t.page_size));
      });

  m.def(
      "read_trace",
      [](py::object path, py::handle csv_page_size) {
        std::string file = py::module_::import("os").attr("fspath")(path).cast<std::string>();
        uint64_t page = size_from(csv_page_size);
        py::gil_scoped_release unlocked;
        return std::make_shared<Trace>(read_trace(file, page));
      },
      py::arg("path"), py::arg("csv_page_size") = 2u << 20);
  m.def(
      "parse_csv",
      [](const std::string& text, py::handle page_size) {
        return std::make_shared<Trace>(parse_trace_csv(text, size_from(page_size)));
      },
      py::arg("text"), py::arg("page_size") = 2u << 20);

  static const Fields<workload::LayerStreaming> layer_fields(
      "layer_streaming",
      {{"tokens", [](auto& o, py::handle v) { o.tokens = v.cast<uint32_t>(); }},
       {"prompt", [](auto& o, py::handle v) { o.prompt = v.cast<uint32_t>(); }},
       {"batch", [](auto& o, py::handle v) { o.batch = v.cast<uint32_t>(); }},
       {"page_size", [](auto& o, py::handle v) { o.page_size = size_from(v); }},
       {"tflops", [](auto& o, py::handle v) { o.tflops = v.cast<double>(); }},
       {"hbm_gbps", [](auto& o, py::handle v) { o.hbm_gbps = v.cast<double>(); }},
       {"weight_tier", [](auto& o, py::handle v) { o.weight_tier = tier_from(v); }},
       {"kv_tier", [](auto& o, py::handle v) { o.kv_tier = tier_from(v); }},
       {"seed", [](auto& o, py::handle v) { o.seed = v.cast<uint64_t>(); }},
       {"skew", [](auto& o, py::handle v) { o.skew = v.cast<double>(); }},
       {"drift", [](auto& o, py::handle v) { o.drift = v.cast<double>(); }},
       {"hints_ahead", [](auto& o, py::handle v) { o.hints_ahead = v.cast<uint32_t>(); }}});
  m.def("layer_streaming", [](py::kwargs kwargs) {
    return generate(layer_fields, kwargs, workload::layer_streaming);
  });
  m.def("layer_streaming_schedule", [](py::kwargs kwargs) {
    return generate(layer_fields, kwargs, workload::layer_streaming_schedule);
  });
  static const Fields<workload::OptimizerSwapping> optimizer_fields(
      "optimizer_swapping",
      {{"iterations", [](auto& o, py::handle v) { o.iterations = v.cast<uint32_t>(); }},
       {"subgroup_params", [](auto& o, py::handle v) { o.subgroup_params = v.cast<uint64_t>(); }},
       {"page_size", [](auto& o, py::handle v) { o.page_size = size_from(v); }},
       {"forward_backward_ms",
        [](auto& o, py::handle v) { o.forward_backward_ms = v.cast<double>(); }},
       {"adam_ns_per_param", [](auto& o, py::handle v) { o.adam_ns_per_param = v.cast<double>(); }},
       {"tier", [](auto& o, py::handle v) { o.tier = tier_from(v); }}});
  m.def("optimizer_swapping", [](py::kwargs kwargs) {
    return generate(optimizer_fields, kwargs, workload::optimizer_swapping);
  });
  static const Fields<workload::RandomAccesses> random_fields(
      "random_accesses",
      {{"pages", [](auto& o, py::handle v) { o.pages = v.cast<uint64_t>(); }},
       {"tensors", [](auto& o, py::handle v) { o.tensors = v.cast<uint32_t>(); }},
       {"events", [](auto& o, py::handle v) { o.events = v.cast<uint64_t>(); }},
       {"alpha", [](auto& o, py::handle v) { o.alpha = v.cast<double>(); }},
       {"write_fraction", [](auto& o, py::handle v) { o.write_fraction = v.cast<double>(); }},
       {"compute_ns", [](auto& o, py::handle v) { o.compute_ns = v.cast<uint64_t>(); }},
       {"seed", [](auto& o, py::handle v) { o.seed = v.cast<uint64_t>(); }},
       {"page_size", [](auto& o, py::handle v) { o.page_size = size_from(v); }},
       {"tier", [](auto& o, py::handle v) { o.tier = tier_from(v); }}});
  m.def("random_accesses", [](py::kwargs kwargs) {
    return generate(random_fields, kwargs, workload::random_accesses);
  });

  m.def(
      "simulate",
      [](py::handle trace, const py::dict& config, py::handle csv_page_size) {
        sim::Config c = sim_config_from(config);
        sim::Result result;
        if (py::isinstance<Trace>(trace)) {
          auto t = trace.cast<std::shared_ptr<Trace>>();
          py::gil_scoped_release unlocked;
          result = sim::simulate(*t, c);
        } else {
          std::string file = py::module_::import("os").attr("fspath")(trace).cast<std::string>();
          uint64_t page = size_from(csv_page_size);
          py::gil_scoped_release unlocked;
          result = sim::simulate(file, c, page);
        }
        return json_loads(result.to_json());
      },
      py::arg("trace"), py::arg("config"), py::arg("csv_page_size") = 2u << 20);
  m.def("eviction_policies", [] { return policy_list(sim::eviction_policies()); });
  m.def("prefetch_policies", [] { return policy_list(sim::prefetch_policies()); });
  m.def("models", [] {
    py::list list;
    for (const workload::ModelShape& s : workload::models()) {
      py::dict d;
      d["name"] = std::string(s.name);
      d["layers"] = s.layers;
      d["hidden"] = s.hidden;
      d["ffn"] = s.ffn;
      d["heads"] = s.heads;
      d["kv_heads"] = s.kv_heads;
      d["vocab"] = s.vocab;
      d["gated"] = s.gated;
      d["tied"] = s.tied;
      d["dtype"] = std::string(to_string(s.dtype));
      list.append(d);
    }
    return list;
  });
}

uint64_t size_from(py::handle value) {
  if (py::isinstance<py::str>(value)) return parse_size(value.cast<std::string>());
  return value.cast<uint64_t>();
}

}  // namespace tiermem::python
