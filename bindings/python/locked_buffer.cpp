// bindings/python/locked_buffer.cpp: tiermem.LockedBuffer, page-locked host memory as a Python
// buffer and a DLPack exporter, for NumPy arrays and torch tensors that stage file I/O
// (DeepNVMe's new_cpu_locked_tensor; tiermem.locked_array and locked_tensor build on it).
#include <pybind11/pybind11.h>

#include "dlpack.hpp"
#include "errors.hpp"
#include "tiermem/locked_buffer.hpp"

namespace py = pybind11;

namespace tiermem::python {

namespace {

struct PythonLockedBuffer {
  LockedBuffer buffer;
  size_t nbytes;  // asked for; the buffer itself is rounded up to 4 KiB
};

}  // namespace

void bind_locked_buffer(py::module_& module) {
  py::class_<PythonLockedBuffer>(module, "LockedBuffer", py::buffer_protocol(), R"doc(
LockedBuffer(nbytes): nbytes of page-locked (mlock) host memory, 4 KiB-aligned, for staging
O_DIRECT file I/O and fast GPU copies; it needs no Pool. Where RLIMIT_MEMLOCK refuses the lock
the memory is still usable (locked is False). The memory lives as long as the object and every
view of it (numpy.frombuffer, torch.frombuffer, memoryview, numpy/torch.from_dlpack); freed
memory is kept locked and reused. Allocating blocks (the GIL released) while new memory is
mapped and locked. Raises InvalidArgumentError for 0 bytes, SystemCallError when the memory
cannot be mapped.)doc")
      .def(py::init([](size_t nbytes) {
             LockedBuffer buffer;
             {
               py::gil_scoped_release unlocked;
               buffer = LockedBuffer::allocate(nbytes);
             }
             return std::make_unique<PythonLockedBuffer>(
                 PythonLockedBuffer{std::move(buffer), nbytes});
           }),
           py::arg("nbytes"))
      .def_buffer([](PythonLockedBuffer& b) {
        return py::buffer_info(b.buffer.data(), 1, "B", static_cast<py::ssize_t>(b.nbytes));
      })
      .def_property_readonly(
          "nbytes", [](const PythonLockedBuffer& b) { return b.nbytes; }, "Bytes asked for.")
      .def_property_readonly(
          "locked", [](const PythonLockedBuffer& b) { return b.buffer.locked(); },
          "False when RLIMIT_MEMLOCK refused to lock the memory (it is usable all the same).")
      .def_property_readonly(
          "data_ptr",
          [](const PythonLockedBuffer& b) { return reinterpret_cast<uintptr_t>(b.buffer.data()); },
          "The address of the memory.")
      .def(
          "__dlpack__",
          [](py::object self, py::kwargs kwargs) {
            auto& b = self.cast<PythonLockedBuffer&>();
            if (!check_dlpack_request(kwargs.ptr(), DLDevice{kDLCPU, 0})) {
              throw py::error_already_set();
            }
            auto size = static_cast<int64_t>(b.nbytes);
            PyObject* capsule = make_dlpack_capsule(self.ptr(), b.buffer.data(), {kDLCPU, 0},
                                                    {kDLUInt, 8, 1}, {&size, 1}, size, nullptr);
            if (capsule == nullptr) throw py::error_already_set();
            return py::reinterpret_steal<py::object>(capsule);
          },
          "A DLPack capsule of the memory as a flat uint8 array; it keeps the buffer alive.")
      .def("__dlpack_device__", [](py::handle) { return py::make_tuple(int{kDLCPU}, 0); })
      .def("__len__", [](const PythonLockedBuffer& b) { return b.nbytes; })
      .def("__repr__", [](const PythonLockedBuffer& b) {
        return "<tiermem.LockedBuffer " + std::to_string(b.nbytes) + " bytes" +
               (b.buffer.locked() ? ", locked>" : ", not locked>");
      });
}

}  // namespace tiermem::python
