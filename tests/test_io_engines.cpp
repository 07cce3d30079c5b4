// tests/test_io_engines.cpp: the io_uring and psync engines keep io/engine.hpp's contract:
// exact round trips at any offset, length and alignment, errors on the right request,
// many submitting threads, submission from completions, registered memory and files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <tuple>

#include "io/engines.hpp"
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

EngineConfig small_config(const std::string& kind) {
  EngineConfig config;
  config.kind = kind;
  config.threads = 3;
  config.queue_depth = 4;        // fewer than the pieces of one batch: pieces must queue up
  config.block_size = 64 << 10;  // requests of up to 512 KiB split into many pieces
  return config;
}

std::unique_ptr<Engine> make(const std::string& kind, const EngineConfig& config) {
  return kind == "uring" ? make_uring_engine(config) : make_psync_engine(config);
}

Result run_one(Engine& engine, Op op, const File& file, uint64_t offset, void* buffer,
               uint64_t length) {
  return run_batch(engine, {Request{op, &file, offset, buffer, length, nullptr}}).front();
}

class EngineTest : public ::testing::TestWithParam<std::tuple<std::string, bool>> {
 protected:
  void SetUp() override {
    if (direct() && !testing::direct_supported()) GTEST_SKIP() << "no O_DIRECT here";
  }
  const std::string& kind() const { return std::get<0>(GetParam()); }
  bool direct() const { return std::get<1>(GetParam()); }
  // Offsets, lengths and buffer addresses: anything buffered, whole blocks with O_DIRECT.
  uint64_t unit() const { return direct() ? kBlock : 1; }
};

TEST_P(EngineTest, RandomRequestsRoundTripExactly) {
  constexpr uint64_t kSize = 4 << 20;
  constexpr uint64_t kSlots = 8;  // one request per slot per batch, so a batch never overlaps
  constexpr uint64_t kSlot = kSize / kSlots;
  ScratchFile scratch(kSize);
  OpenFile open_file(scratch.path(), direct());
  auto engine = make(kind(), small_config(kind()));
  std::vector<std::byte> model(kSize);
  AlignedBytes out(kSize + kSlots * kBlock);
  AlignedBytes in(kSize + kSlots * kBlock);
  std::mt19937_64 rng(42);
  auto pick = [&](uint64_t lo, uint64_t hi) { return lo + rng() % (hi - lo + 1); };

  for (int round = 0; round < 12; ++round) {
    std::vector<Request> writes;
    std::vector<Request> reads;
    for (uint64_t s = 0; s < kSlots; ++s) {
      uint64_t length = pick(1, kSlot / unit()) * unit();
      uint64_t offset = s * kSlot + pick(0, (kSlot - length) / unit()) * unit();
      // A different memory alignment for each request and direction.
      std::byte* source =
          out.data() + s * (kSlot + kBlock) + pick(0, (kBlock - 1) / unit()) * unit();
      std::byte* target =
          in.data() + s * (kSlot + kBlock) + pick(0, (kBlock - 1) / unit()) * unit();
      testing::fill_random(source, length, rng());
      std::copy(source, source + length, model.begin() + static_cast<ptrdiff_t>(offset));
      writes.push_back(Request{Op::write, &open_file.file(), offset, source, length, nullptr});
      reads.push_back(Request{Op::read, &open_file.file(), offset, target, length, nullptr});
    }
    for (const Result& result : run_batch(*engine, writes)) {
      ASSERT_EQ(result.error, 0) << std::strerror(result.error);
    }
    std::vector<Result> results = run_batch(*engine, reads);
    for (size_t i = 0; i < reads.size(); ++i) {
      ASSERT_EQ(results[i].error, 0) << std::strerror(results[i].error);
      ASSERT_EQ(results[i].bytes, reads[i].length);
      auto* got = static_cast<std::byte*>(reads[i].buffer);
      ASSERT_TRUE(std::equal(got, got + reads[i].length,
                             model.begin() + static_cast<ptrdiff_t>(reads[i].offset)))
          << "round " << round << " request " << i;
    }
  }
  // And the file itself holds exactly the model, read behind the engine's back.
  std::vector<std::byte> whole(kSize);
  OpenFile plain(scratch.path(), false);
  ASSERT_EQ(pread(plain.fd(), whole.data(), kSize, 0), static_cast<ssize_t>(kSize));
  EXPECT_TRUE(whole == model);
}

