// tools/io_options.hpp: the options `tiermem io` and `tiermem tune` share: where to do I/O and
// how (engine, O_DIRECT, SQPOLL, fixed buffers), and how a trial is described in JSON.
#pragma once

#include <boost/json.hpp>

#include "tools/cli.hpp"
#include "tools/io_bench.hpp"

namespace tiermem::tools {

// --dir (repeatable), --file (repeatable), --size.
void add_target_options(po::options_description& options, const char* default_size);
// With neither --dir nor --file: one file in $TMPDIR, else /tmp.
IoTarget target_from(const po::variables_map& vars);

// --engine, --no-direct, --sqpoll, --no-fixed-buffers, --buffer.
void add_engine_options(po::options_description& options, const char* default_buffer);
// A trial with those set and the rest at their defaults.
IoTrial trial_from(const po::variables_map& vars);
// The bytes of buffer for trials of blocks up to largest_block with up to in_flight bytes in
// flight: --buffer, but no more than in flight and never less than one block (IoBench::run
// refuses a block larger than its buffer).
uint64_t buffer_from(const po::variables_map& vars, uint64_t largest_block, uint64_t in_flight);

// What a trial ran with and what it measured, as JSON members.
void describe(boost::json::object& json, const IoTrial& trial, const IoOutcome& outcome);

}  // namespace tiermem::tools
