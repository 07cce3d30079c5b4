// tiermem/pool.cpp: the public Pool, forwarding to PoolCore.
#include "tiermem/pool.hpp"

#include "tiermem/pool_core.hpp"

namespace tiermem {

Pool::Pool(const Config& config) : core_(std::make_unique<detail::PoolCore>(config)) {}
Pool::Pool(const Config& config, const VirtualDevices& devices)
    : core_(std::make_unique<detail::PoolCore>(config, devices)) {}
Pool::Pool(std::unique_ptr<detail::PoolCore> core) : core_(std::move(core)) {}
Pool::~Pool() {
  // A core whose pages are still pinned is left to those Pins, which delete it (see close()).
  if (!core_->close()) (void)core_.release();
}

Tensor Pool::allocate(std::span<const uint64_t> shape, DType dtype, std::string_view name,
                      const TensorOptions& options) {
  return core_->allocate(shape, dtype, name, options);
}

void Pool::flush() {
  core_->flush(nullptr);
}
Tensor Pool::find(std::string_view name) {
  return core_->find(name);
}
uint64_t Pool::verify() {
  return core_->verify();
}
void Pool::set_schedule(std::span<const ScheduleStep> steps) {
  core_->set_schedule(steps);
}
void Pool::start_trace(const std::string& path) {
  core_->start_trace(path);
}
void Pool::stop_trace() {
  core_->stop_trace();
}
void Pool::compute_begin() {
  core_->engine().trace_compute(true);
}
void Pool::compute_end() {
  core_->engine().trace_compute(false);
}
Stats Pool::stats() const {
  return core_->stats();
}
const Config& Pool::config() const noexcept {
  return core_->config();
}

uint64_t Pool::now_ns() const noexcept {
  return core_->now_ns();
}

uint64_t Pool::advance(uint64_t until_ns) {
  return core_->advance(until_ns);
}

std::optional<uint64_t> Pool::next_event_ns() const {
  return core_->next_event_ns();
}

}  // namespace tiermem
