// sim/trace.cpp: the Trace's own checks and sums, TraceReader (the form of a file found by its
// content, then its decoder) and read_trace(), and the format dispatch of write_trace().
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

#include "sim/page_map.hpp"
#include "sim/trace_decoder.hpp"
#include "sim/trace_io.hpp"
#include "support/align.hpp"
#include "tiermem/error.hpp"

namespace tiermem {

std::string_view to_string(TraceOp op) noexcept {
  switch (op) {
    case TraceOp::read:
      return "r";
    case TraceOp::write:
      return "w";
    case TraceOp::read_write:
      return "rw";
    case TraceOp::prefetch:
      return "p";
  }
  return "?";
}

uint64_t Trace::page_count() const noexcept {
  uint64_t pages = 0;
  for (uint32_t count : tensor_pages) pages += count;
  return pages;
}

uint64_t Trace::page_accesses() const noexcept {
  uint64_t pages = 0;
  for (const TraceAccess& access : accesses) {
    if (access.op != TraceOp::prefetch) pages += access.count;
  }
  return pages;
}

uint64_t Trace::footprint_bytes() const {
  // Tensor sizes and pages per access come from the file, so what this takes must follow the
  // accesses: a bit per page where that is no more than 16 bytes and 64 page visits per
  // access, else the union of the accessed ranges, sorted.
  if (page_count() / 8 <= 16 * accesses.size() && page_accesses() <= 64 * accesses.size()) {
    sim::PageMap map(*this);
    std::vector<bool> touched(map.pages(), false);
    uint64_t pages = 0;
    for (const TraceAccess& access : accesses) {
      if (access.op == TraceOp::prefetch) continue;
      for (uint32_t k = 0; k < access.count; ++k) {
        uint64_t page = map.page(access, k);
        if (!touched[page]) {
          touched[page] = true;
          ++pages;
        }
      }
    }
    return pages * page_size;
  }
  struct Range {
    uint64_t start;  // tensor << 32 | first page
    uint64_t end;    // the same, after the last page
  };
  std::vector<Range> ranges;
  ranges.reserve(accesses.size());
  for (const TraceAccess& access : accesses) {
    if (access.op == TraceOp::prefetch) continue;
    uint64_t start = uint64_t{access.tensor} << 32 | access.first;
    ranges.push_back({start, start + access.count});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
  uint64_t pages = 0;
  for (size_t i = 0; i < ranges.size();) {
    uint64_t start = ranges[i].start, end = ranges[i].end;
    for (++i; i < ranges.size() && ranges[i].start <= end; ++i) {
      end = std::max(end, ranges[i].end);
    }
    pages += end - start;
  }
  return pages * page_size;
}

void Trace::validate() const {
  if (std::string why = sim::page_size_fault(page_size); !why.empty()) {
    throw Error(Errc::invalid_argument, why);
  }
  if (std::string why = sim::page_count_fault(page_count()); !why.empty()) {
    throw Error(Errc::invalid_argument, why);
  }
  for (size_t i = 0; i < accesses.size(); ++i) {
    const TraceAccess& access = accesses[i];
    auto fault = [&](std::string_view what) {
      return Error(Errc::invalid_argument,
                   fmt::format("trace access {} (tensor {}, pages {}+{}): {}", i, access.tensor,
                               access.first, access.count, what));
    };
    if (access.tensor >= tensor_pages.size()) {
      throw fault(fmt::format("no such tensor; the trace has {}", tensor_pages.size()));
    }
    if (access.count == 0) throw fault("no pages");
    if (uint64_t{access.first} + access.count > tensor_pages[access.tensor]) {
      throw fault(fmt::format("beyond the tensor's {} pages", tensor_pages[access.tensor]));
    }
    if (access.tier != Tier::gpu && access.tier != Tier::dram) {
      throw fault("tier nvme cannot be accessed; only gpu and dram");
    }
    if (access.op > TraceOp::prefetch) throw fault("unknown op");
  }
}

struct TraceReader::State {
  // Enough of the content to tell its form: 2730 oracleGeneral records, or a header line.
  static constexpr size_t kDetectBytes = 64 << 10;

  State(const std::string& path, uint64_t page_size) : source(path) {
    std::span<const std::byte> prefix = source.peek(kDetectBytes);
    std::string origin = source.compressed() ? path + " (zstd-compressed)" : path;
    form = sim::detect_form(prefix, origin);
    if (form != sim::InputForm::binary) {
      if (std::string why = sim::page_size_fault(page_size); !why.empty()) {
        throw Error(Errc::invalid_argument, fmt::format("trace {}: {}", origin, why));
      }
    }
    decoder = sim::make_decoder(form, source, page_size);
  }

  sim::ByteSource source;
  sim::InputForm form;
  std::unique_ptr<sim::TraceDecoder> decoder;
  std::vector<TraceAccess> out;
  bool more = true;
};

TraceReader::TraceReader(const std::string& path, uint64_t page_size)
    : state_(std::make_unique<State>(path, page_size)) {}

TraceReader::~TraceReader() = default;

uint64_t TraceReader::page_size() const noexcept {
  return state_->decoder->page_size();
}

std::string TraceReader::format() const {
  std::string name(sim::form_name(state_->form));
  return state_->source.compressed() ? name + ", zstd-compressed" : name;
}

std::span<const TraceAccess> TraceReader::next() {
  State& s = *state_;
  s.out.clear();
  while (s.out.empty() && s.more) s.more = s.decoder->next(s.out);
  return s.out;
}

const std::vector<uint32_t>& TraceReader::tensor_pages() const noexcept {
  return state_->decoder->tensor_pages();
}

Trace read_trace(const std::string& path, uint64_t page_size) {
  TraceReader reader(path, page_size);
  Trace trace;
  trace.page_size = reader.page_size();
  for (auto batch = reader.next(); !batch.empty(); batch = reader.next()) {
    trace.accesses.insert(trace.accesses.end(), batch.begin(), batch.end());
  }
  trace.tensor_pages = reader.tensor_pages();
  trace.validate();
  return trace;
}

void write_trace(const Trace& trace, const std::string& path, TraceFormat format) {
  trace.validate();
  switch (format) {
    case TraceFormat::binary:
      sim::write_binary_trace(trace, path);
      return;
    case TraceFormat::csv:
      sim::write_csv_trace(trace, path);
      return;
    case TraceFormat::oracle_general:
      sim::write_oracle_general(trace, path);
      return;
  }
}

namespace sim {

std::unique_ptr<TraceDecoder> make_decoder(InputForm form, ByteSource& source, uint64_t page_size) {
  switch (form) {
    case InputForm::binary:
      return binary_decoder(source);
    case InputForm::csv:
      return csv_decoder(source, page_size);
    case InputForm::oracle_general:
      return oracle_decoder(source, page_size);
    case InputForm::lcs_csv:
    case InputForm::lcs_txt:
      return libcachesim_text_decoder(source, page_size, form == InputForm::lcs_csv);
  }
  throw Error(Errc::invalid_argument, "unknown trace form");
}

std::string page_size_fault(uint64_t page_size) {
  if (support::is_pow2(page_size) && page_size >= 4096 && page_size <= (1ull << 30)) return {};
  return fmt::format("trace page size {} is not a power of two in [4096, 2^30]", page_size);
}

std::string page_count_fault(uint64_t pages) {
  if (pages < UINT32_MAX) return {};
  return fmt::format("trace has {} pages; at most {} are supported", pages, UINT32_MAX - 1);
}

std::string_view tier_name(Tier tier) noexcept {
  return tier == Tier::gpu ? "gpu" : tier == Tier::dram ? "dram" : "nvme";
}

}  // namespace sim

}  // namespace tiermem
