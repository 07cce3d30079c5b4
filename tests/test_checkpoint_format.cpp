// tests/test_checkpoint_format.cpp: the safetensors header and shard index readers
// (include/tiermem/checkpoint.hpp): files made by hand, one for each check the reader makes.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/test_support.hpp"
#include "tiermem/checkpoint.hpp"

namespace tiermem {
namespace {

using testing::expect_error;
using testing::ScratchDir;

// A .safetensors file: the length of header, header, then data_bytes bytes.
std::string write_file(const ScratchDir& dir, const std::string& header, uint64_t data_bytes,
                       const std::string& name = "t.safetensors") {
  const std::string path = dir.path() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  const uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(length >> (8 * i)));
  out << header << std::string(data_bytes, '\x5a');
  return path;
}

std::string write_text(const ScratchDir& dir, const std::string& text, const std::string& name) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(SafetensorsHeader, ReadsEveryDtypeShapeOffsetAndMetadata) {
  ScratchDir dir;
  const std::string header =
      R"({"b": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [4, 16]},)"
      R"( "a": {"dtype": "U32", "shape": [], "data_offsets": [0, 4]},)"
      R"( "z": {"dtype": "F8_E5M2", "shape": [0, 7], "data_offsets": [16, 16]},)"
      R"( "__metadata__": {"format": "pt", "step": "7"}})"
      "    ";
  const std::string path = write_file(dir, header, 16);
  const SafetensorsFile file = read_safetensors_header(path);
  EXPECT_EQ(file.path, path);
  EXPECT_EQ(file.data_offset, 8 + header.size());
  ASSERT_EQ(file.tensors.size(), 3u);
  EXPECT_EQ(file.tensors[0].name, "a");  // data order
  EXPECT_EQ(file.tensors[0].dtype, DType::u32);
  EXPECT_TRUE(file.tensors[0].shape.empty());
  EXPECT_EQ(file.tensors[1].name, "b");
  EXPECT_EQ(file.tensors[1].dtype, DType::bf16);
  EXPECT_EQ(file.tensors[1].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(file.tensors[1].begin, 4u);
  EXPECT_EQ(file.tensors[1].end, 16u);
  EXPECT_EQ(file.tensors[2].dtype, DType::fp8_e5m2);
  EXPECT_EQ(file.tensors[2].size_bytes(), 0u);
  EXPECT_EQ(file.metadata.at("step"), "7");
  ASSERT_NE(file.find("b"), nullptr);
  EXPECT_EQ(file.find("nope"), nullptr);
}

TEST(SafetensorsHeader, MapsEveryDtypeTiermemHas) {
  const std::pair<const char*, DType> names[] = {
      {"BOOL", DType::boolean},    {"U8", DType::u8},
      {"I8", DType::i8},           {"I16", DType::i16},
      {"U16", DType::u16},         {"F16", DType::f16},
      {"BF16", DType::bf16},       {"I32", DType::i32},
      {"U32", DType::u32},         {"F32", DType::f32},
      {"F64", DType::f64},         {"I64", DType::i64},
      {"U64", DType::u64},         {"F8_E4M3", DType::fp8_e4m3},
      {"F8_E5M2", DType::fp8_e5m2}};
  ScratchDir dir;
  for (const auto& [name, dtype] : names) {
    const uint64_t bytes = 3 * dtype_size(dtype);
    const std::string path =
        write_file(dir,
                   std::string(R"({"x": {"dtype": ")") + name +
                       R"(", "shape": [3], "data_offsets": [0, )" + std::to_string(bytes) + "]}}",
                   bytes);
    EXPECT_EQ(read_safetensors_header(path).tensors.at(0).dtype, dtype) << name;
  }
}

struct BadHeader {
  const char* what;
  std::string header;
  uint64_t data_bytes;
  Errc code;
  std::vector<std::string> fragments;
};

