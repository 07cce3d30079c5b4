// tests/test_checkpoint.cpp: save_checkpoint and check_checkpoint (include/tiermem/checkpoint.hpp):
// round trips of every dtype, sizes off the 4 KiB grid, tensors spread over dram and nvme with
// dirty pages, the snapshot rule, shards written by four processes, damaged files, and a
// saving process killed at random moments.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/test_support.hpp"
#include "tiermem/checkpoint.hpp"
#include "tiermem/pool.hpp"

namespace tiermem {
namespace {

using testing::expect_error;
using testing::pattern_byte;
using testing::ScratchDir;
using testing::small_config;

// prefix followed by n (GCC 12 warns falsely of "literal" + std::string).
std::string numbered(const char* prefix, uint64_t n) {
  std::string name(prefix);
  name += std::to_string(n);
  return name;
}

void fill(const Tensor& tensor, uint64_t seed) {
  if (tensor.size_bytes() == 0) return;
  const Pin pin = tensor.pin(Tier::dram, Access::write);
  auto* bytes = static_cast<uint8_t*>(pin.data());
  for (uint64_t i = 0; i < pin.size(); ++i) bytes[i] = pattern_byte(seed, i);
}

// The file's bytes of tensor name, read with plain reads.
std::vector<uint8_t> file_bytes(const SafetensorsFile& header, const std::string& name) {
  const SafetensorsTensor* tensor = header.find(name);
  EXPECT_NE(tensor, nullptr) << name;
  std::vector<uint8_t> bytes(tensor->size_bytes());
  std::ifstream in(header.path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(header.data_offset + tensor->begin));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

void expect_pattern(const SafetensorsFile& header, const std::string& name, uint64_t seed) {
  const std::vector<uint8_t> bytes = file_bytes(header, name);
  for (uint64_t i = 0; i < bytes.size(); ++i) {
    ASSERT_EQ(bytes[i], pattern_byte(seed, i)) << name << " byte " << i;
  }
}

// (A pool has no zero-size tensors; files with them are read in test_checkpoint_format and
// tests/checkpoint_interop.py.)
TEST(Checkpoint, RoundTripsEveryDtypeAndUnalignedSizes) {
  ScratchDir dir;
  Pool pool(small_config(dir, 64));
  std::vector<Tensor> tensors;
  for (int d = 0; d <= static_cast<int>(DType::u64); ++d) {
    const auto dtype = static_cast<DType>(d);
    tensors.push_back(pool.allocate({3, 1001}, dtype, "t_" + std::string(to_string(dtype))));
  }
  tensors.push_back(pool.allocate({1}, DType::u8, "one_byte"));
  for (size_t i = 0; i < tensors.size(); ++i) fill(tensors[i], i);
  const std::string path = dir.path() + "/model.safetensors";
  CheckpointOptions options;
  options.metadata["step"] = "12";
  const CheckpointResult result = save_checkpoint(tensors, path, options).get();
  EXPECT_EQ(result.files, std::vector<std::string>{path});
  EXPECT_EQ(result.tensors, tensors.size());
  EXPECT_EQ(result.bytes_written, std::filesystem::file_size(path));
  EXPECT_GT(result.seconds, 0);

  const SafetensorsFile header = read_safetensors_header(path);
  EXPECT_EQ(header.data_offset % 4096, 0u);
  EXPECT_EQ(header.metadata.at("step"), "12");
  EXPECT_EQ(header.metadata.at("format"), "pt");
  ASSERT_EQ(header.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(header.tensors[i].name, tensors[i].name());  // in the order given
    EXPECT_EQ(header.tensors[i].dtype, tensors[i].dtype());
    EXPECT_EQ(header.tensors[i].shape, tensors[i].shape());
    expect_pattern(header, tensors[i].name(), i);
  }
  const CheckpointReport report = check_checkpoint(path);
  EXPECT_EQ(report.tensors, tensors.size());
  EXPECT_EQ(report.checksums_verified, tensors.size());
}

TEST(Checkpoint, SavesATensorSpreadOverDramAndNvmeWithDirtyPages) {
  ScratchDir dir;
  Pool pool(small_config(dir, 16));  // 1 MiB of dram; the tensor is 3 MiB
  const Tensor big = pool.allocate({3 << 20}, DType::u8, "big");
  for (uint64_t part = 0; part < 3; ++part) {  // written in parts: the early ones go to nvme
    const Pin pin = big.pin(Tier::dram, Access::write, {part << 20, 1 << 20});
    auto* bytes = static_cast<uint8_t*>(pin.data());
    for (uint64_t i = 0; i < pin.size(); ++i) bytes[i] = pattern_byte(7, (part << 20) + i);
  }
  bool dirty = false;
  bool on_nvme_only = false;
  for (const PageResidency& page : big.residency()) {
    dirty |= page.in(Tier::dram) && page.dirty;
    on_nvme_only |= !page.in(Tier::dram) && page.in(Tier::nvme);
  }
  ASSERT_TRUE(dirty && on_nvme_only);
  const std::string path = dir.path() + "/big.safetensors";
  save_checkpoint(std::span(&big, 1), path).get();
  expect_pattern(read_safetensors_header(path), "big", 7);
  check_checkpoint(path);
}

TEST(Checkpoint, HoldsTheBytesOfTheCallNotThoseWrittenDuringTheSave) {
  ScratchDir dir;
  Config config = small_config(dir, 256, 0, 4096);
  Pool pool(config);
  std::vector<Tensor> tensors;
  for (int i = 0; i < 8; ++i) {
    tensors.push_back(pool.allocate({2 << 20}, DType::u8, numbered("w", i)));
    fill(tensors.back(), i);
  }
  CheckpointOptions options;
  options.staging_bytes = 1 << 20;  // many small steps, so the writes below race the copies
  options.staging_buffers = 2;
  std::future<CheckpointResult> saving =
      save_checkpoint(tensors, dir.path() + "/s.safetensors", options);
  // Overwrite every tensor at once, last first (most likely not yet copied).
  for (int i = 7; i >= 0; --i) {
    const Pin pin = tensors[i].pin(Tier::dram, i % 2 ? Access::write : Access::read_write);
    std::memset(pin.data(), 0xEE, pin.size());
  }
  saving.get();
  const SafetensorsFile header = read_safetensors_header(dir.path() + "/s.safetensors");
  for (int i = 0; i < 8; ++i) expect_pattern(header, numbered("w", i), i);
  check_checkpoint(header.path);
  // The pool holds the new bytes.
  const Pin pin = tensors[0].pin(Tier::dram, Access::read);
  EXPECT_EQ(static_cast<const uint8_t*>(pin.data())[12345], 0xEE);
}

TEST(Checkpoint, SplitsIntoShardsOfAtMostMaxShardBytesWithAnIndex) {
  ScratchDir dir;
  Pool pool(small_config(dir, 64));
  std::vector<Tensor> tensors;
  for (int i = 0; i < 5; ++i) {
    tensors.push_back(pool.allocate({300000}, DType::u8, numbered("s", i)));
    fill(tensors.back(), i);
  }
  CheckpointOptions options;
  options.max_shard_bytes = 700000;  // two tensors per shard: 3 shards
  const std::string out = dir.path() + "/sharded";
  const CheckpointResult result = save_checkpoint(tensors, out, options).get();
  EXPECT_TRUE(result.index_written);
  ASSERT_EQ(result.files.size(), 4u);
  EXPECT_EQ(result.files[2], out + "/model-00003-of-00003.safetensors");
  const SafetensorsIndex index = read_safetensors_index(out + "/model.safetensors.index.json");
  EXPECT_EQ(index.total_size, 1500000u);
  EXPECT_EQ(index.weight_map.at("s4"), "model-00003-of-00003.safetensors");
  const CheckpointReport report = check_checkpoint(out);
  EXPECT_EQ(report.tensors, 5u);
  EXPECT_EQ(report.checksums_verified, 5u);
}

TEST(Checkpoint, FourProcessesWriteFourShardsAndTheLastWritesTheIndex) {
  ScratchDir dir;
  const std::string out = dir.path() + "/ranks";
  std::vector<pid_t> children;
  for (uint32_t rank = 0; rank < 4; ++rank) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int status = 1;
      try {
        ScratchDir own;
        Pool pool(small_config(own, 64));
        std::vector<Tensor> tensors;
        for (uint32_t i = 0; i <= rank; ++i) {
          tensors.push_back(
              pool.allocate({100000 + rank}, DType::u8, numbered("r", rank) + numbered(".", i)));
          fill(tensors.back(), rank * 10 + i);
        }
        CheckpointOptions options;
        options.rank = rank;
        options.world_size = 4;
        options.tag = "step-100";
        save_checkpoint(tensors, out, options).get();
        status = 0;
      } catch (const std::exception& e) {
        fprintf(stderr, "rank %u: %s\n", rank, e.what());
      }
      _exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const CheckpointReport report = check_checkpoint(out);
  EXPECT_EQ(report.tensors, 10u);
  EXPECT_EQ(report.files.size(), 5u);
  const SafetensorsIndex index = read_safetensors_index(out + "/model.safetensors.index.json");
  EXPECT_EQ(index.tag, "step-100");
  EXPECT_EQ(index.weight_map.at("r3.3"), "model-00004-of-00004.safetensors");
  expect_pattern(read_safetensors_header(out + "/model-00003-of-00004.safetensors"), "r2.1", 21);
}

TEST(Checkpoint, AShardOfAnotherSaveKeepsTheIndexFromBeingWritten) {
  ScratchDir dir;
  Pool pool(small_config(dir, 64));
  const Tensor t = pool.allocate({1000}, DType::f32, "t");
  CheckpointOptions options;
  options.world_size = 2;
  options.tag = "old";
  options.rank = 1;
  save_checkpoint(std::span(&t, 1), dir.path(), options).get();
  options.tag = "new";
  options.rank = 0;
  EXPECT_FALSE(save_checkpoint(std::span(&t, 1), dir.path(), options).get().index_written);
  options.rank = 1;
  EXPECT_TRUE(save_checkpoint(std::span(&t, 1), dir.path(), options).get().index_written);
}

TEST(Checkpoint, RefusesBadOptionsAndRepeatedNamesAtTheCall) {
  ScratchDir dir;
  Pool pool(small_config(dir));
  const Tensor t = pool.allocate({10}, DType::f32, "t");
  const Tensor same[] = {t, t};
  expect_error([&] { save_checkpoint(same, dir.path() + "/x"); }, Errc::invalid_argument,
               {"'t' is given twice"});
  CheckpointOptions options;
  options.world_size = 2;
  options.rank = 2;
  expect_error([&] { save_checkpoint(std::span(&t, 1), dir.path(), options); },
               Errc::invalid_argument, {"rank 2", "world_size 2"});
  options.rank = 0;
  expect_error([&] { save_checkpoint(std::span(&t, 1), dir.path(), options); },
               Errc::invalid_argument, {"tag is empty"});
  CheckpointOptions reserved;
  reserved.metadata["tiermem.tag"] = "x";
  expect_error([&] { save_checkpoint(std::span(&t, 1), dir.path() + "/x", reserved); },
               Errc::invalid_argument, {"'tiermem.tag'"});
}

// Damage: a flipped data byte, a cut file, a broken header, a shard gone from an index.
TEST(Checkpoint, CheckNamesTheFileTheTensorAndTheDamage) {
  ScratchDir dir;
  Pool pool(small_config(dir, 64));
  std::vector<Tensor> tensors;
  for (int i = 0; i < 3; ++i) {
    tensors.push_back(pool.allocate({5000}, DType::f32, numbered("d", i)));
    fill(tensors.back(), i);
  }
  const std::string path = dir.path() + "/d.safetensors";
  save_checkpoint(tensors, path).get();
  const SafetensorsFile header = read_safetensors_header(path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(header.data_offset + header.find("d1")->begin + 77));
    f.put('\x01');
  }
  expect_error([&] { check_checkpoint(path); }, Errc::corrupt, {path, "'d1'", "xxh3", "damaged"});
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
  expect_error([&] { check_checkpoint(path); }, Errc::corrupt, {path, "truncated"});
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.put('[');
  }
  expect_error([&] { check_checkpoint(path); }, Errc::corrupt, {path, "JSON"});

