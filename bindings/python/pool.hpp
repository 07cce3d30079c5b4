// bindings/python/pool.hpp: the state behind a Python tiermem.Pool, shared with its tensors,
// pins and futures, and the rule for closing it.
//
// A tiermem::Pool must outlive every call into it, its tensor handles must not be used after
// it, and its pins should end before it. Python objects keep the rule by reference: a Tensor
// holds its Pool object, a Pin its Tensor, an exported array its Pin, so the garbage collector
// never destroys a pool that is still in use. An explicit close is checked instead: it refuses
// (BusyError) while pins, exports, pending asynchronous pins or calls in other threads remain,
// and afterwards every call raises ReleasedError. Leaving a `with Pool(...)` block closes
// at once when nothing is in use, and otherwise closes the pool as soon as the last pin, export,
// future or call is gone (Python keeps a block's variables alive after it, so refusing there
// would make every array assigned inside the block an error).
//
// Thread safety: every field is read and written with the GIL held; tiermem calls that may
// block run with the GIL released, counted in `calls` while they do.
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <string>

#include "dlpack.hpp"
#include "tiermem/pool.hpp"

namespace pybind11 {
class module_;
}

namespace tiermem::python {

struct PoolState {
  explicit PoolState(const Config& config);
  // Closes the pool if it is still open (nothing can be using it then: see above).
  ~PoolState();
  PoolState(const PoolState&) = delete;
  PoolState& operator=(const PoolState&) = delete;

  // The pool, for a call; throws Error(released) once close has begun.
  Pool& get() const;
  bool open() const noexcept { return pool != nullptr && !closing; }
  // Pins, exports' pins, pending asynchronous pins and calls in flight, as one count.
  uint64_t in_use() const noexcept { return live_pins + pending_pins + calls; }
  // Closes now; throws Error(busy) naming what is still in use, leaving the pool open.
  void close();
  // Closes now if nothing is in use, else as soon as nothing is (the `with` block's exit).
  void close_when_unused();
  // Called whenever a count drops: finishes a deferred close. Never throws; a failure to
  // close is reported as an unraisable exception.
  void count_dropped() noexcept;

  std::unique_ptr<Pool> pool;      // null once closed
  bool closing = false;            // closed, or closing as soon as nothing is in use
  uint64_t live_pins = 0;          // tiermem Pins held by Pin objects (and so by their exports)
  uint64_t pending_pins = 0;       // asynchronous pins whose Pin has not been taken yet
  uint64_t calls = 0;              // calls into the pool running with the GIL released
  DLDevice gpu_device{kDLCPU, 0};  // where gpu pins live: kDLCUDA only for the CUDA backend

 private:
  void destroy() noexcept;
};

// A blocking call into a pool: refuses a closed pool, counts the call and releases the GIL for
// the object's life. Construct with the GIL held.
class UnlockedCall {
 public:
  explicit UnlockedCall(PoolState& pool);
  ~UnlockedCall();
  UnlockedCall(const UnlockedCall&) = delete;
  UnlockedCall& operator=(const UnlockedCall&) = delete;

 private:
  PoolState& pool_;
  PyThreadState* saved_;
};

void bind_pool(pybind11::module_& module);

}  // namespace tiermem::python
