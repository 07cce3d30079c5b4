// bindings/python/dlpack.cpp: DLPack capsules over memory that a Python object keeps valid.
#include "dlpack.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

namespace tiermem::python {

namespace {

// One allocation per export: the managed tensor, who keeps the memory valid, then the shape.
struct Export {
  DLManagedTensor managed;  // first: the deleter gets its address back
  PyObject* owner;
  void (*on_release)(PyObject*);
};

int64_t* shape_of(Export* e) noexcept {
  return reinterpret_cast<int64_t*>(e + 1);
}

void delete_export(DLManagedTensor* managed) {
  auto* e = reinterpret_cast<Export*>(managed);
  // After the interpreter is gone there is nobody to tell, and nothing to keep valid.
  if (Py_IsInitialized()) {
    // Consumers free from any thread; most (and every unconsumed capsule) hold the GIL already.
    bool held = PyGILState_Check() != 0;
    PyGILState_STATE gil{};
    if (!held) gil = PyGILState_Ensure();
    // A capsule may be freed while an exception propagates: keep it.
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    bool pending = PyErr_Occurred() != nullptr;
    if (pending) PyErr_Fetch(&type, &value, &traceback);
    if (e->on_release != nullptr) e->on_release(e->owner);
    Py_DECREF(e->owner);
    if (pending) PyErr_Restore(type, value, traceback);
    if (!held) PyGILState_Release(gil);
  }
  std::free(e);
}

constexpr const char* kName = "dltensor";

// A capsule that no consumer took ends its export itself. A consumer that takes it renames it
// "used_dltensor" (another pointer), so comparing the name's address tells, with no strcmp.
void destroy_capsule(PyObject* capsule) {
  if (PyCapsule_GetName(capsule) != kName) return;
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetContext(capsule));
  if (managed != nullptr) managed->deleter(managed);  // null: make_dlpack_capsule failed
}

}  // namespace

bool dlpack_dtype(DType dtype, DLDataType& out) noexcept {
  auto bits = static_cast<uint8_t>(dtype_size(dtype) * 8);
  switch (dtype) {
    case DType::f64:
    case DType::f32:
    case DType::f16:
      out = {kDLFloat, bits, 1};
      return true;
    case DType::bf16:
      out = {kDLBfloat, bits, 1};
      return true;
    case DType::i64:
    case DType::i32:
    case DType::i16:
    case DType::i8:
      out = {kDLInt, bits, 1};
      return true;
    case DType::u8:
    case DType::u16:
    case DType::u32:
    case DType::u64:
      out = {kDLUInt, bits, 1};
      return true;
    case DType::boolean:
      out = {kDLBool, bits, 1};
      return true;
    case DType::fp8_e4m3:
    case DType::fp8_e5m2:
      return false;
  }
  return false;
}

PyObject* make_dlpack_capsule(PyObject* owner, void* data, DLDevice device, DLDataType dtype,
                              std::span<const int64_t> shape, int64_t first,
                              void (*on_release)(PyObject*)) {
  void* memory = std::malloc(sizeof(Export) + shape.size() * sizeof(int64_t));
  if (memory == nullptr) return PyErr_NoMemory();
  auto* e = new (memory) Export{};
  std::memcpy(shape_of(e), shape.data(), shape.size() * sizeof(int64_t));
  if (!shape.empty()) shape_of(e)[0] = first;  // a scalar has no first dimension
  e->managed.dl_tensor = {data,    device, static_cast<int32_t>(shape.size()), dtype, shape_of(e),
                          nullptr, 0};
  e->managed.manager_ctx = e;
  e->managed.deleter = delete_export;
  e->owner = owner;
  e->on_release = on_release;
  PyObject* capsule = PyCapsule_New(&e->managed, kName, destroy_capsule);
  if (capsule == nullptr || PyCapsule_SetContext(capsule, &e->managed) != 0) {
    Py_XDECREF(capsule);  // its destructor finds no context yet: nothing to end
    std::free(e);
    return nullptr;
  }
  Py_INCREF(owner);
  return capsule;
}

namespace {

bool check_dlpack_argument(const char* key, PyObject* value, DLDevice device) {
  if (std::strcmp(key, "stream") == 0) {
    // Pins are ready for any stream when they are handed out, so a CUDA consumer's stream
    // needs no ordering; host memory has no streams.
    if (value != Py_None && device.device_type == kDLCPU) {
      PyErr_SetString(PyExc_BufferError,
                      "__dlpack__: stream must be None for host memory (kDLCPU)");
      return false;
    }
  } else if (std::strcmp(key, "copy") == 0) {
    if (value == Py_True) {
      PyErr_SetString(PyExc_BufferError,
                      "__dlpack__: copy=True asked, but tiermem exports only aliases of its "
                      "memory; copy the consumer's array instead");
      return false;
    }
  } else if (std::strcmp(key, "dl_device") == 0) {
    if (value == Py_None) return true;
    long type = 0, id = 0;
    if (!PyArg_ParseTuple(value, "ll", &type, &id)) return false;
    if (type != device.device_type || id != device.device_id) {
      PyErr_Format(PyExc_BufferError,
                   "__dlpack__: dl_device (%ld, %ld) asked, but the memory is on (%d, %d)", type,
                   id, static_cast<int>(device.device_type), device.device_id);
      return false;
    }
  } else if (std::strcmp(key, "max_version") != 0) {
    // max_version: any; the unversioned capsule is the answer every consumer must accept.
    PyErr_Format(PyExc_TypeError, "__dlpack__() got an unexpected keyword argument '%s'", key);
    return false;
  }
  return true;
}

}  // namespace

bool check_dlpack_request(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                          DLDevice device) {
  if (nargs > 0) {
    PyErr_SetString(PyExc_TypeError, "__dlpack__() takes keyword arguments only");
    return false;
  }
  Py_ssize_t count = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t i = 0; i < count; ++i) {
    const char* key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, i));
    if (key == nullptr || !check_dlpack_argument(key, args[nargs + i], device)) return false;
  }
  return true;
}

bool check_dlpack_request(PyObject* kwargs, DLDevice device) {
  if (kwargs == nullptr) return true;
  PyObject *key, *value;
  Py_ssize_t position = 0;
  while (PyDict_Next(kwargs, &position, &key, &value)) {
    const char* name = PyUnicode_AsUTF8(key);
    if (name == nullptr || !check_dlpack_argument(name, value, device)) return false;
  }
  return true;
}

}  // namespace tiermem::python
