// tests/test_config.cpp: the configuration key table, JSON files, sizes and validation.
#include <fstream>

#include "tests/test_support.hpp"
#include "tiermem/config.hpp"
#include "tiermem/types.hpp"

namespace tiermem {
namespace {

using testing::expect_error;

TEST(Size, ParsesBytesAndBinaryUnits) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("64KiB"), 64u << 10);
  EXPECT_EQ(parse_size("2M"), 2u << 20);
  EXPECT_EQ(parse_size("3GB"), 3ull << 30);
  EXPECT_EQ(parse_size("1 TiB"), 1ull << 40);
  EXPECT_EQ(format_size(256ull << 20), "256MiB");
  EXPECT_EQ(format_size(1536ull << 10), "1536KiB");
  EXPECT_EQ(format_size(1000), "1000B");
}

TEST(Size, RejectsGarbageAndOverflow) {
  expect_error([] { parse_size("lots"); }, Errc::config, {"'lots'", "KiB"});
  expect_error([] { parse_size("12XB"); }, Errc::config, {"'12XB'"});
  expect_error([] { parse_size(""); }, Errc::config, {"invalid size"});
  expect_error([] { parse_size("20000000TiB"); }, Errc::config, {"overflows"});
}

TEST(Config, SetAndGetEveryKindOfField) {
  Config config;
  config.set("dram.capacity", "512MiB");
  config.set("io.threads", "8");
  config.set("dram.numa_node", "-1");
  config.set("nvme.direct", "false");
  config.set("nvme.dirs", "/a,/b");
  config.set("policy.eviction", "lru");
  EXPECT_EQ(config.dram.capacity, 512ull << 20);
  EXPECT_EQ(config.io.threads, 8u);
  EXPECT_FALSE(config.nvme.direct);
  EXPECT_EQ(config.nvme.dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(config.get("dram.capacity"), "512MiB");
  EXPECT_EQ(config.get("nvme.dirs"), "/a,/b");
  EXPECT_EQ(config.get("nvme.direct"), "false");
}

TEST(Config, BadKeysAndValuesNameThemselvesAndChangeNothing) {
  Config config;
  expect_error([&] { config.set("dram.capcity", "1GiB"); }, Errc::config,
               {"'dram.capcity'", "dram.capacity"});
  expect_error([&] { config.set("io.threads", "many"); }, Errc::config, {"io.threads", "'many'"});
  expect_error([&] { config.set("io.threads", "-3"); }, Errc::config, {"io.threads"});
  expect_error([&] { config.set("nvme.direct", "perhaps"); }, Errc::config, {"'perhaps'"});
  expect_error([&] { config.set("dram.capacity", "1 bushel"); }, Errc::config,
               {"dram.capacity", "'1 bushel'"});
  EXPECT_EQ(config.dram.capacity, Config().dram.capacity);
  EXPECT_EQ(config.io.threads, Config().io.threads);
}

TEST(Config, EveryKeyRoundTripsThroughJson) {
  Config config;
  config.set("page_size", "1MiB");
  config.set("nvme.dirs", "/x,/y");
  config.set("gpu.capacity", "3GiB");
  Config again = Config::from_json(config.to_json());
  for (const ConfigKeyInfo& key : Config::keys()) {
    EXPECT_EQ(again.get(key.name), config.get(key.name)) << key.name;
  }
}

TEST(Config, LoadsNestedAndDottedJsonFiles) {
  testing::ScratchDir dir;
  std::string path = dir.path() + "/pool.json";
  std::ofstream(path) << R"({"dram": {"capacity": "2GiB", "pinned": false},
                             "nvme.dirs": ["/d1", "/d2"], "io": {"queue_depth": 64}})";
  Config config = Config::from_file(path);
  EXPECT_EQ(config.dram.capacity, 2ull << 30);
  EXPECT_FALSE(config.dram.pinned);
  EXPECT_EQ(config.nvme.dirs.size(), 2u);
  EXPECT_EQ(config.io.queue_depth, 64u);
}

