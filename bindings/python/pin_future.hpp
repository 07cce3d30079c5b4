// bindings/python/pin_future.hpp: tiermem.PinFuture, the asynchronous form of Tensor.pin:
// a future (result, done) that is also awaitable and an async context manager.
#pragma once

#include <Python.h>

#include <cstdint>
#include <future>

#include "tiermem/pin.hpp"

namespace pybind11 {
class module_;
class object;
}  // namespace pybind11

namespace tiermem::python {

// A PinFuture for a pin that tensor_object's Tensor::pin_async started; counted as pending in
// the tensor and its pool until its Pin is taken (or it is collected).
pybind11::object make_pin_future(PyObject* tensor_object, std::future<Pin> future, uint64_t offset);

void bind_pin_future(pybind11::module_& module);

}  // namespace tiermem::python
