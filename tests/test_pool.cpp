// tests/test_pool.cpp: the public Pool, Tensor and Pin: data through every tier, and every
// refusal with its message.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <thread>

#include "tests/test_support.hpp"
#include "tiermem/tiermem.hpp"

namespace tiermem {
namespace {

using testing::expect_error;
using testing::pattern_byte;

constexpr uint64_t kPage = 64 << 10;

void fill(const Pin& pin, uint64_t seed, uint64_t base = 0) {
  auto bytes = pin.bytes();
  for (uint64_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>(pattern_byte(seed, base + i));
  }
}

uint64_t mismatches(const Pin& pin, uint64_t seed, uint64_t base = 0) {
  auto bytes = pin.bytes();
  uint64_t bad = 0;
  for (uint64_t i = 0; i < bytes.size(); ++i) {
    bad += bytes[i] != static_cast<std::byte>(pattern_byte(seed, base + i));
  }
  return bad;
}

// Waits (without a time assertion) until pred holds; prefetches finish on I/O threads.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 2000 && !pred(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

class PoolTest : public ::testing::Test {
 protected:
  testing::ScratchDir dir;
};

TEST_F(PoolTest, NewTensorsReadAsZerosAndDescribeThemselves) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({4, 1000}, DType::f32, "weights");
  EXPECT_EQ(t.name(), "weights");
  EXPECT_EQ(t.shape(), (std::vector<uint64_t>{4, 1000}));
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.size_bytes(), 16000u);
  EXPECT_EQ(t.page_count(), 1u);
  EXPECT_TRUE(t.residency(0).unbacked());
  Pin pin = t.pin(Tier::dram, Access::read);
  ASSERT_EQ(pin.size(), 16000u);
  for (float x : pin.as<float>()) ASSERT_EQ(x, 0.0f);
  EXPECT_EQ(pool.stats().zero_fills, 1u);
}

TEST_F(PoolTest, WritesSurviveEvictionToNvmeAndBack) {
  Pool pool(testing::small_config(dir));                     // 16 dram frames
  Tensor t = pool.allocate({64 * kPage}, DType::u8, "big");  // 4x the dram tier
  for (uint64_t p = 0; p < 64; p += 4) {
    Pin pin = t.pin(Tier::dram, Access::write, {p * kPage, 4 * kPage});
    fill(pin, 7, p * kPage);
  }
  for (uint64_t p = 64; p > 0; --p) {  // backwards, so nothing is still resident by luck
    Pin pin = t.pin(Tier::dram, Access::read, {(p - 1) * kPage, kPage});
    ASSERT_EQ(mismatches(pin, 7, (p - 1) * kPage), 0u) << "page " << p - 1;
  }
  Stats s = pool.stats();
  EXPECT_GE(s.moves[1][2], 48u);  // written down to nvme
  EXPECT_GE(s.moves[2][1], 48u);  // and read back
  EXPECT_GE(s.tiers[1].evictions, 48u);
  EXPECT_EQ(s.io_errors, 0u);
}

TEST_F(PoolTest, AMultiPagePinIsOneContiguousRange) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({10 * kPage}, DType::u8, "t");
  {
    Pin pin = t.pin(Tier::dram, Access::write, {kPage / 2, 5 * kPage});
    fill(pin, 3, kPage / 2);
  }
  EXPECT_EQ(t.evict(Tier::dram), 6u);
  for (const PageResidency& r : t.residency()) EXPECT_FALSE(r.in(Tier::dram));
  Pin pin = t.pin(Tier::dram, Access::read, {kPage / 2, 5 * kPage});
  EXPECT_EQ(mismatches(pin, 3, kPage / 2), 0u);
}

