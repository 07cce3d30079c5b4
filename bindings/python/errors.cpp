// bindings/python/errors.cpp: the exception classes and the translation of tiermem::Error.
#include "errors.hpp"

#include <pybind11/pybind11.h>

#include <array>

namespace py = pybind11;

namespace tiermem::python {

namespace {

constexpr int kCodes = static_cast<int>(Errc::corrupt) + 1;

struct ClassInfo {
  const char* name;
  const char* doc;
  bool value_error;
};

constexpr std::array<ClassInfo, kCodes> kClasses = {{
    {"InvalidArgumentError", "A value outside its documented range.", true},
    {"ConfigError", "A configuration file, key or value that cannot be understood.", true},
    {"OutOfSpaceError", "The NVMe tier or a fixed-size tier cannot ever hold what was asked.",
     false},
    {"TierFullError", "Every frame of the tier is pinned right now; unpin and try again.", false},
    {"BusyError", "The call conflicts with pins, exports or calls that are still active.", false},
    {"ReleasedError", "The tensor was released, its pool closed, or the pin ended.", false},
    {"IoError", "An I/O request failed; errno says why.", false},
    {"UnsupportedError", "The machine, or the consumer of an export, lacks a facility.", false},
    {"SystemCallError", "An operating-system call failed while setting up; errno says why.", false},
    {"CorruptError", "A file's contents break its format (a damaged or foreign checkpoint).",
     false},
}};

// The classes, created at import and kept for the life of the interpreter.
PyObject* base_class = nullptr;
std::array<PyObject*, kCodes> classes{};

}  // namespace

void set_python_error(const Error& error) noexcept {
  auto index = static_cast<size_t>(error.code());
  PyObject* cls = index < classes.size() ? classes[index] : base_class;
  PyObject* instance = PyObject_CallFunction(cls, "s", error.what());
  if (instance == nullptr) return;  // that failure is the error now
  PyObject* code = PyUnicode_FromString(to_string(error.code()));
  PyObject* number = PyLong_FromLong(error.sys_errno());
  if (code != nullptr && number != nullptr) {
    PyObject_SetAttrString(instance, "code", code);
    PyObject_SetAttrString(instance, "errno", number);
  }
  Py_XDECREF(code);
  Py_XDECREF(number);
  PyErr_SetObject(cls, instance);
  Py_DECREF(instance);
}

PyObject* set_python_error_from_current() noexcept {
  try {
    throw;
  } catch (const Error& error) {
    set_python_error(error);
  } catch (py::error_already_set& error) {
    error.restore();
  } catch (const py::builtin_exception& error) {
    error.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& error) {
    PyErr_SetString(PyExc_RuntimeError, error.what());
  }
  return nullptr;
}

void fail(Errc code, const std::string& message) {
  throw Error(code, message);
}

void bind_errors(py::module_& module) {
  base_class = PyErr_NewExceptionWithDoc(
      "tiermem.Error",
      "A failure reported by tiermem. code: the library's error code, e.g. 'tier_full'; "
      "errno: the operating system's errno behind an io or system error, else 0.",
      PyExc_Exception, nullptr);
  if (base_class == nullptr) throw py::error_already_set();
  PyObject_SetAttrString(base_class, "code", Py_None);
  py::object zero = py::int_(0);
  PyObject_SetAttrString(base_class, "errno", zero.ptr());
  module.add_object("Error", py::handle(base_class));
  for (int i = 0; i < kCodes; ++i) {
    const ClassInfo& info = kClasses[static_cast<size_t>(i)];
    py::tuple bases = info.value_error
                          ? py::make_tuple(py::handle(base_class), py::handle(PyExc_ValueError))
                          : py::make_tuple(py::handle(base_class));
    std::string name = std::string("tiermem.") + info.name;
    PyObject* cls = PyErr_NewExceptionWithDoc(name.c_str(), info.doc, bases.ptr(), nullptr);
    if (cls == nullptr) throw py::error_already_set();
    py::object code = py::str(to_string(static_cast<Errc>(i)));
    PyObject_SetAttrString(cls, "code", code.ptr());
    classes[static_cast<size_t>(i)] = cls;
    module.add_object(info.name, py::handle(cls));
  }
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const Error& error) {
      set_python_error(error);
    }
  });
}

}  // namespace tiermem::python