TEST_P(EngineTest, ReadPastTheEndReportsEnodataWhereTheFileEnds) {
  constexpr uint64_t kFileSize = 5 * kBlock;
  ScratchFile scratch(kFileSize);
  OpenFile open_file(scratch.path(), direct());
  auto engine = make(kind(), small_config(kind()));
  AlignedBytes buffer(64 * kBlock);
  // Several pieces: one ends early, the ones after it read nothing at all.
  Result result = run_one(*engine, Op::read, open_file.file(), 0, buffer.data(), 40 * kBlock);
  EXPECT_EQ(result.error, ENODATA);
  EXPECT_EQ(result.error_offset, kFileSize);
  EXPECT_EQ(result.bytes, kFileSize);
}

TEST_P(EngineTest, ZeroLengthRequestCompletesAtOnce) {
  ScratchFile scratch(kBlock);
  OpenFile open_file(scratch.path(), direct());
  auto engine = make(kind(), small_config(kind()));
  Result result = run_one(*engine, Op::write, open_file.file(), 0, nullptr, 0);
  EXPECT_EQ(result.error, 0);
  EXPECT_EQ(result.bytes, 0u);
}

TEST_P(EngineTest, BadDescriptorFailsThatRequestOnly) {
  ScratchFile scratch(kBlock);
  OpenFile open_file(scratch.path(), direct());
  File closed{-1, "closed", direct(), -1};
  auto engine = make(kind(), small_config(kind()));
  AlignedBytes buffer(2 * kBlock);
  std::vector<Result> results = run_batch(
      *engine, {Request{Op::read, &closed, 0, buffer.data(), kBlock, nullptr},
                Request{Op::read, &open_file.file(), 0, buffer.data() + kBlock, kBlock, nullptr}});
  EXPECT_EQ(results[0].error, EBADF);
  EXPECT_EQ(results[0].bytes, 0u);
  EXPECT_EQ(results[1].error, 0);
}

TEST_P(EngineTest, InvalidBatchThrowsAndStartsNothing) {
  ScratchFile scratch(kBlock);
  OpenFile open_file(scratch.path(), direct());
  AlignedBytes buffer(kBlock);
  Waiter waiter;
  {
    auto engine = make(kind(), small_config(kind()));
    std::vector<Request> batch{
        Request{Op::read, &open_file.file(), 0, buffer.data(), kBlock, &waiter},
        Request{Op::read, nullptr, 0, buffer.data(), kBlock, &waiter}};
    try {
      engine->submit(batch);
      FAIL() << "a request without a file was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument);
      EXPECT_NE(std::string(e.what()).find("request 1"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(waiter.calls(), 0);
}

TEST_P(EngineTest, ManyThreadsSubmitAtOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 48;
  constexpr uint64_t kChunk = 3 * kBlock;
  constexpr uint64_t kSize = kThreads * kPerThread * kChunk;
  ScratchFile scratch(kSize);
  OpenFile open_file(scratch.path(), direct());
  auto engine = make(kind(), small_config(kind()));
  AlignedBytes source(kSize);
  AlignedBytes target(kSize);
  testing::fill_random(source.data(), kSize, 7);
  std::atomic<int> failures{0};
  auto run = [&](Op op, AlignedBytes& memory) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<Waiter> waiters(kPerThread);
        for (int i = 0; i < kPerThread; ++i) {
          uint64_t offset = (static_cast<uint64_t>(i) * kThreads + t) * kChunk;
          Request request{op,     &open_file.file(), offset, memory.data() + offset,
                          kChunk, &waiters[i]};
          engine->submit({&request, 1});
        }
        for (Waiter& waiter : waiters) failures += waiter.wait().error != 0 ? 1 : 0;
      });
    }
    for (std::thread& thread : threads) thread.join();
  };
  run(Op::write, source);
  run(Op::read, target);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(std::memcmp(source.data(), target.data(), kSize), 0);
}

