// sim/trace_libcachesim.cpp: reads libCacheSim's trace forms (oracleGeneral, csv, txt), so that
// its traces replay here.
//
// Requests are for objects of a size in bytes; tiermem replays pages of one size. Each distinct
// object becomes a tensor of ceil(size / page size) pages (at least one), declared at its first
// request, and every request accesses all of its pages: a read in dram. An object keeps the
// pages of its first request. Memory follows the distinct objects (an id map and a tensor
// each), never the requests.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include "sim/trace_decoder.hpp"
#include "sim/trace_io.hpp"
#include "tiermem/error.hpp"

namespace tiermem::sim {

namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

#pragma pack(push, 1)
struct OracleRequest {
  uint32_t clock_time;  // seconds
  uint64_t obj_id;
  uint32_t obj_size;          // bytes
  int64_t next_access_vtime;  // the next request for the object, or -1
};
#pragma pack(pop)
static_assert(sizeof(OracleRequest) == 24);

// Maps object ids to tensors, declaring one at an object's first request.
class ObjectTensors {
 public:
  ObjectTensors(uint64_t page_size, std::vector<uint32_t>& tensor_pages)
      : page_size_(page_size), tensor_pages_(tensor_pages) {}

  // The access of a request; fault(why) throws, naming where the request lies.
  template <class Fault>
  TraceAccess request(uint64_t id, uint64_t size, uint64_t seconds, Fault&& fault) {
    auto [it, fresh] = tensors_.try_emplace(id, static_cast<uint32_t>(tensor_pages_.size()));
    if (fresh) {
      uint64_t count = std::max<uint64_t>(1, size / page_size_ + (size % page_size_ != 0));
      pages_ += count;
      if (std::string why = page_count_fault(pages_); !why.empty()) {
        tensors_.erase(it);
        fault(fmt::format("object {} of {} bytes: {}", id, size, why));
      }
      tensor_pages_.push_back(static_cast<uint32_t>(count));
    }
    TraceAccess access;
    access.time_ns = seconds > UINT64_MAX / kNsPerSecond ? UINT64_MAX : seconds * kNsPerSecond;
    access.tensor = it->second;
    access.count = tensor_pages_[it->second];
    return access;
  }

 private:
  uint64_t page_size_;
  std::vector<uint32_t>& tensor_pages_;
  std::unordered_map<uint64_t, uint32_t> tensors_;
  uint64_t pages_ = 0;
};

class OracleDecoder final : public TraceDecoder {
 public:
  OracleDecoder(ByteSource& source, uint64_t page_size)
      : source_(source), objects_(page_size, tensor_pages_), block_(kBlockAccesses) {
    page_size_ = page_size;
  }

  bool next(std::vector<TraceAccess>& out) override {
    size_t bytes = source_.read(std::as_writable_bytes(std::span(block_)));
    size_t records = bytes / sizeof(OracleRequest);
    for (size_t i = 0; i < records; ++i, offset_ += sizeof(OracleRequest)) {
      const OracleRequest& r = block_[i];
      out.push_back(objects_.request(r.obj_id, r.obj_size, r.clock_time, [&](const auto& why) {
        throw Error(Errc::invalid_argument,
                    fmt::format("trace {}: offset {}: {}", source_.path(), offset_, why));
      }));
    }
    if (bytes % sizeof(OracleRequest) != 0) {
      throw Error(Errc::invalid_argument,
                  fmt::format("trace {}: offset {}: truncated: {} bytes of a partial "
                              "oracleGeneral record (24 bytes) at the end",
                              source_.path(), offset_, bytes % sizeof(OracleRequest)));
    }
    return bytes == block_.size() * sizeof(OracleRequest);
  }

