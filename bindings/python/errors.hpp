// bindings/python/errors.hpp: tiermem::Error as Python exceptions.
//
// tiermem.Error carries the library's code (its name, e.g. "tier_full"), the message and the
// errno; each code has a subclass (tiermem.TierFullError, ...), and invalid_argument and config
// errors are also ValueErrors. pybind11-bound calls get the translation from a registered
// translator; the hand-written fast paths call set_python_error() themselves.
#pragma once

#include <Python.h>

#include <string>

#include "tiermem/error.hpp"

namespace pybind11 {
class module_;
}

namespace tiermem::python {

// Creates the exception classes in module and registers the translator. Once, at import.
void bind_errors(pybind11::module_& module);

// Sets the Python exception for error (the GIL held). Never throws.
void set_python_error(const Error& error) noexcept;

// Sets the Python exception for whatever the current catch block caught: a tiermem::Error, a
// pybind11 error_already_set, or any other std::exception (as RuntimeError). Call only inside a
// catch block; returns null for the caller to return.
PyObject* set_python_error_from_current() noexcept;

// Throws Error(code, message): for the binding's own checks (a closed pool, an ended pin),
// which then reach Python like the library's errors.
[[noreturn]] void fail(Errc code, const std::string& message);

}  // namespace tiermem::python
