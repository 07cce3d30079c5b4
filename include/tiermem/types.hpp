// tiermem/types.hpp: the small vocabulary shared by every public call: tiers, access kinds,
// element types and byte ranges.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

#include "tiermem/export.h"

namespace tiermem {

// The tiers, fastest first. A page can hold valid copies in several tiers at once.
enum class Tier : uint8_t { gpu = 0, dram = 1, nvme = 2 };
inline constexpr int kTierCount = 3;

// How a pin will use its bytes.
enum class Access : uint8_t {
  read,        // the caller reads; the pages stay clean
  write,       // the caller overwrites every byte of the range; old contents of whole pages in
               // the range are not fetched, and the pages become dirty
  read_write,  // the caller reads and writes; the pages are fetched and become dirty
};

enum class DType : uint8_t {
  f64,
  f32,
  f16,
  bf16,
  fp8_e4m3,
  fp8_e5m2,
  i64,
  i32,
  i16,
  i8,
  u8,
  boolean,
  // Appended after the first twelve, so that their numeric values stay as they were.
  u16,
  u32,
  u64,
};

// "gpu", "dram", "nvme"; "?" for a value that is no Tier (as for the other enums below).
TIERMEM_API std::string_view to_string(Tier tier) noexcept;
// "read", "write", "read_write".
TIERMEM_API std::string_view to_string(Access access) noexcept;
// The canonical name of a dtype, e.g. "bf16".
TIERMEM_API std::string_view to_string(DType dtype) noexcept;
// Bytes per element; 0 for a value that is no DType.
TIERMEM_API uint32_t dtype_size(DType dtype) noexcept;

// Parse a tier name. Throws Error(invalid_argument) naming the text and the accepted names.
TIERMEM_API Tier parse_tier(std::string_view text);
// Parse a dtype name; accepts the canonical names and the common aliases float32, float16,
// half, bfloat16, float64, double, int64, int32, int16, int8, uint8, bool, uint16,
// uint32, uint64.
// Throws Error(invalid_argument) naming the text and the accepted names.
TIERMEM_API DType parse_dtype(std::string_view text);

// A range of bytes within a tensor. The default range is the whole tensor.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = std::numeric_limits<uint64_t>::max();  // max: up to the end of the tensor

  static constexpr ByteRange whole() noexcept { return {}; }
};

}  // namespace tiermem
