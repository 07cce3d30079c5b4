// bindings/python/pool.cpp: tiermem.Pool: configuration from Python values, allocation,
// counters, schedules, trace recording and the closing rule of pool.hpp.
#include "pool.hpp"

#include <fmt/format.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "errors.hpp"
#include "tensor.hpp"

namespace py = pybind11;

namespace tiermem::python {

namespace {

// None: the defaults; a dict: keys as in a JSON file (nested or dotted); a str: JSON text when
// it starts with "{", else a file's path; an os.PathLike: a file's path.
Config config_from(py::handle value) {
  if (value.is_none()) return Config{};
  if (py::isinstance<py::dict>(value)) {
    std::string json = py::module_::import("json").attr("dumps")(value).cast<std::string>();
    return Config::from_json(json, "<dict>");
  }
  if (py::isinstance<py::str>(value)) {
    std::string text = value.cast<std::string>();
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '{') return Config::from_json(text, "<json>");
    return Config::from_file(text);
  }
  if (py::hasattr(value, "__fspath__")) {
    return Config::from_file(py::module_::import("os").attr("fspath")(value).cast<std::string>());
  }
  throw py::type_error(
      fmt::format("Pool(config): a dict, JSON text, a file's path or None expected, not {}",
                  py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>()));
}

// "float32", numpy.float32, numpy.dtype("float32") or torch.float32, as tiermem's dtype names.
DType dtype_from(py::handle value) {
  if (py::isinstance<py::str>(value)) return parse_dtype(value.cast<std::string>());
  std::string text = py::str(value).cast<std::string>();
  if (text.starts_with("torch.")) return parse_dtype(text.substr(6));
  py::object numpy = py::module_::import("numpy");
  try {
    text = numpy.attr("dtype")(value).attr("name").cast<std::string>();
  } catch (py::error_already_set&) {
    throw Error(Errc::invalid_argument,
                fmt::format("dtype {} is neither a tiermem dtype name nor a NumPy or PyTorch dtype",
                            py::repr(value).cast<std::string>()));
  }
  return parse_dtype(text);
}

std::vector<uint64_t> shape_from(py::handle value) {
  std::vector<uint64_t> shape;
  auto add = [&](py::handle dimension) {
    if (!PyIndex_Check(dimension.ptr())) {
      throw py::type_error(fmt::format("shape[{}] = {} is not an int", shape.size(),
                                       py::repr(dimension).cast<std::string>()));
    }
    long long n =
        PyLong_AsLongLong(py::reinterpret_steal<py::object>(PyNumber_Index(dimension.ptr())).ptr());
    if (PyErr_Occurred()) throw py::error_already_set();  // __index__ failed, or overflow
    if (n < 0) {
      throw Error(Errc::invalid_argument,
                  fmt::format("shape[{}] = {} is negative", shape.size(), n));
    }
    shape.push_back(static_cast<uint64_t>(n));
  };
  if (PyIndex_Check(value.ptr())) {  // an int, or numpy.int64 and the like
    add(value);
  } else {
    for (py::handle dimension : py::iter(value)) add(dimension);
  }
  return shape;
}

std::string path_from(py::handle value) {
  return py::module_::import("os").attr("fspath")(value).cast<std::string>();
}

py::object json_loads(const std::string& text) {
  return py::module_::import("json").attr("loads")(text);
}

// A schedule step: a Tensor, or (tensor, range) or (tensor, range, tier).
ScheduleStep step_from(py::handle value) {
  ScheduleStep step;
  py::handle tensor = value;
  if (py::isinstance<py::tuple>(value) || py::isinstance<py::list>(value)) {
    py::sequence parts = py::reinterpret_borrow<py::sequence>(value);
    if (parts.size() < 1 || parts.size() > 3) {
      throw Error(Errc::invalid_argument,
                  fmt::format("schedule step {} is not (tensor, range, tier)",
                              py::repr(value).cast<std::string>()));
    }
    tensor = parts[0];
    if (parts.size() > 1) step.range = parse_range_argument(py::object(parts[1]).ptr());
    if (parts.size() > 2) step.tier = parse_tier_argument(py::object(parts[2]).ptr());
  }
  TensorData& data = tensor_of(tensor);
  data.check_usable();
  step.tensor = data.tensor;
  return step;
}

}  // namespace

PoolState::PoolState(const Config& config) {
  {
    // Building the tiers maps, locks and reserves disk space: seconds for large pools.
    py::gil_scoped_release unlocked;
    pool = std::make_unique<Pool>(config);
  }
  if (pool->stats().gpu_backend == "cuda") gpu_device = {kDLCUDA, config.gpu.device};
}

