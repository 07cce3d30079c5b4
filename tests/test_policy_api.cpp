// tests/test_policy_api.cpp: policies written against include/tiermem/policy.hpp alone and
// registered by name: the registry's errors, the listings, and one policy in the fast
// simulator, in a pool on the virtual clock and in a live pool, with the same misses.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/test_support.hpp"
#include "tiermem/tiermem.hpp"
#include "tiermem/virtual_clock.hpp"

namespace tiermem {
namespace {

using policy::AccessEvent;
using policy::PageId;
using testing::expect_error;

// How often the owners called the policies below.
struct Calls {
  std::atomic<uint64_t> built{0}, insert{0}, touch{0}, victim{0}, evict{0}, accesses{0};
  // The least capacity given to an instance that then held pages (an owner may build a probe
  // of one page to ask wants_next_use()).
  std::atomic<uint64_t> least_capacity{UINT64_MAX};
};
Calls& calls() {
  static Calls counts;
  return counts;
}

// FIFO that passes over the `skip` oldest evictable pages: unlike every built-in, so that
// results that match come from this code.
class SkippingFifo final : public policy::EvictionPolicy {
 public:
  SkippingFifo(uint64_t skip, uint64_t capacity) : skip_(skip), capacity_(capacity) {}

  std::string_view name() const noexcept override { return "test-fifo"; }
  void insert(const AccessEvent& event) override {
    ++calls().insert;
    if (order_.empty()) {
      calls().least_capacity = std::min<uint64_t>(calls().least_capacity, capacity_);
    }
    where_[event.page] = order_.insert(order_.end(), event.page);
  }
  void touch(const AccessEvent&) override { ++calls().touch; }
  std::optional<PageId> victim(const policy::VictimFilter& filter) override {
    ++calls().victim;
    std::optional<PageId> found;
    uint64_t passed = 0;
    for (PageId page : order_) {
      if (!filter.evictable(page)) continue;
      found = page;
      if (passed++ == skip_) break;
    }
    return found;
  }
  void evict(PageId page) override {
    ++calls().evict;
    forget(page);
  }
  void remove(PageId page) override { forget(page); }
  uint64_t size() const noexcept override { return order_.size(); }

 private:
  void forget(PageId page) {
    order_.erase(where_.at(page));
    where_.erase(page);
  }

