// bindings/python/checkpoint.cpp: tiermem.save_checkpoint (with its CheckpointFuture),
// tiermem.check_checkpoint and tiermem.open_checkpoint over include/tiermem/checkpoint.hpp.
//
// A save runs on a thread of the library while Python computes; its tensors must stay
// unreleased and their pools open until it ends. So the future holds the Tensor objects (and
// through them their pools) and counts itself as a call in each tensor and pool until its outcome
// is taken: release() and close() refuse meanwhile (BusyError), and a `with` block's close waits
// for it.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <exception>
#include <future>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "module.hpp"
#include "tensor.hpp"
#include "tiermem/checkpoint.hpp"

namespace py = pybind11;

namespace tiermem::python {

namespace {

std::string path_from(py::handle value) {
  return py::module_::import("os").attr("fspath")(value).cast<std::string>();
}

py::dict result_dict(const CheckpointResult& result) {
  py::dict d;
  d["files"] = result.files;
  d["bytes_written"] = result.bytes_written;
  d["tensors"] = result.tensors;
  d["seconds"] = result.seconds;
  d["direct"] = result.direct;
  d["index_written"] = result.index_written;
  return d;
}

class CheckpointFuture {
 public:
  CheckpointFuture(py::list tensors, std::future<CheckpointResult> future)
      : tensors_(std::move(tensors)), future_(future.share()) {
    for (py::handle tensor : tensors_) {
      TensorData& t = tensor_of(tensor);
      ++t.calls;
      ++t.pool->calls;
    }
  }

  // The save goes on without its future; the tensors' pools must outlive it: waits (the GIL
  // released), dropping its outcome.
  ~CheckpointFuture() {
    if (settled_) return;
    wait(-1);
    settle();
  }

  CheckpointFuture(const CheckpointFuture&) = delete;
  CheckpointFuture& operator=(const CheckpointFuture&) = delete;

  py::dict result(py::object timeout) {
    if (!settled_) {
      if (!wait(timeout.is_none() ? -1 : timeout.cast<double>())) {
        PyErr_SetString(PyExc_TimeoutError, "the checkpoint is not saved yet");
        throw py::error_already_set();
      }
      settle();
    }
    if (error_) std::rethrow_exception(error_);
    return result_dict(result_);
  }

  // Takes the outcome as soon as it is there, so that a caller polling done() frees the tensors
  // and pools (for release and close) without calling result().
  bool done() {
    if (!settled_ && future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      settle();
    }
    return settled_;
  }

 private:
  // True when ready; seconds < 0: waits until it is.
  bool wait(double seconds) {
    std::shared_future<CheckpointResult> mine = future_;
    py::gil_scoped_release unlocked;
    if (seconds < 0) {
      mine.wait();
      return true;
    }
    return mine.wait_for(std::chrono::duration<double>(seconds)) == std::future_status::ready;
  }

  // Takes the outcome and ends the counts; with the GIL held, once, when the save has ended.
  void settle() noexcept {
    settled_ = true;
    try {
      result_ = future_.get();
    } catch (...) {
      error_ = std::current_exception();
    }
    for (py::handle tensor : tensors_) {
      TensorData& t = tensor_of(tensor);
      --t.calls;
      --t.pool->calls;
      t.pool->count_dropped();
    }
  }

