// tiermem/fault_spec.hpp: the io.faults configuration value, which puts a fault-injecting I/O
// engine (io/fault_engine.hpp) under a pool or FileIo, so that users can see what their program
// does when the disk fails, and `tiermem stress` can prove that no fault loses a byte.
//
// The value is a comma-separated list of items; empty means no faults:
//   eio=P, enospc=P              a request fails before it starts with EIO / ENOSPC, chance P
//   eio.read=P, enospc.write=P   the same for reads only, or writes only
//   eio@BEGIN-END                system calls touching file bytes [BEGIN, END) fail (sizes as
//   enospc.write@BEGIN-END       in every other key: 1GiB, 4096); .read/.write as above
//   short=P                      a system call moves only part of its bytes (continued)
//   retry=P                      a system call reports EAGAIN or EINTR without being made
//   latency=D                    every completion arrives D later: 200us, 5ms, 1s
//   seed=N                       the seed of every chance (default 1): runs are repeatable
// A chance P is a probability from 0 to 1.
#pragma once

#include <string_view>

#include "io/fault_engine.hpp"

namespace tiermem::detail {

// Throws Error(config) naming the item, the value and what was expected.
io::FaultPlan parse_fault_spec(std::string_view spec);

}  // namespace tiermem::detail
