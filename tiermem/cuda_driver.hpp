// tiermem/cuda_driver.hpp: the CUDA driver API, reached at run time.
//
// libtiermem.so must load and work on machines without a GPU or a CUDA driver, so it never
// links libcuda: the driver is opened with dlopen("libcuda.so.1") on first use and the entry
// points tiermem calls are resolved through cuGetProcAddress into one table. Only the toolkit's
// header (cuda.h, for types and prototypes) is needed at build time.
#pragma once

#include <cuda.h>

#include <string>
#include <string_view>

namespace tiermem::detail {

// The entry points, each with the prototype cuda.h gives it (the newest ABI version).
#define TIERMEM_CUDA_ENTRY_POINTS(X) \
  X(cuInit)                          \
  X(cuGetErrorName)                  \
  X(cuGetErrorString)                \
  X(cuDriverGetVersion)              \
  X(cuDeviceGetCount)                \
  X(cuDeviceGet)                     \
  X(cuDeviceGetName)                 \
  X(cuDeviceGetAttribute)            \
  X(cuDevicePrimaryCtxRetain)        \
  X(cuDevicePrimaryCtxRelease)       \
  X(cuCtxPushCurrent)                \
  X(cuCtxPopCurrent)                 \
  X(cuMemGetInfo)                    \
  X(cuMemGetAllocationGranularity)   \
  X(cuMemCreate)                     \
  X(cuMemRelease)                    \
  X(cuMemAddressReserve)             \
  X(cuMemAddressFree)                \
  X(cuMemMap)                        \
  X(cuMemUnmap)                      \
  X(cuMemSetAccess)                  \
  X(cuMemHostRegister)               \
  X(cuMemHostUnregister)             \
  X(cuMemcpyHtoDAsync)               \
  X(cuMemcpyDtoHAsync)               \
  X(cuMemsetD8Async)                 \
  X(cuStreamCreate)                  \
  X(cuStreamDestroy)                 \
  X(cuStreamGetCtx)                  \
  X(cuStreamWaitEvent)               \
  X(cuEventCreate)                   \
  X(cuEventDestroy)                  \
  X(cuEventRecord)                   \
  X(cuEventQuery)                    \
  X(cuEventSynchronize)

struct CudaDriver {
#define TIERMEM_CUDA_MEMBER(name) decltype(&::name) name = nullptr;
  TIERMEM_CUDA_ENTRY_POINTS(TIERMEM_CUDA_MEMBER)
#undef TIERMEM_CUDA_MEMBER

  int version = 0;  // cuDriverGetVersion, e.g. 13000
  int devices = 0;  // cuDeviceGetCount after cuInit
};

// The driver, opened and initialised once. Null when it cannot be had; why_not() then says
// why ("libcuda.so.1 not found: ...", "cuInit: CUDA_ERROR_NO_DEVICE ..."). Thread-safe.
const CudaDriver* cuda_driver() noexcept;
const std::string& cuda_driver_why_not() noexcept;

// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
std::string cuda_error_text(CUresult result);

// Throws Error(system) "what: CUDA_ERROR_... (text)" unless result is CUDA_SUCCESS.
void cuda_check(CUresult result, std::string_view what);

// Makes the pool's context current on this thread for the scope, restoring the caller's.
class CudaContextScope {
 public:
  explicit CudaContextScope(CUcontext context);
  ~CudaContextScope();
  CudaContextScope(const CudaContextScope&) = delete;
  CudaContextScope& operator=(const CudaContextScope&) = delete;
};

}  // namespace tiermem::detail