  py::list tensors_;  // the Tensor objects saved, each counted once per time it is listed
  std::shared_future<CheckpointResult> future_;
  bool settled_ = false;
  CheckpointResult result_;
  std::exception_ptr error_;
};

}  // namespace

void bind_checkpoint(py::module_& module) {
  py::class_<CheckpointFuture>(module, "CheckpointFuture", R"doc(
A checkpoint being saved (from save_checkpoint): result(timeout=None) waits (the GIL released)
and gives the result dict, or raises the save's error; done() tells whether it would wait.
Until the save has ended and its outcome was taken (by result() or a done() that returns True),
its tensors refuse release() and their pools close() (BusyError), and a `with` block closes its
pool only afterwards. A future dropped unread waits for the save.)doc")
      .def("result", &CheckpointFuture::result, py::arg("timeout") = py::none(),
           "The result as a dict: files (published, the index last), bytes_written, tensors, "
           "seconds, direct (O_DIRECT was used), index_written. timeout: seconds to wait at "
           "most, None for as long as it takes; TimeoutError when it passes. Raises the save's "
           "error (SystemCallError, IoError, a pin's error) on every call.")
      .def("done", &CheckpointFuture::done,
           "True when the save has ended (result() would not "
           "wait).");

  module.def(
      "save_checkpoint",
      [](py::iterable tensors, py::object path, uint32_t rank, uint32_t world_size,
         py::object max_shard_bytes, std::string tag, std::map<std::string, std::string> metadata,
         bool checksums, py::object io, py::object staging_bytes, uint32_t staging_buffers) {
        py::list objects;
        std::vector<Tensor> handles;
        for (py::handle tensor : tensors) {
          TensorData& t = tensor_of(tensor);
          t.check_usable();
          objects.append(tensor);
          handles.push_back(t.tensor);
        }
        CheckpointOptions options;
        options.rank = rank;
        options.world_size = world_size;
        options.max_shard_bytes = size_from(max_shard_bytes);
        options.tag = std::move(tag);
        options.metadata = std::move(metadata);
        options.checksums = checksums;
        options.io = io_config_from(io);
        options.staging_bytes = size_from(staging_bytes);
        options.staging_buffers = staging_buffers;
        std::future<CheckpointResult> future = save_checkpoint(handles, path_from(path), options);
        return std::make_unique<CheckpointFuture>(std::move(objects), std::move(future));
      },
      py::arg("tensors"), py::arg("path"), py::kw_only(), py::arg("rank") = 0,
      py::arg("world_size") = 1, py::arg("max_shard_bytes") = 0, py::arg("tag") = "",
      py::arg("metadata") = std::map<std::string, std::string>{}, py::arg("checksums") = true,
      py::arg("io") = py::none(), py::arg("staging_bytes") = "16MiB",
      py::arg("staging_buffers") = 4, R"doc(
save_checkpoint(tensors, path, **options) -> CheckpointFuture

Saves tensors (of one pool or several) as a safetensors checkpoint and returns at once; the
caller computes meanwhile. Each tensor is saved as it was at this call: a write pin taken
while the save runs first copies what the save has not yet copied of its tensor. Each file is
written under a temporary name, synced and renamed over path: a crash leaves the old file or
the new one. path: one .safetensors file, or a directory for shards.
Options (see tiermem/checkpoint.hpp, CheckpointOptions): rank, world_size (several processes
each writing shard rank+1; the last writes model.safetensors.index.json), max_shard_bytes
(shards of at most that many bytes, an int or size text), tag (names one save across ranks;
needed when world_size > 1), metadata (str -> str, stored in __metadata__), checksums (store an
xxh3 of each tensor, which check_checkpoint verifies), io (a dict of the pool config's io.*
keys without the prefix), staging_bytes and staging_buffers (the copy buffers).
Raises InvalidArgumentError at once for bad options, a released tensor, a name or tensor given
twice or an io value out of range, ConfigError for an io key or size not understood. The
future's result() raises the save's errors.)doc");

  module.def(
      "check_checkpoint",
      [](py::object path) {
        const std::string file = path_from(path);
        CheckpointReport report;
        {
          py::gil_scoped_release unlocked;
          report = check_checkpoint(file);
        }
        py::dict d;
        d["files"] = report.files;
        d["tensors"] = report.tensors;
        d["bytes"] = report.bytes;
        d["checksums_verified"] = report.checksums_verified;
        return d;
      },
      py::arg("path"), R"doc(
check_checkpoint(path) -> dict

Checks the checkpoint at path (a .safetensors file, an index ending in .json, or a directory
holding model.safetensors.index.json): every header, the index against its shards, and every
stored checksum, reading the data; blocks (the GIL released). Returns {"files": [...],
"tensors": n, "bytes": n, "checksums_verified": n}. Raises CorruptError naming the file, the
tensor and what is wrong, UnsupportedError for a dtype tiermem lacks, SystemCallError when a
file cannot be opened, IoError when it cannot be read.)doc");

  module.def(
      "open_checkpoint",
      [](py::object pool, py::object path) {
        PoolState& state = pool.cast<PoolState&>();
        const std::string file = path_from(path);
        std::vector<Tensor> opened;
        {
          UnlockedCall call(state);
          opened = open_checkpoint(*state.pool, file);
        }
        py::list tensors;
        for (const Tensor& tensor : opened) {
          tensors.append(py::reinterpret_steal<py::object>(make_tensor(pool.ptr(), state, tensor)));
        }
        return tensors;
      },
      py::arg("pool"), py::arg("path"), R"doc(
open_checkpoint(pool, path) -> list of Tensor

Opens the checkpoint at path (as check_checkpoint takes it) as read-only tensors of pool,
copying nothing: their pages are read from the file when pinned (with O_DIRECT where a page
starts on a 4 KiB boundary), prefetched and evicted like any tensor's. Returns them in the
order of their data, shard by shard; pool.find(name) finds them too. A 'write' or
'read_write' pin raises InvalidArgumentError naming the file: copy into a tensor of the pool's
own to change one. Scalars and empty tensors keep their shapes (an empty one cannot be
pinned). Each file stays open until the last of its tensors is released or the pool closes,
so a checkpoint saved over meanwhile is still read as it was; do not write the file in place.
Reads and checks every header first, blocking (the GIL released). Raises what
check_checkpoint raises for a header, InvalidArgumentError for a name a live tensor of a
persistent pool has; the pool is unchanged then.)doc");
}

}  // namespace tiermem::python
