// tests/test_gpu_tier.cpp: the gpu tier through the public API, one suite run over every
// backend: the emulation (everywhere) and CUDA (where a device is present; skipped, saying
// why, elsewhere). Random bytes travel NVMe -> DRAM -> GPU -> DRAM -> NVMe and are checked
// byte for byte; the gpu pins' bytes are read and written with cudaMemcpy on CUDA.
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "tests/test_support.hpp"
#include "tiermem/tiermem.hpp"

#ifdef TIERMEM_TEST_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tiermem {
namespace {

using testing::expect_error;

constexpr uint64_t kPage = 2ull << 20;  // a multiple of CUDA's allocation granularity

Config gpu_config(const testing::ScratchDir& dir, const std::string& backend,
                  uint64_t dram_pages = 16, uint64_t gpu_pages = 8) {
  Config config = testing::small_config(dir, dram_pages, 0, 128);
  config.page_size = kPage;
  config.dram.capacity = dram_pages * kPage;
  config.gpu.capacity = gpu_pages * kPage;
  config.gpu.backend = backend;
  config.nvme.capacity = 128 * kPage;
  config.nvme.file_size = 64 * kPage;
  return config;
}

std::vector<uint8_t> random_bytes(uint64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (uint64_t i = 0; i < n; i += 8) {
    uint64_t word = rng();
    std::memcpy(bytes.data() + i, &word, std::min<uint64_t>(8, n - i));
  }
  return bytes;
}

class GpuTier : public ::testing::TestWithParam<std::string> {
 protected:
  bool cuda() const { return GetParam() == "cuda"; }

  // The pool, or null after GTEST_SKIP when this backend cannot be had here.
  std::unique_ptr<Pool> open(const Config& config) {
#ifndef TIERMEM_TEST_CUDA
    if (cuda()) {
      skip_reason_ = "this build has no CUDA support (TIERMEM_CUDA=OFF or no toolkit)";
      return nullptr;
    }
#endif
    try {
      return std::make_unique<Pool>(config);
    } catch (const Error& e) {
      if (!cuda() || e.code() != Errc::unsupported) throw;
      skip_reason_ = std::string("no CUDA device here: ") + e.what();
      return nullptr;
    }
  }

  // Copies between host bytes and a gpu pin's memory (device memory on CUDA).
  void put(const Pin& pin, const std::vector<uint8_t>& bytes, uint64_t at = 0) {
    ASSERT_LE(at + bytes.size(), pin.size());
    auto* dst = static_cast<uint8_t*>(pin.data()) + at;
#ifdef TIERMEM_TEST_CUDA
    if (pin.tier() == Tier::gpu && cuda()) {
      ASSERT_EQ(cudaMemcpy(dst, bytes.data(), bytes.size(), cudaMemcpyHostToDevice), cudaSuccess);
      return;
    }
#endif
    std::memcpy(dst, bytes.data(), bytes.size());
  }
  std::vector<uint8_t> get(const Pin& pin) {
    std::vector<uint8_t> bytes(pin.size());
#ifdef TIERMEM_TEST_CUDA
    if (pin.tier() == Tier::gpu && cuda()) {
      EXPECT_EQ(cudaMemcpy(bytes.data(), pin.data(), bytes.size(), cudaMemcpyDeviceToHost),
                cudaSuccess);
      return bytes;
    }
#endif
    std::memcpy(bytes.data(), pin.data(), bytes.size());
    return bytes;
  }

  testing::ScratchDir dir;
  std::string skip_reason_;
};

#define OPEN_OR_SKIP(pool, config)           \
  std::unique_ptr<Pool> pool = open(config); \
  if (!(pool)) GTEST_SKIP() << skip_reason_;

uint64_t differing(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return std::max(a.size(), b.size());
  uint64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

TEST_P(GpuTier, RandomBytesTravelNvmeDramGpuDramNvme) {
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam()));
  EXPECT_EQ(pool->stats().gpu_backend, GetParam());
  const uint64_t size = 6 * kPage + 12345;  // a partial last page
  Tensor t = pool->allocate({size}, DType::u8, "t");
  const std::vector<uint8_t> original = random_bytes(size, 1);
  put(t.pin(Tier::dram, Access::write), original);
  t.flush();
  ASSERT_EQ(t.evict(Tier::dram), 7u);
  ASSERT_TRUE(t.residency(0).in(Tier::nvme) && !t.residency(0).in(Tier::dram));

