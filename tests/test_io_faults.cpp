// tests/test_io_faults.cpp: every fault the wrapper engine injects surfaces on the right request,
// short transfers and EAGAIN/EINTR are continued by the real engines, and nothing hangs.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <tuple>

#include "io/fault_engine.hpp"
#include "io_test_support.hpp"
#include "tiermem/error.hpp"

namespace tiermem::io {
namespace {

using testing::AlignedBytes;
using testing::OpenFile;
using testing::run_batch;
using testing::ScratchFile;
using testing::Waiter;

constexpr uint64_t kBlock = 4096;
constexpr uint64_t kPiece = 64 << 10;

class FaultTest : public ::testing::TestWithParam<std::tuple<std::string, bool>> {
 protected:
  void SetUp() override {
    if (direct() && !testing::direct_supported()) GTEST_SKIP() << "no O_DIRECT here";
  }
  bool direct() const { return std::get<1>(GetParam()); }
  std::unique_ptr<FaultEngine> make(FaultPlan plan) const {
    EngineConfig config;
    config.kind = std::get<0>(GetParam());
    config.threads = 2;
    config.queue_depth = 4;
    config.block_size = kPiece;
    return std::make_unique<FaultEngine>(std::move(plan), config);
  }
};

// Writes then reads back `size` bytes in requests of `request` bytes, and compares.
void round_trip(Engine& engine, File& file, uint64_t size, uint64_t request) {
  AlignedBytes source(size);
  AlignedBytes target(size);
  testing::fill_random(source.data(), size, size);
  for (Op op : {Op::write, Op::read}) {
    std::vector<Request> batch;
    for (uint64_t at = 0; at < size; at += request) {
      std::byte* memory = (op == Op::write ? source : target).data() + at;
      batch.push_back(Request{op, &file, at, memory, std::min(request, size - at), nullptr});
    }
    for (const Result& result : run_batch(engine, batch)) {
      ASSERT_EQ(result.error, 0) << std::strerror(result.error);
    }
  }
  EXPECT_EQ(std::memcmp(source.data(), target.data(), size), 0);
}

TEST_P(FaultTest, ChosenRequestsFailWithTheirErrorAndNoOthers) {
  ScratchFile scratch(1 << 20);
  OpenFile open_file(scratch.path(), direct());
  FaultPlan plan;
  plan.fail_requests = {3, 7};
  plan.request_error = ENOSPC;
  auto engine = make(plan);
  AlignedBytes memory(20 * 2 * kBlock);
  for (int round = 0; round < 2; ++round) {  // indices count on across batches
    std::vector<Request> batch;
    for (uint64_t i = 0; i < 10; ++i) {
      batch.push_back(Request{Op::write, &open_file.file(), i * 2 * kBlock,
                              memory.data() + i * 2 * kBlock, 2 * kBlock, nullptr});
    }
    std::vector<Result> results = run_batch(*engine, batch);
    for (uint64_t i = 0; i < 10; ++i) {
      bool chosen = round == 0 && (i == 3 || i == 7);
      EXPECT_EQ(results[i].error, chosen ? ENOSPC : 0) << "round " << round << " request " << i;
      EXPECT_EQ(results[i].bytes, chosen ? 0 : 2 * kBlock);
      if (chosen) {
        EXPECT_EQ(results[i].error_offset, i * 2 * kBlock);
      }
    }
  }
  EXPECT_EQ(engine->counts().failed_requests, 2u);
}

TEST_P(FaultTest, RangeFaultReportsItsFirstByteAndKeepsTheRest) {
  constexpr uint64_t kSize = 1 << 20;
  constexpr uint64_t kBegin = 75 * kBlock;  // inside the piece [256 KiB, 320 KiB)
  constexpr uint64_t kEnd = 80 * kBlock;    // exactly where that piece ends
  ScratchFile scratch(kSize);
  OpenFile open_file(scratch.path(), direct());
  FaultPlan plan;
  plan.fail_ranges = {FaultPlan::Range{kBegin, kEnd, EIO, true, false},
                      FaultPlan::Range{kSize - kBlock, kSize, ENOSPC, false, true}};
  auto engine = make(plan);
  AlignedBytes memory(kSize);

  // Reads fail in the first range only; writes are not affected by it.
  ASSERT_EQ(run_batch(*engine, {Request{Op::write, &open_file.file(), 0, memory.data(),
                                        kSize - kBlock, nullptr}})
                .front()
                .error,
            0);
  std::vector<Result> reads = run_batch(
      *engine,
      {Request{Op::read, &open_file.file(), 0, memory.data(), kSize, nullptr},
       Request{Op::read, &open_file.file(), 0, memory.data(), kBegin, nullptr},
       Request{Op::read, &open_file.file(), kBegin + kBlock, memory.data(), kBlock, nullptr}});
  EXPECT_EQ(reads[0].error, EIO);
  EXPECT_EQ(reads[0].error_offset, kBegin);
  EXPECT_EQ(reads[0].bytes, kSize - (kEnd - kBegin));  // every other piece got through
  EXPECT_EQ(reads[1].error, 0);                        // ends just before the range
  EXPECT_EQ(reads[2].error, EIO);
  EXPECT_EQ(reads[2].error_offset, kBegin + kBlock);

  // Writes fail in the second range with ENOSPC.
  Result write = run_batch(*engine, {Request{Op::write, &open_file.file(), kSize - 4 * kBlock,
                                             memory.data(), 4 * kBlock, nullptr}})
                     .front();
  EXPECT_EQ(write.error, ENOSPC);
  EXPECT_EQ(write.error_offset, kSize - kBlock);
  EXPECT_EQ(write.bytes, 3 * kBlock);
  EXPECT_GE(engine->counts().failed_calls, 3u);
}

TEST_P(FaultTest, ShortTransfersAreContinuedExactly) {
  ScratchFile scratch(2 << 20);
  OpenFile open_file(scratch.path(), direct());
  FaultPlan plan;
  plan.short_probability = 0.5;
  auto engine = make(plan);
  round_trip(*engine, open_file.file(), 2 << 20, 200 * kBlock);
  EXPECT_GT(engine->counts().short_calls, 10u);
}

TEST_P(FaultTest, EagainAndEintrAreRetried) {
  ScratchFile scratch(1 << 20);
  OpenFile open_file(scratch.path(), direct());
  FaultPlan plan;
  plan.retry_probability = 0.4;
  plan.short_probability = 0.2;
  auto engine = make(plan);
  round_trip(*engine, open_file.file(), 1 << 20, 40 * kBlock);
  EXPECT_GT(engine->counts().retried_calls, 10u);
}

TEST_P(FaultTest, EndOfFileIsFoundThroughShortTransfers) {
  constexpr uint64_t kFileSize = 9 * kBlock;
  ScratchFile scratch(kFileSize);
  OpenFile open_file(scratch.path(), direct());
  FaultPlan plan;
  plan.short_probability = 0.7;
  auto engine = make(plan);
  AlignedBytes memory(32 * kBlock);
  Result result =
      run_batch(*engine,
                {Request{Op::read, &open_file.file(), 0, memory.data(), 32 * kBlock, nullptr}})
          .front();
  EXPECT_EQ(result.error, ENODATA);
  EXPECT_EQ(result.error_offset, kFileSize);
  EXPECT_EQ(result.bytes, kFileSize);
}

TEST_P(FaultTest, SeededFailuresAreRepeatable) {
  ScratchFile scratch(1 << 20);
  OpenFile open_file(scratch.path(), direct());
  FaultPlan plan;
  plan.chances = {{.probability = 0.3}};
  plan.seed = 9;
  AlignedBytes memory(kBlock);
  auto failing = [&] {
    auto engine = make(plan);
    std::vector<Request> batch(
        100, Request{Op::write, &open_file.file(), 0, memory.data(), kBlock, nullptr});
    std::vector<Result> results = run_batch(*engine, batch);
    std::set<size_t> failed;
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].error != 0) {
        EXPECT_EQ(results[i].error, EIO);
        failed.insert(i);
      }
    }
    return failed;
  };
  std::set<size_t> first = failing();
  EXPECT_GT(first.size(), 10u);
  EXPECT_LT(first.size(), 60u);
  EXPECT_EQ(failing(), first);
}

