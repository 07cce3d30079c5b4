// sim/trace_binary.cpp: reads the binary trace form, streaming the file in large blocks and
// decoding records in place.
#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "sim/file_io.hpp"
#include "sim/trace_format.hpp"
#include "sim/trace_io.hpp"
#include "tiermem/error.hpp"

namespace tiermem::sim {

namespace {

class BinaryDecoder {
 public:
  BinaryDecoder(const std::string& path, Trace& trace) : path_(path), trace_(trace) {}

  void header(const format::Header& header, uint64_t file_bytes) {
    if (header.version != format::kVersion) {
      fault(8, fmt::format("version {} is not supported (this build reads version {})",
                           header.version, format::kVersion));
    }
    if (header.header_bytes < format::kHeaderBytes || header.record_bytes != format::kRecordBytes) {
      fault(12, fmt::format("header of {} bytes with {}-byte records; version 1 has {} and {}",
                            header.header_bytes, header.record_bytes, format::kHeaderBytes,
                            format::kRecordBytes));
    }
    if (file_bytes < header.header_bytes) {
      fault(file_bytes,
            fmt::format("truncated: the file ends inside its {}-byte header", header.header_bytes));
    }
    uint64_t body = file_bytes - header.header_bytes;
    if (body % format::kRecordBytes != 0) {
      fault(file_bytes - body % format::kRecordBytes,
            fmt::format("truncated: {} bytes of a partial record at the end",
                        body % format::kRecordBytes));
    }
    if (header.record_count != 0 && header.record_count != body / format::kRecordBytes) {
      fault(file_bytes, fmt::format("truncated: the header promises {} records, the file holds {}",
                                    header.record_count, body / format::kRecordBytes));
    }
    trace_.page_size = header.page_size;
    offset_ = header.header_bytes;
    trace_.accesses.reserve(body / format::kRecordBytes);
  }

  void records(std::span<const std::byte> bytes) {
    for (size_t at = 0; at < bytes.size(); at += format::kRecordBytes) {
      format::Record record;
      std::memcpy(&record, bytes.data() + at, sizeof record);
      decode(record);
      offset_ += format::kRecordBytes;
    }
  }

  void finish() {
    // A span still open at the end was cut off by the recording's end: it adds nothing.
    trace_.accesses.shrink_to_fit();
  }

 private:
  [[noreturn]] void fault(uint64_t offset, const std::string& what) const {
    throw Error(Errc::invalid_argument,
                fmt::format("trace {}: offset {}: {}", path_, offset, what));
  }

  void decode(const format::Record& record) {
    switch (record.kind) {
      case format::kRead:
      case format::kWrite:
      case format::kReadWrite: {
        if (record.tensor >= ids_.size() || ids_[record.tensor] == kUndeclared) {
          fault(offset_, fmt::format("access to tensor {}, which was not declared", record.tensor));
        }
        if (record.tier > 1) {
          fault(offset_, fmt::format("access in tier {}; only 0 (gpu) and 1 (dram) are accessed",
                                     record.tier));
        }
        trace_.accesses.push_back({record.time_ns, 0, ids_[record.tensor], record.first,
                                   record.count, static_cast<TraceOp>(record.kind),
                                   static_cast<Tier>(record.tier)});
        break;
      }
      case format::kTensor:
        if (record.tensor >= ids_.size()) ids_.resize(record.tensor + 1, kUndeclared);
        ids_[record.tensor] = static_cast<uint32_t>(trace_.tensor_pages.size());
        trace_.tensor_pages.push_back(record.count);
        break;
      case format::kComputeBegin:
        if (span_open_) fault(offset_, "compute span begins inside another");
        span_open_ = true;
        span_begin_ = record.time_ns;
        break;
      case format::kComputeEnd:
        if (!span_open_) fault(offset_, "compute span ends without beginning");
        if (record.time_ns < span_begin_) fault(offset_, "compute span ends before it begins");
        span_open_ = false;
        if (!trace_.accesses.empty())
          trace_.accesses.back().compute_ns += record.time_ns - span_begin_;
        break;
      default:
        fault(offset_, fmt::format("unknown record kind {}", record.kind));
    }
  }

  static constexpr uint32_t kUndeclared = UINT32_MAX;
  const std::string& path_;
  Trace& trace_;
  uint64_t offset_ = 0;
  std::vector<uint32_t> ids_;  // file tensor id -> trace tensor id
  bool span_open_ = false;
  uint64_t span_begin_ = 0;
};

}  // namespace

bool is_binary_trace(std::span<const std::byte> prefix) {
  return prefix.size() >= sizeof format::kMagic &&
         std::memcmp(prefix.data(), format::kMagic, sizeof format::kMagic) == 0;
}

Trace read_binary_trace(int fd, const std::string& path, uint64_t file_bytes) {
  Trace trace;
  BinaryDecoder decoder(path, trace);
  format::Header header{};
  size_t got = read_fully(fd, std::as_writable_bytes(std::span(&header, 1)), path);
  decoder.header(header, std::max<uint64_t>(got, file_bytes));
  if (header.header_bytes > sizeof header) {
    std::vector<std::byte> rest(header.header_bytes - sizeof header);
    read_fully(fd, rest, path);
  }
  constexpr size_t kBlock = format::kRecordBytes << 16;  // 1.5 MiB
  std::vector<std::byte> block(kBlock);
  for (;;) {
    size_t bytes = read_fully(fd, block, path);
    decoder.records(std::span(block).first(bytes - bytes % format::kRecordBytes));
    if (bytes < kBlock) break;
  }
  decoder.finish();
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

}  // namespace tiermem::sim
