// bindings/python/pin.cpp: the tiermem.Pin type: claims, the DLPack export and its byte view,
// and NumPy and PyTorch conveniences with clear errors for dtypes a consumer lacks.
#include "pin.hpp"

#include <fmt/format.h>
#include <pybind11/pybind11.h>

#include <new>
#include <utility>
#include <vector>

#include "dlpack.hpp"
#include "errors.hpp"

namespace py = pybind11;

namespace tiermem::python {

namespace {

PyTypeObject* pin_type = nullptr;
PyTypeObject* pin_bytes_type = nullptr;

PinData& data_of(PyObject* self) {
  return reinterpret_cast<PinObject*>(self)->data;
}

PinData& pin_of(py::handle object) {
  if (Py_TYPE(object.ptr()) != pin_type) {
    throw py::type_error(
        fmt::format("a tiermem.Pin expected, not {}", Py_TYPE(object.ptr())->tp_name));
  }
  return data_of(object.ptr());
}

std::string describe(const PinData& p) {
  return fmt::format("pin of '{}' [{}, {}) in {}", p.tensor->name, p.offset, p.offset + p.size,
                     to_string(p.tier));
}

// Unpins the pages once neither the Pin object nor any export claims them.
void end_if_unclaimed(PinData& p) noexcept {
  if (!p.released || p.exports > 0 || !p.pin) return;
  p.pin.reset();
  --p.tensor->live_pins;
  --p.tensor->pool->live_pins;
  p.tensor->pool->count_dropped();
}

void check_claimed(const PinData& p) {
  if (p.released) {
    fail(Errc::released,
         fmt::format("{} has ended (release() or its `with` block); pin again to use it",
                     describe(p)));
  }
}

DLDevice device_of(const PinData& p) {
  return p.tier == Tier::gpu ? p.tensor->pool->gpu_device : DLDevice{kDLCPU, 0};
}

// The shape an export of the pin has: dims with dims[0] replaced by first. The tensor's shape
// for the whole tensor (a scalar's: no dims), whole rows of it, else flat elements. No allocation:
// this is on the path of every __dlpack__.
struct ExportShape {
  std::span<const int64_t> dims;
  int64_t first;

