// tiermem/tensor.cpp: the public Tensor handle, forwarding to PoolCore.
#include "tiermem/tensor.hpp"

#include "tiermem/pool_core.hpp"

namespace tiermem {

namespace {

detail::PoolCore& core_of(detail::PoolCore* core) {
  if (core == nullptr) throw Error(Errc::invalid_argument, "empty Tensor handle");
  return *core;
}

}  // namespace

std::string Tensor::name() const {
  return core_of(core_).record(*this).name;
}
std::vector<uint64_t> Tensor::shape() const {
  return core_of(core_).record(*this).shape;
}
DType Tensor::dtype() const {
  return core_of(core_).record(*this).dtype;
}
uint64_t Tensor::size_bytes() const {
  return core_of(core_).record(*this).bytes;
}
uint64_t Tensor::page_count() const {
  return core_of(core_).record(*this).page_count;
}

Pin Tensor::pin(Tier tier, Access access, ByteRange range) const {
  return core_of(core_).pin(*this, tier, access, range);
}

std::future<Pin> Tensor::pin_async(Tier tier, Access access, ByteRange range) const {
  return core_of(core_).pin_async(*this, tier, access, range);
}

Pin Tensor::pin_on_stream(GpuStream stream, Access access, ByteRange range) const {
  return core_of(core_).pin(*this, Tier::gpu, access, range, stream);
}

std::future<Pin> Tensor::pin_on_stream_async(GpuStream stream, Access access,
                                             ByteRange range) const {
  return core_of(core_).pin_async(*this, Tier::gpu, access, range, stream);
}

void Tensor::prefetch(Tier tier, ByteRange range) const {
  core_of(core_).prefetch(*this, tier, range);
}

uint64_t Tensor::evict(Tier tier) const {
  return core_of(core_).evict(*this, tier);
}
void Tensor::flush() const {
  core_of(core_).flush(this);
}

PageResidency Tensor::residency(uint64_t page) const {
  return core_of(core_).residency(*this, page);
}
std::vector<PageResidency> Tensor::residency() const {
  return core_of(core_).residency(*this);
}

void Tensor::release() {
  core_of(core_).release(*this);
}

}  // namespace tiermem
