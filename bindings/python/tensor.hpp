// bindings/python/tensor.hpp: tiermem.Tensor, a Python object over a tiermem::Tensor handle.
//
// A hand-written CPython type rather than a pybind11 class: Tensor.pin is the hot path of every
// layer loop, and a pybind11 call's dispatch costs more than a resident pin itself
// (bench/RESULTS.md, Python). Its other methods are pybind11 functions attached to the type.
//
// Lifetime: a Tensor keeps its Pool object alive. After release() or the pool's close, every
// call raises ReleasedError, and the tiermem handle is never used again.
// Thread safety: calls may come from any thread; release() refuses (BusyError) while other
// calls on the tensor run, or while it has pins or pending asynchronous pins.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pool.hpp"
#include "tiermem/tensor.hpp"

namespace pybind11 {
class module_;
class handle;
}  // namespace pybind11

namespace tiermem::python {

struct TensorData {
  PyObject* pool_object;  // the Python Pool: a strong reference
  PoolState* pool;        // its state, valid while pool_object is held
  Tensor tensor;
  std::string name;
  std::vector<int64_t> shape;
  DType dtype;
  uint64_t nbytes;
  uint64_t itemsize;   // bytes per element, a power of two
  uint64_t row_bytes;  // bytes of one index of the first dimension
  // Every __dlpack__ divides by these: shifts instead where they are powers of two.
  int item_shift;             // log2(itemsize)
  int row_shift;              // log2(row_bytes), or -1 when it is no power of two
  DLDataType dl_dtype;        // the DLPack type of dtype
  bool has_dl_dtype;          // false for the fp8 types, which DLPack 0.8 lacks
  uint64_t live_pins = 0;     // Pin objects of this tensor whose pin holds pages
  uint64_t pending_pins = 0;  // its asynchronous pins not taken yet
  uint32_t calls = 0;         // its calls running with the GIL released
  bool released = false;      // release() has begun (or finished)

  // Throws Error(released) after release() or the pool's close.
  void check_usable() const;
};

struct TensorObject {
  PyObject_HEAD TensorData data;
};

// A blocking call on a tensor, as UnlockedCall is for a pool: refuses a released tensor or a
// closed pool, counts the call in both and releases the GIL for the object's life.
class TensorCall {
 public:
  explicit TensorCall(TensorData& tensor);
  ~TensorCall();
  TensorCall(const TensorCall&) = delete;
  TensorCall& operator=(const TensorCall&) = delete;

 private:
  TensorData& tensor_;
  PyThreadState* saved_;
};

// A new Tensor object for a handle of the pool that pool_object is.
PyObject* make_tensor(PyObject* pool_object, PoolState& pool, Tensor tensor);
// The tensor behind a Python object; throws TypeError for anything else.
TensorData& tensor_of(pybind11::handle object);

// Tier and access arguments, by name; throw Error(invalid_argument) naming the accepted ones.
Tier parse_tier_argument(PyObject* value);
Access parse_access_argument(PyObject* value);
// A byte range argument: None (the whole tensor), (offset, length) with length None for "to
// the end", or a slice of bytes without step. Throws Error(invalid_argument) naming a negative
// or malformed value.
ByteRange parse_range_argument(PyObject* value);

void bind_tensor(pybind11::module_& module);

}  // namespace tiermem::python