PoolState::~PoolState() {
  if (pool) destroy();
}

Pool& PoolState::get() const {
  if (!open()) fail(Errc::released, "the pool is closed");
  return *pool;
}

void PoolState::close() {
  if (!pool) return;
  if (in_use() > 0) {
    fail(Errc::busy,
         fmt::format("pool.close(): still in use by {} pin(s) (Pin objects or the arrays "
                     "exported from them), {} pending asynchronous pin(s) and {} call(s) in other "
                     "threads; end the pins and delete the exported arrays first (or leave a "
                     "`with Pool(...)` block, which closes once they are gone)",
                     live_pins, pending_pins, calls));
  }
  closing = true;
  destroy();
}

void PoolState::close_when_unused() {
  closing = true;
  count_dropped();
}

void PoolState::count_dropped() noexcept {
  if (closing && pool && in_use() == 0) destroy();
}

void PoolState::destroy() noexcept {
  std::unique_ptr<Pool> closed = std::move(pool);
  closing = true;
  // ~Pool waits for in-flight I/O (prefetches): other Python threads may run meanwhile.
  PyThreadState* saved = PyEval_SaveThread();
  closed.reset();
  PyEval_RestoreThread(saved);
}

UnlockedCall::UnlockedCall(PoolState& pool) : pool_(pool) {
  pool.get();
  ++pool.calls;
  saved_ = PyEval_SaveThread();
}

UnlockedCall::~UnlockedCall() {
  PyEval_RestoreThread(saved_);
  --pool_.calls;
  pool_.count_dropped();
}

