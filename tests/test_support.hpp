// tests/test_support.hpp: what core tests share: a private scratch directory and small pools.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tiermem/config.hpp"
#include "tiermem/error.hpp"

namespace tiermem::testing {

// A directory of its own under $TMPDIR (or /tmp), removed with everything in it at the end.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tiermem-test.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A pool small enough that tests reach eviction quickly: 64 KiB pages, 16 dram frames.
inline Config small_config(const ScratchDir& dir, uint64_t dram_pages = 16, uint64_t gpu_pages = 0,
                           uint64_t nvme_pages = 512) {
  Config config;
  config.page_size = 64 << 10;
  config.dram.capacity = dram_pages * config.page_size;
  config.gpu.capacity = gpu_pages * config.page_size;
  config.gpu.backend = "emulated";
  config.nvme.dirs = {dir.path()};
  config.nvme.capacity = nvme_pages * config.page_size;
  config.nvme.file_size = 128 * config.page_size;
  config.io.threads = 2;
  return config;
}

// Deterministic bytes for (tensor seed, byte offset): a write and a later check agree.
inline uint8_t pattern_byte(uint64_t seed, uint64_t offset) {
  uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (offset / 8) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  return static_cast<uint8_t>(x >> (8 * (offset % 8)));
}

// Expects fn to throw tiermem::Error with code and a message containing every fragment.
template <class Fn>
void expect_error(Fn&& fn, Errc code, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected tiermem::Error(" << to_string(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << "message '" << e.what() << "' lacks '" << fragment << "'";
    }
  }
}

}  // namespace tiermem::testing
