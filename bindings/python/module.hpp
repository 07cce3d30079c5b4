// bindings/python/module.hpp: the parts of the extension module tiermem._tiermem that have no
// header of their own, each bound by its file (the others: pool.hpp, tensor.hpp, pin.hpp,
// pin_future.hpp, errors.hpp).
#pragma once

#include "tiermem/config.hpp"

namespace pybind11 {
class module_;
class handle;
}  // namespace pybind11

namespace tiermem::python {

void bind_locked_buffer(pybind11::module_& module);  // locked_buffer.cpp
void bind_file_io(pybind11::module_& module);        // file_io.cpp
void bind_checkpoint(pybind11::module_& module);     // checkpoint.cpp
void bind_sim(pybind11::module_& module);            // sim.cpp
void bind_bench_helper(pybind11::module_& module);   // bench_helper.cpp

// An io config from a dict of io.* keys without the prefix ({"engine": "uring", "queue_depth":
// 64, "block_size": "1MiB"}), or the defaults for None. Throws Error(config) for a key or value
// not understood, Error(invalid_argument) for one out of range. file_io.cpp.
IoConfig io_config_from(pybind11::handle value);

// A size: an int, or text as parse_size reads it ("1GiB", "4k"). Throws what parse_size throws,
// and pybind11's cast error for another type. sim.cpp.
uint64_t size_from(pybind11::handle value);

}  // namespace tiermem::python
