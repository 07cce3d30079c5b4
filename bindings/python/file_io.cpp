// bindings/python/file_io.cpp: tiermem.FileIo and tiermem.IoFile: reads and writes of a
// caller's host memory at file offsets, blocking (the GIL released) or asynchronous with one
// IoRequest per request, as DeepNVMe's aio_handle offers but with per-request completion and
// errors (tiermem/aio.py adds aio_handle's own names on top).
#include <fmt/format.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <optional>

#include "errors.hpp"
#include "host_memory.hpp"
#include "module.hpp"
#include "tiermem/config.hpp"
#include "tiermem/file_io.hpp"

namespace py = pybind11;

namespace tiermem::python {

namespace {

OpenMode mode_from(const std::string& mode) {
  if (mode == "r" || mode == "read") return OpenMode::read;
  if (mode == "w" || mode == "write") return OpenMode::write;
  if (mode == "rw" || mode == "r+" || mode == "w+" || mode == "read_write") {
    return OpenMode::read_write;
  }
  fail(Errc::invalid_argument,
       fmt::format("mode '{}' is not one of r (read), w (write), rw (read_write)", mode));
}

}  // namespace

IoConfig io_config_from(py::handle value) {
  Config config;
  if (value.is_none()) return config.io;
  for (auto [key, item] : py::reinterpret_borrow<py::dict>(value)) {
    std::string text = py::isinstance<py::bool_>(item) ? (item.cast<bool>() ? "true" : "false")
                                                       : py::str(item).cast<std::string>();
    config.set("io." + key.cast<std::string>(), text);
  }
  config.validate();
  return config.io;
}

namespace {

// An open file; sync calls running in other threads are counted so that close() never
// pulls the file from under them.
struct PythonFile {
  IoFile file;
  uint32_t calls = 0;    // with the GIL held
  bool closing = false;  // close() has begun: no new calls

  IoFile& use() {
    if (closing || !file.is_open()) fail(Errc::invalid_argument, "the file is closed");
    return file;
  }
};

// A blocking call on a file: counted, the GIL released.
class FileCall {
 public:
  explicit FileCall(PythonFile& file) : file_(file) {
    file.use();
    ++file.calls;
    saved_ = PyEval_SaveThread();
  }
  ~FileCall() {
    PyEval_RestoreThread(saved_);
    --file_.calls;
  }
  FileCall(const FileCall&) = delete;
  FileCall& operator=(const FileCall&) = delete;

 private:
  PythonFile& file_;
  PyThreadState* saved_;
};

// One asynchronous read or write: keeps the file and the memory until it ends.
class IoRequest {
 public:
  IoRequest(py::object file, HostMemory memory, std::future<void> future)
      : file_(std::move(file)), memory_(std::move(memory)), future_(future.share()) {}

  // The memory must stay valid until the request ends: an unread request waits for it.
  ~IoRequest() {
    if (!settled_) wait(-1);
  }
  IoRequest(const IoRequest&) = delete;
  IoRequest& operator=(const IoRequest&) = delete;

  // Bytes moved, or the request's IoError raised; timeout as for PinFuture.result.
  size_t result(py::object timeout) {
    if (!settled_) {
      if (!wait(timeout.is_none() ? -1 : timeout.cast<double>())) {
        PyErr_SetString(PyExc_TimeoutError, "the request has not ended yet");
        throw py::error_already_set();
      }
      settled_ = true;
      try {
        future_.get();
      } catch (...) {
        error_ = std::current_exception();
      }
    }
    if (error_) std::rethrow_exception(error_);
    return memory_->bytes().size();
  }

