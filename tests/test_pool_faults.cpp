// tests/test_pool_faults.cpp: failed I/O never loses data: the page stays valid in the tier
// above, the caller gets an Error naming the page, the file and the errno, and nothing hangs.
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "io/fault_engine.hpp"
#include "tests/test_support.hpp"
#include "tiermem/pool_core.hpp"

namespace tiermem {
namespace {

using testing::expect_error;
using testing::pattern_byte;

constexpr uint64_t kPage = 64 << 10;
constexpr uint64_t kEverywhere = std::numeric_limits<uint64_t>::max();

std::unique_ptr<detail::PoolCore> faulty_pool(const Config& config, io::FaultPlan plan) {
  auto engine = std::make_unique<io::FaultEngine>(std::move(plan),
                                                  io::EngineConfig{.kind = "uring", .threads = 2});
  return std::make_unique<detail::PoolCore>(config, std::move(engine));
}

void fill(detail::PoolCore& pool, const Tensor& t, uint64_t seed) {
  Pin pin = pool.pin(t, Tier::dram, Access::write, ByteRange::whole());
  for (uint64_t i = 0; i < pin.size(); ++i) {
    pin.bytes()[i] = static_cast<std::byte>(pattern_byte(seed, i));
  }
}

// Bytes of a pin that differ from fill()'s pattern.
uint64_t mismatches(const Pin& pin, uint64_t seed) {
  uint64_t bad = 0;
  for (uint64_t i = 0; i < pin.size(); ++i) {
    bad += pin.bytes()[i] != static_cast<std::byte>(pattern_byte(seed, i));
  }
  return bad;
}

uint64_t mismatches(detail::PoolCore& pool, const Tensor& t, uint64_t seed) {
  return mismatches(pool.pin(t, Tier::dram, Access::read, ByteRange::whole()), seed);
}

TEST(PoolFaults, AFailedWriteBackKeepsThePageInDram) {
  testing::ScratchDir dir;
  io::FaultPlan plan;
  plan.fail_ranges.push_back({.begin = 0, .end = kEverywhere, .error = ENOSPC, .reads = false});
  auto pool = faulty_pool(testing::small_config(dir), plan);
  Tensor full = pool->allocate(std::vector<uint64_t>{16 * kPage}, DType::u8, "full", {});
  fill(*pool, full, 1);  // every dram frame now holds a dirty page
  Tensor more = pool->allocate(std::vector<uint64_t>{kPage}, DType::u8, "more", {});
  expect_error(
      [&] { pool->pin(more, Tier::dram, Access::read, ByteRange::whole()); }, Errc::io,
      {"no frame of the dram tier could be freed for page 0 of tensor 'more'", "writing page",
       "of tensor 'full'", "stays valid in dram", "at offset", "No space left"});
  expect_error([&] { pool->flush(&full); }, Errc::io, {"'full'"});
  EXPECT_EQ(mismatches(*pool, full, 1), 0u);
  for (const PageResidency& r : pool->residency(full)) EXPECT_TRUE(r.in(Tier::dram) && r.dirty);
  EXPECT_GE(pool->stats().io_errors, 2u);
}

TEST(PoolFaults, AFailedReadLeavesTheNvmeCopyValid) {
  testing::ScratchDir dir;
  io::FaultPlan plan;
  plan.fail_ranges.push_back({.begin = 0, .end = kEverywhere, .error = EIO, .writes = false});
  auto pool = faulty_pool(testing::small_config(dir), plan);
  Tensor t = pool->allocate(std::vector<uint64_t>{4 * kPage}, DType::u8, "cold", {});
  fill(*pool, t, 2);
  EXPECT_EQ(pool->evict(t, Tier::dram), 4u);  // written down: writes work
  expect_error(
      [&] {
        pool->pin(t, Tier::dram, Access::read, ByteRange{kPage, 10});
      },
      Errc::io, {"bringing page 1 of tensor 'cold' into dram failed", "Input/output error"});
  PageResidency r = pool->residency(t, 1);
  EXPECT_TRUE(r.in(Tier::nvme));
  EXPECT_FALSE(r.in(Tier::dram));
  EXPECT_FALSE(r.in_flight);
  EXPECT_EQ(pool->stats().tiers[1].free_frames, 16u);  // the frame came back
}

// The emulated gpu backend with its copies held back while hold is set, as a slow device
// would, and started in order by release().
class HeldGpu final : public detail::GpuBackend {
 public:
  explicit HeldGpu(std::unique_ptr<detail::GpuBackend> inner) : inner_(std::move(inner)) {}