TEST_F(PoolTest, ThreeTiersRoundTrip) {
  Pool pool(testing::small_config(dir, 16, 8));
  Tensor t = pool.allocate({12 * kPage}, DType::u8, "t");
  {
    Pin pin = t.pin(Tier::gpu, Access::write, {0, 8 * kPage});
    fill(pin, 11);
  }
  EXPECT_EQ(t.evict(Tier::gpu), 8u);   // written down to dram
  EXPECT_EQ(t.evict(Tier::dram), 8u);  // and on to nvme
  EXPECT_FALSE(t.residency(0).in(Tier::gpu));
  EXPECT_TRUE(t.residency(0).in(Tier::nvme));
  Pin pin = t.pin(Tier::gpu, Access::read, {0, 8 * kPage});  // nvme -> dram -> gpu
  EXPECT_EQ(mismatches(pin, 11), 0u);
  Stats s = pool.stats();
  EXPECT_EQ(s.gpu_backend, "emulated");
  EXPECT_EQ(s.moves[0][1], 8u);
  EXPECT_EQ(s.moves[1][2], 8u);
  EXPECT_EQ(s.moves[2][1], 8u);
  EXPECT_EQ(s.moves[1][0], 8u);
}

TEST_F(PoolTest, FlushWritesDirtyPagesAndLeavesThemClean) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({4 * kPage}, DType::u8, "t");
  {
    Pin pin = t.pin(Tier::dram, Access::write);
    fill(pin, 5);
  }
  EXPECT_TRUE(t.residency(0).dirty);
  t.flush();
  for (const PageResidency& r : t.residency()) {
    EXPECT_TRUE(r.in(Tier::dram) && r.in(Tier::nvme) && !r.dirty);
  }
  uint64_t writebacks = pool.stats().tiers[1].writebacks;
  EXPECT_EQ(t.evict(Tier::dram), 4u);
  EXPECT_EQ(pool.stats().tiers[1].writebacks, writebacks);  // clean: dropped, not written
  Pin pin = t.pin(Tier::dram, Access::read);
  EXPECT_EQ(mismatches(pin, 5), 0u);
}

TEST_F(PoolTest, WholePageWritesDoNotReadOldBytes) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({4 * kPage}, DType::u8, "t");
  {
    Pin pin = t.pin(Tier::dram, Access::write);
    fill(pin, 1);
  }
  t.evict(Tier::dram);
  uint64_t reads = pool.stats().moves[2][1];
  {
    Pin pin = t.pin(Tier::dram, Access::write);
    fill(pin, 2);
  }
  EXPECT_EQ(pool.stats().moves[2][1], reads);
  t.evict(Tier::dram);
  {
    Pin pin = t.pin(Tier::dram, Access::read_write, {10, 100});  // partial: must read
    EXPECT_EQ(mismatches(pin, 2, 10), 0u);
  }
  EXPECT_EQ(pool.stats().moves[2][1], reads + 1);
  t.evict(Tier::dram);
  Pin pin = t.pin(Tier::dram, Access::read);
  EXPECT_EQ(mismatches(pin, 2), 0u);
}

TEST_F(PoolTest, AsyncPinsAndPrefetch) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({8 * kPage}, DType::u8, "t");
  {
    std::future<Pin> later = t.pin_async(Tier::dram, Access::write);
    Pin pin = later.get();
    fill(pin, 9);
  }
  t.evict(Tier::dram);
  t.prefetch(Tier::dram, {0, 4 * kPage});
  EXPECT_TRUE(eventually([&] { return t.residency(3).in(Tier::dram); }));
  EXPECT_FALSE(t.residency(4).in(Tier::dram));
  Pin pin = t.pin(Tier::dram, Access::read, {0, 4 * kPage});
  EXPECT_EQ(mismatches(pin, 9), 0u);
  Stats s = pool.stats();
  EXPECT_EQ(s.prefetch_issued, 4u);
  EXPECT_EQ(s.prefetch_useful + s.prefetch_late, 4u);
}

TEST_F(PoolTest, WriteThroughTensorsBecomeCleanOnTheirOwn) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({2 * kPage}, DType::u8, "ckpt", {.write_through = true});
  {
    Pin pin = t.pin(Tier::dram, Access::write);
    fill(pin, 4);
  }
  EXPECT_TRUE(eventually([&] { return !t.residency(0).dirty && !t.residency(1).dirty; }));
}

