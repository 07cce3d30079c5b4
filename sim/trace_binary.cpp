// sim/trace_binary.cpp: reads the binary trace form: TraceReader streams the file in large
// blocks and decodes records in place; read_trace() collects what it yields.
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstddef>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "sim/file_io.hpp"
#include "sim/trace_format.hpp"
#include "sim/trace_io.hpp"
#include "tiermem/error.hpp"

namespace tiermem {

// Records per block read: 1.5 MiB of file. Fuzz builds define a few, so that small inputs
// cross blocks too.
#ifndef TIERMEM_TRACE_BLOCK_RECORDS
#define TIERMEM_TRACE_BLOCK_RECORDS (1 << 16)
#endif

struct TraceReader::State {
  static constexpr size_t kBlockRecords = TIERMEM_TRACE_BLOCK_RECORDS;
  static constexpr uint32_t kUndeclared = UINT32_MAX;
  // File tensor ids are labels the writer chose (a live pool's table slots: small and dense),
  // not counts. Ids below this bound map through a vector, the rest through a hash map, so
  // memory follows the declarations in the file, never the value of an id.
  static constexpr uint32_t kDenseIds = 1 << 20;

  std::string path;
  int fd = -1;
  uint64_t page_size = 0;
  uint64_t offset = 0;  // of the next record to decode
  uint64_t end = 0;     // file size
  std::vector<std::byte> block;
  std::vector<TraceAccess> out;
  std::vector<uint32_t> tensor_pages;
  uint64_t pages = 0;         // of all tensors declared
  std::vector<uint32_t> ids;  // file tensor id -> trace tensor id, for ids below kDenseIds
  std::unordered_map<uint32_t, uint32_t> sparse_ids;  // the same for ids from kDenseIds up
  bool span_open = false;
  uint64_t span_begin = 0;
  // The last access of a block, held back for the next call: compute spans after it may lie
  // in the next block.
  bool held = false;
  TraceAccess last;

  [[noreturn]] void fault(uint64_t at, const std::string& what) const {
    throw Error(Errc::invalid_argument, fmt::format("trace {}: offset {}: {}", path, at, what));
  }