void bind_pool(py::module_& module) {
  py::class_<PoolState>(module, "Pool", R"doc(
A pool of tensors whose pages move among the gpu, dram and nvme tiers.

Pool(config=None): config is a dict (nested or dotted keys, as in a JSON file: {"dram":
{"capacity": "1GiB"}, "nvme.dirs": ["/mnt/nvme0"]}), JSON text, a file's path, or None for the
defaults; `python -m tiermem config --keys`-style listings come from `tiermem config --keys`.

Persistent pools: {"nvme": {"persistent": True, "dirs": [...]}} makes a pool that outlives its
process: flush() returns when its data and manifest are durable, and a pool opened later on the
same directories finds every tensor as the last flush left it (find(name)). Closing flushes.
One pool at a time may have the directories (BusyError names the holder); a damaged manifest
raises CorruptError, and a damaged page fails the pin that reads it with CorruptError.
Raises ConfigError or InvalidArgumentError for a bad configuration, SystemCallError or
OutOfSpaceError when memory or disk cannot be had. Opening blocks (the GIL released) while the
tiers are mapped, locked and reserved.

Closing: close() ends the pool now, and raises BusyError while pins, exported arrays, pending
asynchronous pins or calls in other threads still use it. Leaving a `with Pool(...) as pool:`
block closes it at once if nothing uses it, else as soon as the last of those is gone.
After either, every call raises ReleasedError. A pool that is collected is closed.

Thread safety: every method may be called from any thread; blocking calls release the GIL.
)doc")
      .def(py::init(
               [](py::object config) { return std::make_unique<PoolState>(config_from(config)); }),
           py::arg("config") = py::none())
      .def(
          "allocate",
          [](py::object self, py::object shape, py::object dtype, const std::string& name,
             bool write_through) {
            PoolState& state = self.cast<PoolState&>();
            std::vector<uint64_t> dims = shape_from(shape);
            DType type = dtype_from(dtype);
            Tensor tensor;
            {
              UnlockedCall call(state);
              tensor = state.pool->allocate(dims, type, name, TensorOptions{write_through});
            }
            return py::reinterpret_steal<py::object>(make_tensor(self.ptr(), state, tensor));
          },
          py::arg("shape"), py::arg("dtype"), py::arg("name"), py::kw_only(),
          py::arg("write_through") = false, R"doc(
Allocates a tensor. shape: an int or a sequence of ints; dtype: a tiermem name ("f32", "bf16",
"fp8_e4m3", ...; aliases such as "float32", "bfloat16", "bool"), a NumPy dtype or a PyTorch
dtype; name: for logs, traces and stats. Its pages read as zeros until written.
write_through: every write pin, when it ends, starts writing its pages down to nvme.
Raises InvalidArgumentError for an empty shape, a zero or negative dimension or an unknown
dtype, OutOfSpaceError when the nvme tier cannot hold it.)doc")
      .def(
          "flush",
          [](PoolState& state) {
            UnlockedCall call(state);
            state.pool->flush();
          },
          "Writes every dirty page down to nvme; blocks (the GIL released) until confirmed. "
          "Raises IoError when a write failed (the data stays valid above).")
      .def(
          "find",
          [](py::object self, const std::string& name) -> py::object {
            PoolState& state = self.cast<PoolState&>();
            Tensor found;
            {
              // The name table's lock is held while a persistent pool publishes its manifest.
              UnlockedCall call(state);
              found = state.pool->find(name);
            }
            if (!found) return py::none();
            return py::reinterpret_steal<py::object>(make_tensor(self.ptr(), state, found));
          },
          py::arg("name"), R"doc(
The live tensor of that name (a new Tensor object for it), or None when none has it. Names
are unique in a persistent pool; elsewhere it is one of the tensors of that name. In a
persistent pool reopened on the same directories, this is how the last flush's tensors are
found again. Never blocks on I/O (the GIL is released while it may wait for a flush).)doc")
      .def(
          "verify",
          [](PoolState& state) {
            UnlockedCall call(state);
            return state.pool->verify();
          },
          R"doc(
A persistent pool: reads the durable copy of every page from its files and checks it against
its checksum; blocks (the GIL released), and allocations, releases and flushes wait meanwhile.
Returns the number of pages checked. Raises CorruptError naming every damaged tensor and page
(the first 16), its file and offset; IoError when a file cannot be read; UnsupportedError for
a pool that is not persistent. (Pins check every page they read back from the files anyway.))doc")
      .def(
          "stats", [](PoolState& state) { return json_loads(state.get().stats().to_json()); },
          "The pool's counters as a dict of dotted names, e.g. stats()['dram.hits'] and "
          "stats()['gpu.backend']. Never blocks on I/O.")
      .def_property_readonly(
          "config", [](PoolState& state) { return json_loads(state.get().config().to_json()); },
          "The pool's configuration as a dict of dotted keys.")
      .def(
          "set_schedule",
          [](PoolState& state, py::iterable steps) {
            std::vector<ScheduleStep> order;
            for (py::handle step : steps) order.push_back(step_from(step));
            UnlockedCall call(state);
            state.pool->set_schedule(order);
          },
          py::arg("steps"), R"doc(
Registers the application's access order, one iteration of a loop that repeats: a sequence of
tensors, or of (tensor, range) or (tensor, range, tier) tuples. The "schedule" prefetch policy
reads ahead along it and "belady" eviction judges next uses by it. An empty sequence withdraws
it. Raises InvalidArgumentError or ReleasedError naming a bad step.)doc")
      .def(
          "start_trace",
          [](PoolState& state, py::object path) {
            std::string file = path_from(path);
            state.get().start_trace(file);
          },
          py::arg("path"),
          "Records every access from now on to path, in tiermem's binary trace format, for "
          "tiermem.sim to replay. Raises BusyError while recording already, SystemCallError when "
          "the file cannot be created.")
      .def(
          "stop_trace", [](PoolState& state) { state.get().stop_trace(); },
          "Finishes the trace file; does nothing when not recording.")
      .def(
          "compute_begin", [](PoolState& state) { state.get().compute_begin(); },
          "Marks the start of a span of compute in the trace (see Pool.compute()).")
      .def(
          "compute_end", [](PoolState& state) { state.get().compute_end(); },
          "Marks the end of a span of compute in the trace.")
      .def("close", &PoolState::close,
           "Closes the pool now. Raises BusyError (and stays open) while anything uses it; "
           "closing a closed pool does nothing.")
      .def_property_readonly(
          "closed", [](const PoolState& state) { return !state.open(); },
          "True once close() succeeded or a `with` block's exit began closing.")
      .def("__enter__", [](py::object self) { return self; })
      .def(
          "__exit__",
          [](PoolState& state, py::handle, py::handle, py::handle) {
            state.close_when_unused();
            return false;
          },
          "Closes the pool, at once or when the last pin, export or call using it is gone.")
      .def("__repr__", [](const PoolState& state) {
        if (!state.open()) return std::string("<tiermem.Pool closed>");
        Stats stats = state.pool->stats();
        return fmt::format("<tiermem.Pool dram {} gpu {} ({}) nvme {}, {} tensors>",
                           format_size(stats.tiers[1].capacity_bytes),
                           format_size(stats.tiers[0].capacity_bytes), stats.gpu_backend,
                           format_size(stats.tiers[2].capacity_bytes), stats.tensors);
      });
}

}  // namespace tiermem::python