TEST_F(PoolTest, BadShapesAndNamesAreRefused) {
  Pool pool(testing::small_config(dir));
  expect_error(
      [&] {
        pool.allocate({4, 0, 2}, DType::f16, "z");
      },
      Errc::invalid_argument, {"'z'", "dimension 1 is 0"});
  expect_error([&] { pool.allocate({}, DType::f16, "e"); }, Errc::invalid_argument,
               {"'e'", "shape is empty"});
  expect_error(
      [&] {
        pool.allocate({1ull << 40, 1ull << 30}, DType::f32, "o");
      },
      Errc::invalid_argument, {"'o'", "overflows"});
  expect_error([&] { pool.allocate({8}, DType::f32, ""); }, Errc::invalid_argument, {"name"});
  EXPECT_EQ(pool.stats().tensors, 0u);
}

TEST_F(PoolTest, BadPinsAreRefused) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({32 * kPage}, DType::u8, "t");
  expect_error([&] { t.pin(Tier::nvme, Access::read); }, Errc::invalid_argument, {"nvme"});
  expect_error([&] { t.pin(Tier::gpu, Access::read); }, Errc::invalid_argument, {"no gpu tier"});
  expect_error(
      [&] {
        t.pin(Tier::dram, Access::read, {32 * kPage, 1});
      },
      Errc::invalid_argument, {"offset 2097152", "'t'"});
  expect_error(
      [&] {
        t.pin(Tier::dram, Access::read, {kPage, 32 * kPage});
      },
      Errc::invalid_argument, {"does not fit"});
  // Larger than the tier can ever hold: an error at once, never a wait.
  expect_error([&] { t.pin(Tier::dram, Access::read); }, Errc::out_of_space,
               {"32 pages", "16 frames"});
}

TEST_F(PoolTest, ReleasedTensorsGoStaleEverywhere) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({kPage}, DType::u8, "t");
  Tensor copy = t;
  {
    Pin pin = t.pin(Tier::dram, Access::write);
    expect_error([&] { copy.release(); }, Errc::busy, {"'t'", "pinned"});
  }
  t.release();
  expect_error([&] { copy.pin(Tier::dram, Access::read); }, Errc::released, {"released"});
  expect_error([&] { copy.name(); }, Errc::released, {"released"});
  expect_error([&] { t.release(); }, Errc::released, {"released"});
  Tensor reused = pool.allocate({kPage}, DType::u8, "u");  // may reuse the slot
  expect_error([&] { copy.size_bytes(); }, Errc::released, {"released"});
  EXPECT_EQ(reused.name(), "u");
  EXPECT_EQ(pool.stats().tensors, 1u);
}

TEST_F(PoolTest, AFullyPinnedTierSaysSoAndRecovers) {
  Pool pool(testing::small_config(dir));
  Tensor a = pool.allocate({16 * kPage}, DType::u8, "a");
  Tensor b = pool.allocate({kPage}, DType::u8, "b");
  Pin all = a.pin(Tier::dram, Access::write);
  expect_error([&] { b.pin(Tier::dram, Access::read); }, Errc::tier_full,
               {"dram", "16 frames", "pinned"});
  all.reset();
  EXPECT_NO_THROW(b.pin(Tier::dram, Access::read));
}

TEST_F(PoolTest, DirtyGpuPagesWithNowhereToGoFailThePinAndStayIntact) {
  Pool pool(testing::small_config(dir, 4, 4));
  Tensor g = pool.allocate({4 * kPage}, DType::u8, "g");
  {
    Pin pin = g.pin(Tier::gpu, Access::write);  // the gpu tier: four dirty pages
    fill(pin, 8);
  }
  Tensor d = pool.allocate({4 * kPage}, DType::u8, "d");
  Pin all_dram = d.pin(Tier::dram, Access::write);  // no dram frame to write them down to
  Tensor x = pool.allocate({kPage}, DType::u8, "x");
  expect_error([&] { x.pin(Tier::gpu, Access::read); }, Errc::tier_full, {"dram", "pinned"});
  all_dram.reset();
  EXPECT_NO_THROW(x.pin(Tier::gpu, Access::read));  // a gpu page went down to dram
  Pin pin = g.pin(Tier::dram, Access::read);
  EXPECT_EQ(mismatches(pin, 8), 0u);
}

