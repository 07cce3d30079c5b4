// tests/consumers/cpp/main.cpp: an application of an installed tiermem: a pool over a directory
// of its own, a tensor written, evicted to NVMe and read back through an asynchronous pin, and
// a tiermem::Error caught by its type across the library's boundary.
#include <tiermem/tiermem.hpp>

#include <cstdint>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    tiermem::Config config;
    config.page_size = 64 << 10;
    config.dram.capacity = 1 << 20;
    config.nvme.dirs = {argv[1]};
    config.nvme.capacity = 8 << 20;
    tiermem::Pool pool(config);
    tiermem::Tensor tensor = pool.allocate({4, 16384}, tiermem::DType::i32, "consumer");
    {
      tiermem::Pin pin = tensor.pin(tiermem::Tier::dram, tiermem::Access::write);
      auto values = pin.as<int32_t>();
      for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int32_t>(i);
    }
    if (tensor.evict(tiermem::Tier::dram) != 4) {
      std::fprintf(stderr, "the tensor's 4 pages did not all leave dram\n");
      return 1;
    }
    tiermem::Pin pin = tensor.pin_async(tiermem::Tier::dram, tiermem::Access::read).get();
    auto values = pin.as<const int32_t>();
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i] != static_cast<int32_t>(i)) {
        std::fprintf(stderr, "element %zu reads %d\n", i, values[i]);
        return 1;
      }
    }
  } catch (const tiermem::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  try {
    (void)tiermem::parse_dtype("f24");
    std::fprintf(stderr, "parse_dtype took 'f24'\n");
    return 1;
  } catch (const tiermem::Error& e) {
    if (e.code() != tiermem::Errc::invalid_argument) return 1;
  }
  std::printf("C++ consumer: ok\n");
  return 0;
}