 private:
  ByteSource& source_;
  ObjectTensors objects_;
  std::vector<OracleRequest> block_;
  uint64_t offset_ = 0;
};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::optional<uint64_t> integer(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// An object id: the integer, or for other text (libCacheSim's obj-id-is-num=false) its 64-bit
// FNV-1a hash.
uint64_t object_id(std::string_view text) {
  if (std::optional<uint64_t> id = integer(text)) return *id;
  uint64_t hash = 0xcbf29ce484222325;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3;
  return hash;
}

// The columns of a libCacheSim CSV header, by the names its traces and csv reader use.
struct LcsColumns {
  static constexpr std::array<std::string_view, 5> kId = {"obj_id", "object_id", "obj", "id",
                                                          "key"};
  static constexpr std::array<std::string_view, 3> kSize = {"obj_size", "object_size", "size"};
  static constexpr std::array<std::string_view, 4> kTime = {"time", "timestamp", "clock_time",
                                                            "ts"};
  static constexpr size_t kNone = SIZE_MAX;
  char delimiter = ',';
  size_t id = kNone, size = kNone, time = kNone;
  size_t fields = 0;
};

template <class Visit>
size_t split(std::string_view line, char delimiter, Visit&& visit) {
  size_t index = 0;
  for (size_t pos = 0;; ++index) {
    size_t end = line.find(delimiter, pos);
    visit(index, trim(line.substr(pos, end == std::string_view::npos ? end : end - pos)));
    if (end == std::string_view::npos) return index + 1;
    pos = end + 1;
  }
}

LcsColumns lcs_columns(std::string_view header) {
  LcsColumns c;
  c.delimiter =
      header.find(',') == std::string_view::npos && header.find('\t') != std::string_view::npos
          ? '\t'
          : ',';
  c.fields = split(header, c.delimiter, [&](size_t index, std::string_view name) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char ch) { return static_cast<char>(std::tolower(ch)); });
    auto is = [&](const auto& names) {
      return std::find(names.begin(), names.end(), lower) != names.end();
    };
    if (c.id == LcsColumns::kNone && is(LcsColumns::kId)) c.id = index;
    if (c.size == LcsColumns::kNone && is(LcsColumns::kSize)) c.size = index;
    if (c.time == LcsColumns::kNone && is(LcsColumns::kTime)) c.time = index;
  });
  return c;
}

// Lines of a ByteSource, a block at a time.
class LineReader {
 public:
  explicit LineReader(ByteSource& source) : source_(source), buffer_(kBufferBytes) {}

  // The next line, without its newline; false at the end.
  bool next(std::string_view& line) {
    for (;;) {
      size_t newline = std::string_view(buffer_.data() + start_, end_ - start_).find('\n');
      if (newline != std::string_view::npos || (ended_ && start_ < end_)) {
        size_t length = newline == std::string_view::npos ? end_ - start_ : newline;
        line = std::string_view(buffer_.data() + start_, length);
        start_ += std::min(length + 1, end_ - start_);
        ++number_;
        return true;
      }
      if (ended_) return false;
      if (start_ == 0 && end_ == buffer_.size()) {
        throw Error(Errc::invalid_argument, fmt::format("trace {} line {}: longer than {} bytes",
                                                        source_.path(), number_ + 1, kBufferBytes));
      }
      std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
      size_t got = source_.read(std::as_writable_bytes(std::span(buffer_).subspan(end_)));
      ended_ = got < buffer_.size() - end_;
      end_ += got;
    }
  }
  uint64_t number() const noexcept { return number_; }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;
  ByteSource& source_;
  std::vector<char> buffer_;
  size_t start_ = 0, end_ = 0;
  bool ended_ = false;
  uint64_t number_ = 0;
};

class LcsTextDecoder final : public TraceDecoder {
 public:
  LcsTextDecoder(ByteSource& source, uint64_t page_size, bool csv)
      : source_(source), lines_(source), objects_(page_size, tensor_pages_), csv_(csv) {
    page_size_ = page_size;
  }

  bool next(std::vector<TraceAccess>& out) override {
    std::string_view line;
    for (size_t n = 0; n < kBlockAccesses;) {
      if (!lines_.next(line)) return false;
      line = trim(line);
      if (line.empty()) continue;
      if (csv_ && !header_done_) {
        columns_ = lcs_columns(line);
        if (columns_.id == LcsColumns::kNone) {
          fail(fmt::format("the header names no object id column ({})",
                           fmt::join(LcsColumns::kId, ", ")));
        }
        header_done_ = true;
        continue;
      }
      out.push_back(csv_ ? row(line) : request(object_id(line), 0, 0));
      ++n;
    }
    return true;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::invalid_argument,
                fmt::format("trace {} line {}: {}", source_.path(), lines_.number(), what));
  }

  TraceAccess request(uint64_t id, uint64_t size, uint64_t seconds) {
    return objects_.request(id, size, seconds, [&](const std::string& why) { fail(why); });
  }

  TraceAccess row(std::string_view line) {
    std::string_view id_text;
    uint64_t size = 0, seconds = 0;
    size_t fields = split(line, columns_.delimiter, [&](size_t index, std::string_view text) {
      auto number = [&](std::string_view column) {
        std::optional<uint64_t> value = integer(text);
        if (!value) fail(fmt::format("{} '{}' is not an integer in [0, 2^64)", column, text));
        return *value;
      };
      if (index == columns_.id) id_text = text;
      if (index == columns_.size) size = number("obj_size");
      if (index == columns_.time) seconds = number("time");
    });
    if (fields != columns_.fields) {
      fail(fmt::format("{} fields where the header has {}", fields, columns_.fields));
    }
    if (id_text.empty()) fail("empty object id");
    return request(object_id(id_text), size, seconds);
  }

  ByteSource& source_;
  LineReader lines_;
  ObjectTensors objects_;
  bool csv_;
  bool header_done_ = false;
  LcsColumns columns_;
};

