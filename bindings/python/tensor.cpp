// bindings/python/tensor.cpp: the tiermem.Tensor type: the hand-written pin fast path, and the
// rest of its methods through pybind11.
#include "tensor.hpp"

#include <fmt/format.h>
#include <pybind11/pybind11.h>

#include <bit>
#include <new>
#include <utility>

#include "arguments.hpp"
#include "errors.hpp"
#include "pin.hpp"
#include "pin_future.hpp"

namespace py = pybind11;

namespace tiermem::python {

namespace {

PyTypeObject* tensor_type = nullptr;

// Interned names, so that the usual literal arguments compare by address.
struct Names {
  PyObject* gpu;
  PyObject* dram;
  PyObject* nvme;
  PyObject* read;
  PyObject* write;
  PyObject* read_write;
};
Names names;

TensorData& data_of(PyObject* self) {
  return reinterpret_cast<TensorObject*>(self)->data;
}

void tensor_dealloc(PyObject* self) {
  TensorData& t = data_of(self);
  PyObject* pool = t.pool_object;
  t.~TensorData();
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
  Py_DECREF(pool);
}

PyObject* tensor_repr(PyObject* self) {
  TensorData& t = data_of(self);
  std::string shape;
  for (int64_t d : t.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
  if (t.shape.size() == 1) shape += ",";
  std::string text =
      fmt::format("<tiermem.Tensor '{}' {} ({}) {}{}>", t.name, to_string(t.dtype), shape,
                  format_size(t.nbytes), t.released || !t.pool->open() ? " released" : "");
  return PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
}

// Tensor.pin(tier="dram", access="read", range=None): the hot path, see tensor.hpp.
PyObject* tensor_pin(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  PyObject* values[3];
  if (!parse_arguments("pin", {"tier", "access", "range"}, args, nargs, kwnames, values)) {
    return nullptr;
  }
  try {
    TensorData& t = data_of(self);
    Tier tier = values[0] != nullptr ? parse_tier_argument(values[0]) : Tier::dram;
    Access access = values[1] != nullptr ? parse_access_argument(values[1]) : Access::read;
    ByteRange range = values[2] != nullptr ? parse_range_argument(values[2]) : ByteRange::whole();
    Pin pin;
    {
      TensorCall call(t);
      pin = t.tensor.pin(tier, access, range);
    }
    return make_pin(self, std::move(pin), range.offset);
  } catch (...) {
    return set_python_error_from_current();
  }
}

PyMethodDef tensor_methods[] = {
    {"pin", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(tensor_pin)),
     METH_FASTCALL | METH_KEYWORDS,
     "pin(tier='dram', access='read', range=None) -> Pin\n\n"
     "Makes the range resident in tier ('dram' or 'gpu') and pins it; blocks (the GIL "
     "released) until it is. access: 'read', 'write' (every byte will be overwritten: old "
     "contents of whole pages are not read) or 'read_write'. range: None for the whole tensor, "
     "(offset, length) in bytes (length None: to the end), or a slice of bytes. Use the Pin as a "
     "context manager; export it with numpy.from_dlpack(pin) or torch.from_dlpack(pin).\n"
     "Raises InvalidArgumentError for a range beyond the tensor or a tier that cannot be "
     "pinned, OutOfSpaceError for a range larger than the tier, TierFullError when every frame "
     "is pinned, BusyError for a conflicting pin in the other tier, IoError when reading "
     "failed, ReleasedError after release() or the pool's close."},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot tensor_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(tensor_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(tensor_repr)},
    {Py_tp_methods, tensor_methods},
    {Py_tp_doc,
     const_cast<char*>("A tensor of a Pool (from Pool.allocate, Pool.find or open_checkpoint): "
                       "a handle whose bytes live in pages that move among the tiers. Pin a "
                       "range to use its bytes.")},
    {0, nullptr},
};

// Made only by Pool.allocate, Pool.find and open_checkpoint: Python cannot instantiate it.
PyType_Spec tensor_spec = {"tiermem.Tensor", sizeof(TensorObject), 0,
                           Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, tensor_slots};

PyObject* intern(const char* text) {
  PyObject* name = PyUnicode_InternFromString(text);
  if (name == nullptr) throw py::error_already_set();
  return name;
}

py::dict residency_dict(const PageResidency& page) {
  py::dict d;
  d["gpu"] = page.in(Tier::gpu);
  d["dram"] = page.in(Tier::dram);
  d["nvme"] = page.in(Tier::nvme);
  d["dirty"] = page.dirty;
  d["in_flight"] = page.in_flight;
  d["pins_gpu"] = page.pins[0];
  d["pins_dram"] = page.pins[1];
  return d;
}

// Adds a pybind11 function as a method, or as a read-only property, of the Tensor type.
template <class F, class... Extra>
void add_method(py::handle type, const char* name, F&& f, const Extra&... extra) {
  type.attr(name) =
      py::cpp_function(std::forward<F>(f), py::name(name), py::is_method(type), extra...);
}
template <class F>
void add_property(py::handle type, const char* name, F&& f, const char* doc) {
  py::object property = py::module_::import("builtins").attr("property");
  type.attr(name) = property(py::cpp_function(std::forward<F>(f)), py::none(), py::none(), doc);
}

}  // namespace

void TensorData::check_usable() const {
  if (released) fail(Errc::released, fmt::format("tensor '{}' was released", name));
  if (!pool->open()) fail(Errc::released, fmt::format("tensor '{}': its pool is closed", name));
}

TensorCall::TensorCall(TensorData& tensor) : tensor_(tensor) {
  tensor.check_usable();
  ++tensor.calls;
  ++tensor.pool->calls;
  saved_ = PyEval_SaveThread();
}

TensorCall::~TensorCall() {
  PyEval_RestoreThread(saved_);
  --tensor_.calls;
  --tensor_.pool->calls;
  tensor_.pool->count_dropped();
}

PyObject* make_tensor(PyObject* pool_object, PoolState& pool, Tensor tensor) {
  std::string name = tensor.name();
  std::vector<uint64_t> dims = tensor.shape();
  DType dtype = tensor.dtype();
  uint64_t nbytes = tensor.size_bytes();
  uint64_t itemsize = dtype_size(dtype);
  // A scalar's row is itself; an empty tensor (a 0 in its shape; open_checkpoint makes them)
  // has no bytes and no pages, so no pin ever asks for its rows.
  uint64_t row_bytes = dims.empty() || dims[0] == 0 ? nbytes : nbytes / dims[0];
  PyObject* self = tensor_type->tp_alloc(tensor_type, 0);
  if (self == nullptr) throw py::error_already_set();
  Py_INCREF(pool_object);
  DLDataType dl_dtype{};
  bool has_dl_dtype = dlpack_dtype(dtype, dl_dtype);
  TensorData data{pool_object,
                  &pool,
                  tensor,
                  std::move(name),
                  {dims.begin(), dims.end()},
                  dtype,
                  nbytes,
                  itemsize,
                  row_bytes,
                  std::countr_zero(itemsize),
                  std::has_single_bit(row_bytes) ? std::countr_zero(row_bytes) : -1,
                  dl_dtype,
                  has_dl_dtype};
  new (&data_of(self)) TensorData(std::move(data));
  return self;
}

TensorData& tensor_of(py::handle object) {
  if (Py_TYPE(object.ptr()) != tensor_type) {
    throw py::type_error(
        fmt::format("a tiermem.Tensor expected, not {}", Py_TYPE(object.ptr())->tp_name));
  }
  return data_of(object.ptr());
}

Tier parse_tier_argument(PyObject* value) {
  if (value == names.dram) return Tier::dram;
  if (value == names.gpu) return Tier::gpu;
  if (value == names.nvme) return Tier::nvme;
  if (!PyUnicode_Check(value)) {
    fail(Errc::invalid_argument,
         fmt::format("tier must be 'gpu', 'dram' or 'nvme', not a {}", Py_TYPE(value)->tp_name));
  }
  const char* text = PyUnicode_AsUTF8(value);
  if (text == nullptr) throw py::error_already_set();
  return parse_tier(text);
}

Access parse_access_argument(PyObject* value) {
  if (value == names.read) return Access::read;
  if (value == names.write) return Access::write;
  if (value == names.read_write) return Access::read_write;
  if (PyUnicode_Check(value)) {
    const char* text = PyUnicode_AsUTF8(value);
    if (text == nullptr) throw py::error_already_set();
    for (Access access : {Access::read, Access::write, Access::read_write}) {
      if (to_string(access) == text) return access;
    }
    fail(Errc::invalid_argument,
         fmt::format("access '{}' is not one of read, write, read_write", text));
  }
  fail(Errc::invalid_argument,
       fmt::format("access must be 'read', 'write' or 'read_write', not a {}",
                   Py_TYPE(value)->tp_name));
}

namespace {

// One bound of a range argument: a non-negative int, or None (then none_value).
uint64_t range_bound(PyObject* part, const char* what, uint64_t none_value) {
  if (part == Py_None) return none_value;
  if (!PyLong_Check(part)) {
    fail(Errc::invalid_argument,
         fmt::format("range {} {} is not an int", what, py::repr(part).cast<std::string>()));
  }
  long long n = PyLong_AsLongLong(part);
  if (n == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (n < 0) fail(Errc::invalid_argument, fmt::format("range {} {} is negative", what, n));
  return static_cast<uint64_t>(n);
}

}  // namespace

ByteRange parse_range_argument(PyObject* value) {
  constexpr uint64_t kToTheEnd = ByteRange::whole().length;
  if (value == Py_None) return ByteRange::whole();
  if (PyTuple_Check(value) && PyTuple_GET_SIZE(value) == 2) {
    return {range_bound(PyTuple_GET_ITEM(value, 0), "offset", 0),
            range_bound(PyTuple_GET_ITEM(value, 1), "length", kToTheEnd)};
  }
  if (PyList_Check(value) && PyList_GET_SIZE(value) == 2) {
    return {range_bound(PyList_GET_ITEM(value, 0), "offset", 0),
            range_bound(PyList_GET_ITEM(value, 1), "length", kToTheEnd)};
  }
  if (PySlice_Check(value)) {
    auto* slice = reinterpret_cast<PySliceObject*>(value);
    if (slice->step != Py_None &&
        PyObject_RichCompareBool(slice->step, py::int_(1).ptr(), Py_EQ) != 1) {
      fail(Errc::invalid_argument,
           fmt::format("range {}: a byte range has no step", py::repr(value).cast<std::string>()));
    }
    uint64_t start = range_bound(slice->start, "start", 0);
    uint64_t stop = range_bound(slice->stop, "stop", kToTheEnd);
    if (stop == kToTheEnd) return {start, stop};
    if (stop < start) {
      fail(Errc::invalid_argument,
           fmt::format("range slice({}, {}) ends before it starts", start, stop));
    }
    return {start, stop - start};
  }
  fail(Errc::invalid_argument,
       fmt::format("range {} is not None, (offset, length) or a slice of bytes",
                   py::repr(value).cast<std::string>()));
}

void bind_tensor(py::module_& module) {
  names = {intern("gpu"),  intern("dram"),  intern("nvme"),
           intern("read"), intern("write"), intern("read_write")};
  tensor_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&tensor_spec));
  if (tensor_type == nullptr) throw py::error_already_set();
  py::handle type(reinterpret_cast<PyObject*>(tensor_type));
  type.attr("__module__") = "tiermem";
  module.add_object("Tensor", type);