  std::vector<int64_t> to_vector() const {
    std::vector<int64_t> shape(dims.begin(), dims.end());
    if (!shape.empty()) shape[0] = first;  // a scalar has no first dimension
    return shape;
  }
};

ExportShape export_shape(const PinData& p) {
  static constexpr int64_t kFlat[1] = {0};
  const TensorData& t = *p.tensor;
  if (t.row_shift >= 0 ? ((p.offset | p.size) & (t.row_bytes - 1)) == 0
                       : p.offset % t.row_bytes == 0 && p.size % t.row_bytes == 0) {
    uint64_t rows = t.row_shift >= 0 ? p.size >> t.row_shift : p.size / t.row_bytes;
    return {t.shape, static_cast<int64_t>(rows)};
  }
  if (((p.offset | p.size) & (t.itemsize - 1)) == 0) {
    return {kFlat, static_cast<int64_t>(p.size >> t.item_shift)};
  }
  fail(Errc::invalid_argument,
       fmt::format("{} does not fall on {} elements ({} bytes each); export pin.bytes() instead",
                   describe(p), to_string(t.dtype), t.itemsize));
}

void export_released(PyObject* owner) {
  PinData& p = data_of(owner);
  --p.exports;
  end_if_unclaimed(p);
}

// __dlpack__ of a pin, or of its byte view.
PyObject* export_pin(PyObject* owner, bool as_bytes, PyObject* const* args, Py_ssize_t nargs,
                     PyObject* kwnames) {
  try {
    PinData& p = data_of(owner);
    check_claimed(p);
    DLDevice device = device_of(p);
    if (!check_dlpack_request(args, nargs, kwnames, device)) return nullptr;
    PyObject* capsule = nullptr;
    if (as_bytes) {
      auto size = static_cast<int64_t>(p.size);
      capsule = make_dlpack_capsule(owner, p.pin.data(), device, {kDLUInt, 8, 1}, {&size, 1}, size,
                                    export_released);
    } else {
      if (!p.tensor->has_dl_dtype) {
        fail(Errc::unsupported,
             fmt::format("{}: DLPack 0.8, which NumPy and PyTorch read here, has no type for "
                         "{}; export pin.bytes() (uint8) and view its bytes",
                         describe(p), to_string(p.tensor->dtype)));
      }
      ExportShape shape = export_shape(p);
      capsule = make_dlpack_capsule(owner, p.pin.data(), device, p.tensor->dl_dtype, shape.dims,
                                    shape.first, export_released);
    }
    if (capsule != nullptr) ++p.exports;
    return capsule;
  } catch (...) {
    return set_python_error_from_current();
  }
}

PyObject* pin_dlpack(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return export_pin(self, false, args, nargs, kwnames);
}

PyObject* pin_dlpack_device(PyObject* self, PyObject*) {
  DLDevice device = device_of(data_of(self));
  return Py_BuildValue("(ii)", static_cast<int>(device.device_type), device.device_id);
}

PyObject* pin_enter(PyObject* self, PyObject*) {
  try {
    check_claimed(data_of(self));
  } catch (...) {
    return set_python_error_from_current();
  }
  Py_INCREF(self);
  return self;
}

PyObject* pin_release(PyObject* self, PyObject*) {
  PinData& p = data_of(self);
  p.released = true;
  end_if_unclaimed(p);
  Py_RETURN_NONE;
}

PyObject* pin_exit(PyObject* self, PyObject* const*, Py_ssize_t) {
  pin_release(self, nullptr);
  Py_RETURN_FALSE;
}

// The buffer protocol's format of a dtype; null for the ones it has none for (bf16, fp8).
const char* buffer_format(DType dtype) noexcept {
  switch (dtype) {
    case DType::f64:
      return "d";
    case DType::f32:
      return "f";
    case DType::f16:
      return "e";
    case DType::i64:
      return "q";
    case DType::i32:
      return "i";
    case DType::i16:
      return "h";
    case DType::i8:
      return "b";
    case DType::u8:
      return "B";
    case DType::u16:
      return "H";
    case DType::u32:
      return "I";
    case DType::u64:
      return "Q";
    case DType::boolean:
      return "?";
    case DType::bf16:
    case DType::fp8_e4m3:
    case DType::fp8_e5m2:
      return nullptr;
  }
  return nullptr;
}

// The buffer protocol (numpy.asarray(pin), memoryview(pin)): typed as the DLPack export when
// the consumer asks for a format, else flat bytes; read-only for read pins. A view is an export:
// it claims the pages until it is released.
int pin_getbuffer(PyObject* self, Py_buffer* view, int flags) {
  try {
    PinData& p = data_of(self);
    check_claimed(p);
    if (device_of(p).device_type != kDLCPU) {
      PyErr_Format(PyExc_BufferError,
                   "%s is CUDA device memory, which the buffer protocol "
                   "cannot carry; use torch.from_dlpack(pin)",
                   describe(p).c_str());
      return -1;
    }
    bool readonly = p.pin.access() == Access::read;
    if ((flags & PyBUF_WRITABLE) == PyBUF_WRITABLE && readonly) {
      PyErr_Format(PyExc_BufferError,
                   "%s is a read pin: writing through it would be lost; pin with access "
                   "'write' or 'read_write' to write",
                   describe(p).c_str());
      return -1;
    }
    bool typed = (flags & PyBUF_FORMAT) == PyBUF_FORMAT;
    const char* format = typed ? buffer_format(p.tensor->dtype) : nullptr;
    if (typed && format == nullptr) {
      PyErr_Format(PyExc_BufferError,
                   "%s: the buffer protocol has no format for %s; export pin.bytes() (uint8) "
                   "or use torch.from_dlpack(pin)",
                   describe(p).c_str(), std::string(to_string(p.tensor->dtype)).c_str());
      return -1;
    }
    std::vector<int64_t> shape =
        typed ? export_shape(p).to_vector() : std::vector<int64_t>{static_cast<int64_t>(p.size)};
    auto ndim = static_cast<int>(shape.size());
    auto* dims = static_cast<Py_ssize_t*>(PyMem_Malloc(2 * shape.size() * sizeof(Py_ssize_t)));
    if (dims == nullptr) {
      PyErr_NoMemory();
      return -1;
    }
    Py_ssize_t itemsize = typed ? static_cast<Py_ssize_t>(p.tensor->itemsize) : 1;
    Py_ssize_t stride = itemsize;
    for (int i = ndim - 1; i >= 0; --i) {
      dims[i] = static_cast<Py_ssize_t>(shape[static_cast<size_t>(i)]);
      dims[ndim + i] = stride;
      stride *= dims[i];
    }
    view->buf = p.pin.data();
    view->obj = Py_NewRef(self);
    view->len = static_cast<Py_ssize_t>(p.size);
    view->readonly = readonly ? 1 : 0;
    view->itemsize = itemsize;
    view->format = const_cast<char*>(format);
    view->ndim = ndim;
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? dims : nullptr;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? dims + ndim : nullptr;
    view->suboffsets = nullptr;
    view->internal = dims;
    ++p.exports;
    return 0;
  } catch (...) {
    set_python_error_from_current();
    return -1;
  }
}

void pin_releasebuffer(PyObject* self, Py_buffer* view) {
  PyMem_Free(view->internal);
  export_released(self);
}

void pin_dealloc(PyObject* self) {
  PinData& p = data_of(self);
  p.released = true;
  end_if_unclaimed(p);  // exports hold references, so none is left now
  PyObject* tensor = p.tensor_object;
  p.~PinData();
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
  Py_DECREF(tensor);
}

PyObject* pin_repr(PyObject* self) {
  const PinData& p = data_of(self);
  std::string text =
      p.pin ? fmt::format("<tiermem.Pin {} for {}, {} export(s){}>", describe(p),
                          to_string(p.pin.access()), p.exports, p.released ? ", released" : "")
            : fmt::format("<tiermem.Pin of '{}', ended>", p.tensor->name);
  return PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
}

template <class F>
PyCFunction cfunction(F* f) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
}

PyMethodDef pin_methods[] = {
    {"__dlpack__", cfunction(pin_dlpack), METH_FASTCALL | METH_KEYWORDS,
     "__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None)\n\n"
     "A DLPack capsule aliasing the pinned memory, with the tensor's dtype and shape (whole "
     "rows of it, or flat elements, for a partial range). The consumer's array keeps the pages "
     "pinned until it is freed. Raises ReleasedError after the pin's own claim ended, "
     "UnsupportedError for fp8 dtypes (see bytes()), BufferError for copy=True or another "
     "device."},
    {"__dlpack_device__", cfunction(pin_dlpack_device), METH_NOARGS,
     "(device_type, device_id): (kDLCPU=1, 0) for dram pins and for gpu pins of the emulated "
     "gpu tier (host memory); (kDLCUDA=2, gpu.device) for gpu pins of the CUDA backend."},
    {"__enter__", cfunction(pin_enter), METH_NOARGS, nullptr},
    {"__exit__", cfunction(pin_exit), METH_FASTCALL,
     "Ends the Pin object's claim: the pages are unpinned now, or when the last exported array "
     "is freed."},
    {"release", cfunction(pin_release), METH_NOARGS,
     "Ends the Pin object's claim (as leaving its `with` block does): the pages are unpinned "
     "now, or when the last exported array is freed. Never blocks; releasing twice does "
     "nothing."},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot pin_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(pin_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(pin_repr)},
    {Py_tp_methods, pin_methods},
    {Py_bf_getbuffer, reinterpret_cast<void*>(pin_getbuffer)},
    {Py_bf_releasebuffer, reinterpret_cast<void*>(pin_releasebuffer)},
    {Py_tp_doc,
     const_cast<char*>("A pinned byte range of a Tensor (from Tensor.pin): one contiguous pointer, "
                       "exported without a copy through DLPack. See pin.hpp's rule of when the "
                       "pages are unpinned: when the Pin's claim and every export's have ended.")},
    {0, nullptr},
};

PyType_Spec pin_spec = {"tiermem.Pin", sizeof(PinObject), 0,
                        Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, pin_slots};

// The byte view (Pin.bytes()): a uint8 export of the same pin.
struct PinBytesObject {
  PyObject_HEAD PyObject* pin;
};

PyObject* bytes_pin(PyObject* self) {
  return reinterpret_cast<PinBytesObject*>(self)->pin;
}

PyObject* bytes_dlpack(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return export_pin(bytes_pin(self), true, args, nargs, kwnames);
}

PyObject* bytes_dlpack_device(PyObject* self, PyObject*) {
  return pin_dlpack_device(bytes_pin(self), nullptr);
}

void bytes_dealloc(PyObject* self) {
  PyObject* pin = bytes_pin(self);
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
  Py_DECREF(pin);
}

PyMethodDef bytes_methods[] = {
    {"__dlpack__", cfunction(bytes_dlpack), METH_FASTCALL | METH_KEYWORDS,
     "A DLPack capsule of the pinned bytes as a flat uint8 array (see Pin.__dlpack__)."},
    {"__dlpack_device__", cfunction(bytes_dlpack_device), METH_NOARGS, "As Pin.__dlpack_device__."},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot bytes_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(bytes_dealloc)},
    {Py_tp_methods, bytes_methods},
    {Py_tp_doc, const_cast<char*>("The bytes of a Pin as a flat uint8 DLPack export "
                                  "(Pin.bytes()), for dtypes a consumer lacks.")},
    {0, nullptr},
};

