// sim/trace_decoder.hpp: the decoders behind TraceReader, one per form a trace file may take,
// each reading a ByteSource (so zstd-compressed files too), and the detection of the form by
// content.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "sim/byte_source.hpp"
#include "tiermem/trace.hpp"

namespace tiermem::sim {

enum class InputForm {
  binary,          // tiermem's binary form
  csv,             // tiermem's CSV form
  oracle_general,  // libCacheSim's oracleGeneral
  lcs_csv,         // libCacheSim's CSV: a header naming the object id's column
  lcs_txt,         // libCacheSim's txt: one object id per line
};

// "binary", "csv", "oracleGeneral", "libCacheSim csv", "libCacheSim txt".
std::string_view form_name(InputForm form) noexcept;

// The form of content that begins with prefix. Throws Error(invalid_argument) naming origin and
// the forms expected when none fits.
InputForm detect_form(std::span<const std::byte> prefix, std::string_view origin);

class TraceDecoder {
 public:
  virtual ~TraceDecoder() = default;
  // Appends the next accesses, about a block's worth, to out; false once the content ends
  // (having appended what remained).
  virtual bool next(std::vector<TraceAccess>& out) = 0;

  uint64_t page_size() const noexcept { return page_size_; }
  const std::vector<uint32_t>& tensor_pages() const noexcept { return tensor_pages_; }

 protected:
  uint64_t page_size_ = 0;
  std::vector<uint32_t> tensor_pages_;
};

// Accesses per block a decoder yields. Fuzz builds define a few, so that small inputs cross
// blocks too.
#ifndef TIERMEM_TRACE_BLOCK_RECORDS
#define TIERMEM_TRACE_BLOCK_RECORDS (1 << 16)
#endif
inline constexpr size_t kBlockAccesses = TIERMEM_TRACE_BLOCK_RECORDS;

// page_size: the pages of forms that do not say theirs (every form but binary).
std::unique_ptr<TraceDecoder> make_decoder(InputForm form, ByteSource& source, uint64_t page_size);

std::unique_ptr<TraceDecoder> binary_decoder(ByteSource& source);
std::unique_ptr<TraceDecoder> csv_decoder(ByteSource& source, uint64_t page_size);
std::unique_ptr<TraceDecoder> oracle_decoder(ByteSource& source, uint64_t page_size);
std::unique_ptr<TraceDecoder> libcachesim_text_decoder(ByteSource& source, uint64_t page_size,
                                                       bool csv);

}  // namespace tiermem::sim
