// tiermem/error.hpp: the one way tiermem reports failure.
//
// Every call that can fail throws tiermem::Error. Its code() says which kind of failure it
// is, what() names the offending value and the limit it broke, and sys_errno() carries the
// operating system's errno where one exists. Asynchronous calls deliver the same Error through
// their future. Nothing already stored is lost when an Error is thrown.
#pragma once

#include <stdexcept>
#include <string>

#include "tiermem/export.h"

namespace tiermem {

enum class Errc {
  invalid_argument,  // a value outside its documented range: shape, dtype, byte range, tier
  config,            // a configuration file, key or value that cannot be understood
  out_of_space,      // the NVMe tier or a fixed-size tier cannot ever hold what was asked
  tier_full,         // every frame of the tier is pinned right now; unpin and try again
  busy,              // the call conflicts with pins or I/O that are still active
  released,          // the tensor handle refers to a tensor that was released
  io,                // an I/O request failed; sys_errno() says why
  unsupported,       // the machine lacks a facility (io_uring, O_DIRECT, a GPU, ...)
  system,            // an operating-system call failed while setting up; sys_errno() says why
  corrupt,  // stored data failed its checks: a manifest, a page's checksum, a file's header
};

// The name of a code, e.g. "out_of_space".
TIERMEM_API const char* to_string(Errc code) noexcept;

class TIERMEM_API Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message, int sys_errno = 0)
      : std::runtime_error(message), code_(code), sys_errno_(sys_errno) {}

  Errc code() const noexcept { return code_; }
  // The errno behind an io or system error; 0 otherwise.
  int sys_errno() const noexcept { return sys_errno_; }

 private:
  Errc code_;
  int sys_errno_;
};

}  // namespace tiermem
