// sim/trace_format.hpp: the layout of the binary trace form (see tiermem/trace.hpp), shared by
// its reader and writer.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace tiermem::sim::format {

static_assert(std::endian::native == std::endian::little,
              "trace files are little-endian and read in place");

inline constexpr char kMagic[8] = {'T', 'M', 'T', 'R', 'A', 'C', 'E', '1'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kHeaderBytes = 64;
inline constexpr uint32_t kRecordBytes = 24;
inline constexpr uint64_t kCountOffset = 24;  // where the header keeps the record count

enum Kind : uint8_t {
  kRead = 0,
  kWrite = 1,
  kReadWrite = 2,
  kPrefetch = 3,
  kTensor = 8,
  kComputeBegin = 9,
  kComputeEnd = 10,
};

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t page_size;
  uint64_t record_count;
  uint32_t record_bytes;
  uint8_t reserved[28];
};
static_assert(sizeof(Header) == kHeaderBytes);
static_assert(offsetof(Header, record_count) == kCountOffset);

struct Record {
  uint64_t time_ns;
  uint32_t tensor;
  uint32_t first;
  uint32_t count;
  uint8_t kind;
  uint8_t tier;
  uint16_t reserved;
};
static_assert(sizeof(Record) == kRecordBytes);

}  // namespace tiermem::sim::format