TEST(SafetensorsHeader, RefusesEachBrokenRuleNamingFileTensorValueAndLimit) {
  const std::string ok = R"("a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  const BadHeader cases[] = {
      {"syntax", R"({"a": {"dtype": "F32",)", 0, Errc::corrupt, {"not valid JSON"}},
      {"not an object", "[1, 2]", 0, Errc::corrupt, {"not a JSON object"}},
      {"unknown dtype",
       R"({"a": {"dtype": "F8_E8M0", "shape": [1], "data_offsets": [0, 1]}})",
       1,
       Errc::unsupported,
       {"'a'", "F8_E8M0", "lacks", "F8_E4M3"}},
      {"complex dtype",
       R"({"c": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}})",
       8,
       Errc::unsupported,
       {"'c'", "C64"}},
      {"size mismatch",
       R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
       8,
       Errc::corrupt,
       {"'a'", "hold 8 bytes", "needs 12"}},
      {"reversed offsets",
       R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [8, 0]}})",
       8,
       Errc::corrupt,
       {"'a'", "[8, 0]"}},
      {"negative",
       R"({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}})",
       0,
       Errc::corrupt,
       {"'a'", "shape holds -1"}},
      {"missing field",
       R"({"a": {"dtype": "U8", "shape": [1]}})",
       1,
       Errc::corrupt,
       {"'a'", "two data_offsets"}},
      {"hole",
       "{" + ok + R"(, "b": {"dtype": "U8", "shape": [1], "data_offsets": [9, 10]}})",
       10,
       Errc::corrupt,
       {"'a' ends at 8", "'b' begins at 9", "a hole of 1"}},
      {"overlap",
       "{" + ok + R"(, "b": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]}})",
       8,
       Errc::corrupt,
       {"an overlap"}},
      {"data left over", "{" + ok + "}", 9, Errc::corrupt, {"end at 8", "9 bytes", "left over"}},
      {"truncated", "{" + ok + "}", 7, Errc::corrupt, {"end at 8", "7 bytes", "truncated"}},
      {"duplicate", "{" + ok + ", " + ok + "}", 8, Errc::corrupt, {"'a' appears twice"}},
      {"bad metadata",
       "{" + ok + R"(, "__metadata__": {"k": 1}})",
       8,
       Errc::corrupt,
       {"__metadata__ 'k'", "not a string"}},
      {"empty name",
       R"({"": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}})",
       0,
       Errc::corrupt,
       {"empty name"}},
      {"trailing junk", "{" + ok + "} x", 8, Errc::corrupt, {"not valid JSON"}},
  };
  ScratchDir dir;
  for (const BadHeader& bad : cases) {
    SCOPED_TRACE(bad.what);
    const std::string path = write_file(dir, bad.header, bad.data_bytes);
    std::vector<std::string> fragments = bad.fragments;
    fragments.push_back(path);
    try {
      read_safetensors_header(path);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), bad.code) << e.what();
      for (const std::string& fragment : fragments) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
            << "'" << e.what() << "' lacks '" << fragment << "'";
      }
    }
  }
}

TEST(SafetensorsHeader, RefusesLengthsBeyondTheFileOrTheCap) {
  ScratchDir dir;
  const std::string short_path = write_text(dir, "abc", "short.safetensors");
  expect_error([&] { read_safetensors_header(short_path); }, Errc::corrupt,
               {short_path, "3 bytes", "fewer than the 8"});
  const std::string past = dir.path() + "/past.safetensors";
  {
    std::ofstream out(past, std::ios::binary);
    const uint64_t length = 1000;
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(length >> (8 * i)));
    out << "{}";
  }
  expect_error([&] { read_safetensors_header(past); }, Errc::corrupt,
               {past, "header length 1000", "10 bytes"});
  const std::string huge = dir.path() + "/huge.safetensors";
  {
    std::ofstream out(huge, std::ios::binary);
    const uint64_t length = uint64_t{1} << 40;
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(length >> (8 * i)));
  }
  expect_error([&] { read_safetensors_header(huge); }, Errc::corrupt,
               {huge, "1099511627776", "limit of 104857600"});
  expect_error([&] { read_safetensors_header(dir.path() + "/missing"); }, Errc::system,
               {"missing", "errno"});
}

TEST(SafetensorsIndex, ReadsShardsAndWeightMap) {
  ScratchDir dir;
  const std::string path = write_text(
      dir,
      R"({"metadata": {"total_size": 123}, "weight_map": {"a": "model-00002-of-00002.safetensors",)"
      R"( "b": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})",
      "model.safetensors.index.json");
  const SafetensorsIndex index = read_safetensors_index(path);
  EXPECT_EQ(index.total_size, 123u);
  EXPECT_EQ(index.shards, (std::vector<std::string>{"model-00001-of-00002.safetensors",
                                                    "model-00002-of-00002.safetensors"}));
  EXPECT_EQ(index.weight_map.at("a"), "model-00002-of-00002.safetensors");
  EXPECT_EQ(index.shard_path(index.shards[0]), dir.path() + "/model-00001-of-00002.safetensors");
}

TEST(SafetensorsIndex, RefusesPathsOutsideItsDirectoryAndBadFields) {
  ScratchDir dir;
  const std::pair<std::string, std::string> cases[] = {
      {R"({"weight_map": {"a": "../etc/passwd"}})", "weight_map 'a'"},
      {R"({"weight_map": {"a": 3}})", "weight_map 'a'"},
      {R"({"metadata": {"total_size": -4}, "weight_map": {}})", "total_size is -4"},
      {R"({"weights": {}})", "weight_map object"},
      {R"({"weight_map": )", "not valid JSON"},
  };
  for (const auto& [text, fragment] : cases) {
    const std::string path = write_text(dir, text, "index.json");
    expect_error([&] { read_safetensors_index(path); }, Errc::corrupt, {path, fragment});
  }
}

}  // namespace
}  // namespace tiermem
