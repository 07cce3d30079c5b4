// sim/trace_oracle.cpp: export to libCacheSim's oracleGeneral binary format, so that its
// policies can serve as outside baselines on the same accesses.
//
// Each page accessed is one 24-byte request: u32 clock time (seconds), u64 object id (the
// dense page id), u32 object size (the page size), i64 next access: the 1-based index of the
// next request for the same object, -1 when there is none.
#include <fmt/format.h>

#include <vector>

#include "sim/file_io.hpp"
#include "sim/page_map.hpp"
#include "sim/trace_io.hpp"
#include "tiermem/error.hpp"

namespace tiermem::sim {

namespace {

#pragma pack(push, 1)
struct OracleRequest {
  uint32_t clock_time;
  uint64_t obj_id;
  uint32_t obj_size;
  int64_t next_access_vtime;
};
#pragma pack(pop)
static_assert(sizeof(OracleRequest) == 24);

}  // namespace

void write_oracle_general(const Trace& trace, const std::string& path) {
  PageMap map(trace);
  std::vector<int64_t> next = map.next_access();
  FileSink sink(path);
  uint64_t request = 0;
  for (const TraceAccess& access : trace.accesses) {
    if (access.op == TraceOp::prefetch) continue;  // not a request
    auto seconds =
        static_cast<uint32_t>(std::min<uint64_t>(access.time_ns / 1'000'000'000, UINT32_MAX));
    for (uint32_t k = 0; k < access.count; ++k, ++request) {
      OracleRequest record{seconds, map.page(access, k), static_cast<uint32_t>(trace.page_size),
                           next[request] < 0 ? -1 : next[request] + 1};
      sink.write(&record, sizeof record);
    }
  }
  sink.close();
}

}  // namespace tiermem::sim
