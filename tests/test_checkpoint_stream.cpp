// tests/test_checkpoint_stream.cpp: checkpoints opened in place (open_checkpoint): pages come
// straight from the file, aligned or not, through a dram tier smaller than the checkpoint;
// write pins are refused; scalars, empty tensors, shards and files replaced meanwhile.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/test_support.hpp"
#include "tiermem/tiermem.hpp"
#include "tiermem/virtual_clock.hpp"

namespace tiermem {
namespace {

using testing::expect_error;
using testing::pattern_byte;
using testing::ScratchDir;

constexpr uint64_t kPage = 64 << 10;

void fill(const Tensor& tensor, uint64_t seed) {
  for (uint64_t at = 0; at < tensor.size_bytes(); at += kPage) {
    Pin pin =
        tensor.pin(Tier::dram, Access::write, {at, std::min(kPage, tensor.size_bytes() - at)});
    auto bytes = pin.as<uint8_t>();
    for (uint64_t i = 0; i < bytes.size(); ++i) bytes[i] = pattern_byte(seed, at + i);
  }
}

// Reads tensor page by page, from wherever its pages are, and compares with the pattern.
void expect_pattern(const Tensor& tensor, uint64_t seed, Tier tier = Tier::dram) {
  for (uint64_t at = 0; at < tensor.size_bytes(); at += kPage) {
    Pin pin = tensor.pin(tier, Access::read, {at, std::min(kPage, tensor.size_bytes() - at)});
    auto bytes = pin.as<const uint8_t>();
    for (uint64_t i = 0; i < bytes.size(); ++i) {
      ASSERT_EQ(bytes[i], pattern_byte(seed, at + i))
          << "tensor '" << tensor.name() << "' byte " << at + i;
    }
  }
}

// Saves tensors of the given byte sizes (u8, filled with pattern seed i) as one file.
void save(const ScratchDir& dir, const std::string& path, const std::vector<uint64_t>& sizes) {
  Config config = testing::small_config(dir, 64, 0, 2048);
  Pool pool(config);
  std::vector<Tensor> tensors;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string name = "w";
    name += std::to_string(i);
    tensors.push_back(pool.allocate({sizes[i]}, DType::u8, name));
    fill(tensors.back(), i);
  }
  save_checkpoint(tensors, path).get();
}

TEST(CheckpointStream, PagesComeFromTheFileThroughASmallDramTierAlignedOrNot) {
  ScratchDir dir;
  const std::string path = dir.path() + "/model.safetensors";
  // Sizes off the 4 KiB grid put every later tensor's start off it too: those pages are read
  // through the page cache, the others with O_DIRECT, and last pages are partial.
  const std::vector<uint64_t> sizes = {4 * kPage, 3 * kPage + 1000, 5 * kPage + 7, 2 * kPage, 123};
  save(dir, path, sizes);
  Pool pool(testing::small_config(dir, 8));  // 8 frames for 15 pages
  std::vector<Tensor> tensors = open_checkpoint(pool, path);
  ASSERT_EQ(tensors.size(), sizes.size());
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      EXPECT_EQ(tensors[i].size_bytes(), sizes[i]);
      expect_pattern(tensors[i], i);
    }
  }
  const Stats stats = pool.stats();
  EXPECT_GT(stats.moves[2][1], 15u) << "the second pass reads again what was evicted";
  EXPECT_EQ(stats.tiers[1].writebacks, 0u) << "clean pages are dropped, never written";
  EXPECT_EQ(pool.find("w2").name(), "w2");
  pool.flush();  // nothing to write
}

TEST(CheckpointStream, WritePinsAreRefusedAndReadsGoOn) {
  ScratchDir dir;
  const std::string path = dir.path() + "/model.safetensors";
  save(dir, path, {2 * kPage});
  Pool pool(testing::small_config(dir));
  Tensor w = open_checkpoint(pool, path).at(0);
  for (Access access : {Access::write, Access::read_write}) {
    expect_error([&] { w.pin(Tier::dram, access); }, Errc::invalid_argument,
                 {"'w0' is read-only", path});
  }
  w.prefetch(Tier::dram);
  expect_pattern(w, 0);
  EXPECT_GT(w.evict(Tier::dram), 0u);
  expect_pattern(w, 0);
}

TEST(CheckpointStream, AGpuPinOfAStreamedTensorComesThroughDram) {
  ScratchDir dir;
  const std::string path = dir.path() + "/model.safetensors";
  save(dir, path, {3 * kPage + 5});
  Pool pool(testing::small_config(dir, 8, 4));
  Tensor w = open_checkpoint(pool, path).at(0);
  Pin pin = w.pin(Tier::gpu, Access::read);
  std::vector<uint8_t> back(w.size_bytes());
  std::memcpy(back.data(), pin.data(), back.size());  // the emulated gpu's memory is the host's
  for (uint64_t i = 0; i < back.size(); ++i) ASSERT_EQ(back[i], pattern_byte(0, i)) << i;
}

// Writes a safetensors file by hand: header JSON as given, then data.
void write_file(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  uint64_t length = header.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << header << data;
}