  std::string_view name() const noexcept override { return inner_->name(); }
  detail::FrameArena& arena() noexcept override { return inner_->arena(); }
  bool copies_through_registration() const noexcept override {
    return inner_->copies_through_registration();
  }
  void copy_in(uint32_t frame, const std::byte* host, uint64_t bytes,
               io::Completion& done) override {
    start([=, this, &done] { inner_->copy_in(frame, host, bytes, done); });
  }
  void copy_out(std::byte* host, uint32_t frame, uint64_t bytes, io::Completion& done) override {
    start([=, this, &done] { inner_->copy_out(host, frame, bytes, done); });
  }
  void zero(uint32_t frame, io::Completion& done) override {
    start([=, this, &done] { inner_->zero(frame, done); });
  }

  void hold() {
    std::lock_guard lock(mutex_);
    holding_ = true;
  }
  size_t held() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  void release() {
    std::vector<std::function<void()>> copies;
    {
      std::lock_guard lock(mutex_);
      holding_ = false;
      copies.swap(held_);
    }
    for (auto& copy : copies) copy();
  }

 private:
  void start(std::function<void()> copy) {
    {
      std::lock_guard lock(mutex_);
      if (holding_) return held_.push_back(std::move(copy));
    }
    copy();
  }

  std::unique_ptr<detail::GpuBackend> inner_;
  std::mutex mutex_;
  bool holding_ = false;
  std::vector<std::function<void()>> held_;
};

// Puts a HeldGpu around the pool's gpu backend and tells the test where it is.
detail::PoolCore::GpuWrapper holding_gpu(HeldGpu*& gpu) {
  return [&gpu](std::unique_ptr<detail::GpuBackend> inner) {
    auto held = std::make_unique<HeldGpu>(std::move(inner));
    gpu = held.get();
    return std::unique_ptr<detail::GpuBackend>(std::move(held));
  };
}

TEST(PoolFaults, PagesWaitForDramFramesThatSlowGpuCopiesStillRead) {
  // Eight pages on nvme go up to the gpu through a dram tier of four frames. When the fourth
  // nvme read ends, every dram frame is the source of a gpu copy still running and none is
  // evictable; the other four pages must wait for those copies, not fail with tier_full.
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 4, 8, 64);
  HeldGpu* gpu = nullptr;
  detail::PoolCore pool(config, nullptr, holding_gpu(gpu));
  ASSERT_NE(gpu, nullptr);
  const uint64_t shape[] = {8 * kPage};
  Tensor t = pool.allocate(shape, DType::u8, "t", {});
  {
    Pin pin = pool.pin(t, Tier::gpu, Access::write, ByteRange::whole());  // host memory here
    for (uint64_t i = 0; i < pin.size(); ++i) {
      pin.bytes()[i] = static_cast<std::byte>(pattern_byte(3, i));
    }
  }
  pool.flush(&t);
  pool.evict(t, Tier::gpu);
  pool.evict(t, Tier::dram);
  for (uint64_t page = 0; page < 8; ++page) {
    const PageResidency r = pool.residency(t, page);
    ASSERT_TRUE(r.in(Tier::nvme) && !r.in(Tier::dram) && !r.in(Tier::gpu));
  }