// Each completion submits the next request of a chain, and a batch of side requests with it.
class Chain final : public Completion {
 public:
  Chain(Engine& engine, const File& file, std::byte* buffer, int length)
      : engine_(engine), file_(file), buffer_(buffer), left_(length) {}

  void start() { next(); }

  void complete(const Result& result) noexcept override {
    if (result.error != 0) errors_.fetch_add(1);
    completed_.fetch_add(1);
    if (--left_ > 0) next();
  }

  int completed() const { return completed_.load(); }
  int errors() const { return errors_.load(); }
  int side_completions() const { return sides_.count.load(); }

 private:
  void next() {
    // One read for the chain, and three writes beside it (they only read memory, so the
    // steps that overlap in time never write the same bytes).
    uint64_t at = static_cast<uint64_t>(left_ % 16) * 4 * kBlock;
    std::vector<Request> batch{Request{Op::read, &file_, at, buffer_, 4 * kBlock, this}};
    for (int i = 1; i <= 3; ++i) {
      batch.push_back(
          Request{Op::write, &file_, at + 64 * kBlock, buffer_ + i * 4 * kBlock, kBlock, &sides_});
    }
    engine_.submit(batch);
  }

  class Sides final : public Completion {
   public:
    void complete(const Result& result) noexcept override {
      if (result.error == 0) count.fetch_add(1);
    }
    std::atomic<int> count{0};
  };

  Engine& engine_;
  const File& file_;
  std::byte* buffer_;
  std::atomic<int> left_;
  std::atomic<int> completed_{0};
  std::atomic<int> errors_{0};
  Sides sides_;
};

TEST_P(EngineTest, CompletionsSubmitAndTheDestructorWaitsForTheWholeChain) {
  constexpr int kLength = 200;
  ScratchFile scratch(128 * kBlock);
  OpenFile open_file(scratch.path(), direct());
  AlignedBytes buffer(16 * kBlock);
  std::unique_ptr<Chain> chain;
  {
    auto engine = make(kind(), small_config(kind()));
    chain = std::make_unique<Chain>(*engine, open_file.file(), buffer.data(), kLength);
    chain->start();
  }  // destroyed while the chain is still going: it must wait for all of it
  EXPECT_EQ(chain->completed(), kLength);
  EXPECT_EQ(chain->side_completions(), 3 * kLength);
  EXPECT_EQ(chain->errors(), 0);
}

TEST_P(EngineTest, RegisteredMemoryAndFilesWork) {
  // Small: registration counts against RLIMIT_MEMLOCK once per ring.
  constexpr uint64_t kSize = 256 << 10;
  ScratchFile scratch(kSize);
  OpenFile open_file(scratch.path(), direct());
  auto engine = make(kind(), small_config(kind()));
  AlignedBytes memory(3 * kSize);
  std::byte* source = memory.data();
  // [0, 1.5 kSize) is registered: requests inside it, across its end and outside it.
  bool fixed = engine->register_buffer(memory.data(), kSize + kSize / 2);
  bool file_fixed = engine->register_file(open_file.file());
  EXPECT_EQ(file_fixed, open_file.file().registered >= 0);
  if (kind() == "psync") {
    EXPECT_FALSE(fixed || file_fixed);
  }
  testing::fill_random(source, kSize, 3);
  ASSERT_EQ(run_one(*engine, Op::write, open_file.file(), 0, source, kSize).error, 0);
  struct Case {
    uint64_t file_offset;
    uint64_t memory_offset;
    uint64_t length;
  };
  auto check = [&](const Case& c) {
    std::byte* target = memory.data() + c.memory_offset;
    std::memset(target, 0, c.length);
    Result result = run_one(*engine, Op::read, open_file.file(), c.file_offset, target, c.length);
    EXPECT_EQ(result.error, 0) << std::strerror(result.error);
    EXPECT_EQ(std::memcmp(source + c.file_offset, target, c.length), 0)
        << "memory offset " << c.memory_offset;
  };
  const Case inside{0, kSize, kSize / 2};
  const Case across{kSize / 2, kSize + kSize / 4, kSize / 2};
  const Case outside{0, 2 * kSize, kSize};
  for (const Case& c : {inside, across, outside}) check(c);

  engine->unregister_file(open_file.file());
  EXPECT_EQ(open_file.file().registered, -1);
  engine->unregister_buffer(memory.data());
  for (const Case& c : {inside, across, outside}) check(c);
}