TEST_F(PoolTest, WritePinsConflictWithPinsInTheOtherTier) {
  Pool pool(testing::small_config(dir, 16, 4));
  Tensor t = pool.allocate({kPage}, DType::u8, "t");
  Pin reading = t.pin(Tier::gpu, Access::read);
  expect_error([&] { t.pin(Tier::dram, Access::write); }, Errc::busy,
               {"page 0 of tensor 't'", "pinned for reading in gpu"});
  EXPECT_NO_THROW(t.pin(Tier::dram, Access::read));
  reading.reset();
  EXPECT_NO_THROW(t.pin(Tier::dram, Access::write));
  EXPECT_FALSE(t.residency(0).in(Tier::gpu));  // the gpu copy went stale and was dropped
}

TEST_F(PoolTest, TypedViewsCheckSizeAndAlignment) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({100}, DType::u8, "t");
  Pin pin = t.pin(Tier::dram, Access::read, {1, 8});
  expect_error([&] { pin.as<double>(); }, Errc::invalid_argument, {"8 bytes", "aligned to 8"});
  EXPECT_EQ(pin.as<uint8_t>().size(), 8u);
}

TEST_F(PoolTest, AFullNvmeTierRefusesNewTensorsAndKeepsTheOld) {
  Pool pool(testing::small_config(dir, 16, 0, 64));
  Tensor kept = pool.allocate({48 * kPage}, DType::u8, "kept");
  {
    Pin pin = kept.pin(Tier::dram, Access::write, {0, 8 * kPage});
    fill(pin, 6);
  }
  expect_error([&] { pool.allocate({32 * kPage}, DType::u8, "extra"); }, Errc::out_of_space,
               {"'extra'", "nvme tier is full"});
  kept.evict(Tier::dram);
  Pin pin = kept.pin(Tier::dram, Access::read, {0, 8 * kPage});
  EXPECT_EQ(mismatches(pin, 6), 0u);
  EXPECT_EQ(pool.stats().tensors, 1u);
}

