// tests/test_config.cpp: the configuration key table, JSON files, sizes and validation.
#include <cstdlib>
#include <filesystem>
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

TEST(Size, ParsesFioAndDdSpellingsAsPowersOf1024) {
  EXPECT_EQ(parse_size("4k"), 4096u);
  EXPECT_EQ(parse_size("4K"), 4096u);
  EXPECT_EQ(parse_size("4kb"), 4096u);
  EXPECT_EQ(parse_size("4kB"), 4096u);  // dd would say 4000; fio and tiermem say 4096
  EXPECT_EQ(parse_size("4kib"), 4096u);
  EXPECT_EQ(parse_size("1m"), 1u << 20);
  EXPECT_EQ(parse_size("256m"), 256u << 20);
  EXPECT_EQ(parse_size("2g"), 2ull << 30);
  EXPECT_EQ(parse_size("1t"), 1ull << 40);
  EXPECT_EQ(parse_size("100b"), 100u);
  EXPECT_EQ(parse_size("4 k"), 4096u);
  EXPECT_EQ(parse_size("0"), 0u);
}

TEST(Size, RoundsFractionsToWholeBytes) {
  EXPECT_EQ(parse_size("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_size("1.5k"), 1536u);
  EXPECT_EQ(parse_size("0.1k"), 102u);  // 102.4
  EXPECT_EQ(parse_size("0.5"), 1u);     // half rounds up
  EXPECT_EQ(parse_size("2.25 MiB"), 2359296u);
  EXPECT_EQ(parse_size("7."), 7u);
  // Digits past the 18th change nothing that rounds to a byte.
  EXPECT_EQ(parse_size("0.0000000000000000009999t"), 0u);
  EXPECT_EQ(parse_size("16777215.5T"), (16777215ull << 40) + (1ull << 39));
}

TEST(Size, RejectsGarbageAndOverflow) {
  expect_error([] { parse_size("lots"); }, Errc::config, {"'lots'", "KiB", "4k, 1.5G"});
  expect_error([] { parse_size("12XB"); }, Errc::config, {"'12XB'", "'XB' is not a unit"});
  expect_error([] { parse_size(""); }, Errc::config, {"invalid size ''", "empty"});
  expect_error([] { parse_size("-4k"); }, Errc::config, {"'-4k'", "negative"});
  expect_error([] { parse_size("+4k"); }, Errc::config, {"'+4k'", "does not start with a digit"});
  expect_error([] { parse_size(".5G"); }, Errc::config, {"'.5G'"});
  expect_error([] { parse_size("4  k"); }, Errc::config, {"'4  k'", "is not a unit"});
  expect_error([] { parse_size("4 "); }, Errc::config, {"' ' is not a unit"});
  expect_error([] { parse_size("4kk"); }, Errc::config, {"'kk' is not a unit"});
  expect_error([] { parse_size("1e3"); }, Errc::config, {"'e3' is not a unit"});
  expect_error([] { parse_size("1.2.3"); }, Errc::config, {"'.3' is not a unit"});
  expect_error([] { parse_size("20000000TiB"); }, Errc::config, {"overflows", "16EiB"});
  expect_error([] { parse_size("16777216T"); }, Errc::config, {"overflows"});
  expect_error([] { parse_size("99999999999999999999"); }, Errc::config, {"overflows"});
}

TEST(Size, ConfigValuesTakeEverySpelling) {
  Config config;
  config.set("dram.capacity", "1.5g");
  EXPECT_EQ(config.dram.capacity, 3ull << 29);
  config = Config::from_json(R"({"page_size": "4m", "io": {"block_size": "256k"}})");
  EXPECT_EQ(config.page_size, 4u << 20);
  EXPECT_EQ(config.io.block_size, 256u << 10);
  expect_error([&] { config.set("nvme.capacity", "-1G"); }, Errc::config,
               {"nvme.capacity: invalid size '-1G'", "negative"});
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

TEST(Config, JsonWritesEachKindAsItsJsonType) {
  Config config;
  config.set("nvme.dirs", "/x,/y");
  config.set("dram.numa_node", "-1");
  std::string json = config.to_json();
  for (const std::string& member : std::initializer_list<std::string>{
           R"("page_size":"2MiB")", R"("gpu.device":0)", R"("dram.numa_node":-1)",
           R"("io.queue_depth":)" + std::to_string(config.io.queue_depth), R"("dram.pinned":true)",
           R"("nvme.direct":true)", R"("nvme.dirs":["/x","/y"])", R"("io.engine":"auto")"}) {
    EXPECT_NE(json.find(member), std::string::npos) << member << " is not in " << json;
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

TEST(Config, PoolsOnAVirtualClockTakePagesFrom4KiB) {
  Config config;
  config.page_size = 4 << 10;
  expect_error([&] { config.validate(); }, Errc::invalid_argument, {"page_size 4KiB", "64KiB"});
  config.validate_virtual();
  config.page_size = 2 << 10;
  expect_error([&] { config.validate_virtual(); }, Errc::invalid_argument,
               {"page_size 2KiB", "from 4KiB to 64MiB"});
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

// Issue 9: values that every parser took but the pool refused at start.
TEST(Config, ValidateRefusesWhatAPoolWouldRefuseAtStart) {
  auto refused = [](std::string_view key, std::string_view value, Errc code,
                    std::initializer_list<std::string> fragments) {
    Config config;
    config.set(key, value);
    expect_error([&] { config.validate(); }, code, fragments);
  };
  // Names nobody understands are config errors, as the pool's were; values out of range,
  // invalid_argument.
  refused("log_level", "verbose", Errc::config,
          {"log_level 'verbose'", "trace, debug, info, warn"});
  refused("policy.eviction", "nosuch", Errc::config,
          {"policy.eviction 'nosuch'", "unknown eviction policy", "known: lru"});
  refused("policy.eviction", "lru:x=1", Errc::config,
          {"policy.eviction 'lru:x=1'", "no parameter 'x'"});
  refused("policy.prefetch", "sequential:depth=-1", Errc::config,
          {"policy.prefetch 'sequential:depth=-1'", "depth=-1", "[1, 1048576]"});
  refused("policy.prefetch", "stride:tier=nvme", Errc::config,
          {"policy.prefetch", "tier=nvme", "gpu, dram"});
  if (std::filesystem::exists("/sys/devices/system/node/node0")) {
    refused("dram.numa_node", "99999", Errc::invalid_argument,
            {"dram.numa_node 99999", "highest node"});
  } else {
    refused("dram.numa_node", "99999", Errc::unsupported, {"dram.numa_node 99999", "no NUMA"});
  }
  refused("dram.numa_node", "-5", Errc::invalid_argument, {"dram.numa_node -5", "-1 (no binding)"});
  refused("gpu.device", "-1", Errc::invalid_argument, {"gpu.device -1", "0 or more"});
  Config hugetlb;
  hugetlb.page_size = 1 << 20;
  hugetlb.dram.huge_pages = "hugetlb";
  expect_error([&] { hugetlb.validate(); }, Errc::invalid_argument,
               {"dram.huge_pages hugetlb", "multiple of 2MiB", "1MiB"});

  Config fine;
  fine.set("log_level", "debug");
  fine.set("policy.eviction", "s3fifo:small=0.2");
  fine.set("policy.prefetch", "sequential:depth=4,tier=dram");
  fine.set("dram.numa_node", "-1");
  EXPECT_NO_THROW(fine.validate());
  if (std::filesystem::exists("/sys/devices/system/node/node0")) {
    fine.set("dram.numa_node", "0");
    EXPECT_NO_THROW(fine.validate());
  }
}

TEST(Config, ValidateChecksTheEnvironmentsLogLevelWhenNoneIsSet) {
  const char* saved = std::getenv("TIERMEM_LOG");
  std::string old = saved != nullptr ? saved : "";
  ::setenv("TIERMEM_LOG", "chatty", 1);
  Config config;
  expect_error([&] { config.validate(); }, Errc::config, {"$TIERMEM_LOG", "'chatty'"});
  config.log_level = "info";  // the key wins over the environment
  EXPECT_NO_THROW(config.validate());
  if (saved != nullptr) {
    ::setenv("TIERMEM_LOG", old.c_str(), 1);
  } else {
    ::unsetenv("TIERMEM_LOG");
  }
}

// Issue 9: a JSON value of the wrong type named the origin twice and not the types.
TEST(Config, WrongJsonTypesNameTheKeyWhatWasFoundAndWhatIsWanted) {
  auto refused = [](std::string_view json, const std::string& message) {
    try {
      Config::from_json(json);
      ADD_FAILURE() << json << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::config);
      EXPECT_EQ(std::string(e.what()), message);
    }
  };
  refused(R"({"dram": {"capacity": true}})",
          R"(<json>: dram.capacity: expected a size (a number or a string like "256MiB"), )"
          "found a boolean");
  refused(R"({"dram.capacity": null})",
          R"(<json>: dram.capacity: expected a size (a number or a string like "256MiB"), )"
          "found null");
  refused(R"({"io": {"threads": 2.5}})",
          "<json>: io.threads: expected an integer, found a number with a fraction or an "
          "exponent");
  refused(R"({"dram": {"pinned": 1}})",
          "<json>: dram.pinned: expected a boolean (true or false), found an integer");
  refused(R"({"policy": {"eviction": ["lru"]}})",
          "<json>: policy.eviction: expected a string, found a list");
  refused(R"({"nvme": {"dirs": ["/a", 7]}})",
          "<json>: nvme.dirs: item 1: expected a string, found an integer");
  refused(R"({"nvme.dirs": {"first": "/a"}})",
          "<json>: nvme.dirs: expected a list of strings (or one comma-separated string), found "
          "an object");
  refused(
      R"({"gpu": {"volume": {}}})",
      "<json>: unknown config key 'gpu.volume' (known: page_size scrub_frames "
      "log_level gpu.capacity gpu.backend gpu.device gpu.direct_storage dram.capacity "
      "dram.pinned dram.numa_node dram.huge_pages nvme.dirs nvme.capacity nvme.file_size "
      "nvme.stripe nvme.direct nvme.keep_files nvme.persistent io.engine io.threads io.queue_depth "
      "io.block_size io.sqpoll io.register_buffers io.faults policy.eviction policy.prefetch "
      "policy.prefetch_budget)");
  refused(R"({"dram": {"capacity": "lots"}})",
          "<json>: dram.capacity: invalid size 'lots': it does not start with a digit; expected "
          "a number of bytes with an optional unit (KiB, MiB, GiB, TiB; or k, m, g, t, KB, ... "
          "in any case, all powers of 1024), e.g. 4096, 4k, 1.5G, 256MiB");
  // Every type a key takes: its text form, and the JSON type of its kind.
  Config config = Config::from_json(
      R"({"dram": {"capacity": 1048576, "pinned": false, "numa_node": -1},
          "io.threads": "4", "nvme": {"dirs": ["/a", "/b"], "direct": "off"}})");
  EXPECT_EQ(config.dram.capacity, 1u << 20);
  EXPECT_FALSE(config.dram.pinned);
  EXPECT_EQ(config.io.threads, 4u);
  EXPECT_EQ(config.nvme.dirs.size(), 2u);
  EXPECT_FALSE(config.nvme.direct);
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