PyType_Spec bytes_spec = {"tiermem.PinBytes", sizeof(PinBytesObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, bytes_slots};

PyTypeObject* make_type(PyType_Spec& spec, py::module_& module, const char* name) {
  auto* type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&spec));
  if (type == nullptr) throw py::error_already_set();
  py::handle(reinterpret_cast<PyObject*>(type)).attr("__module__") = "tiermem";
  module.add_object(name, py::handle(reinterpret_cast<PyObject*>(type)));
  return type;
}

template <class F>
void add_property(py::handle type, const char* name, F&& f, const char* doc) {
  py::object property = py::module_::import("builtins").attr("property");
  type.attr(name) = property(py::cpp_function(std::forward<F>(f)), py::none(), py::none(), doc);
}

py::tuple shape_tuple(const std::vector<int64_t>& shape) {
  py::tuple t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) t[i] = shape[i];
  return t;
}

// The name a consumer gives the pin's dtype, for the clear errors below.
void refuse_fp8(const PinData& p, const char* consumer) {
  if (p.tensor->dtype == DType::fp8_e4m3 || p.tensor->dtype == DType::fp8_e5m2) {
    fail(Errc::unsupported,
         fmt::format("{}: {} has no {} type (nor has DLPack 0.8); view the raw bytes through "
                     "pin.bytes() instead",
                     describe(p), consumer, to_string(p.tensor->dtype)));
  }
}

}  // namespace

