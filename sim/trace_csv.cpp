// sim/trace_csv.cpp: the text form of traces: CSV with a header naming its columns.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string>

#include "sim/file_io.hpp"
#include "sim/trace_decoder.hpp"
#include "sim/trace_io.hpp"
#include "tiermem/error.hpp"

namespace tiermem {

namespace {

enum Column { kTensor, kPage, kOp, kCount, kTier, kTime, kCompute, kColumns };
constexpr std::array<std::string_view, kColumns> kNames = {
    "tensor", "page", "op", "count", "tier", "time_ns", "compute_ns"};
constexpr uint32_t kMaxTensors = 1u << 24;
// Tensor ids are dense indices, so an id costs a slot for every id below it. A file may name
// ids up to the larger of this and its size in bytes: what tensors cost stays in proportion
// to the file.
constexpr uint32_t kTensorsAnyFile = 1u << 16;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

class CsvParser {
 public:
  CsvParser(std::string_view origin, uint64_t page_size) : origin_(origin) {
    trace_.page_size = page_size;
  }

  Trace parse(std::string_view text) {
    text_bytes_ = text.size();
    tensor_limit_ = static_cast<uint32_t>(
        std::min<uint64_t>(kMaxTensors, std::max<uint64_t>(kTensorsAnyFile, text_bytes_)));
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = trim(text.substr(pos, end - pos));
      ++line_;
      pos = end + 1;
      if (line.empty()) continue;
      if (!header_done_) {
        header(line);
      } else {
        row(line);
      }
    }
    if (!header_done_) fail("no header line (expected at least tensor,page,op)");
    trace_.validate();
    return std::move(trace_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::invalid_argument, fmt::format("trace {} line {}: {}", origin_, line_, what));
  }

  template <class Visit>
  void fields(std::string_view line, Visit&& visit) {
    size_t index = 0;
    for (size_t pos = 0;; ++index) {
      size_t comma = line.find(',', pos);
      visit(index, trim(line.substr(pos, comma == std::string_view::npos ? comma : comma - pos)));
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
  }

  void header(std::string_view line) {
    order_.clear();
    fields(line, [&](size_t, std::string_view name) {
      auto it = std::find(kNames.begin(), kNames.end(), name);
      if (it == kNames.end()) {
        fail(fmt::format("unknown column '{}' (known: {})", name, fmt::join(kNames, ", ")));
      }
      auto column = static_cast<Column>(it - kNames.begin());
      if (std::find(order_.begin(), order_.end(), column) != order_.end()) {
        fail(fmt::format("column '{}' appears twice", name));
      }
      order_.push_back(column);
    });
    for (Column required : {kTensor, kPage, kOp}) {
      if (std::find(order_.begin(), order_.end(), required) == order_.end()) {
        fail(fmt::format("the header lacks column '{}' (required: tensor, page, op)",
                         kNames[required]));
      }
    }
    header_done_ = true;
  }

  uint64_t number(std::string_view text, Column column, uint64_t max) const {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > max) {
      fail(fmt::format("{} '{}' is not an integer in [0, {}]", kNames[column], text, max));
    }
    return value;
  }