bool is_text(std::span<const std::byte> prefix) {
  return std::all_of(prefix.begin(), prefix.end(), [](std::byte b) {
    auto c = static_cast<unsigned char>(b);
    return c >= 0x20 ? c != 0x7f : c == '\n' || c == '\r' || c == '\t';
  });
}

// Whether prefix is a run of oracleGeneral records: each next access is -1 or a later request
// (0- or 1-based), which a text or random file breaks within a few records. A partial record at
// the end is left to the decoder, which reports the file truncated.
bool is_oracle_general(std::span<const std::byte> prefix) {
  size_t records = prefix.size() / sizeof(OracleRequest);
  if (records == 0) return false;
  for (size_t i = 0; i < records; ++i) {
    OracleRequest r;
    std::memcpy(&r, prefix.data() + i * sizeof r, sizeof r);
    if (r.next_access_vtime != -1 && r.next_access_vtime <= static_cast<int64_t>(i)) return false;
  }
  return true;
}

constexpr std::string_view kForms =
    "tiermem binary (starts with TMTRACE1), zstd-compressed (starts with 28 B5 2F FD), "
    "libCacheSim oracleGeneral (24-byte records: u32 time, u64 object id, u32 size, i64 next "
    "access: -1 or a later request), tiermem CSV (a header naming tensor,page,op), libCacheSim "
    "CSV (a header naming obj_id) or libCacheSim txt (an object id per line)";

}  // namespace

std::string_view form_name(InputForm form) noexcept {
  switch (form) {
    case InputForm::binary:
      return "binary";
    case InputForm::csv:
      return "csv";
    case InputForm::oracle_general:
      return "oracleGeneral";
    case InputForm::lcs_csv:
      return "libCacheSim csv";
    case InputForm::lcs_txt:
      return "libCacheSim txt";
  }
  return "?";
}

InputForm detect_form(std::span<const std::byte> prefix, std::string_view origin) {
  auto unknown = [&](const std::string& why) {
    return Error(Errc::invalid_argument,
                 fmt::format("trace {}: {}; expected {}", origin, why, kForms));
  };
  if (prefix.empty()) throw unknown("empty");
  if (is_binary_trace(prefix)) return InputForm::binary;
  if (is_text(prefix)) {
    std::string_view text(reinterpret_cast<const char*>(prefix.data()), prefix.size());
    size_t start = text.find_first_not_of(" \t\r\n");
    std::string_view line = text.substr(start == std::string_view::npos ? text.size() : start);
    line = trim(line.substr(0, line.find('\n')));
    if (line.empty()) throw unknown("only blank lines");
    if (integer(line)) return InputForm::lcs_txt;
    LcsColumns columns = lcs_columns(line);
    bool tiermem_header = false, all_integers = true;
    split(line, columns.delimiter, [&](size_t, std::string_view name) {
      tiermem_header |= name == "tensor" || name == "page" || name == "op";
      all_integers &= integer(name).has_value();
    });
    if (tiermem_header) return InputForm::csv;
    if (columns.id != LcsColumns::kNone) return InputForm::lcs_csv;
    if (all_integers) {
      throw unknown(
          fmt::format("a CSV without a header ('{}'): name its columns in a first line (e.g. "
                      "time,obj_id,obj_size)",
                      line.substr(0, 80)));
    }
    throw unknown(
        fmt::format("the first line '{}' names none of tiermem's columns (tensor, "
                    "page, op) nor an object id column ({})",
                    line.substr(0, 80), fmt::join(LcsColumns::kId, ", ")));
  }
  if (is_oracle_general(prefix)) return InputForm::oracle_general;
  throw unknown("not a form tiermem reads");
}

std::unique_ptr<TraceDecoder> oracle_decoder(ByteSource& source, uint64_t page_size) {
  return std::make_unique<OracleDecoder>(source, page_size);
}

std::unique_ptr<TraceDecoder> libcachesim_text_decoder(ByteSource& source, uint64_t page_size,
                                                       bool csv) {
  return std::make_unique<LcsTextDecoder>(source, page_size, csv);
}

}  // namespace tiermem::sim
