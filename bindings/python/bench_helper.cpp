// bindings/python/bench_helper.cpp: tiermem._tiermem._time_cpp_pins, the C++ reference that
// bench/python_bench.py measures in the same process as its Python pins, batch by batch, so
// that both sides see the same moment of a shared, noisy machine. Not part of the API.
#include <pybind11/pybind11.h>

#include <time.h>

#include <chrono>

#include "module.hpp"
#include "tensor.hpp"

namespace py = pybind11;

namespace tiermem::python {

void bind_bench_helper(py::module_& module) {
  module.def(
      "_time_cpp_pins",
      [](py::handle tensor, uint64_t offset, uint64_t length, uint64_t iterations) {
        TensorData& t = tensor_of(tensor);
        const ByteRange range{offset, length};
        double wall = 0, cpu = 0;
        {
          TensorCall call(t);  // the GIL is released once, around the whole loop
          timespec cpu_start{}, cpu_end{};
          clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_start);
          auto start = std::chrono::steady_clock::now();
          for (uint64_t i = 0; i < iterations; ++i) {
            // What bench_pool's PinResident does: pin, keep the pointer, unpin.
            Pin pin = t.tensor.pin(Tier::dram, Access::read, range);
            void* volatile sink = pin.data();
            (void)sink;
          }
          wall = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                     .count();
          clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_end);
          cpu = static_cast<double>(cpu_end.tv_sec - cpu_start.tv_sec) * 1e9 +
                static_cast<double>(cpu_end.tv_nsec - cpu_start.tv_nsec);
        }
        auto n = static_cast<double>(iterations);
        return py::make_tuple(wall / n, cpu / n);
      },
      py::arg("tensor"), py::arg("offset"), py::arg("length"), py::arg("iterations"),
      "(wall, thread CPU) nanoseconds per C++ Tensor::pin + unpin of the range in dram for "
      "reading, averaged over iterations (bench/python_bench.py's reference; not part of "
      "tiermem's API).");
}

}  // namespace tiermem::python
