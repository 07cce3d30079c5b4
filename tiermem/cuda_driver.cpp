// tiermem/cuda_driver.cpp: opening libcuda.so.1 at run time and resolving the entry points.
#include "tiermem/cuda_driver.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

// Every entry point is asked for in the ABI of CUDA 12.0, which all of them had; drivers
// older than 12.0 lack cuGetProcAddress_v2 and are refused.
constexpr int kAbiVersion = 12000;

struct Loaded {
  CudaDriver driver;
  bool ok = false;
  std::string why_not;
};

Loaded load() {
  Loaded loaded;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    loaded.why_not = fmt::format("the CUDA driver (libcuda.so.1) cannot be loaded: {}", dlerror());
    return loaded;
  }
  // Kept open for the life of the process: the driver cannot be unloaded safely.
  auto get_proc =
      reinterpret_cast<decltype(&::cuGetProcAddress)>(dlsym(lib, "cuGetProcAddress_v2"));
  if (get_proc == nullptr) {
    loaded.why_not = "the CUDA driver is older than 12.0 (it lacks cuGetProcAddress_v2)";
    return loaded;
  }
  CudaDriver& d = loaded.driver;
  auto resolve = [&](const char* name, void** slot) {
    CUdriverProcAddressQueryResult status{};
    CUresult r = get_proc(name, slot, kAbiVersion, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &status);
    if (r != CUDA_SUCCESS || *slot == nullptr) {
      if (loaded.why_not.empty()) {
        loaded.why_not = fmt::format("the CUDA driver lacks {} (CUDA 12.0 ABI)", name);
      }
      return false;
    }
    return true;
  };
  bool all = true;
#define TIERMEM_CUDA_RESOLVE(name) all &= resolve(#name, reinterpret_cast<void**>(&d.name));
  TIERMEM_CUDA_ENTRY_POINTS(TIERMEM_CUDA_RESOLVE)
#undef TIERMEM_CUDA_RESOLVE
  if (!all) return loaded;

  auto error_name = [&](CUresult r) {
    const char* name = nullptr;
    d.cuGetErrorName(r, &name);
    return std::string(name != nullptr ? name : "unknown error");
  };
  if (CUresult r = d.cuInit(0); r != CUDA_SUCCESS) {
    loaded.why_not = fmt::format("cuInit failed: {}", error_name(r));
    return loaded;
  }
  d.cuDriverGetVersion(&d.version);
  if (CUresult r = d.cuDeviceGetCount(&d.devices); r != CUDA_SUCCESS || d.devices == 0) {
    loaded.why_not = "the CUDA driver sees no device";
    return loaded;
  }
  loaded.ok = true;
  return loaded;
}

const Loaded& loaded() noexcept {
  static const Loaded instance = load();
  return instance;
}

}  // namespace

const CudaDriver* cuda_driver() noexcept {
  return loaded().ok ? &loaded().driver : nullptr;
}

const std::string& cuda_driver_why_not() noexcept {
  return loaded().why_not;
}

std::string cuda_error_text(CUresult result) {
  const CudaDriver* d = cuda_driver();
  const char* name = nullptr;
  const char* text = nullptr;
  if (d != nullptr) {
    d->cuGetErrorName(result, &name);
    d->cuGetErrorString(result, &text);
  }
  return fmt::format("{} ({})", name != nullptr ? name : fmt::format("CUDA error {}", +result),
                     text != nullptr ? text : "no description");
}

void cuda_check(CUresult result, std::string_view what) {
  if (result != CUDA_SUCCESS) {
    throw Error(Errc::system, fmt::format("{}: {}", what, cuda_error_text(result)));
  }
}

CudaContextScope::CudaContextScope(CUcontext context) {
  cuda_check(cuda_driver()->cuCtxPushCurrent(context), "making the pool's CUDA context current");
}

CudaContextScope::~CudaContextScope() {
  CUcontext popped = nullptr;
  cuda_driver()->cuCtxPopCurrent(&popped);
}

}  // namespace tiermem::detail
