// io/transfer_hook.hpp: a hook the engines consult before every system call on a piece.
//
// It exists so that tests can make the kernel's rare answers happen on demand: a short
// transfer (the engine must continue for the remainder), EAGAIN/EINTR (it must retry) and
// errors at an exact offset. The fault-injecting engine (io/fault_engine.hpp) implements it;
// production engines run without one.
#pragma once

#include <cstdint>

#include "io/engine.hpp"

namespace tiermem::io {

class TransferHook {
 public:
  // Called on an engine thread before each system call (an SQE, a pread/pwrite) that would
  // transfer length bytes of file at offset. Returns how many bytes to ask the kernel for,
  // 1 to length (fewer makes a short transfer that the engine has to continue), or a negative
  // errno that the engine takes as that call's result without making it. Called concurrently
  // from every engine thread.
  virtual int64_t before_transfer(Op op, const File& file, uint64_t offset,
                                  uint64_t length) noexcept = 0;

 protected:
  ~TransferHook() = default;
};

}  // namespace tiermem::io