TEST_P(FaultTest, LateCompletionsAreAllDeliveredBeforeTheEngineCloses) {
  ScratchFile scratch(1 << 20);
  OpenFile open_file(scratch.path(), direct());
  FaultPlan plan;
  plan.latency = std::chrono::milliseconds(3);
  plan.fail_requests = {0, 5};
  AlignedBytes memory(kBlock);
  std::vector<Waiter> waiters(20);
  {
    auto engine = make(plan);
    for (Waiter& waiter : waiters) {
      Request request{Op::write, &open_file.file(), 0, memory.data(), kBlock, &waiter};
      engine->submit({&request, 1});
    }
  }
  int failed = 0;
  for (Waiter& waiter : waiters) {
    EXPECT_EQ(waiter.calls(), 1);
    failed += waiter.wait().error != 0 ? 1 : 0;
  }
  EXPECT_EQ(failed, 2);
}

// Every kind of fault at once, from several threads and from completions: every request ends
// exactly once, each either complete or with one of the injected errors.
TEST_P(FaultTest, EverythingAtOnceNeverHangs) {
  constexpr uint64_t kSize = 4 << 20;
  ScratchFile scratch(kSize);
  OpenFile open_file(scratch.path(), direct());
  FaultPlan plan;
  plan.chances = {{.probability = 0.1}};
  plan.short_probability = 0.3;
  plan.retry_probability = 0.2;
  plan.fail_ranges = {FaultPlan::Range{kSize / 2, kSize / 2 + 8 * kBlock, EIO, true, true}};
  plan.latency = std::chrono::microseconds(100);
  AlignedBytes memory(kSize);

  // Each completion submits one more request until its thread's quota is used up.
  struct Resubmit final : Completion {
    Engine* engine = nullptr;
    const File* file = nullptr;
    std::byte* memory = nullptr;
    uint64_t slot = 0;
    std::atomic<int> left{25};
    std::atomic<int> ends{0};
    std::atomic<int> odd{0};
    void submit_next() {
      uint64_t offset = (slot * 25 + static_cast<uint64_t>(left.load())) * 5 * kBlock;
      Request request{
          left % 2 == 0 ? Op::write : Op::read,   file,       offset % (kSize - 5 * kBlock),
          memory + offset % (kSize - 5 * kBlock), 5 * kBlock, this};
      engine->submit({&request, 1});
    }
    void complete(const Result& result) noexcept override {
      if (result.error != 0 && result.error != EIO) odd.fetch_add(1);
      if (result.error == 0 && result.bytes != 5 * kBlock) odd.fetch_add(1);
      ends.fetch_add(1);
      if (--left > 0) submit_next();
    }
  };
  std::vector<Resubmit> chains(6);
  {
    auto engine = make(plan);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < chains.size(); ++t) {
      chains[t].engine = engine.get();
      chains[t].file = &open_file.file();
      chains[t].memory = memory.data();
      chains[t].slot = t;
      threads.emplace_back([&chains, t] { chains[t].submit_next(); });
    }
    for (std::thread& thread : threads) thread.join();
  }
  for (Resubmit& chain : chains) {
    EXPECT_EQ(chain.ends.load(), 25);
    EXPECT_EQ(chain.odd.load(), 0);
  }
}

TEST(FaultEngine, RefusesToWrapAnUnknownEngine) {
  EngineConfig config;
  config.kind = "auto";
  EXPECT_THROW(FaultEngine(FaultPlan{}, config), Error);
}

INSTANTIATE_TEST_SUITE_P(Engines, FaultTest,
                         ::testing::Combine(::testing::Values("uring", "psync"), ::testing::Bool()),
                         testing::engine_case_name);

}  // namespace
}  // namespace tiermem::io