  add_property(
      type, "name", [](py::handle self) { return tensor_of(self).name; },
      "The name given to Pool.allocate.");
  add_property(
      type, "shape",
      [](py::handle self) {
        py::tuple shape(tensor_of(self).shape.size());
        for (size_t i = 0; i < shape.size(); ++i) shape[i] = tensor_of(self).shape[i];
        return shape;
      },
      "The shape, a tuple of ints.");
  add_property(
      type, "dtype", [](py::handle self) { return std::string(to_string(tensor_of(self).dtype)); },
      "tiermem's name of the element type: 'f32', 'bf16', 'fp8_e4m3', ...");
  add_property(
      type, "itemsize", [](py::handle self) { return dtype_size(tensor_of(self).dtype); },
      "Bytes per element.");
  add_property(
      type, "nbytes", [](py::handle self) { return tensor_of(self).nbytes; },
      "Bytes of the whole tensor.");
  add_property(
      type, "size", [](py::handle self) { return tensor_of(self).nbytes; },
      "Bytes of the whole tensor, as tiermem's C++ size_bytes() (the same as nbytes; "
      "numel is the number of elements).");
  add_property(
      type, "numel",
      [](py::handle self) { return tensor_of(self).nbytes / dtype_size(tensor_of(self).dtype); },
      "The number of elements.");
  add_property(
      type, "pool", [](py::handle self) { return py::handle(tensor_of(self).pool_object); },
      "The Pool the tensor came from.");
  add_property(
      type, "released",
      [](py::handle self) { return tensor_of(self).released || !tensor_of(self).pool->open(); },
      "True after release() or the pool's close.");
  add_property(
      type, "page_count",
      [](py::handle self) {
        TensorData& t = tensor_of(self);
        t.check_usable();
        return t.tensor.page_count();
      },
      "The number of pages.");

