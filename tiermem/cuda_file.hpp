// tiermem/cuda_file.hpp: GPUDirect Storage: NVMe pages read straight into gpu frames through
// cuFile, skipping the DRAM bounce.
//
// libcufile.so.0 is opened at run time, like the driver, so tiermem builds and runs where it is
// missing. cuFileRead blocks, so reads run on a few threads of this reader's own, each with
// the pool's CUDA context current. open() decides once, at pool start, whether the NVMe tier's
// files can be read this way, and says why not in the log when they cannot; the gpu tier then
// fetches through DRAM as usual.
#pragma once

#include <cuda.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "io/engine.hpp"

namespace tiermem::detail {

struct CuFileApi;

class CudaFileReader {
 public:
  // mode: gpu.direct_storage: "auto" reads directly only when the nvidia-fs kernel driver is
  // loaded (true peer-to-peer DMA); "on" also accepts cuFile's compatibility mode (cuFile's
  // own POSIX bounce), which is slower than tiermem's pipelined one and exists for testing;
  // "off" never. Returns null, after logging why, when direct reads cannot be used for every
  // file. device_base/device_bytes: the gpu frames' linear view, registered with cuFile.
  static std::unique_ptr<CudaFileReader> open(const std::string& mode, CUcontext context,
                                              std::span<const io::File* const> files,
                                              CUdeviceptr device_base, uint64_t device_bytes);
  ~CudaFileReader();
  CudaFileReader(const CudaFileReader&) = delete;
  CudaFileReader& operator=(const CudaFileReader&) = delete;

  // Reads bytes at offset of file into device memory at device_base + device_offset, and
  // tells done on a reader thread. file must be one of those given to open().
  void read(const io::File& file, uint64_t offset, uint64_t device_offset, uint64_t bytes,
            io::Completion& done);

 private:
  struct Read {
    void* handle;
    uint64_t offset, device_offset, bytes;
    io::Completion* done;
  };

  CudaFileReader(const CuFileApi& api, CUcontext context, CUdeviceptr device_base);
  void serve() noexcept;

  const CuFileApi& api_;
  CUcontext context_;
  CUdeviceptr device_base_;
  bool buffer_registered_ = false;
  std::unordered_map<const io::File*, void*> handles_;  // cuFile handles of the tier's files
  std::vector<int> fds_;                                // the descriptors cuFile reads through
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Read> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tiermem::detail
