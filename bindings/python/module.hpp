// bindings/python/module.hpp: the parts of the extension module tiermem._tiermem that have no
// header of their own, each bound by its file (the others: pool.hpp, tensor.hpp, pin.hpp,
// pin_future.hpp, errors.hpp).
#pragma once

namespace pybind11 {
class module_;
}

namespace tiermem::python {

void bind_locked_buffer(pybind11::module_& module);  // locked_buffer.cpp
void bind_file_io(pybind11::module_& module);        // file_io.cpp
void bind_sim(pybind11::module_& module);            // sim.cpp
void bind_bench_helper(pybind11::module_& module);   // bench_helper.cpp

}  // namespace tiermem::python
