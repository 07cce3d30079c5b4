// tiermem/cuda_file.cpp: cuFile opened at run time, the checks that decide whether direct
// reads can be used, and the threads that carry them out.
#include "tiermem/cuda_file.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support/log.hpp"
#include "tiermem/cuda_driver.hpp"

namespace tiermem::detail {

// The part of cuFile's ABI (cufile.h, GDS 1.x) that tiermem uses, declared here because the
// header is not installed where tiermem is built.
struct CuFileError {
  int err;  // CUfileOpError; 0 is success
  CUresult cu_err;
};
struct CuFileDescr {
  int type;  // CU_FILE_HANDLE_TYPE_OPAQUE_FD = 1
  union {
    int fd;
    void* handle;
  } handle;
  const void* fs_ops;
};

struct CuFileApi {
  CuFileError (*driver_open)();
  CuFileError (*handle_register)(void** handle, CuFileDescr* descr);
  void (*handle_deregister)(void* handle);
  CuFileError (*buf_register)(const void* base, size_t length, int flags);
  CuFileError (*buf_deregister)(const void* base);
  ssize_t (*read)(void* handle, void* base, size_t size, off_t file_offset, off_t base_offset);
  bool ok = false;
  std::string why_not;
};

namespace {

constexpr int kReaderThreads = 8;  // reads in flight: cuFileRead blocks its thread

std::string cufile_error(const CuFileError& e) {
  switch (e.err) {
    case 5008:
      return "cuFile error 5008 (CU_FILE_IO_NOT_SUPPORTED: the filesystem is not supported)";
    case 5009:
      return "cuFile error 5009 (CU_FILE_DEVICE_NOT_SUPPORTED)";
    case 5011:
      return fmt::format("cuFile error 5011 (CU_FILE_CUDA_DRIVER_ERROR: {})",
                         cuda_error_text(e.cu_err));
    case 5018:
      return "cuFile error 5018 (CU_FILE_INVALID_FILE_TYPE)";
    case 5019:
      return "cuFile error 5019 (CU_FILE_INVALID_FILE_OPEN_FLAG)";
    case 5020:
      return "cuFile error 5020 (CU_FILE_DIO_NOT_SET: not opened with O_DIRECT)";
    case 5027:
      return "cuFile error 5027 (CU_FILE_HANDLE_NOT_REGISTERED)";
    case 5028:
      return "cuFile error 5028 (CU_FILE_HANDLE_ALREADY_REGISTERED)";
    default:
      return fmt::format("cuFile error {}", e.err);
  }
}

// A read-only O_DIRECT descriptor of the same file: cuFile refuses descriptors opened with
// O_TMPFILE (the NVMe tier's unnamed files) or O_NOFOLLOW (CU_FILE_INVALID_FILE_OPEN_FLAG),
// so it gets its own, opened through /proc/self/fd and checked to be the same inode.
int reopen_for_cufile(const io::File& file, std::string& why_not) {
  int fd =
      ::open(fmt::format("/proc/self/fd/{}", file.fd).c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  struct stat ours {};
  struct stat theirs {};
  if (fd < 0 || fstat(fd, &ours) != 0 || fstat(file.fd, &theirs) != 0 ||
      ours.st_ino != theirs.st_ino || ours.st_dev != theirs.st_dev) {
    why_not = fmt::format("'{}' cannot be reopened for cuFile: {}", file.path,
                          fd < 0 ? std::strerror(errno) : "another file was reached");
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// libcufile.so.0, loaded and its driver opened once per process; it stays open.
const CuFileApi& cufile() {
  static const CuFileApi api = [] {
    CuFileApi a{};
    void* lib = dlopen("libcufile.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      a.why_not = fmt::format("libcufile.so.0 cannot be loaded: {}", dlerror());
      return a;
    }
    auto get = [&](const char* name, auto& slot) {
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(lib, name));
      if (slot == nullptr && a.why_not.empty()) {
        a.why_not = fmt::format("libcufile.so.0 lacks {}", name);
      }
    };
    get("cuFileDriverOpen", a.driver_open);
    get("cuFileHandleRegister", a.handle_register);
    get("cuFileHandleDeregister", a.handle_deregister);
    get("cuFileBufRegister", a.buf_register);
    get("cuFileBufDeregister", a.buf_deregister);
    get("cuFileRead", a.read);
    if (!a.why_not.empty()) return a;
    if (CuFileError e = a.driver_open(); e.err != 0) {
      a.why_not = fmt::format("cuFileDriverOpen failed: {}", cufile_error(e));
      return a;
    }
    a.ok = true;
    return a;
  }();
  return api;
}

}  // namespace

std::unique_ptr<CudaFileReader> CudaFileReader::open(const std::string& mode, CUcontext context,
                                                     std::span<const io::File* const> files,
                                                     CUdeviceptr device_base,
                                                     uint64_t device_bytes) {
  if (mode == "off") return nullptr;
  auto fallback = [](const std::string& why) {
    support::log().info(
        "gpu: GPUDirect Storage not used ({}); NVMe pages reach the gpu tier "
        "through DRAM",
        why);
    return nullptr;
  };
  const bool nvidia_fs = access("/proc/driver/nvidia-fs/stats", F_OK) == 0;
  if (!nvidia_fs && mode == "auto") {
    return fallback("the nvidia-fs kernel driver is not loaded");
  }
  for (const io::File* file : files) {
    if (!file->direct) return fallback(fmt::format("'{}' is not opened with O_DIRECT", file->path));
  }
  CudaContextScope scope(context);
  const CuFileApi& api = cufile();
  if (!api.ok) return fallback(api.why_not);
  std::unique_ptr<CudaFileReader> reader(new CudaFileReader(api, context, device_base));
  for (const io::File* file : files) {
    std::string why_not;
    const int fd = reopen_for_cufile(*file, why_not);
    if (fd < 0) return fallback(why_not);
    reader->fds_.push_back(fd);
    CuFileDescr descr{};
    descr.type = 1;  // CU_FILE_HANDLE_TYPE_OPAQUE_FD
    descr.handle.fd = fd;
    void* handle = nullptr;
    if (CuFileError e = api.handle_register(&handle, &descr); e.err != 0) {
      return fallback(
          fmt::format("cuFileHandleRegister of '{}' failed: {}", file->path, cufile_error(e)));
    }
    reader->handles_.emplace(file, handle);
  }
  // Registering the frames saves cuFile a bounce through its own buffers; it is optional.
  if (CuFileError e = api.buf_register(reinterpret_cast<const void*>(device_base), device_bytes, 0);
      e.err == 0) {
    reader->buffer_registered_ = true;
  } else {
    support::log().info(
        "gpu: cuFileBufRegister of the gpu frames failed ({}); cuFile will "
        "bounce through its own buffers",
        cufile_error(e));
  }
  for (int i = 0; i < kReaderThreads; ++i)
    reader->threads_.emplace_back([r = reader.get()] { r->serve(); });
  support::log().info(
      "gpu: GPUDirect Storage through cuFile ({}) reads NVMe pages into the gpu "
      "tier",
      nvidia_fs ? "nvidia-fs" : "compatibility mode");
  return reader;
}

CudaFileReader::CudaFileReader(const CuFileApi& api, CUcontext context, CUdeviceptr device_base)
    : api_(api), context_(context), device_base_(device_base) {}

CudaFileReader::~CudaFileReader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& t : threads_) t.join();
  if (buffer_registered_) api_.buf_deregister(reinterpret_cast<const void*>(device_base_));
  for (auto& [file, handle] : handles_) api_.handle_deregister(handle);
  for (int fd : fds_) ::close(fd);
}

void CudaFileReader::read(const io::File& file, uint64_t offset, uint64_t device_offset,
                          uint64_t bytes, io::Completion& done) {
  void* handle = handles_.at(&file);
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({handle, offset, device_offset, bytes, &done});
  }
  ready_.notify_one();
}

void CudaFileReader::serve() noexcept {
  CudaContextScope scope(context_);
  for (;;) {
    Read r{};
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      r = queue_.front();
      queue_.pop_front();
    }
    io::Result result;
    uint64_t got = 0;
    while (got < r.bytes) {
      ssize_t n =
          api_.read(r.handle, reinterpret_cast<void*>(device_base_), r.bytes - got,
                    static_cast<off_t>(r.offset + got), static_cast<off_t>(r.device_offset + got));
      if (n <= 0) {
        // -1 sets errno; cuFile's own errors are negative codes beyond -5000.
        result.error = n == 0 ? ENODATA : n == -1 ? errno : EIO;
        result.error_offset = r.offset + got;
        if (n < -1) support::log().warn("gpu: cuFileRead failed: cuFile error {}", -n);
        break;
      }
      got += static_cast<uint64_t>(n);
    }
    result.bytes = got;
    r.done->complete(result);
  }
}

}  // namespace tiermem::detail