  CheckpointOptions options;
  options.max_shard_bytes = 20000;
  const std::string out = dir.path() + "/shards";
  save_checkpoint(tensors, out, options).get();
  std::filesystem::remove(out + "/model-00002-of-00003.safetensors");
  expect_error([&] { check_checkpoint(out); }, Errc::system, {"model-00002-of-00003"});
}

// A child saves versions in a loop and is killed at random moments: the file is always
// absent (before the first publication) or a whole checkpoint of one version.
TEST(Checkpoint, AKilledSaveLeavesTheOldFileOrTheNewOneNeverATornOne) {
  ScratchDir dir;
  const std::string path = dir.path() + "/crash.safetensors";
  std::mt19937_64 rng(42);
  constexpr int kKills = 200;
  int complete = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int kill_no = 0; kill_no < kKills; ++kill_no) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        ScratchDir own;
        Pool pool(small_config(own, 64, 0, 1024));
        std::vector<Tensor> tensors;
        for (int i = 0; i < 4; ++i) {
          tensors.push_back(pool.allocate({150000 + 1000 * static_cast<uint64_t>(i)}, DType::u8,
                                          numbered("c", i)));
        }
        for (uint64_t version = 1;; ++version) {
          const uint64_t seed = static_cast<uint64_t>(kill_no) * 1000 + version;
          for (int i = 0; i < 4; ++i) fill(tensors[i], seed * 4 + i);
          CheckpointOptions options;
          options.metadata["version"] = std::to_string(seed);
          save_checkpoint(tensors, path, options).get();
        }
      } catch (...) {
      }
      _exit(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the saving child ended by itself";
    if (!std::filesystem::exists(path)) continue;
    const CheckpointReport report = check_checkpoint(path);
    ASSERT_EQ(report.checksums_verified, 4u);
    const SafetensorsFile header = read_safetensors_header(path);
    const uint64_t seed = std::stoull(header.metadata.at("version"));
    for (int i = 0; i < 4; ++i) expect_pattern(header, numbered("c", i), seed * 4 + i);
    ++complete;
  }
  EXPECT_GT(complete, kKills / 2);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
  // Temporaries of the killed writers are left; the next save to the name removes them.
  size_t temps = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    temps += entry.path().filename().string().find(".tiermem-tmp.") != std::string::npos;
  }
  Pool pool(small_config(dir, 64));
  const Tensor t = pool.allocate({10}, DType::u8, "t");
  save_checkpoint(std::span(&t, 1), path).get();
  size_t after = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    after += entry.path().filename().string().find(".tiermem-tmp.") != std::string::npos;
  }
  EXPECT_EQ(after, 0u) << temps << " before";
}

}  // namespace
}  // namespace tiermem