TEST(CheckpointStream, ScalarsAndEmptyTensorsOpenWithTheirShapes) {
  ScratchDir dir;
  const std::string path = dir.path() + "/odd.safetensors";
  write_file(path,
             R"({"empty":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},)"
             R"("scalar":{"dtype":"I16","shape":[],"data_offsets":[0,2]},)"
             R"("vec":{"dtype":"U8","shape":[3],"data_offsets":[2,5]}})",
             std::string("\x34\x12\x07\x08\x09", 5));
  Pool pool(testing::small_config(dir));
  std::vector<Tensor> tensors = open_checkpoint(pool, path);
  ASSERT_EQ(tensors.size(), 3u);
  Tensor empty = pool.find("empty"), scalar = pool.find("scalar"), vec = pool.find("vec");
  EXPECT_EQ(empty.shape(), (std::vector<uint64_t>{0, 4}));
  EXPECT_EQ(empty.size_bytes(), 0u);
  EXPECT_EQ(empty.page_count(), 0u);
  EXPECT_THROW(empty.pin(Tier::dram, Access::read), Error);
  EXPECT_TRUE(scalar.shape().empty());
  EXPECT_EQ(scalar.pin(Tier::dram, Access::read).as<const int16_t>()[0], 0x1234);
  auto v = vec.pin(Tier::dram, Access::read);
  EXPECT_EQ(std::vector<uint8_t>(v.as<const uint8_t>().begin(), v.as<const uint8_t>().end()),
            (std::vector<uint8_t>{7, 8, 9}));
  empty.release();
  scalar.release();
}

TEST(CheckpointStream, AShardedCheckpointOpensEveryShard) {
  ScratchDir dir;
  const std::string out = dir.path() + "/sharded";
  {
    Pool pool(testing::small_config(dir, 64, 0, 2048));
    std::vector<Tensor> tensors;
    for (int i = 0; i < 4; ++i) {
      std::string name = "layer";
      name += std::to_string(i);
      tensors.push_back(pool.allocate({2 * kPage + 100}, DType::u8, name));
      fill(tensors.back(), 10 + i);
    }
    CheckpointOptions options;
    options.max_shard_bytes = 3 * kPage;
    save_checkpoint(tensors, out, options).get();
  }
  Pool pool(testing::small_config(dir, 8));
  std::vector<Tensor> tensors = open_checkpoint(pool, out);
  ASSERT_EQ(tensors.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    std::string name = "layer";
    name += std::to_string(i);
    expect_pattern(pool.find(name), 10 + i);
  }
}

TEST(CheckpointStream, AFileReplacedByANewSaveIsStillReadAsItWasOpened) {
  ScratchDir dir;
  const std::string path = dir.path() + "/model.safetensors";
  save(dir, path, {3 * kPage});
  Pool pool(testing::small_config(dir, 4));
  Tensor w = open_checkpoint(pool, path).at(0);
  {
    Pool other(testing::small_config(dir, 64, 0, 2048));
    Tensor replacement = other.allocate({3 * kPage}, DType::u8, "w0");
    fill(replacement, 99);
    std::vector<Tensor> one = {replacement};
    save_checkpoint(one, path).get();  // renamed over the file the pool holds open
  }
  expect_pattern(w, 0);
  Pool fresh(testing::small_config(dir, 4));
  expect_pattern(open_checkpoint(fresh, path).at(0), 99);
}

TEST(CheckpointStream, InAPersistentPoolStreamedTensorsStayOutOfTheManifest) {
  ScratchDir dir;
  const std::string path = dir.path() + "/model.safetensors";
  save(dir, path, {2 * kPage});
  ScratchDir home;
  Config config = testing::small_config(home);
  config.nvme.persistent = true;
  {
    Pool pool(config);
    Tensor own = pool.allocate({kPage}, DType::u8, "own");
    fill(own, 5);
    Tensor streamed = open_checkpoint(pool, path).at(0);
    expect_error([&] { pool.allocate({1}, DType::u8, "w0"); }, Errc::invalid_argument,
                 {"'w0' exists already"});
    expect_pattern(streamed, 0);
    pool.flush();
    EXPECT_EQ(pool.verify(), 1u);
  }
  Pool pool(config);
  EXPECT_FALSE(pool.find("w0"));
  expect_pattern(pool.find("own"), 5);
}

TEST(CheckpointStream, ACheckpointBeyondThePoolsPageIdsIsRefusedSayingWhatGivesMore) {
  ScratchDir dir;
  const std::string path = dir.path() + "/model.safetensors";
  save(dir, path, {kPage, 20 * kPage});
  Pool pool(testing::small_config(dir, 8, 0, 4));  // 4 NVMe pages: 16 page ids
  expect_error([&] { open_checkpoint(pool, path); }, Errc::out_of_space,
               {"'w1'", "page ids", "nvme.capacity"});
  EXPECT_EQ(pool.stats().tensors, 0u);  // w0, opened first, was released again
}

TEST(CheckpointStream, ABadHeaderLeavesThePoolUnchanged) {
  ScratchDir dir;
  const std::string path = dir.path() + "/bad.safetensors";
  write_file(path, R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,5]}})", "12345");
  Pool pool(testing::small_config(dir));
  expect_error([&] { open_checkpoint(pool, path); }, Errc::corrupt, {path, "'a'"});
  expect_error([&] { open_checkpoint(pool, dir.path() + "/missing.safetensors"); }, Errc::system,
               {"missing.safetensors"});
  EXPECT_EQ(pool.stats().tensors, 0u);
  save(dir, dir.path() + "/good.safetensors", {kPage});
  Pool modelled(testing::small_config(dir), VirtualDevices{});
  expect_error([&] { open_checkpoint(modelled, dir.path() + "/good.safetensors"); },
               Errc::unsupported, {"virtual clock"});
}

}  // namespace
}  // namespace tiermem
