// bindings/python/pin_future.cpp: PinFuture over Tensor::pin_async's std::future.
//
// Waiting threads each wait on their own copy of a shared_future, with the GIL released, so
// that several Python threads may wait for one pin; the Pin is taken out of the shared state
// once, with the GIL held, by whichever thread gets there first.
#include "pin_future.hpp"

#include <pybind11/pybind11.h>

#include <chrono>
#include <exception>
#include <utility>

#include "errors.hpp"
#include "pin.hpp"
#include "tensor.hpp"

namespace py = pybind11;

namespace tiermem::python {

namespace {

class PinFuture {
 public:
  PinFuture(PyObject* tensor_object, std::future<Pin> future, uint64_t offset)
      : tensor_(py::reinterpret_borrow<py::object>(tensor_object)),
        future_(future.share()),
        offset_(offset) {
    ++data().pending_pins;
    ++data().pool->pending_pins;
  }

  // An unread future still gets its pin, which then ends at once: waits (the GIL released)
  // so that the pool is never closed under it.
  ~PinFuture() {
    if (settled_) return;
    try {
      wait(-1);
      settle();
    } catch (...) {
      // The pin's error has nobody to go to: dropping the future dropped it.
    }
    pin_ = py::object();
    error_ = nullptr;
  }

  PinFuture(const PinFuture&) = delete;
  PinFuture& operator=(const PinFuture&) = delete;

  // The Pin (the same object each time), or the pin's error raised. timeout: seconds, or
  // None to wait as long as it takes; TimeoutError when it passes.
  py::object result(py::object timeout) {
    if (!settled_) {
      double seconds = timeout.is_none() ? -1 : timeout.cast<double>();
      if (!wait(seconds)) {
        PyErr_SetString(PyExc_TimeoutError, "the asynchronous pin is not ready yet");
        throw py::error_already_set();
      }
      settle();
    }
    if (error_) std::rethrow_exception(error_);
    return pin_;
  }

  bool done() const {
    return settled_ || future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

 private:
  TensorData& data() const { return tensor_of(tensor_); }

  // True when ready; seconds < 0: waits until it is.
  bool wait(double seconds) {
    std::shared_future<Pin> mine = future_;
    py::gil_scoped_release unlocked;
    if (seconds < 0) {
      mine.wait();
      return true;
    }
    return mine.wait_for(std::chrono::duration<double>(seconds)) == std::future_status::ready;
  }

  // Takes the Pin (or error) out of the shared state; with the GIL held, once.
  void settle() {
    if (settled_) return;
    settled_ = true;
    TensorData& t = data();
    --t.pending_pins;
    --t.pool->pending_pins;
    try {
      // The shared state owns the Pin and nothing else reads it: moving it out is safe.
      Pin pin = std::move(const_cast<Pin&>(future_.get()));
      pin_ = py::reinterpret_steal<py::object>(make_pin(tensor_.ptr(), std::move(pin), offset_));
    } catch (...) {
      error_ = std::current_exception();
    }
    t.pool->count_dropped();
  }

  py::object tensor_;
  std::shared_future<Pin> future_;
  uint64_t offset_;
  bool settled_ = false;
  py::object pin_;
  std::exception_ptr error_;
};

}  // namespace

py::object make_pin_future(PyObject* tensor_object, std::future<Pin> future, uint64_t offset) {
  return py::cast(std::make_unique<PinFuture>(tensor_object, std::move(future), offset));
}

void bind_pin_future(py::module_& module) {
  py::class_<PinFuture>(module, "PinFuture", R"doc(
The asynchronous form of Tensor.pin (from Tensor.pin_async): a future of a Pin.

result(timeout=None) waits (the GIL released) and gives the Pin, or raises the pin's error;
`pin = await future` does the same in asyncio (waiting in the loop's default executor), and
`async with tensor.pin_async(...) as pin:` also releases the pin at the block's end.
A future dropped unread waits for its pin, then ends it.)doc")
      .def("result", &PinFuture::result, py::arg("timeout") = py::none(),
           "The Pin (the same object on every call), or the pin's error raised. timeout: "
           "seconds to wait at most, None for as long as it takes; TimeoutError when it passes.")
      .def("done", &PinFuture::done, "True when result() would not wait.")
      .def("__await__",
           [](py::object self) {
             py::object loop = py::module_::import("asyncio").attr("get_running_loop")();
             return loop.attr("run_in_executor")(py::none(), self.attr("result"))
                 .attr("__await__")();
           })
      .def("__aenter__",
           [](py::object self) {
             py::object loop = py::module_::import("asyncio").attr("get_running_loop")();
             return loop.attr("run_in_executor")(py::none(), self.attr("result"));
           })
      .def("__aexit__", [](py::object self, py::handle, py::handle, py::handle) {
        self.attr("result")().attr("release")();
        py::object loop = py::module_::import("asyncio").attr("get_running_loop")();
        py::object done = loop.attr("create_future")();
        done.attr("set_result")(false);
        return done;
      });
}

}  // namespace tiermem::python
