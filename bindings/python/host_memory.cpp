// bindings/python/host_memory.cpp: buffer views and consumed DLPack exports of host memory.
#include "host_memory.hpp"

#include <fmt/format.h>
#include <pybind11/pybind11.h>

#include <utility>

#include "errors.hpp"

namespace py = pybind11;

namespace tiermem::python {

HostMemory::HostMemory(PyObject* object, bool writable) {
  if (PyObject_CheckBuffer(object)) {
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, &view_, flags) != 0) {
      PyErr_Clear();
      fail(Errc::invalid_argument,
           fmt::format("the {} buffer is not {}C-contiguous memory", Py_TYPE(object)->tp_name,
                       writable ? "writable " : ""));
    }
    has_view_ = true;
    bytes_ = {static_cast<std::byte*>(view_.buf), static_cast<size_t>(view_.len)};
    return;
  }
  py::handle source(object);
  if (!py::hasattr(source, "__dlpack__")) {
    throw py::type_error(
        fmt::format("a buffer (NumPy array, bytearray, LockedBuffer, ...) or a DLPack exporter "
                    "(torch.Tensor, Pin, ...) expected, not {}",
                    Py_TYPE(object)->tp_name));
  }
  py::tuple device = source.attr("__dlpack_device__")();
  if (device[0].cast<int>() != kDLCPU) {
    fail(Errc::invalid_argument,
         fmt::format("the {} lies on device {}, not in host memory (kDLCPU): file I/O needs host "
                     "memory",
                     Py_TYPE(object)->tp_name, py::repr(device).cast<std::string>()));
  }
  py::object capsule = source.attr("__dlpack__")();
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (managed == nullptr) throw py::error_already_set();
  if (PyCapsule_SetName(capsule.ptr(), "used_dltensor") != 0) throw py::error_already_set();
  const DLTensor& t = managed->dl_tensor;
  uint64_t elements = 1;
  int64_t expected_stride = 1;
  bool compact = true;
  for (int32_t i = t.ndim - 1; i >= 0; --i) {
    if (t.strides != nullptr && t.shape[i] > 1 && t.strides[i] != expected_stride) compact = false;
    expected_stride *= t.shape[i];
    elements *= static_cast<uint64_t>(t.shape[i]);
  }
  if (!compact) {
    if (managed->deleter != nullptr) managed->deleter(managed);
    fail(Errc::invalid_argument,
         fmt::format("the {} is not contiguous; pass a contiguous copy (.contiguous())",
                     Py_TYPE(object)->tp_name));
  }
  managed_ = managed;  // ours now: the destructor calls its deleter
  uint64_t size = elements * ((t.dtype.bits * t.dtype.lanes + 7u) / 8u);
  bytes_ = {static_cast<std::byte*>(t.data) + t.byte_offset, static_cast<size_t>(size)};
}

HostMemory::HostMemory(HostMemory&& other) noexcept
    : bytes_(std::exchange(other.bytes_, {})),
      view_(other.view_),
      has_view_(std::exchange(other.has_view_, false)),
      managed_(std::exchange(other.managed_, nullptr)) {}

HostMemory::~HostMemory() {
  if (has_view_) PyBuffer_Release(&view_);
  if (managed_ != nullptr && managed_->deleter != nullptr) managed_->deleter(managed_);
}

}  // namespace tiermem::python
