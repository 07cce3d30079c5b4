// fuzz/fuzz_trace_csv.cpp: the CSV trace reader (parse_trace_csv, behind read_trace for text
// files); an accepted trace validates and replays in the simulator within its memory limit.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "tiermem/trace.hpp"

using namespace tiermem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Trace trace;
  if (!fuzz::accepted([&] { trace = parse_trace_csv(text, 4096, "<fuzz>"); })) return 0;
  trace.validate();  // an Error here escapes: parse_trace_csv promises a valid trace
  fuzz::require(trace.footprint_bytes() <= trace.page_count() * trace.page_size,
                "the footprint fits the tensors");
  fuzz::replay(trace);
  return 0;
}