PyObject* make_pin(PyObject* tensor_object, Pin pin, uint64_t offset) {
  PyObject* self = pin_type->tp_alloc(pin_type, 0);
  if (self == nullptr) throw py::error_already_set();
  TensorData& t = reinterpret_cast<TensorObject*>(tensor_object)->data;
  Py_INCREF(tensor_object);
  uint64_t size = pin.size();
  Tier tier = pin.tier();
  new (&data_of(self)) PinData{tensor_object, &t, std::move(pin), offset, size, tier};
  ++t.live_pins;
  ++t.pool->live_pins;
  return self;
}

void bind_pin(py::module_& module) {
  pin_type = make_type(pin_spec, module, "Pin");
  pin_bytes_type = make_type(bytes_spec, module, "PinBytes");
  py::handle type(reinterpret_cast<PyObject*>(pin_type));

  add_property(
      type, "data_ptr",
      [](py::handle self) {
        PinData& p = pin_of(self);
        return reinterpret_cast<uintptr_t>(p.pin.data());
      },
      "The address of the pinned range (a device address for gpu pins of the CUDA backend); "
      "0 once the pages are unpinned.");
  add_property(
      type, "nbytes", [](py::handle self) { return pin_of(self).size; },
      "Bytes of the pinned range.");
  add_property(
      type, "offset", [](py::handle self) { return pin_of(self).offset; },
      "Where the range starts in the tensor, in bytes.");
  add_property(
      type, "tier", [](py::handle self) { return std::string(to_string(pin_of(self).tier)); },
      "'dram' or 'gpu'.");
  add_property(
      type, "access",
      [](py::handle self) { return std::string(to_string(pin_of(self).pin.access())); },
      "'read', 'write' or 'read_write'.");
  add_property(
      type, "tensor", [](py::handle self) { return py::handle(pin_of(self).tensor_object); },
      "The Tensor pinned.");
  add_property(
      type, "dtype",
      [](py::handle self) { return std::string(to_string(pin_of(self).tensor->dtype)); },
      "The tensor's dtype name, which __dlpack__ exports.");
  add_property(
      type, "shape",
      [](py::handle self) {
        PinData& p = pin_of(self);
        check_claimed(p);
        return shape_tuple(export_shape(p).to_vector());
      },
      "The shape __dlpack__ exports: the tensor's for the whole tensor, whole rows of it for a "
      "range of rows, else flat elements.");
  add_property(
      type, "exports", [](py::handle self) { return pin_of(self).exports; },
      "How many exported arrays still hold the pages.");
  add_property(
      type, "released", [](py::handle self) { return pin_of(self).released; },
      "True once the Pin object's own claim ended (release() or its `with` block).");
  add_property(
      type, "active", [](py::handle self) { return static_cast<bool>(pin_of(self).pin); },
      "True while the pages are pinned (by the Pin or by exports).");

  type.attr("bytes") = py::cpp_function(
      [](py::handle self) {
        check_claimed(pin_of(self));
        PyObject* view = pin_bytes_type->tp_alloc(pin_bytes_type, 0);
        if (view == nullptr) throw py::error_already_set();
        Py_INCREF(self.ptr());
        reinterpret_cast<PinBytesObject*>(view)->pin = self.ptr();
        return py::reinterpret_steal<py::object>(view);
      },
      py::name("bytes"), py::is_method(type),
      "The pinned bytes as an exporter of a flat uint8 array: numpy.from_dlpack(pin.bytes()) or "
      "torch.from_dlpack(pin.bytes()), for dtypes a consumer lacks (bf16 in NumPy, fp8 "
      "everywhere) or ranges that do not fall on elements.");
  type.attr("numpy") = py::cpp_function(
      [](py::handle self) {
        PinData& p = pin_of(self);
        check_claimed(p);
        refuse_fp8(p, "NumPy");
        if (p.tensor->dtype == DType::bf16) {
          fail(Errc::unsupported, fmt::format("{}: NumPy has no bfloat16 type; use pin.torch(), or "
                                              "numpy.from_dlpack(pin.bytes()) for the raw bytes",
                                              describe(p)));
        }
        if (device_of(p).device_type != kDLCPU) {
          fail(Errc::unsupported,
               fmt::format("{}: the memory is on the CUDA device, which NumPy cannot reach; "
                           "use pin.torch()",
                           describe(p)));
        }
        // numpy.asarray through the buffer protocol: NumPy 1.24 makes arrays from DLPack
        // read-only, and reads DLPack's bool only from 1.25 on.
        return py::module_::import("numpy").attr("asarray")(self);
      },
      py::name("numpy"), py::is_method(type),
      "The pinned memory as a NumPy array (numpy.asarray(pin), through the buffer protocol), "
      "writable for write and read_write pins, with clear errors (UnsupportedError) for dtypes "
      "NumPy lacks (bf16, fp8) and for CUDA memory. The array keeps the pages pinned until it "
      "is freed. (numpy.from_dlpack(pin) works too, but NumPy 1.24 makes its arrays "
      "read-only.)");
  type.attr("torch") = py::cpp_function(
      [](py::handle self) {
        PinData& p = pin_of(self);
        check_claimed(p);
        refuse_fp8(p, "PyTorch 1.13");
        py::object torch = py::module_::import("torch");
        const DType dtype = p.tensor->dtype;
        if (dtype == DType::u16 || dtype == DType::u32 || dtype == DType::u64) {
          // PyTorch has uint16, uint32 and uint64 only from 2.3 on.
          const std::string wide = fmt::format("uint{}", dtype_size(dtype) * 8);
          if (!py::hasattr(torch, wide.c_str())) {
            fail(Errc::unsupported,
                 fmt::format("{}: this PyTorch has no {} type; use pin.bytes() for the raw bytes",
                             describe(p), wide));
          }
        }
        if (dtype == DType::boolean) {
          // PyTorch reads DLPack's bool only from 2.0 on: the bytes, viewed as bool.
          return torch.attr("from_dlpack")(self.attr("bytes")())
              .attr("view")(torch.attr("bool"))
              .attr("reshape")(shape_tuple(export_shape(p).to_vector()));
        }
        return torch.attr("from_dlpack")(self);
      },
      py::name("torch"), py::is_method(type),
      "torch.from_dlpack(pin), with a clear error (UnsupportedError) for fp8, which PyTorch "
      "1.13 lacks, and bool through the byte view (PyTorch 1.13 cannot read DLPack's bool, "
      "so torch.from_dlpack(pin) of a bool tensor fails there). Nothing stops writes through the "
      "tensor of a read pin: they may be lost. "
      "The tensor keeps the pages pinned until it is freed.");
}

}  // namespace tiermem::python
