// sim/trace_binary.cpp: reads the binary trace form: a decoder that takes records a block at a
// time and decodes them in place, so that a replay needs memory for one block, not the trace.
#include <fmt/format.h>

#include <cstddef>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "sim/file_io.hpp"
#include "sim/trace_decoder.hpp"
#include "sim/trace_format.hpp"
#include "sim/trace_io.hpp"
#include "tiermem/error.hpp"

namespace tiermem::sim {

namespace {

class BinaryDecoder final : public TraceDecoder {
 public:
  explicit BinaryDecoder(ByteSource& source) : source_(source) { header(); }

  bool next(std::vector<TraceAccess>& out) override {
    // The caller's out may hold accesses of its own: compute spans fold into ours only.
    size_t mine = out.size();
    if (held_) {
      out.push_back(last_);
      held_ = false;
    }
    // At least one block, for the compute spans of the access held back; more until one
    // yields an access beyond it.
    do {
      read_block(out, mine);
      // Compute spans after the last access may lie in the next block: hold it back.
      if (!ended_ && out.size() > mine) {
        last_ = out.back();
        out.pop_back();
        held_ = true;
      }
    } while (!ended_ && out.size() == mine);
    return !ended_;
  }

 private:
  static constexpr uint32_t kUndeclared = UINT32_MAX;
  // File tensor ids are labels the writer chose (a live pool's table slots: small and dense),
  // not counts. Ids below this bound map through a vector, the rest through a hash map, so
  // memory follows the declarations in the file, never the value of an id.
  static constexpr uint32_t kDenseIds = 1 << 20;

  [[noreturn]] void fault(uint64_t at, const std::string& what) const {
    throw Error(Errc::invalid_argument,
                fmt::format("trace {}: offset {}: {}", source_.path(), at, what));
  }

  void header() {
    format::Header h{};
    size_t got = source_.read(std::as_writable_bytes(std::span(&h, 1)));
    if (got < sizeof format::kMagic || !is_binary_trace(std::as_bytes(std::span(&h, 1)))) {
      fault(0, "not a binary trace (no TMTRACE1 magic)");
    }
    if (h.version != format::kVersion) {
      fault(8, fmt::format("version {} is not supported (this build reads version {})", h.version,
                           format::kVersion));
    }
    if (got < format::kHeaderBytes) {
      fault(got, fmt::format("truncated: the file ends inside its {}-byte header",
                             format::kHeaderBytes));
    }
    if (h.header_bytes < format::kHeaderBytes || h.record_bytes != format::kRecordBytes) {
      fault(12, fmt::format("header of {} bytes with {}-byte records; version 1 has {} and {}",
                            h.header_bytes, h.record_bytes, format::kHeaderBytes,
                            format::kRecordBytes));
    }
    if (std::string why = page_size_fault(h.page_size); !why.empty()) {
      fault(offsetof(format::Header, page_size), why);
    }
    page_size_ = h.page_size;
    promised_ = h.record_count;
    offset_ = format::kHeaderBytes;
    block_.resize(kBlockAccesses * format::kRecordBytes);
    // A longer header (a later minor version) is skipped.
    for (uint64_t skip = h.header_bytes - offset_; skip > 0;) {
      size_t step = std::min<uint64_t>(skip, block_.size());
      size_t read = source_.read(std::span(block_).first(step));
      offset_ += read;
      if (read < step) {
        fault(offset_,
              fmt::format("truncated: the file ends inside its {}-byte header", h.header_bytes));
      }
      skip -= step;
    }
  }

  // The trace id of file tensor id, kUndeclared when it was never declared.
  uint32_t lookup(uint32_t id) const {
    if (id < kDenseIds) return id < ids_.size() ? ids_[id] : kUndeclared;
    auto it = sparse_ids_.find(id);
    return it == sparse_ids_.end() ? kUndeclared : it->second;
  }

  void declare(uint32_t id, uint32_t trace_id) {
    if (id >= kDenseIds) {
      sparse_ids_[id] = trace_id;
      return;
    }
    if (id >= ids_.size()) ids_.resize(id + 1, kUndeclared);
    ids_[id] = trace_id;
  }

