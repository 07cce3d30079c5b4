// sim/trace_writer.cpp: TraceWriter, the buffered appender of binary trace records.
#include <fmt/format.h>

#include "sim/file_io.hpp"
#include "sim/trace_format.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"
#include "tiermem/trace.hpp"

namespace tiermem {

TraceWriter::TraceWriter(const std::string& path, uint64_t page_size)
    : sink_(std::make_unique<sim::FileSink>(path)) {
  sim::format::Header header{};
  std::memcpy(header.magic, sim::format::kMagic, sizeof header.magic);
  header.version = sim::format::kVersion;
  header.header_bytes = sim::format::kHeaderBytes;
  header.page_size = page_size;
  header.record_bytes = sim::format::kRecordBytes;
  sink_->write(&header, sizeof header);
}

TraceWriter::~TraceWriter() {
  try {
    close();
  } catch (const Error& e) {
    support::log().error("trace not completed: {}", e.what());
  }
}

void TraceWriter::record(uint64_t time_ns, uint32_t tensor, uint32_t first, uint32_t count,
                         uint8_t kind, uint8_t tier) {
  sim::format::Record record{time_ns, tensor, first, count, kind, tier, 0};
  sink_->write(&record, sizeof record);
  ++records_;
}

void TraceWriter::tensor(uint32_t id, uint32_t pages) {
  record(0, id, 0, pages, sim::format::kTensor, 0);
}

void TraceWriter::access(uint64_t time_ns, uint32_t tensor, uint32_t first, uint32_t count,
                         TraceOp op, Tier tier) {
  record(time_ns, tensor, first, count, static_cast<uint8_t>(op), static_cast<uint8_t>(tier));
}

void TraceWriter::compute_begin(uint64_t time_ns) {
  record(time_ns, 0, 0, 0, sim::format::kComputeBegin, 0);
}

void TraceWriter::compute_end(uint64_t time_ns) {
  record(time_ns, 0, 0, 0, sim::format::kComputeEnd, 0);
}

void TraceWriter::flush() {
  sink_->flush();
}

void TraceWriter::close() {
  if (!sink_->is_open()) return;
  sink_->write_at(sim::format::kCountOffset, &records_, sizeof records_);
  sink_->close();
}

}  // namespace tiermem
