// tests/test_virtual_clock.cpp: a pool on modelled devices and a virtual clock: no thread of
// its own, nothing completes until the host advances the clock, the same calls give the same
// results on every run, data kept through every tier, a data-less variant with no bytes, and
// modelled links out of range refused.
#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <limits>
#include <string>
#include <vector>

#include "tests/test_support.hpp"
#include "tiermem/tiermem.hpp"
#include "tiermem/virtual_clock.hpp"

namespace tiermem {
namespace {

using testing::expect_error;
using testing::pattern_byte;

constexpr uint64_t kPage = 64 << 10;

int thread_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

Config virtual_config(uint64_t dram_pages, uint64_t gpu_pages) {
  Config config;
  config.page_size = kPage;
  config.dram.capacity = dram_pages * kPage;
  config.gpu.capacity = gpu_pages * kPage;
  config.nvme.capacity = 4096 * kPage;
  return config;
}

VirtualDevices slow_devices(bool data = true) {
  VirtualDevices devices;
  devices.nvme = {.gbps = 1.0, .write_gbps = 0.5, .latency_us = 50, .queue_depth = 4};
  devices.pcie = {.gbps = 10.0, .write_gbps = 0, .latency_us = 5, .queue_depth = 2};
  devices.data = data;
  return devices;
}

TEST(VirtualClock, NothingMovesUntilTheHostAdvancesTheClock) {
  const int threads = thread_count();
  Pool pool(virtual_config(4, 2), slow_devices());
  EXPECT_EQ(thread_count(), threads) << "a pool on a virtual clock started threads";
  EXPECT_EQ(pool.now_ns(), 0u);
  Tensor t = pool.allocate({8 * kPage}, DType::u8, "t");
  for (uint64_t page = 0; page < 8; ++page) {  // written, and most written down to nvme
    std::memset(t.pin(Tier::dram, Access::write, {page * kPage, kPage}).data(), int(page), kPage);
  }
  const uint64_t after_writes = pool.now_ns();
  EXPECT_GT(after_writes, 0u) << "write-backs for room took no virtual time";
  ASSERT_FALSE(t.residency(0).in(Tier::dram));
  std::future<Pin> later = t.pin_async(Tier::gpu, Access::read, {0, kPage});
  EXPECT_EQ(later.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  ASSERT_TRUE(pool.next_event_ns().has_value());
  uint64_t events = 0;
  while (later.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    ASSERT_TRUE(pool.next_event_ns().has_value()) << "the pin waits for nothing scheduled";
    events += pool.advance(*pool.next_event_ns());
  }
  EXPECT_GE(events, 2u);  // nvme -> dram, then dram -> gpu
  // 50 us of latency and a 64 KiB page at 1 GB/s before it is in dram, then PCIe.
  EXPECT_GE(pool.now_ns() - after_writes, 50'000u + 65'536u);
  Pin pin = later.get();
  const auto* bytes = static_cast<const uint8_t*>(pin.data());
  EXPECT_EQ(std::count(bytes, bytes + kPage, 0), static_cast<long>(kPage));
  pin.reset();
  for (uint64_t page = 0; page < 8; ++page) {
    Pin back = t.pin(Tier::dram, Access::read, {page * kPage, kPage});
    const auto* b = static_cast<const uint8_t*>(back.data());
    EXPECT_EQ(std::count(b, b + kPage, static_cast<uint8_t>(page)), static_cast<long>(kPage));
  }
  EXPECT_EQ(thread_count(), threads);
  expect_error([&] { pool.advance(pool.now_ns() - 1); }, Errc::invalid_argument,
               {"the clock is already at"});
}

// One scripted run: every step's virtual time and the final counters.
std::string scripted_run(bool data) {
  Config config = virtual_config(12, 6);
  config.policy.eviction = "s3fifo";
  config.policy.prefetch = "sequential:depth=2";
  Pool pool(config, slow_devices(data));
  std::string log;
  std::vector<Tensor> layers;
  for (int i = 0; i < 4; ++i) {
    layers.push_back(pool.allocate({5 * kPage}, DType::u8, "layer" + std::to_string(i)));
  }
  for (int step = 0; step < 3; ++step) {
    for (Tensor& layer : layers) {
      Pin pin = layer.pin(step == 0 ? Tier::dram : Tier::gpu,
                          step == 0 ? Access::write : Access::read_write);
      if (data) std::memset(pin.data(), step + 1, pin.size());
      log += std::to_string(pool.now_ns()) + " ";
      pool.advance(pool.now_ns() + 20'000);  // compute
    }
  }
  pool.flush();
  log += std::to_string(pool.now_ns()) + "\n" + pool.stats().to_json();
  return log;
}

TEST(VirtualClock, TheSameCallsGiveTheSameResultsEveryRun) {
  const std::string first = scripted_run(true);
  EXPECT_EQ(scripted_run(true), first);
  // The decisions do not depend on the bytes: a data-less run takes the same times.
  const std::string dataless = scripted_run(false);
  EXPECT_EQ(dataless.substr(0, dataless.find('\n')), first.substr(0, first.find('\n')));
}

TEST(VirtualClock, DatalessPoolsCountPagesButHoldNoBytes) {
  Config config = virtual_config(4, 2);
  config.nvme.capacity = uint64_t{1} << 40;  // a terabyte of modelled NVMe, none of it real
  config.page_size = 2 << 20;
  config.dram.capacity = uint64_t{64} << 30;
  config.gpu.capacity = uint64_t{8} << 30;
  Pool pool(config, slow_devices(false));
  Tensor t = pool.allocate({uint64_t{100} << 30}, DType::u8, "100GiB");
  Pin pin = t.pin(Tier::gpu, Access::write, {0, uint64_t{1} << 30});
  EXPECT_EQ(pin.data(), nullptr);
  EXPECT_EQ(pin.size(), uint64_t{1} << 30);
  pin.reset();
  t.prefetch(Tier::dram, {uint64_t{1} << 30, uint64_t{1} << 30});
  pool.advance(pool.now_ns() + 1'000'000'000);
  const Stats stats = pool.stats();
  EXPECT_EQ(stats.gpu_backend, "virtual");
  EXPECT_EQ(stats.io_engine, "virtual");
  EXPECT_GT(stats.prefetch_issued, 0u);
}

TEST(VirtualClock, LinksOutOfRangeAreRefusedNamingLinkFieldValueAndRange) {
  const Config config = virtual_config(4, 2);
  auto refused = [&](void (*spoil)(VirtualDevices&), std::initializer_list<std::string> words) {
    VirtualDevices devices = slow_devices(false);
    spoil(devices);
    expect_error([&] { Pool pool(config, devices); }, Errc::invalid_argument, words);
  };
  refused([](VirtualDevices& d) { d.nvme.gbps = 0; }, {"link nvme: gbps 0 is not in [1e-06, "});
  refused([](VirtualDevices& d) { d.pcie.gbps = std::numeric_limits<double>::infinity(); },
          {"link pcie: gbps inf is not in"});
  refused([](VirtualDevices& d) { d.pcie.gbps = std::nan(""); }, {"link pcie: gbps nan"});
  refused([](VirtualDevices& d) { d.nvme.write_gbps = -1; },
          {"link nvme: write_gbps -1 is not in [0, 1000000]"});
  refused([](VirtualDevices& d) { d.pcie.latency_us = -0.5; },
          {"link pcie: latency_us -0.5 is not in [0, 1000000000]"});
  refused([](VirtualDevices& d) { d.nvme.queue_depth = 0; },
          {"link nvme: queue_depth 0 is not in [1, 65536]"});
  refused([](VirtualDevices& d) { d.pcie.queue_depth = 65537; },
          {"link pcie: queue_depth 65537 is not in [1, 65536]"});
  // The limits themselves are accepted.
  VirtualDevices edge = slow_devices(false);
  edge.nvme = {.gbps = 1e-6, .write_gbps = 0, .latency_us = 0, .queue_depth = 65536};
  edge.pcie = {.gbps = 1e6, .write_gbps = 1e6, .latency_us = 1e9, .queue_depth = 1};
  Pool pool(config, edge);
  EXPECT_EQ(pool.now_ns(), 0u);
}

TEST(VirtualClock, LivePoolsHaveNoVirtualClock) {
  testing::ScratchDir dir;
  Pool pool(testing::small_config(dir));
  expect_error([&] { pool.advance(1); }, Errc::unsupported, {"steady clock"});
  expect_error([&] { (void)pool.next_event_ns(); }, Errc::unsupported, {"steady clock"});
  EXPECT_GT(pool.now_ns(), 0u);
}

}  // namespace
}  // namespace tiermem