  add_method(
      type, "pin_async",
      [](py::handle self, py::handle tier, py::handle access, py::handle range) {
        TensorData& t = tensor_of(self);
        t.check_usable();
        ByteRange r = parse_range_argument(range.ptr());
        std::future<Pin> future = t.tensor.pin_async(parse_tier_argument(tier.ptr()),
                                                     parse_access_argument(access.ptr()), r);
        return make_pin_future(self.ptr(), std::move(future), r.offset);
      },
      py::arg("tier") = "dram", py::arg("access") = "read", py::arg("range") = py::none(),
      R"doc(pin_async(tier='dram', access='read', range=None) -> PinFuture

Starts what pin() does and returns at once. The PinFuture's result() (or `await`, or
`async with`) gives the Pin, or raises what pin() would. Argument errors raise here.)doc");
  add_method(
      type, "prefetch",
      [](py::handle self, py::handle tier, py::handle range) {
        TensorData& t = tensor_of(self);
        Tier to = parse_tier_argument(tier.ptr());
        ByteRange r = parse_range_argument(range.ptr());
        TensorCall call(t);
        t.tensor.prefetch(to, r);
      },
      py::arg("tier") = "dram", py::arg("range") = py::none(),
      "Schedules the range to be brought into tier without pinning it; returns at once: the "
      "hint that the range is needed soon (what a router has just chosen, the next layer). "
      "Pages that do not fit without evicting pinned pages, or beyond the prefetch budget, "
      "are skipped; those that come are kept until used while other pages can go. Recorded "
      "in a trace as a prefetch record, which tiermem.sim replays alike.");
  add_method(
      type, "evict",
      [](py::handle self, py::handle tier) {
        TensorData& t = tensor_of(self);
        Tier from = parse_tier_argument(tier.ptr());
        TensorCall call(t);
        return t.tensor.evict(from);
      },
      py::arg("tier") = "dram",
      "Moves the tensor's unpinned pages out of tier ('gpu' or 'dram'), writing dirty ones "
      "down first; blocks (the GIL released). Returns how many pages left the tier. Raises "
      "IoError when a write-back failed (the page stays).");
  add_method(
      type, "flush",
      [](py::handle self) {
        TensorData& t = tensor_of(self);
        TensorCall call(t);
        t.tensor.flush();
      },
      "Writes every dirty page down to nvme; blocks (the GIL released) until confirmed. In a "
      "persistent pool it then makes this tensor durable alone (Tensor::flush in C++).");
  add_method(
      type, "residency",
      [](py::handle self, py::object page) -> py::object {
        TensorData& t = tensor_of(self);
        if (!page.is_none()) {
          auto index = page.cast<uint64_t>();
          PageResidency one;
          {
            TensorCall call(t);
            one = t.tensor.residency(index);
          }
          return residency_dict(one);
        }
        std::vector<PageResidency> pages;
        {
          TensorCall call(t);
          pages = t.tensor.residency();
        }
        py::list list;
        for (const PageResidency& p : pages) list.append(residency_dict(p));
        return list;
      },
      py::arg("page") = py::none(),
      "Where each page is now: a list of dicts (one per page; or one dict for page=N) with "
      "keys gpu, dram, nvme (valid copies), dirty, in_flight, pins_gpu and pins_dram.");
  add_method(
      type, "release",
      [](py::handle self) {
        TensorData& t = tensor_of(self);
        t.check_usable();
        if (t.calls > 0 || t.live_pins > 0 || t.pending_pins > 0) {
          fail(Errc::busy,
               fmt::format("tensor '{}'.release(): still in use by {} pin(s) (Pin objects or the "
                           "arrays exported from them), {} pending asynchronous pin(s) and {} "
                           "call(s) in other threads",
                           t.name, t.live_pins, t.pending_pins, t.calls));
        }
        t.released = true;  // new calls fail from now on
        try {
          UnlockedCall call(*t.pool);
          t.tensor.release();
        } catch (...) {
          t.released = false;
          throw;
        }
      },
      "Frees the tensor's frames and NVMe space; waits (the GIL released) for its in-flight "
      "I/O. Raises BusyError while it has pins, exports, pending pins or calls in other "
      "threads. Afterwards every call on it raises ReleasedError.");
}

}  // namespace tiermem::python