  {
    Pin pin = t.pin(Tier::gpu, Access::read);  // nvme -> dram -> gpu
    EXPECT_EQ(differing(get(pin), original), 0u);
  }
  const std::vector<uint8_t> changed = random_bytes(size, 2);
  put(t.pin(Tier::gpu, Access::read_write), changed);  // the gpu copy is now the only one
  EXPECT_FALSE(t.residency(3).in(Tier::dram));
  EXPECT_EQ(t.evict(Tier::gpu), 7u);   // gpu -> dram
  EXPECT_EQ(t.evict(Tier::dram), 7u);  // dram -> nvme
  ASSERT_TRUE(t.residency(6).in(Tier::nvme) && !t.residency(6).in(Tier::dram));
  EXPECT_EQ(differing(get(t.pin(Tier::dram, Access::read)), changed), 0u);

  Stats s = pool->stats();
  EXPECT_EQ(s.moves[2][1], 14u);  // nvme -> dram, twice
  EXPECT_EQ(s.moves[1][0], 7u);   // dram -> gpu
  EXPECT_EQ(s.moves[0][1], 7u);   // gpu -> dram
  EXPECT_EQ(s.moves[1][2], 14u);  // dram -> nvme: the flush and the second eviction
  EXPECT_EQ(s.io_errors, 0u);
}

TEST_P(GpuTier, AMultiPageGpuPinIsOneContiguousRange) {
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam()));
  Tensor t = pool->allocate({8 * kPage}, DType::u8, "t");
  const std::vector<uint8_t> bytes = random_bytes(5 * kPage, 3);
  const ByteRange range{kPage / 2, 5 * kPage};  // spans six pages, starting mid-page
  put(t.pin(Tier::gpu, Access::write, range), bytes);
  EXPECT_EQ(t.evict(Tier::gpu), 6u);
  EXPECT_EQ(differing(get(t.pin(Tier::dram, Access::read, range)), bytes), 0u);
  Pin again = t.pin(Tier::gpu, Access::read, range);
  EXPECT_EQ(again.size(), 5 * kPage);
  EXPECT_EQ(differing(get(again), bytes), 0u);
}

TEST_P(GpuTier, APinOverScatteredFramesIsStillOneContiguousRange) {
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam()));
  Tensor t = pool->allocate({3 * kPage}, DType::u8, "t");
  const std::vector<uint8_t> bytes = random_bytes(3 * kPage, 4);
  put(t.pin(Tier::dram, Access::write), bytes);
  // Pages 0 and 2 come up first and take the first free frames; page 1 comes last, so the
  // three pages do not sit in consecutive frames (CUDA must map their places).
  {
    Pin first = t.pin(Tier::gpu, Access::read, {0, 1});
    Pin third = t.pin(Tier::gpu, Access::read, {2 * kPage, 1});
    Pin all = t.pin(Tier::gpu, Access::read);
    EXPECT_EQ(differing(get(all), bytes), 0u);
  }
  EXPECT_EQ(t.evict(Tier::gpu), 3u);
  Pin all = t.pin(Tier::gpu, Access::read);  // now they come up in order
  EXPECT_EQ(differing(get(all), bytes), 0u);
}

TEST_P(GpuTier, UnbackedPagesReadAsZerosOnTheGpu) {
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam()));
  Tensor t = pool->allocate({3 * kPage}, DType::u8, "t");
  // The frames have held other data first, so zeros come from the zero fill.
  Tensor other = pool->allocate({8 * kPage}, DType::u8, "other");
  put(other.pin(Tier::gpu, Access::write), random_bytes(8 * kPage, 4));
  other.evict(Tier::gpu);
  EXPECT_EQ(differing(get(t.pin(Tier::gpu, Access::read)), std::vector<uint8_t>(3 * kPage, 0)), 0u);
  EXPECT_EQ(pool->stats().zero_fills, 3u);  // the writes overwrote whole pages: no fill
}

