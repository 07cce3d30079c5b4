// bindings/python/host_memory.hpp: a caller's host memory for file I/O, from any Python object
// that has it: the buffer protocol (NumPy arrays, bytearray, memoryview, LockedBuffer) or a
// DLPack export on the CPU (PyTorch tensors, Pins).
#pragma once

#include <Python.h>

#include <cstddef>
#include <span>

#include "dlpack.hpp"

namespace tiermem::python {

// Holds the memory valid (the buffer view, or the consumed DLPack export) until destroyed.
// Construct and destroy with the GIL held. Move-only.
class HostMemory {
 public:
  // writable: the memory will be written (a read from a file into it). Throws TypeError for
  // an object with neither form, Error(invalid_argument) for memory that is not contiguous,
  // is read-only where writable is asked, or lies on a device.
  HostMemory(PyObject* object, bool writable);
  ~HostMemory();
  HostMemory(HostMemory&& other) noexcept;
  HostMemory& operator=(HostMemory&&) = delete;
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;

  std::span<std::byte> bytes() const noexcept { return bytes_; }

 private:
  std::span<std::byte> bytes_;
  Py_buffer view_{};
  bool has_view_ = false;
  DLManagedTensor* managed_ = nullptr;
};

}  // namespace tiermem::python
