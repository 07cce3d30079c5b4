// bindings/python/arguments.hpp: argument parsing for the hand-written vectorcall methods
// (Tensor.pin, Pin.__dlpack__, ...), cheaper than PyArg_ParseTupleAndKeywords.
#pragma once

#include <Python.h>

#include <initializer_list>

namespace tiermem::python {

// Fills values[i] (borrowed, or left null when not given) for names[i] from a METH_FASTCALL |
// METH_KEYWORDS call: positional arguments first, then keywords. Returns false with TypeError
// set for too many arguments, an unknown keyword or one given twice.
bool parse_arguments(const char* function, std::initializer_list<const char*> names,
                     PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject** values);

}  // namespace tiermem::python