TEST_P(GpuTier, MorePagesThanFramesMoveBothWaysAndLoseNoByte) {
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam(), 8, 4));  // 8 dram frames, 4 gpu frames
  std::vector<Tensor> tensors;
  std::vector<std::vector<uint8_t>> contents;
  for (int i = 0; i < 6; ++i) {  // 12 pages: three times the gpu tier, more than dram
    tensors.push_back(pool->allocate({2 * kPage}, DType::u8, "tensor-" + std::to_string(i)));
    contents.push_back(random_bytes(2 * kPage, 10 + i));
    put(tensors.back().pin(Tier::gpu, Access::write), contents.back());
  }
  std::mt19937 rng(5);
  for (int round = 0; round < 24; ++round) {
    size_t i = rng() % tensors.size();
    if (round % 3 == 0) {
      contents[i] = random_bytes(2 * kPage, 100 + round);
      put(tensors[i].pin(Tier::gpu, Access::write), contents[i]);
    } else {
      Tier tier = round % 3 == 1 ? Tier::gpu : Tier::dram;
      ASSERT_EQ(differing(get(tensors[i].pin(tier, Access::read)), contents[i]), 0u)
          << "tensor " << i << " in " << to_string(tier) << " at round " << round;
    }
  }
  Stats s = pool->stats();
  EXPECT_GT(s.moves[0][1], 0u) << "nothing was written down from the gpu tier";
  EXPECT_GT(s.moves[1][2], 0u) << "nothing was written down to nvme";
  EXPECT_GT(s.moves[1][0], 0u) << "nothing was copied up to the gpu tier";
}

TEST_P(GpuTier, AFlushOfMoreDirtyGpuPagesThanDramFramesWritesThemAll) {
  // The dram frames fill with pages being flushed on to nvme; the rest of the gpu pages wait
  // for those flushes instead of failing with tier_full.
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam(), 4, 8));
  Tensor t = pool->allocate({8 * kPage}, DType::u8, "t");
  const std::vector<uint8_t> bytes = random_bytes(8 * kPage, 7);
  put(t.pin(Tier::gpu, Access::write), bytes);
  EXPECT_NO_THROW(pool->flush());
  for (const PageResidency& r : t.residency()) EXPECT_TRUE(r.in(Tier::nvme) && !r.dirty);
  t.evict(Tier::gpu);
  t.evict(Tier::dram);
  EXPECT_EQ(differing(get(t.pin(Tier::gpu, Access::read)), bytes), 0u);
}

TEST_P(GpuTier, APrefetchIntoGpuWithDramFullOfDirtyPagesIsSkipped) {
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam(), 4, 8));
  Tensor far = pool->allocate({4 * kPage}, DType::u8, "far");
  const std::vector<uint8_t> bytes = random_bytes(4 * kPage, 8);
  put(far.pin(Tier::dram, Access::write), bytes);
  far.flush();
  far.evict(Tier::dram);  // on nvme only
  Tensor near = pool->allocate({4 * kPage}, DType::u8, "near");
  put(near.pin(Tier::dram, Access::write), random_bytes(4 * kPage, 9));  // dram: all dirty
  far.prefetch(Tier::gpu);  // no clean dram frame for its stop on the way: skipped
  EXPECT_FALSE(far.residency(0).in(Tier::gpu));
  EXPECT_EQ(differing(get(far.pin(Tier::gpu, Access::read)), bytes), 0u);  // a pin may wait
  EXPECT_EQ(pool->stats().prefetch_issued, 0u);  // counted only once a frame is taken
}