  uint64_t skip_;
  uint64_t capacity_;
  std::list<PageId> order_;  // oldest first
  std::unordered_map<PageId, std::list<PageId>::iterator> where_;
};

// Proposes the page after each one accessed, within its tensor.
class NextPage final : public policy::PrefetchPolicy {
 public:
  std::string_view name() const noexcept override { return "test-next"; }
  void on_access(const AccessEvent& event, policy::PrefetchSink& sink) override {
    ++calls().accesses;
    if (event.index + 1 < event.tensor_pages) {
      sink.propose({.first = event.page + 1, .count = 1, .tier = event.tier});
    }
  }
};

// Once per process: under CTest each test case runs in a process of its own.
void register_test_policies() {
  static const bool registered = [] {
    policy::register_eviction_policy(
        "test-fifo", "skip=0 (oldest evictable pages passed over)", "FIFO, skipping",
        [](const policy::Params& params, const policy::Context& context) {
          ++calls().built;
          return std::make_unique<SkippingFifo>(params.get_uint("skip", 0, 0, 4),
                                                context.capacity_pages);
        });
    policy::register_prefetch_policy(
        "test-next", "", "the next page",
        [](const policy::Params&, const policy::Context&) { return std::make_unique<NextPage>(); });
    policy::register_eviction_policy(
        "test-throws", "", "a factory that fails",
        [](const policy::Params&, const policy::Context&) -> std::unique_ptr<SkippingFifo> {
          throw std::runtime_error("no model file");
        });
    policy::register_eviction_policy("test-null", "", "a factory that builds nothing",
                                     [](const policy::Params&, const policy::Context&) {
                                       return std::unique_ptr<policy::EvictionPolicy>();
                                     });
    policy::register_eviction_policy("test-misnamed", "", "a factory of another policy",
                                     [](const policy::Params&, const policy::Context&) {
                                       return std::make_unique<SkippingFifo>(0, 1);
                                     });
    return true;
  }();
  (void)registered;
}

constexpr uint64_t kPage = 64 << 10;

// Single-page tensors (so that a pool's arrivals come in access order) read in a loop larger
// than 16 frames, with every third access going back to an early tensor.
Trace loop_trace() {
  Trace trace;
  trace.page_size = kPage;
  trace.tensor_pages.assign(24, 1);
  for (uint32_t i = 0; i < 300; ++i) {
    uint32_t tensor = i % 3 == 2 ? (i / 3) % 6 : i % 24;
    trace.accesses.push_back({.tensor = tensor, .first = 0, .count = 1});
  }
  return trace;
}

sim::Config sim_config(std::string eviction, uint64_t dram_pages) {
  sim::Config config;
  config.eviction = std::move(eviction);
  config.dram_bytes = dram_pages * kPage;
  config.belady_baseline = false;
  return config;
}

TEST(PolicyApi, RegisteredPoliciesAreListedAfterTheBuiltIns) {
  register_test_policies();
  std::vector<sim::PolicyInfo> eviction = sim::eviction_policies();
  ASSERT_FALSE(eviction.empty());
  EXPECT_EQ(eviction.front().name, "lru");
  auto fifo = std::find_if(eviction.begin(), eviction.end(),
                           [](const sim::PolicyInfo& p) { return p.name == "test-fifo"; });
  ASSERT_NE(fifo, eviction.end());
  EXPECT_EQ(fifo->params, "skip=0 (oldest evictable pages passed over)");
  EXPECT_EQ(fifo->doc, "FIFO, skipping");
  EXPECT_TRUE(std::all_of(fifo, eviction.end(),
                          [](const sim::PolicyInfo& p) { return p.name.starts_with("test-"); }));
  std::vector<sim::PolicyInfo> prefetch = sim::prefetch_policies();
  EXPECT_EQ(prefetch.front().name, "none");
  EXPECT_TRUE(std::any_of(prefetch.begin(), prefetch.end(),
                          [](const sim::PolicyInfo& p) { return p.name == "test-next"; }));
}

TEST(PolicyApi, NamesAreUniqueAndValidAndFactoriesPresent) {
  register_test_policies();
  auto factory = [](const policy::Params&, const policy::Context&) {
    return std::make_unique<SkippingFifo>(0, 1);
  };
  expect_error([&] { policy::register_eviction_policy("test-fifo", "", "", factory); },
               Errc::invalid_argument, {"eviction policy 'test-fifo' is registered already"});
  expect_error([&] { policy::register_eviction_policy("lru", "", "", factory); },
               Errc::invalid_argument, {"'lru' is registered already"});
  expect_error(
      [&] {
        policy::register_prefetch_policy(
            "none", "", "", [](const auto&, const auto&) { return std::make_unique<NextPage>(); });
      },
      Errc::invalid_argument, {"prefetch policy 'none' is registered already"});
  for (std::string name :
       {std::string(), std::string("mru:k=1"), std::string("my policy"), std::string(65, 'x')}) {
    expect_error([&] { policy::register_eviction_policy(name, "", "", factory); },
                 Errc::invalid_argument,
                 {"policy name '" + name + "' is not 1 to 64 letters, digits, '_' or '-'"});
  }
  expect_error(
      [] { policy::register_eviction_policy("test-empty", "", "", policy::EvictionFactory()); },
      Errc::invalid_argument, {"eviction policy 'test-empty' has no factory"});
  // A prefetch policy may share an eviction policy's name: the kinds are apart.
  policy::register_prefetch_policy(
      "test-fifo", "", "", [](const auto&, const auto&) { return std::make_unique<NextPage>(); });
}

TEST(PolicyApi, ParamsGettersCheckTypesRangesAndUnaskedKeys) {
  policy::Params params = policy::Params::parse("mine:ratio=0.5,count=7,mode=fast");
  EXPECT_EQ(params.name(), "mine");
  EXPECT_EQ(params.get_double("ratio", 0.1, 0, 1), 0.5);
  EXPECT_EQ(params.get_uint("count", 1, 1, 8), 7u);
  EXPECT_EQ(params.get_uint("absent", 3, 1, 8), 3u);
  EXPECT_EQ(params.get_string("mode"), "fast");
  EXPECT_NO_THROW(params.check_all_asked());
  expect_error([&] { params.get_uint("count", 1, 1, 4); }, Errc::config,
               {"policy 'mine': count=7 is not an integer in [1, 4]"});
  expect_error([&] { params.get_double("mode", 1, 0, 2); }, Errc::config,
               {"policy 'mine': mode=fast is not a number in [0, 2]"});
  policy::Params unasked = policy::Params::parse("mine:ratio=0.5,extra=1");
  unasked.get_double("ratio", 0.1, 0, 1);
  expect_error([&] { unasked.check_all_asked(); }, Errc::config,
               {"policy 'mine' has no parameter 'extra' (accepted: ratio)"});
  expect_error([] { policy::Params::parse("mine:ratio"); }, Errc::config,
               {"expected key=value at position 5"});
}

TEST(PolicyApi, BadParametersAndFailingFactoriesNameThePolicy) {
  register_test_policies();
  const Trace trace = loop_trace();
  expect_error([&] { sim::simulate(trace, sim_config("test-fifo:skip=9", 16)); }, Errc::config,
               {"policy 'test-fifo': skip=9 is not an integer in [0, 4]"});
  expect_error([&] { sim::simulate(trace, sim_config("test-fifo:depth=1", 16)); }, Errc::config,
               {"policy 'test-fifo' has no parameter 'depth' (accepted: skip)"});
  expect_error([&] { sim::simulate(trace, sim_config("test-throws", 16)); }, Errc::config,
               {"eviction policy 'test-throws' failed to build: no model file"});
  expect_error([&] { sim::simulate(trace, sim_config("test-null", 16)); }, Errc::config,
               {"eviction policy 'test-null': its factory returned no policy"});
  expect_error([&] { sim::simulate(trace, sim_config("test-misnamed", 16)); }, Errc::config,
               {"eviction policy 'test-misnamed': its factory built one named 'test-fifo'"});

  testing::ScratchDir dir;
  Config config = testing::small_config(dir);
  config.policy.eviction = "test-throws";
  expect_error([&] { Pool pool(config); }, Errc::config,
               {"policy.eviction 'test-throws'", "no model file"});
  config.policy.eviction = "lru";
  config.policy.prefetch = "test-next:depth=2";
  expect_error([&] { Pool pool(config); }, Errc::config,
               {"policy 'test-next' has no parameter 'depth' (accepted: none)"});
}

// The fast model and the migration engine make the same decisions with the same policy, so a
// policy of the program's own misses as often in both.
TEST(PolicyApi, TheSameMissesInTheSimulatorAndInAPoolOnTheVirtualClock) {
  register_test_policies();
  calls().least_capacity = UINT64_MAX;
  workload::RandomAccesses options;
  options.pages = 1024;
  options.tensors = 4;
  options.events = 5000;
  options.write_fraction = 0.2;
  options.page_size = kPage;
  const Trace trace = workload::random_accesses(options);
  for (std::string spec : {"test-fifo", "test-fifo:skip=2"}) {
    SCOPED_TRACE(spec);
    const sim::Config config = sim_config(spec, 256);
    const uint64_t victims = calls().victim;
    const sim::Result fast = sim::simulate(trace, config);
    ASSERT_GT(fast.misses, 0u);
    EXPECT_GT(calls().victim, victims);
    const sim::Result pooled = sim::simulate_on_pool(trace, config);
    EXPECT_EQ(pooled.misses, fast.misses);
    EXPECT_EQ(pooled.dram.evictions, fast.dram.evictions);
    EXPECT_EQ(pooled.dram.writebacks, fast.dram.writebacks);
  }
  // Every owner gave the instances that held pages the tier's capacity.
  EXPECT_EQ(calls().least_capacity, 256u);
  // Not FIFO under another name: skipping changes the outcome.
  EXPECT_NE(sim::simulate(trace, sim_config("test-fifo", 256)).misses,
            sim::simulate(trace, sim_config("test-fifo:skip=2", 256)).misses);
}

TEST(PolicyApi, TheSameMissesInTheSimulatorAndInALivePool) {
  register_test_policies();
  calls().least_capacity = UINT64_MAX;
  const Trace trace = loop_trace();
  const sim::Result fast = sim::simulate(trace, sim_config("test-fifo:skip=1", 16));

  const uint64_t built = calls().built, inserts = calls().insert, evictions = calls().evict;
  testing::ScratchDir dir;
  Config config = testing::small_config(dir);
  config.policy.eviction = "test-fifo:skip=1";
  Pool pool(config);
  std::vector<Tensor> tensors;
  for (uint32_t pages : trace.tensor_pages) {
    tensors.push_back(pool.allocate({pages * kPage}, DType::u8, std::to_string(tensors.size())));
  }
  for (const TraceAccess& access : trace.accesses) {
    tensors[access.tensor].pin(Tier::dram, Access::read).reset();
  }
  Stats stats = pool.stats();
  EXPECT_EQ(stats.tiers[1].misses, fast.misses);
  EXPECT_EQ(stats.tiers[1].evictions, fast.dram.evictions);
  EXPECT_GT(fast.dram.evictions, 0u);
  EXPECT_GT(calls().built, built);
  EXPECT_EQ(calls().least_capacity, 16u);
  EXPECT_EQ(calls().insert - inserts, stats.tiers[1].misses);
  EXPECT_EQ(calls().evict - evictions, stats.tiers[1].evictions);
}

TEST(PolicyApi, ARegisteredPrefetchPolicyProposesInBothOwners) {
  register_test_policies();
  workload::LayerStreaming options;
  options.model = "phi-3-mini";
  options.tokens = 2;
  options.prompt = 16;
  const Trace trace = workload::layer_streaming(options);
  sim::Config config = sim_config("lru", 0);
  config.dram_bytes = trace.footprint_bytes() / 4;
  config.prefetch = "test-next";
  const sim::Result fast = sim::simulate(trace, config);
  EXPECT_EQ(fast.prefetch, "test-next");
  EXPECT_GT(fast.prefetch_issued, 0u);
  EXPECT_GE(calls().accesses, fast.accesses);
  EXPECT_GT(sim::simulate_on_pool(trace, config).prefetch_issued, 0u);
}

TEST(PolicyApi, RegistrationIsThreadSafe) {
  register_test_policies();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 16; ++i) {
        policy::register_prefetch_policy(
            "test-thread-" + std::to_string(t) + "-" + std::to_string(i), "", "",
            [](const auto&, const auto&) { return std::make_unique<NextPage>(); });
      }
    });
  }
  // Owners build policies meanwhile.
  const Trace trace = loop_trace();
  for (int i = 0; i < 8; ++i) sim::simulate(trace, sim_config("test-fifo", 16));
  for (std::thread& thread : threads) thread.join();
  std::vector<sim::PolicyInfo> prefetch = sim::prefetch_policies();
  EXPECT_EQ(
      std::count_if(prefetch.begin(), prefetch.end(),
                    [](const sim::PolicyInfo& p) { return p.name.starts_with("test-thread-"); }),
      64);
}

}  // namespace
}  // namespace tiermem
