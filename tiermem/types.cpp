// tiermem/types.cpp: names of tiers, access kinds, dtypes and error codes, and their parsers.
#include <fmt/format.h>

#include <array>
#include <string>

#include "tiermem/error.hpp"
#include "tiermem/types.hpp"

namespace tiermem {

namespace {

struct DTypeRow {
  DType dtype;
  std::string_view name;
  uint32_t size;
  std::string_view alias1;
  std::string_view alias2;
};

constexpr DTypeRow kDTypes[] = {
    {DType::f64, "f64", 8, "float64", "double"},
    {DType::f32, "f32", 4, "float32", "float"},
    {DType::f16, "f16", 2, "float16", "half"},
    {DType::bf16, "bf16", 2, "bfloat16", ""},
    {DType::fp8_e4m3, "fp8_e4m3", 1, "float8_e4m3fn", ""},
    {DType::fp8_e5m2, "fp8_e5m2", 1, "float8_e5m2", ""},
    {DType::i64, "i64", 8, "int64", ""},
    {DType::i32, "i32", 4, "int32", "int"},
    {DType::i16, "i16", 2, "int16", ""},
    {DType::i8, "i8", 1, "int8", ""},
    {DType::u8, "u8", 1, "uint8", ""},
    {DType::boolean, "bool", 1, "boolean", ""},
    {DType::u16, "u16", 2, "uint16", ""},
    {DType::u32, "u32", 4, "uint32", ""},
    {DType::u64, "u64", 8, "uint64", ""},
};

constexpr std::string_view kTierNames[kTierCount] = {"gpu", "dram", "nvme"};

}  // namespace

std::string_view to_string(Tier tier) noexcept {
  return static_cast<unsigned>(tier) < kTierCount ? kTierNames[static_cast<int>(tier)] : "?";
}

std::string_view to_string(Access access) noexcept {
  switch (access) {
    case Access::read:
      return "read";
    case Access::write:
      return "write";
    case Access::read_write:
      return "read_write";
  }
  return "?";
}

std::string_view to_string(DType dtype) noexcept {
  return static_cast<size_t>(dtype) < std::size(kDTypes) ? kDTypes[static_cast<int>(dtype)].name
                                                         : "?";
}

uint32_t dtype_size(DType dtype) noexcept {
  return static_cast<size_t>(dtype) < std::size(kDTypes) ? kDTypes[static_cast<int>(dtype)].size
                                                         : 0;
}

Tier parse_tier(std::string_view text) {
  for (int i = 0; i < kTierCount; ++i) {
    if (kTierNames[i] == text) return static_cast<Tier>(i);
  }
  throw Error(Errc::invalid_argument,
              fmt::format("unknown tier '{}' (known: gpu, dram, nvme)", text));
}

DType parse_dtype(std::string_view text) {
  std::string known;
  for (const DTypeRow& row : kDTypes) {
    if (!text.empty() && (text == row.name || text == row.alias1 || text == row.alias2)) {
      return row.dtype;
    }
    known += known.empty() ? "" : ", ";
    known += row.name;
  }
  throw Error(Errc::invalid_argument, fmt::format("unknown dtype '{}' (known: {})", text, known));
}

const char* to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::config:
      return "config";
    case Errc::out_of_space:
      return "out_of_space";
    case Errc::tier_full:
      return "tier_full";
    case Errc::busy:
      return "busy";
    case Errc::released:
      return "released";
    case Errc::io:
      return "io";
    case Errc::unsupported:
      return "unsupported";
    case Errc::system:
      return "system";
    case Errc::corrupt:
      return "corrupt";
  }
  return "?";
}

}  // namespace tiermem
