// bindings/python/dlpack.hpp: the DLPack ABI (v0.8, the unversioned "dltensor" capsule), as the
// DLPack specification defines it, and the exporter that hands pinned or locked memory to
// NumPy and PyTorch without a copy.
//
// Declared here rather than included: DLPack is a fixed C ABI of four structs, and Debian has
// no package of its header. The unversioned capsule is what NumPy 1.24 and PyTorch 1.13 read.
#pragma once

#include <Python.h>

#include <cstdint>
#include <span>

#include "tiermem/types.hpp"

namespace tiermem::python {

enum DLDeviceType : int32_t { kDLCPU = 1, kDLCUDA = 2 };
enum DLDataTypeCode : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 };

struct DLDevice {
  DLDeviceType device_type;
  int32_t device_id;
};

struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // null: compact and row-major
  uint64_t byte_offset;
};

struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

// The DLPack type of a tiermem dtype; false for the fp8 types, which DLPack 0.8 has no code
// for (DLPack 1.1 added some, in the versioned capsule that no consumer here reads).
bool dlpack_dtype(DType dtype, DLDataType& out) noexcept;

// A "dltensor" capsule over memory that owner keeps valid: the capsule takes a reference to
// owner and gives it back when the consumer (or, unconsumed, the capsule) calls the deleter,
// from any thread. on_release, when set, is called with owner (and the GIL) before that
// reference goes. The shape is shape with its first dimension replaced by first (a scalar's
// empty shape stays empty). Needs the GIL; raises MemoryError and returns null on failure.
PyObject* make_dlpack_capsule(PyObject* owner, void* data, DLDevice device, DLDataType dtype,
                              std::span<const int64_t> shape, int64_t first,
                              void (*on_release)(PyObject*));

// The keyword arguments of __dlpack__ that this exporter understands (stream, max_version,
// dl_device, copy), checked against a host or CUDA device: returns false with a Python error
// set (BufferError) for a copy, or a device other than ours, or a stream given for host memory.
bool check_dlpack_request(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                          DLDevice device);
// The same for keyword arguments in a dict (null: none).
bool check_dlpack_request(PyObject* kwargs, DLDevice device);

}  // namespace tiermem::python