  void row(std::string_view line) {
    TraceAccess access;
    size_t seen = 0;
    fields(line, [&](size_t index, std::string_view text) {
      seen = index + 1;
      if (index >= order_.size()) return;
      switch (order_[index]) {
        case kTensor:
          access.tensor = static_cast<uint32_t>(number(text, kTensor, UINT32_MAX));
          if (access.tensor >= tensor_limit_) {
            fail(fmt::format(
                "tensor {} is beyond the {} tensors a CSV trace of {} bytes may "
                "have (ids are dense from 0; the limit is the file's size in bytes, "
                "at least {} and at most {})",
                access.tensor, tensor_limit_, text_bytes_, kTensorsAnyFile, kMaxTensors));
          }
          break;
        case kPage:
          access.first = static_cast<uint32_t>(number(text, kPage, UINT32_MAX - 1));
          break;
        case kCount:
          access.count = static_cast<uint32_t>(number(text, kCount, UINT32_MAX - 1));
          break;
        case kTime:
          access.time_ns = number(text, kTime, UINT64_MAX);
          break;
        case kCompute:
          access.compute_ns = number(text, kCompute, UINT64_MAX);
          break;
        case kOp:
          if (text == "r") {
            access.op = TraceOp::read;
          } else if (text == "w") {
            access.op = TraceOp::write;
          } else if (text == "rw") {
            access.op = TraceOp::read_write;
          } else if (text == "p") {
            access.op = TraceOp::prefetch;
          } else {
            fail(fmt::format("unknown op '{}' (known: r, w, rw, p)", text));
          }
          break;
        case kTier:
          if (text == "gpu") {
            access.tier = Tier::gpu;
          } else if (text == "dram") {
            access.tier = Tier::dram;
          } else {
            fail(fmt::format("unknown tier '{}' (known: gpu, dram)", text));
          }
          break;
        case kColumns:
          break;
      }
    });
    if (seen != order_.size()) {
      fail(fmt::format("{} fields where the header has {}", seen, order_.size()));
    }
    if (access.count == 0) fail("count 0: an access has at least one page");
    uint64_t end = uint64_t{access.first} + access.count;
    if (end > UINT32_MAX - 1)
      fail(fmt::format("pages {}+{} exceed 2^32-2", access.first, access.count));
    if (access.tensor >= trace_.tensor_pages.size())
      trace_.tensor_pages.resize(access.tensor + 1, 0);
    uint32_t& pages = trace_.tensor_pages[access.tensor];
    pages = std::max(pages, static_cast<uint32_t>(end));
    trace_.accesses.push_back(access);
  }

  std::string_view origin_;
  Trace trace_;
  std::vector<Column> order_;
  bool header_done_ = false;
  uint64_t line_ = 0;
  uint64_t text_bytes_ = 0;
  uint32_t tensor_limit_ = 0;  // tensor ids must be below this
};

}  // namespace

Trace parse_trace_csv(std::string_view text, uint64_t page_size, std::string_view origin) {
  return CsvParser(origin, page_size).parse(text);
}

namespace sim {

namespace {

// tiermem's CSV gives tensor sizes only by its highest pages: it is parsed whole, then yielded
// a block at a time.
class CsvDecoder final : public TraceDecoder {
 public:
  CsvDecoder(ByteSource& source, uint64_t page_size) {
    std::string text;
    std::vector<std::byte> block(1 << 20);
    for (size_t got = block.size(); got == block.size();) {
      got = source.read(block);
      text.append(reinterpret_cast<const char*>(block.data()), got);
    }
    trace_ = parse_trace_csv(text, page_size, source.path());
    page_size_ = trace_.page_size;
    tensor_pages_ = trace_.tensor_pages;
  }

  bool next(std::vector<TraceAccess>& out) override {
    size_t count = std::min(kBlockAccesses, trace_.accesses.size() - done_);
    out.insert(out.end(), trace_.accesses.begin() + static_cast<ptrdiff_t>(done_),
               trace_.accesses.begin() + static_cast<ptrdiff_t>(done_ + count));
    done_ += count;
    return done_ < trace_.accesses.size();
  }

 private:
  Trace trace_;
  size_t done_ = 0;
};

}  // namespace

std::unique_ptr<TraceDecoder> csv_decoder(ByteSource& source, uint64_t page_size) {
  return std::make_unique<CsvDecoder>(source, page_size);
}

void write_csv_trace(const Trace& trace, const std::string& path) {
  FileSink sink(path);
  std::string_view header = "tensor,page,op,count,tier,time_ns,compute_ns\n";
  sink.write(header.data(), header.size());
  fmt::memory_buffer line;
  for (const TraceAccess& a : trace.accesses) {
    line.clear();
    fmt::format_to(std::back_inserter(line), "{},{},{},{},{},{},{}\n", a.tensor, a.first,
                   to_string(a.op), a.count, tier_name(a.tier), a.time_ns, a.compute_ns);
    sink.write(line.data(), line.size());
  }
  sink.close();
}

}  // namespace sim

}  // namespace tiermem