TEST(Config, MalformedFilesSayWhereAndWhat) {
  testing::ScratchDir dir;
  std::string path = dir.path() + "/bad.json";
  std::ofstream(path) << "{\n  \"dram\": {\"capacity\": \"1GiB\",,}\n}";
  expect_error([&] { Config::from_file(path); }, Errc::config, {path + ":2:", "malformed JSON"});
  std::ofstream(path, std::ios::trunc) << "[1, 2]";
  expect_error([&] { Config::from_file(path); }, Errc::config, {"must be a JSON object"});
  std::ofstream(path, std::ios::trunc) << R"({"dram": {"capacity": 1.5}})";
  expect_error([&] { Config::from_file(path); }, Errc::config, {path, "dram.capacity"});
  std::ofstream(path, std::ios::trunc) << R"({"dram": {"volume": 1}})";
  expect_error([&] { Config::from_file(path); }, Errc::config, {"'dram.volume'"});
  expect_error([&] { Config::from_file(dir.path() + "/missing.json"); }, Errc::config,
               {"cannot read config file"});
}

TEST(Config, ValidateNamesTheFieldTheValueAndTheLimit) {
  auto invalid = [](auto change, std::initializer_list<std::string> fragments) {
    Config config;
    change(config);
    expect_error([&] { config.validate(); }, Errc::invalid_argument, fragments);
  };
  invalid([](Config& c) { c.page_size = 3 << 20; }, {"page_size 3MiB", "power of two"});
  invalid([](Config& c) { c.page_size = 32 << 10; }, {"page_size 32KiB", "64KiB to 64MiB"});
  invalid([](Config& c) { c.page_size = 128ull << 20; }, {"page_size 128MiB"});
  invalid([](Config& c) { c.dram.capacity = 1 << 20; }, {"dram.capacity 1MiB", "one page (2MiB)"});
  invalid([](Config& c) { c.gpu.capacity = 1 << 20; }, {"gpu.capacity 1MiB", "0 for no gpu"});
  invalid([](Config& c) { c.nvme.capacity = 1 << 20; }, {"nvme.capacity 1MiB"});
  invalid([](Config& c) { c.nvme.stripe = 3 << 20; }, {"nvme.stripe 3MiB", "multiple"});
  invalid([](Config& c) { c.io.threads = 0; }, {"io.threads 0", "1 to 256"});
  invalid([](Config& c) { c.io.queue_depth = 5000; }, {"io.queue_depth 5000"});
  invalid([](Config& c) { c.io.block_size = 1000; }, {"io.block_size"});
  invalid([](Config& c) { c.io.engine = "aio"; }, {"io.engine 'aio'"});
  invalid([](Config& c) { c.gpu.backend = "rocm"; }, {"gpu.backend 'rocm'"});
  invalid([](Config& c) { c.gpu.direct_storage = "yes"; }, {"gpu.direct_storage 'yes'"});
  invalid([](Config& c) { c.dram.huge_pages = "yes"; }, {"dram.huge_pages 'yes'"});
  Config fine;
  EXPECT_NO_THROW(fine.validate());
}

TEST(Types, DtypesByNameAndAlias) {
  EXPECT_EQ(parse_dtype("bf16"), DType::bf16);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
  EXPECT_EQ(parse_dtype("half"), DType::f16);
  EXPECT_EQ(parse_dtype("float32"), DType::f32);
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::fp8_e4m3), 1u);
  EXPECT_EQ(to_string(DType::i32), "i32");
  expect_error([] { parse_dtype("f24"); }, Errc::invalid_argument, {"'f24'", "bf16"});
  expect_error([] { parse_dtype(""); }, Errc::invalid_argument, {"unknown dtype"});
  EXPECT_EQ(parse_tier("nvme"), Tier::nvme);
  expect_error([] { parse_tier("tape"); }, Errc::invalid_argument, {"'tape'"});
}

}  // namespace
}  // namespace tiermem