TEST_P(GpuTier, APrefetchOfAPageBeingWrittenMakesNoStaleCopy) {
  // A copy into the other tier made while a write pin changes the page would be stale when the
  // pin ends, yet valid beside the written one (the model check found reads of such copies).
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam(), 4, 4));
  Tensor t = pool->allocate({kPage}, DType::u8, "t");
  put(t.pin(Tier::dram, Access::write), random_bytes(kPage, 1));
  for (Tier written : {Tier::dram, Tier::gpu}) {
    const Tier other = written == Tier::dram ? Tier::gpu : Tier::dram;
    const std::vector<uint8_t> bytes = random_bytes(kPage, written == Tier::dram ? 2 : 3);
    {
      Pin pin = t.pin(written, Access::write);
      const uint64_t issued = pool->stats().prefetch_issued;
      t.prefetch(other);
      // A prefetch taken copies at once; the write below then comes after the copy.
      for (int i = 0;
           i < 2000 && pool->stats().prefetch_issued != issued && !t.residency(0).in(other); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      put(pin, bytes);
    }
    EXPECT_EQ(differing(get(t.pin(other, Access::read)), bytes), 0u)
        << "a read in the other tier after a write in " << (written == Tier::dram ? "dram" : "gpu");
  }
}

TEST_P(GpuTier, DirectStorageOnStillRoundTripsWhereverItFallsBack) {
  Config config = gpu_config(dir, GetParam());
  config.gpu.direct_storage = "on";
  config.nvme.keep_files = true;  // named files (in dir, removed with it)
  OPEN_OR_SKIP(pool, config);
  const uint64_t size = 4 * kPage;
  Tensor t = pool->allocate({size}, DType::u8, "t");
  const std::vector<uint8_t> bytes = random_bytes(size, 6);
  put(t.pin(Tier::dram, Access::write), bytes);
  t.flush();
  t.evict(Tier::dram);
  EXPECT_EQ(differing(get(t.pin(Tier::gpu, Access::read)), bytes), 0u);
  Stats s = pool->stats();
  // Straight from nvme with cuFile, through dram without it; the log says which.
  EXPECT_EQ(s.moves[2][0] + s.moves[1][0], 4u);
  if (s.moves[2][0] == 0 && cuda()) {
    std::cout << "note: cuFile was not usable here; the pages came through dram\n";
  }
}

TEST_P(GpuTier, PinsOnStreamsNeedCuda) {
  OPEN_OR_SKIP(pool, gpu_config(dir, GetParam()));
  Tensor t = pool->allocate({kPage}, DType::u8, "t");
  if (cuda()) {
    EXPECT_NO_THROW(t.pin_on_stream(nullptr, Access::read));  // the legacy default stream
  } else {
    expect_error([&] { t.pin_on_stream(nullptr, Access::read); }, Errc::unsupported,
                 {"CUDA stream", "emulated"});
  }
}

TEST_P(GpuTier, CudaRefusesPageSizesItCannotMap) {
  if (!cuda()) GTEST_SKIP() << "only CUDA maps pages with an allocation granularity";
  OPEN_OR_SKIP(device_present, gpu_config(dir, GetParam()));
  Config config = gpu_config(dir, GetParam());
  config.page_size = 64 << 10;
  config.dram.capacity = 16 * config.page_size;
  config.gpu.capacity = 8 * config.page_size;
  expect_error([&] { Pool pool(config); }, Errc::invalid_argument,
               {"page_size 64KiB", "allocation granularity"});
}

TEST_P(GpuTier, CudaSaysWhenTheDeviceHasTooLittleMemory) {
  if (!cuda()) GTEST_SKIP() << "the emulation takes host memory, not device memory";
  OPEN_OR_SKIP(device_present, gpu_config(dir, GetParam()));
  Config config = gpu_config(dir, GetParam());
  config.gpu.capacity = 64ull << 40;  // far beyond any device today
  expect_error([&] { Pool pool(config); }, Errc::system, {"gpu.capacity 64TiB", "free of"});
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuTier, ::testing::Values("emulated", "cuda"),
                         [](const ::testing::TestParamInfo<std::string>& backend) {
                           return backend.param;
                         });

}  // namespace
}  // namespace tiermem
