// bindings/python/module.cpp: the extension module tiermem._tiermem, which the package
// tiermem (tiermem/__init__.py) re-exports. A thin layer over include/tiermem.
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "module.hpp"
#include "pin.hpp"
#include "pin_future.hpp"
#include "pool.hpp"
#include "tensor.hpp"
#include "tiermem/types.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_tiermem, module) {
  using namespace tiermem::python;
  module.doc() = "tiermem's native module; import tiermem instead.";
  bind_errors(module);
  bind_pool(module);
  bind_tensor(module);
  bind_pin(module);
  bind_pin_future(module);
  bind_locked_buffer(module);
  bind_file_io(module);
  bind_checkpoint(module);
  bind_sim(module);
  bind_bench_helper(module);
  py::list dtypes;
  for (int i = 0; i <= static_cast<int>(tiermem::DType::u64); ++i) {
    dtypes.append(std::string(tiermem::to_string(static_cast<tiermem::DType>(i))));
  }
  module.attr("DTYPES") = py::tuple(dtypes);
}