  void read_block(std::vector<TraceAccess>& out, size_t mine) {
    size_t bytes = source_.read(block_);
    size_t partial = bytes % format::kRecordBytes;
    for (size_t at = 0; at + format::kRecordBytes <= bytes; at += format::kRecordBytes) {
      format::Record record;
      std::memcpy(&record, block_.data() + at, sizeof record);
      decode(record, out, mine);
      offset_ += format::kRecordBytes;
      ++records_;
    }
    if (bytes == block_.size()) return;
    ended_ = true;
    if (partial != 0) {
      fault(offset_, fmt::format("truncated: {} bytes of a partial record at the end", partial));
    }
    if (promised_ != 0 && promised_ != records_) {
      fault(offset_, fmt::format("truncated: the header promises {} records, the file holds {}",
                                 promised_, records_));
    }
  }

  void decode(const format::Record& r, std::vector<TraceAccess>& out, size_t mine) {
    switch (r.kind) {
      case format::kRead:
      case format::kWrite:
      case format::kReadWrite:
      case format::kPrefetch: {
        uint32_t tensor = lookup(r.tensor);
        if (tensor == kUndeclared) {
          fault(offset_, fmt::format("access to tensor {}, which was not declared", r.tensor));
        }
        // Checked here, once per record, so that a streamed replay need not check each access.
        if (r.count == 0) fault(offset_, fmt::format("access to no pages of tensor {}", r.tensor));
        if (uint64_t{r.first} + r.count > tensor_pages_[tensor]) {
          fault(offset_, fmt::format("access to pages {}+{} of tensor {}, which has {}", r.first,
                                     r.count, r.tensor, tensor_pages_[tensor]));
        }
        if (r.tier > 1) {
          fault(offset_,
                fmt::format("access in tier {}; only 0 (gpu) and 1 (dram) are accessed", r.tier));
        }
        out.push_back({r.time_ns, 0, tensor, r.first, r.count, static_cast<TraceOp>(r.kind),
                       static_cast<Tier>(r.tier)});
        break;
      }
      case format::kTensor:
        // One trace tensor per declaration record, so there are fewer than 2^32 of them.
        declare(r.tensor, static_cast<uint32_t>(tensor_pages_.size()));
        tensor_pages_.push_back(r.count);
        pages_ += r.count;
        if (std::string why = page_count_fault(pages_); !why.empty()) fault(offset_, why);
        break;
      case format::kComputeBegin:
        if (span_open_) fault(offset_, "compute span begins inside another");
        span_open_ = true;
        span_begin_ = r.time_ns;
        break;
      case format::kComputeEnd:
        if (!span_open_) fault(offset_, "compute span ends without beginning");
        if (r.time_ns < span_begin_) fault(offset_, "compute span ends before it begins");
        span_open_ = false;
        if (out.size() > mine) out.back().compute_ns += r.time_ns - span_begin_;
        break;
      default:
        fault(offset_, fmt::format("unknown record kind {}", r.kind));
    }
  }

  ByteSource& source_;
  uint64_t offset_ = 0;    // of the next record to decode
  uint64_t records_ = 0;   // decoded
  uint64_t promised_ = 0;  // by the header; 0: unknown
  bool ended_ = false;
  std::vector<std::byte> block_;
  uint64_t pages_ = 0;         // of all tensors declared
  std::vector<uint32_t> ids_;  // file tensor id -> trace tensor id, for ids below kDenseIds
  std::unordered_map<uint32_t, uint32_t> sparse_ids_;  // the same for ids from kDenseIds up
  bool span_open_ = false;
  uint64_t span_begin_ = 0;
  // The last access of a block, held back for the next call: compute spans after it may lie
  // in the next block.
  bool held_ = false;
  TraceAccess last_;
};

}  // namespace

std::unique_ptr<TraceDecoder> binary_decoder(ByteSource& source) {
  return std::make_unique<BinaryDecoder>(source);
}

bool is_binary_trace(std::span<const std::byte> prefix) {
  return prefix.size() >= sizeof format::kMagic &&
         std::memcmp(prefix.data(), format::kMagic, sizeof format::kMagic) == 0;
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