  bool done() const {
    return settled_ || future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

 private:
  bool wait(double seconds) {
    std::shared_future<void> mine = future_;
    py::gil_scoped_release unlocked;
    if (seconds < 0) {
      mine.wait();
      return true;
    }
    return mine.wait_for(std::chrono::duration<double>(seconds)) == std::future_status::ready;
  }

  py::object file_;
  std::optional<HostMemory> memory_;
  std::shared_future<void> future_;
  bool settled_ = false;
  std::exception_ptr error_;
};

py::object start(py::object self, py::handle buffer, uint64_t offset, bool write) {
  auto& f = self.cast<PythonFile&>();
  IoFile& file = f.use();
  HostMemory memory(buffer.ptr(), !write);
  std::span<std::byte> bytes = memory.bytes();
  std::future<void> future =
      write ? file.write_async(bytes, offset) : file.read_async(bytes, offset);
  return py::cast(
      std::make_unique<IoRequest>(std::move(self), std::move(memory), std::move(future)));
}

size_t transfer(PythonFile& f, py::handle buffer, uint64_t offset, bool write) {
  HostMemory memory(buffer.ptr(), !write);
  std::span<std::byte> bytes = memory.bytes();
  FileCall call(f);
  if (write) {
    f.file.write(bytes, offset);
  } else {
    f.file.read(bytes, offset);
  }
  return bytes.size();
}

}  // namespace

void bind_file_io(py::module_& module) {
  py::class_<FileIo>(module, "FileIo", R"doc(
FileIo(config=None): an I/O engine and its threads for reads and writes of your own memory at
file offsets; it needs no Pool. config: a dict of the io.* keys without the prefix, e.g.
{"engine": "uring", "threads": 2, "queue_depth": 64, "block_size": "1MiB"} (`tiermem config
--keys` lists them). Files it opened keep it alive. Raises ConfigError or InvalidArgumentError
for a bad key or value, UnsupportedError when "uring" is asked for and cannot be set up.
Thread safety: every method may be called from any thread.)doc")
      .def(py::init(
               [](py::object config) { return std::make_unique<FileIo>(io_config_from(config)); }),
           py::arg("config") = py::none())
      .def_property_readonly(
          "engine", [](const FileIo& io) { return std::string(io.engine()); },
          "'uring' or 'psync'.")
      .def(
          "open",
          [](FileIo& io, py::object path, const std::string& mode, bool direct) {
            std::string file = py::module_::import("os").attr("fspath")(path).cast<std::string>();
            OpenMode how = mode_from(mode);
            auto opened = std::make_unique<PythonFile>();
            {
              py::gil_scoped_release unlocked;
              opened->file = io.open(file, how, direct);
            }
            return opened;
          },
          py::arg("path"), py::arg("mode") = "r", py::arg("direct") = true, R"doc(
Opens path: mode 'r' (it must exist), 'w' or 'rw' (created with mode 0600 when missing, never
truncated). direct asks for O_DIRECT; file systems that refuse it are used buffered (the file's
direct says which). Raises SystemCallError naming the path and errno.)doc");

  py::class_<PythonFile>(module, "IoFile", R"doc(
A file opened by FileIo.open, for reads and writes at offsets of host memory: NumPy arrays,
bytearrays, LockedBuffers (anything with the buffer protocol) or torch tensors and Pins (DLPack
exporters on the CPU), contiguous. Any address, offset and length works under O_DIRECT.
Requests in flight at once must not overlap where one of them writes. A context manager that
closes the file. Thread safety: every method may be called from any thread.)doc")
      .def_property_readonly(
          "path", [](const PythonFile& f) { return std::string(f.file.path()); },
          "The path opened; empty once closed.")
      .def_property_readonly(
          "direct", [](const PythonFile& f) { return f.file.direct(); },
          "True when the file is used with O_DIRECT.")
      .def_property_readonly(
          "closed", [](const PythonFile& f) { return !f.file.is_open(); }, "True once closed.")
      .def(
          "pread",
          [](PythonFile& f, py::handle buffer, uint64_t offset) {
            return transfer(f, buffer, offset, false);
          },
          py::arg("buffer"), py::arg("offset") = 0,
          "Fills all of buffer from the file at offset; blocks (the GIL released). Returns the "
          "bytes read. Raises IoError naming the file, the failing offset and errno (ENODATA "
          "past the end of the file).")
      .def(
          "pwrite",
          [](PythonFile& f, py::handle buffer, uint64_t offset) {
            return transfer(f, buffer, offset, true);
          },
          py::arg("buffer"), py::arg("offset") = 0,
          "Writes all of buffer to the file at offset; blocks (the GIL released). Returns the "
          "bytes written. Raises IoError naming the file, the failing offset and errno.")
      .def(
          "pread_async",
          [](py::object self, py::handle buffer, uint64_t offset) {
            return start(std::move(self), buffer, offset, false);
          },
          py::arg("buffer"), py::arg("offset") = 0,
          "Starts pread and returns its IoRequest at once; the buffer must not be touched "
          "until the request ends (the request keeps it alive).")
      .def(
          "pwrite_async",
          [](py::object self, py::handle buffer, uint64_t offset) {
            return start(std::move(self), buffer, offset, true);
          },
          py::arg("buffer"), py::arg("offset") = 0,
          "Starts pwrite and returns its IoRequest at once (the request keeps the buffer "
          "alive).")
      .def(
          "size", [](PythonFile& f) { return f.use().size(); }, "The file's size in bytes.")
      .def(
          "truncate", [](PythonFile& f, uint64_t size) { f.use().truncate(size); }, py::arg("size"),
          "Sets the file's size (ftruncate).")
      .def(
          "sync",
          [](PythonFile& f) {
            FileCall call(f);
            f.file.sync();
          },
          "Makes every completed write durable (fdatasync); blocks (the GIL released).")
      .def(
          "close",
          [](PythonFile& f) {
            if (f.calls > 0) {
              fail(Errc::busy, fmt::format("IoFile.close(): {} call(s) on '{}' still run in other "
                                           "threads",
                                           f.calls, f.file.path()));
            }
            f.closing = true;
            py::gil_scoped_release unlocked;
            f.file.close();
          },
          "Waits for the file's requests (the GIL released), then closes it. Raises BusyError "
          "while blocking calls on it run in other threads.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](py::object self, py::handle, py::handle, py::handle) {
        self.attr("close")();
        return false;
      });

  py::class_<IoRequest>(module, "IoRequest", R"doc(
One asynchronous read or write (IoFile.pread_async / pwrite_async). result(timeout=None)
waits (the GIL released) and returns the bytes moved, or raises the request's IoError; `await
request` does the same in asyncio. A request dropped unfinished waits for its end, so that the
memory it uses stays valid.)doc")
      .def("result", &IoRequest::result, py::arg("timeout") = py::none(),
           "Bytes moved, or the request's error raised. timeout: seconds, or None to wait as long "
           "as it takes; TimeoutError when it passes.")
      .def("wait", &IoRequest::result, py::arg("timeout") = py::none(), "The same as result().")
      .def("done", &IoRequest::done, "True when result() would not wait.")
      .def("__await__", [](py::object self) {
        py::object loop = py::module_::import("asyncio").attr("get_running_loop")();
        return loop.attr("run_in_executor")(py::none(), self.attr("result")).attr("__await__")();
      });
}

}  // namespace tiermem::python