TEST_F(PoolTest, StatsNameEveryCounter) {
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({kPage}, DType::u8, "t");
  t.pin(Tier::dram, Access::read).reset();
  t.pin(Tier::dram, Access::read).reset();
  Stats s = pool.stats();
  EXPECT_EQ(s.pins, 2u);
  EXPECT_EQ(s.tiers[1].hits, 1u);
  EXPECT_EQ(s.tiers[1].misses, 1u);
  EXPECT_EQ(s.tiers[1].frames, 16u);
  EXPECT_EQ(s.tensor_bytes, kPage);
  std::string json = s.to_json();
  for (const char* key : {"\"dram.hits\":1", "\"pins\":2", "\"moves.nvme_to_dram.bytes\"",
                          "\"io.engine\"", "\"dram.huge_pages\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  EXPECT_NE(s.to_text().find("dram.misses 1\n"), std::string::npos);
}

TEST_F(PoolTest, BadConfigsAreRefusedAtOpen) {
  Config config = testing::small_config(dir);
  config.dram.capacity = 1000;
  expect_error([&] { Pool p(config); }, Errc::invalid_argument, {"dram.capacity"});
  config = testing::small_config(dir);
  config.nvme.dirs = {dir.path() + "/missing"};
  expect_error([&] { Pool p(config); }, Errc::config, {"missing"});
  config = testing::small_config(dir);
  config.policy.eviction = "mru";
  expect_error([&] { Pool p(config); }, Errc::config, {"'mru'", "lru"});
}

TEST(LockedBuffer, AlignedUsableAndReused) {
  LockedBuffer small = LockedBuffer::allocate(100);
  EXPECT_EQ(small.size(), 4096u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 4096, 0u);
  std::memset(small.data(), 1, small.size());
  LockedBuffer large = LockedBuffer::allocate(16 << 20);
  std::memset(large.data(), 2, large.size());
  std::byte* first = large.data();
  large = LockedBuffer();
  LockedBuffer again = LockedBuffer::allocate(16 << 20);
  EXPECT_EQ(again.data(), first);  // the locked chunk is handed out again
  expect_error([] { LockedBuffer::allocate(0); }, Errc::invalid_argument, {"0 bytes"});
}

// Defect 9: a Pin (and a future's Pin) that outlives its Pool keeps the pool's memory; ending
// it later is safe and frees the pool.
TEST(PoolLifetime, APinThatOutlivesItsPoolStaysValidAndEndsSafely) {
  testing::ScratchDir dir;
  auto pool = std::make_unique<Pool>(testing::small_config(dir));
  Tensor t = pool->allocate({3 * kPage}, DType::u8, "t");
  Pin pin = t.pin(Tier::dram, Access::write);
  fill(pin, 9);
  std::future<Pin> later = t.pin_async(Tier::dram, Access::read, {kPage, kPage});
  later.wait();
  pool.reset();  // logs an error; must not crash
  EXPECT_EQ(mismatches(pin, 9), 0u);
  pin.reset();
  Pin kept = later.get();
  EXPECT_EQ(mismatches(kept, 9, kPage), 0u);
  kept.reset();  // the last pin: the pool goes now
}

// Futures dropped without get(), then the pool destroyed at once while their reads are still
// completing (PoolFaults.ThePoolWaitsForCompletionsStillTellingDroppedFutures holds the window
// open deterministically).
TEST(PoolLifetime, DroppedFuturesInFlightWhenThePoolCloses) {
  testing::ScratchDir dir;
  for (int round = 0; round < 10; ++round) {
    Config config = testing::small_config(dir, 8);
    config.io.faults = "latency=2ms";
    config.log_level = "error";
    auto pool = std::make_unique<Pool>(config);
    Tensor t = pool->allocate({8 * kPage}, DType::u8, "t");
    fill(t.pin(Tier::dram, Access::write), 5);
    ASSERT_EQ(t.evict(Tier::dram), 8u);
    for (uint64_t page = 0; page < 8; ++page) {
      (void)t.pin_async(Tier::dram, Access::read, {page * kPage, kPage});
    }
    pool.reset();
  }
}

// Defect 9: values outside the enums are refused by name, never used as indices.
TEST(PoolLifetime, ValuesOutsideTheEnumsAreRefused) {
  testing::ScratchDir dir;
  Pool pool(testing::small_config(dir, 16, 4));
  expect_error([&] { pool.allocate({4}, static_cast<DType>(200), "t"); }, Errc::invalid_argument,
               {"dtype 200 is not a DType"});
  Tensor t = pool.allocate({kPage}, DType::u8, "t");
  expect_error([&] { t.pin(static_cast<Tier>(7), Access::read); }, Errc::invalid_argument,
               {"tier 7 is not a Tier"});
  expect_error([&] { t.pin(Tier::dram, static_cast<Access>(9)); }, Errc::invalid_argument,
               {"access 9 is not an Access"});
  expect_error([&] { t.prefetch(static_cast<Tier>(7)); }, Errc::invalid_argument, {"tier 7"});
  expect_error([&] { t.evict(static_cast<Tier>(3)); }, Errc::invalid_argument, {"tier 3"});
  EXPECT_EQ(to_string(static_cast<Tier>(7)), "?");
  EXPECT_EQ(to_string(static_cast<DType>(200)), "?");
  EXPECT_EQ(dtype_size(static_cast<DType>(200)), 0u);
}

// Defect 7: read and read_write pins never show bytes another tensor left in a frame; with
// scrub_frames, write pins do not either.
TEST(PoolScrub, NoPinShowsAReleasedTensorsBytes) {
  for (bool scrub : {false, true}) {
    for (Tier tier : {Tier::dram, Tier::gpu}) {
      testing::ScratchDir dir;
      Config config = testing::small_config(dir, 4, 4);
      config.scrub_frames = scrub;
      Pool pool(config);
      std::vector<Access> accesses = {Access::read, Access::read_write};
      if (scrub) accesses.push_back(Access::write);
      for (Access access : accesses) {
        Tensor other = pool.allocate({4 * kPage}, DType::u8, "other");
        std::memset(other.pin(tier, Access::write).data(), 0x42, 4 * kPage);
        other.release();  // its frames go back holding 0x42
        Tensor fresh = pool.allocate({4 * kPage}, DType::u8, "fresh");
        Pin pin = fresh.pin(tier, access);
        const auto* bytes = static_cast<const uint8_t*>(pin.data());
        EXPECT_EQ(std::count(bytes, bytes + pin.size(), 0), static_cast<long>(pin.size()))
            << to_string(tier) << " " << to_string(access) << (scrub ? " scrubbed" : "");
        pin.reset();
        fresh.release();
      }
    }
  }
}

}  // namespace
}  // namespace tiermem
