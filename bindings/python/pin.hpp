// bindings/python/pin.hpp: tiermem.Pin, a pinned range exported to NumPy and PyTorch through
// DLPack without a copy.
//
// When a pin ends: a Pin holds a claim on its pages, and so does every array exported from it
// (through __dlpack__, numpy(), torch() or bytes()). The claim of the Pin object ends at
// release(), at the end of its `with` block, or when the object is collected; an export's ends
// when the consumer frees it. The pages are unpinned when the last claim ends, so an exported
// array never dangles, and a `with` block over a pin ends it at the block's exit unless an
// export still lives. Exporting after the Pin's own claim ended raises ReleasedError.
//
// A hand-written CPython type (the hot path, see tensor.hpp); pybind11 adds the rest.
// Thread safety: a Pin may be used from any thread (calls are serialised by the GIL).
#pragma once

#include <Python.h>

#include <cstdint>

#include "tensor.hpp"
#include "tiermem/pin.hpp"

namespace pybind11 {
class module_;
}

namespace tiermem::python {

struct PinData {
  PyObject* tensor_object;  // the Tensor: a strong reference
  TensorData* tensor;       // its data, valid while tensor_object is held
  Pin pin;                  // holds pages until the last claim ends
  uint64_t offset;          // of the range within the tensor
  uint64_t size;            // of the range (pin.size() is 0 once it ends)
  Tier tier;
  uint32_t exports = 0;   // live exports
  bool released = false;  // the Pin object's own claim has ended
};

struct PinObject {
  PyObject_HEAD PinData data;
};

// A new Pin object over pin, counted as live in its tensor and pool. Needs the GIL.
PyObject* make_pin(PyObject* tensor_object, Pin pin, uint64_t offset);

void bind_pin(pybind11::module_& module);

}  // namespace tiermem::python