TEST(EngineOnTmpfs, BufferedFileRoundTripsUnderBothEngines) {
  if (access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no /dev/shm";
  constexpr uint64_t kSize = 300'001;  // not a whole number of blocks or pieces
  ScratchFile scratch(0, "/dev/shm");
  OpenFile open_file(scratch.path(), false);
  AlignedBytes source(kSize + 1);
  AlignedBytes target(kSize + 1);
  testing::fill_random(source.data(), kSize + 1, 11);
  for (const char* kind : {"uring", "psync"}) {
    auto engine = make(kind, small_config(kind));
    // Odd memory addresses on both sides.
    ASSERT_EQ(run_one(*engine, Op::write, open_file.file(), 0, source.data() + 1, kSize).error, 0);
    ASSERT_EQ(run_one(*engine, Op::read, open_file.file(), 0, target.data() + 1, kSize).error, 0);
    EXPECT_EQ(std::memcmp(source.data() + 1, target.data() + 1, kSize), 0) << kind;
  }
}

TEST(UringEngine, SqpollRingsSharingOneKernelThreadRoundTrip) {
  EngineConfig config = small_config("uring");
  config.sqpoll = true;
  std::unique_ptr<Engine> engine;
  try {
    engine = make_uring_engine(config);
  } catch (const Error& e) {
    GTEST_SKIP() << "no SQPOLL here: " << e.what();
  }
  constexpr uint64_t kSize = 1 << 20;
  ScratchFile scratch(kSize);
  OpenFile open_file(scratch.path(), false);
  AlignedBytes source(kSize);
  AlignedBytes target(kSize);
  testing::fill_random(source.data(), kSize, 12);
  ASSERT_EQ(run_one(*engine, Op::write, open_file.file(), 0, source.data(), kSize).error, 0);
  ASSERT_EQ(run_one(*engine, Op::read, open_file.file(), 0, target.data(), kSize).error, 0);
  EXPECT_EQ(std::memcmp(source.data(), target.data(), kSize), 0);
}

TEST(EngineConfig, ValuesOutsideTheirRangeAreRefusedByName) {
  struct Case {
    EngineConfig config;
    const char* names;
  };
  EngineConfig threads;
  threads.threads = 0;
  EngineConfig depth;
  depth.queue_depth = 5000;
  EngineConfig block;
  block.block_size = 6000;
  for (const Case& c : {Case{threads, "io.threads 0"}, Case{depth, "io.queue_depth 5000"},
                        Case{block, "io.block_size 6000"}}) {
    for (auto* maker : {&make_uring_engine, &make_psync_engine}) {
      try {
        maker(c.config, nullptr);
        FAIL() << c.names << " was accepted";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find(c.names), std::string::npos) << e.what();
      }
    }
  }
}

TEST(MakeEngine, PicksByNameAndRefusesUnknownNames) {
  EngineConfig config;
  config.kind = "psync";
  EXPECT_EQ(make_engine(config)->name(), "psync");
  config.kind = "auto";
  std::string_view picked = make_engine(config)->name();
  EXPECT_TRUE(picked == "uring" || picked == "psync") << picked;
  config.kind = "libaio";
  EXPECT_THROW(make_engine(config), Error);
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineTest,
                         ::testing::Combine(::testing::Values("uring", "psync"), ::testing::Bool()),
                         testing::engine_case_name);

}  // namespace
}  // namespace tiermem::io