  gpu->hold();
  std::future<Pin> later = pool.pin_async(t, Tier::gpu, Access::read, ByteRange::whole());
  for (int i = 0; i < 5000 && gpu->held() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(gpu->held(), 4u) << "the first four pages did not reach their gpu copies";
  gpu->release();
  Pin pin = later.get();
  EXPECT_EQ(mismatches(pin, 3), 0u);
}

TEST(PoolFaults, AReadPinInDramWaitsForAFlushCopyingItsGpuPageDown) {
  // A dirty page only in gpu is being flushed (gpu -> dram, held back) when a read pin in dram
  // arrives: it must join the flush, not start a second operation on the page (which asserted,
  // threw std::out_of_range from the engine, or hung ~Pool).
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 4, 4, 64);
  HeldGpu* gpu = nullptr;
  detail::PoolCore pool(config, nullptr, holding_gpu(gpu));
  const uint64_t shape[] = {2 * kPage};
  Tensor t = pool.allocate(shape, DType::u8, "t", {});
  {
    Pin pin = pool.pin(t, Tier::gpu, Access::write, ByteRange::whole());
    for (uint64_t i = 0; i < pin.size(); ++i) {
      pin.bytes()[i] = static_cast<std::byte>(pattern_byte(4, i));
    }
  }
  ASSERT_TRUE(pool.residency(t, 0).in(Tier::gpu) && !pool.residency(t, 0).in(Tier::dram));
  gpu->hold();
  std::future<void> flushing = std::async(std::launch::async, [&] { pool.flush(&t); });
  for (int i = 0; i < 5000 && gpu->held() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(gpu->held(), 2u) << "the flush did not reach its gpu copies";
  std::future<Pin> reading = pool.pin_async(t, Tier::dram, Access::read, ByteRange::whole());
  gpu->release();
  flushing.get();
  Pin pin = reading.get();
  EXPECT_EQ(mismatches(pin, 4), 0u);
  pin.reset();
  for (const PageResidency& r : pool.residency(t)) EXPECT_TRUE(r.in(Tier::nvme) && !r.dirty);
}

// The emulated gpu backend, but every pin in gpu takes a while to be ordered (begin_use), as
// a stream wait can: the completion that ends a pin's last fetch is still telling the pin's
// job when it sleeps there. alive is cleared when the backend is destroyed.
class SlowBeginGpu final : public detail::GpuBackend {
 public:
  SlowBeginGpu(std::unique_ptr<detail::GpuBackend> inner, std::atomic<bool>& late)
      : inner_(std::move(inner)), late_(late) {}
  ~SlowBeginGpu() override { alive_ = false; }

  std::string_view name() const noexcept override { return inner_->name(); }
  detail::FrameArena& arena() noexcept override { return inner_->arena(); }
  bool copies_through_registration() const noexcept override {
    return inner_->copies_through_registration();
  }
  void copy_in(uint32_t frame, const std::byte* host, uint64_t bytes,
               io::Completion& done) override {
    inner_->copy_in(frame, host, bytes, done);
  }
  void copy_out(std::byte* host, uint32_t frame, uint64_t bytes, io::Completion& done) override {
    inner_->copy_out(host, frame, bytes, done);
  }
  void zero(uint32_t frame, io::Completion& done) override { inner_->zero(frame, done); }
  bool begin_needed() const noexcept override { return true; }
  void begin_use(std::span<const uint32_t>, const GpuStream*) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!alive_) late_ = true;
  }

 private:
  std::unique_ptr<detail::GpuBackend> inner_;
  std::atomic<bool>& late_;
  std::atomic<bool> alive_{true};
};

TEST(PoolFaults, ThePoolWaitsForCompletionsStillTellingDroppedFutures) {
  // Defect 2: a future dropped unread, the pool destroyed while the completion that ends its
  // pin is still finishing the job: the pool's tables were freed under it (use after free).
  testing::ScratchDir dir;
  std::atomic<bool> late{false};
  {
    detail::PoolCore pool(testing::small_config(dir, 4, 4, 64), nullptr,
                          [&](std::unique_ptr<detail::GpuBackend> inner) {
                            return std::make_unique<SlowBeginGpu>(std::move(inner), late);
                          });
    const uint64_t shape[] = {kPage};
    Tensor t = pool.allocate(shape, DType::u8, "t", {});
    (void)pool.pin_async(t, Tier::gpu, Access::read, ByteRange::whole());  // dropped at once
  }
  EXPECT_FALSE(late) << "a job was still being told of its end after the pool was destroyed";
}

}  // namespace
}  // namespace tiermem
