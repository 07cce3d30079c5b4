// tiermem/tiermem.hpp: the whole public C++ API in one include.
#pragma once

#include "tiermem/checkpoint.hpp"
#include "tiermem/config.hpp"
#include "tiermem/error.hpp"
#include "tiermem/file_io.hpp"
#include "tiermem/locked_buffer.hpp"
#include "tiermem/pin.hpp"
#include "tiermem/policy.hpp"
#include "tiermem/pool.hpp"
#include "tiermem/sim.hpp"
#include "tiermem/stats.hpp"
#include "tiermem/tensor.hpp"
#include "tiermem/trace.hpp"
#include "tiermem/types.hpp"
#include "tiermem/workload.hpp"
