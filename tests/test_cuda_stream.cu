// tests/test_cuda_stream.cu: pins on the caller's CUDA stream are ordered with it. Kernels
// that sleep on the device before they touch the data make any missing order show: a copy
// out, a reader on another stream or a reused frame would otherwise race them. No test
// synchronizes the device between the pin and the check. Skipped where no device is present.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/test_support.hpp"
#include "tiermem/tiermem.hpp"

namespace tiermem {
namespace {

constexpr uint64_t kPage = 2ull << 20;
constexpr uint64_t kSleepNs = 100'000'000;  // longer than any copy of these tensors

__host__ __device__ uint8_t pattern(uint64_t seed, uint64_t i) {
  uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (i / 8) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  return static_cast<uint8_t>(x >> (8 * (i % 8)));
}

__device__ void sleep_ns(uint64_t ns) {
  uint64_t start = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

__global__ void sleep_then_fill(uint8_t* data, uint64_t n, uint64_t seed, uint64_t ns) {
  sleep_ns(ns);
  for (uint64_t i = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; i < n;
       i += uint64_t{gridDim.x} * blockDim.x) {
    data[i] = pattern(seed, i);
  }
}

__global__ void sleep_then_copy(const uint8_t* from, uint8_t* to, uint64_t n, uint64_t ns) {
  sleep_ns(ns);
  for (uint64_t i = blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; i < n;
       i += uint64_t{gridDim.x} * blockDim.x) {
    to[i] = from[i];
  }
}

uint64_t mismatches(const std::vector<uint8_t>& bytes, uint64_t seed) {
  uint64_t bad = 0;
  for (uint64_t i = 0; i < bytes.size(); ++i) bad += bytes[i] != pattern(seed, i);
  return bad;
}

#define CUDA_OK(call)                                                              \
  do {                                                                             \
    cudaError_t result = (call);                                                   \
    ASSERT_EQ(result, cudaSuccess) << #call << ": " << cudaGetErrorString(result); \
  } while (false)

class CudaStream : public ::testing::Test {
 protected:
  void SetUp() override {
    int devices = 0;
    cudaError_t r = cudaGetDeviceCount(&devices);
    if (r != cudaSuccess || devices == 0) {
      GTEST_SKIP() << "no CUDA device here: "
                   << (r != cudaSuccess ? cudaGetErrorString(r) : "the driver sees none");
    }
    Config config = testing::small_config(dir, 16, 0, 64);
    config.page_size = kPage;
    config.dram.capacity = 16 * kPage;
    config.gpu.capacity = 4 * kPage;
    config.gpu.backend = "cuda";
    config.nvme.capacity = 64 * kPage;
    config.nvme.file_size = 64 * kPage;
    pool = std::make_unique<Pool>(config);
    ASSERT_EQ(cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&out, kBytes), cudaSuccess);
  }
  void TearDown() override {
    if (out != nullptr) cudaFree(out);
    if (a != nullptr) cudaStreamDestroy(a);
    if (b != nullptr) cudaStreamDestroy(b);
  }

  // A tensor of kBytes whose bytes are pattern(seed), written from the host and left in dram
  // (and, with on_nvme, only on nvme).
  Tensor written(const std::string& name, uint64_t seed, bool on_nvme = false) {
    Tensor t = pool->allocate({kBytes}, DType::u8, name);
    Pin pin = t.pin(Tier::dram, Access::write);
    auto* bytes = static_cast<uint8_t*>(pin.data());
    for (uint64_t i = 0; i < kBytes; ++i) bytes[i] = pattern(seed, i);
    pin.reset();
    if (on_nvme) {
      t.flush();
      t.evict(Tier::dram);
    }
    return t;
  }

  std::vector<uint8_t> copy_back(cudaStream_t stream) {
    std::vector<uint8_t> host(kBytes);
    EXPECT_EQ(cudaMemcpyAsync(host.data(), out, kBytes, cudaMemcpyDeviceToHost, stream),
              cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    return host;
  }

  static constexpr uint64_t kBytes = 4 * kPage;  // the whole gpu tier
  testing::ScratchDir dir;
  std::unique_ptr<Pool> pool;
  cudaStream_t a = nullptr, b = nullptr;
  uint8_t* out = nullptr;
};

TEST_F(CudaStream, AKernelAfterThePinSeesTheDataFromNvme) {
  Tensor t = written("t", 1, true);
  Pin pin = t.pin_on_stream(a, Access::read);  // nvme -> dram -> gpu
  EXPECT_TRUE(pin.on_stream());
  sleep_then_copy<<<64, 256, 0, a>>>(static_cast<const uint8_t*>(pin.data()), out, kBytes, 0);
  CUDA_OK(cudaGetLastError());
  pin.reset();
  EXPECT_EQ(mismatches(copy_back(a), 1), 0u);
}

TEST_F(CudaStream, AWritePinsKernelFinishesBeforeItsPagesAreCopiedOut) {
  Tensor t = pool->allocate({kBytes}, DType::u8, "t");
  {
    Pin pin = t.pin_on_stream(a, Access::write);
    sleep_then_fill<<<64, 256, 0, a>>>(static_cast<uint8_t*>(pin.data()), kBytes, 2, kSleepNs);
    CUDA_OK(cudaGetLastError());
  }  // the kernel is still sleeping: the copy out must wait for it
  EXPECT_EQ(t.evict(Tier::gpu), 4u);
  Pin host = t.pin(Tier::dram, Access::read);
  EXPECT_EQ(
      mismatches({static_cast<uint8_t*>(host.data()), static_cast<uint8_t*>(host.data()) + kBytes},
                 2),
      0u);
}

TEST_F(CudaStream, AReaderOnAnotherStreamWaitsForTheWriter) {
  Tensor t = pool->allocate({kBytes}, DType::u8, "t");
  {
    Pin pin = t.pin_on_stream(a, Access::write);
    sleep_then_fill<<<64, 256, 0, a>>>(static_cast<uint8_t*>(pin.data()), kBytes, 3, kSleepNs);
    CUDA_OK(cudaGetLastError());
  }
  Pin pin = t.pin_on_stream(b, Access::read);  // resident: a CAS, then b waits for a's event
  sleep_then_copy<<<64, 256, 0, b>>>(static_cast<const uint8_t*>(pin.data()), out, kBytes, 0);
  CUDA_OK(cudaGetLastError());
  pin.reset();
  EXPECT_EQ(mismatches(copy_back(b), 3), 0u);
}

TEST_F(CudaStream, AReadPinsFramesAreNotReusedWhileItsKernelRuns) {
  Tensor x = written("x", 4);
  Tensor y = written("y", 5);
  {
    Pin pin = x.pin_on_stream(a, Access::read);
    sleep_then_copy<<<64, 256, 0, a>>>(static_cast<const uint8_t*>(pin.data()), out, kBytes,
                                       kSleepNs);
    CUDA_OK(cudaGetLastError());
  }
  // y needs every gpu frame: x's are taken only once a's kernel has read them.
  Pin other = y.pin(Tier::gpu, Access::read);
  EXPECT_FALSE(x.residency(0).in(Tier::gpu));
  EXPECT_EQ(mismatches(copy_back(a), 4), 0u);
  std::vector<uint8_t> y_bytes(kBytes);
  CUDA_OK(cudaMemcpy(y_bytes.data(), other.data(), kBytes, cudaMemcpyDeviceToHost));
  EXPECT_EQ(mismatches(y_bytes, 5), 0u);
}

TEST_F(CudaStream, TheLegacyDefaultStreamWorksToo) {
  Tensor t = written("t", 6);
  Pin pin = t.pin_on_stream(nullptr, Access::read);
  sleep_then_copy<<<64, 256>>>(static_cast<const uint8_t*>(pin.data()), out, kBytes, 0);
  CUDA_OK(cudaGetLastError());
  pin.reset();
  EXPECT_EQ(mismatches(copy_back(nullptr), 6), 0u);
}

}  // namespace
}  // namespace tiermem