  void header() {
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      throw Error(Errc::system, fmt::format("cannot stat {}", path), errno);
    }
    end = static_cast<uint64_t>(info.st_size);
    sim::format::Header h{};
    size_t got = sim::read_fully(fd, std::as_writable_bytes(std::span(&h, 1)), path);
    if (got < sizeof sim::format::kMagic ||
        !sim::is_binary_trace(std::as_bytes(std::span(&h, 1)))) {
      fault(0, "not a binary trace (no TMTRACE1 magic); CSV traces are read whole by read_trace");
    }
    if (h.version != sim::format::kVersion) {
      fault(8, fmt::format("version {} is not supported (this build reads version {})", h.version,
                           sim::format::kVersion));
    }
    if (end < sim::format::kHeaderBytes) {
      fault(end, fmt::format("truncated: the file ends inside its {}-byte header",
                             sim::format::kHeaderBytes));
    }
    if (h.header_bytes < sim::format::kHeaderBytes || h.record_bytes != sim::format::kRecordBytes) {
      fault(12, fmt::format("header of {} bytes with {}-byte records; version 1 has {} and {}",
                            h.header_bytes, h.record_bytes, sim::format::kHeaderBytes,
                            sim::format::kRecordBytes));
    }
    if (end < h.header_bytes) {
      fault(end, fmt::format("truncated: the file ends inside its {}-byte header", h.header_bytes));
    }
    uint64_t body = end - h.header_bytes;
    if (body % sim::format::kRecordBytes != 0) {
      fault(end - body % sim::format::kRecordBytes,
            fmt::format("truncated: {} bytes of a partial record at the end",
                        body % sim::format::kRecordBytes));
    }
    if (h.record_count != 0 && h.record_count != body / sim::format::kRecordBytes) {
      fault(end, fmt::format("truncated: the header promises {} records, the file holds {}",
                             h.record_count, body / sim::format::kRecordBytes));
    }
    if (std::string why = sim::page_size_fault(h.page_size); !why.empty()) {
      fault(offsetof(sim::format::Header, page_size), why);
    }
    page_size = h.page_size;
    offset = h.header_bytes;
    if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
      throw Error(Errc::system, fmt::format("cannot seek in {}", path), errno);
    }
    block.resize(kBlockRecords * sim::format::kRecordBytes);
    out.reserve(kBlockRecords + 1);
  }

  // The trace id of file tensor id, kUndeclared when it was never declared.
  uint32_t lookup(uint32_t id) const {
    if (id < kDenseIds) return id < ids.size() ? ids[id] : kUndeclared;
    auto it = sparse_ids.find(id);
    return it == sparse_ids.end() ? kUndeclared : it->second;
  }

  void declare(uint32_t id, uint32_t trace_id) {
    if (id >= kDenseIds) {
      sparse_ids[id] = trace_id;
      return;
    }
    if (id >= ids.size()) ids.resize(id + 1, kUndeclared);
    ids[id] = trace_id;
  }

  void decode(const sim::format::Record& r) {
    switch (r.kind) {
      case sim::format::kRead:
      case sim::format::kWrite:
      case sim::format::kReadWrite: {
        uint32_t tensor = lookup(r.tensor);
        if (tensor == kUndeclared) {
          fault(offset, fmt::format("access to tensor {}, which was not declared", r.tensor));
        }
        // Checked here, once per record, so that a streamed replay need not check each access.
        if (r.count == 0) fault(offset, fmt::format("access to no pages of tensor {}", r.tensor));
        if (uint64_t{r.first} + r.count > tensor_pages[tensor]) {
          fault(offset, fmt::format("access to pages {}+{} of tensor {}, which has {}", r.first,
                                    r.count, r.tensor, tensor_pages[tensor]));
        }
        if (r.tier > 1) {
          fault(offset,
                fmt::format("access in tier {}; only 0 (gpu) and 1 (dram) are accessed", r.tier));
        }
        out.push_back({r.time_ns, 0, tensor, r.first, r.count, static_cast<TraceOp>(r.kind),
                       static_cast<Tier>(r.tier)});
        break;
      }
      case sim::format::kTensor:
        // One trace tensor per declaration record, so there are fewer than 2^32 of them.
        declare(r.tensor, static_cast<uint32_t>(tensor_pages.size()));
        tensor_pages.push_back(r.count);
        pages += r.count;
        if (std::string why = sim::page_count_fault(pages); !why.empty()) fault(offset, why);
        break;
      case sim::format::kComputeBegin:
        if (span_open) fault(offset, "compute span begins inside another");
        span_open = true;
        span_begin = r.time_ns;
        break;
      case sim::format::kComputeEnd:
        if (!span_open) fault(offset, "compute span ends without beginning");
        if (r.time_ns < span_begin) fault(offset, "compute span ends before it begins");
        span_open = false;
        if (!out.empty()) out.back().compute_ns += r.time_ns - span_begin;
        break;
      default:
        fault(offset, fmt::format("unknown record kind {}", r.kind));
    }
  }

  std::span<const TraceAccess> next() {
    out.clear();
    if (held) {
      out.push_back(last);
      held = false;
    }
    // Read blocks until one yields an access beyond the one held back, or the file ends.
    for (bool fresh = false; offset < end && !fresh;) {
      size_t bytes = sim::read_fully(fd, block, path);
      bytes -= bytes % sim::format::kRecordBytes;
      if (bytes == 0) fault(offset, "the file shrank while being read");
      size_t before = out.size();
      for (size_t at = 0; at < bytes; at += sim::format::kRecordBytes) {
        sim::format::Record record;
        std::memcpy(&record, block.data() + at, sizeof record);
        decode(record);
        offset += sim::format::kRecordBytes;
      }
      fresh = out.size() > before;
      // Compute spans after the last access may lie in the next block: hold it back.
      if (offset < end && !out.empty()) {
        last = out.back();
        out.pop_back();
        held = true;
        fresh = fresh && !out.empty();
      }
    }
    return out;
  }
};

TraceReader::TraceReader(const std::string& path) : state_(std::make_unique<State>()) {
  state_->path = path;
  state_->fd = sim::open_for_reading(path);
  try {
    state_->header();
  } catch (...) {
    ::close(state_->fd);
    throw;
  }
}

TraceReader::~TraceReader() {
  ::close(state_->fd);
}

uint64_t TraceReader::page_size() const noexcept {
  return state_->page_size;
}

std::span<const TraceAccess> TraceReader::next() {
  return state_->next();
}

const std::vector<uint32_t>& TraceReader::tensor_pages() const noexcept {
  return state_->tensor_pages;
}

namespace sim {

bool is_binary_trace(std::span<const std::byte> prefix) {
  return prefix.size() >= sizeof format::kMagic &&
         std::memcmp(prefix.data(), format::kMagic, sizeof format::kMagic) == 0;
}

Trace read_binary_trace(const std::string& path) {
  TraceReader reader(path);
  Trace trace;
  trace.page_size = reader.page_size();
  for (auto batch = reader.next(); !batch.empty(); batch = reader.next()) {
    trace.accesses.insert(trace.accesses.end(), batch.begin(), batch.end());
  }
  trace.tensor_pages = reader.tensor_pages();
  trace.validate();
  return trace;
}

void write_binary_trace(const Trace& trace, const std::string& path) {
  TraceWriter writer(path, trace.page_size);
  for (uint32_t id = 0; id < trace.tensor_pages.size(); ++id) {
    writer.tensor(id, trace.tensor_pages[id]);
  }
  for (const TraceAccess& access : trace.accesses) {
    writer.access(access.time_ns, access.tensor, access.first, access.count, access.op,
                  access.tier);
    if (access.compute_ns > 0) {
      writer.compute_begin(access.time_ns);
      writer.compute_end(access.time_ns + access.compute_ns);
    }
  }
  writer.close();
}

}  // namespace sim

}  // namespace tiermem
