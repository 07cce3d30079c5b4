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

// What a trial ran with and what it measured, as JSON members.
void describe(boost::json::object& json, const IoTrial& trial, const IoOutcome& outcome);

}  // namespace tiermem::tools
