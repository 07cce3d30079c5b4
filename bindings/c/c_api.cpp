// bindings/c/c_api.cpp: the C API (include/tiermem/tiermem.h) over the C++ API: handles that
// own C++ objects, and every exception turned into a status and a per-thread message.
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "tiermem/tiermem.h"
#include "tiermem/tiermem.hpp"
#include "tiermem/virtual_clock.hpp"

struct tiermem_pool {
  std::unique_ptr<tiermem::Pool> pool;
  bool virtual_clock = false;
  std::mutex mutex;                             // guards tensors
  std::unordered_set<tiermem_tensor*> tensors;  // every handle not yet freed, to free at close
};

struct tiermem_tensor {
  tiermem_pool* owner;
  tiermem::Tensor tensor;
};

struct tiermem_pin {
  tiermem::Pin pin;
};

// The future of a pin until its outcome arrives; then the outcome, kept, so that every poll,
// wait and take after it sees the same.
struct tiermem_pin_request {
  std::future<tiermem::Pin> future;  // valid while the pin is under way
  // The pool whose virtual clock completes the pin, which tiermem_pin_wait runs; null for a
  // live pool. Touched only while the pin is under way, which it never is once the pool has
  // closed (closing completes every pin).
  tiermem::Pool* clock = nullptr;
  tiermem::Pin pin;
  std::exception_ptr error;
  bool taken = false;
};

// A checkpoint save until its outcome arrives; then the outcome, kept, so that every wait after
// it sees the same. Destroying the future waits for the save (std::async's rule).
struct tiermem_checkpoint_save {
  std::future<tiermem::CheckpointResult> future;  // valid while the save is under way
  std::string result;                             // its JSON, once the save succeeded
  std::exception_ptr error;
};

namespace {

using tiermem::Errc;
using tiermem::Error;

thread_local std::string last_error;

// Makes message this thread's. A message that cannot be copied for want of memory becomes one
// short enough for the string's own storage, which never allocates.
int fail(int status, std::string_view message) noexcept {
  try {
    last_error.assign(message);
  } catch (...) {
    last_error.assign("out of memory");
  }
  return status;
}

int status_of(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return TIERMEM_EINVAL;
    case Errc::config:
      return TIERMEM_ECONFIG;
    case Errc::out_of_space:
      return TIERMEM_ENOSPACE;
    case Errc::tier_full:
      return TIERMEM_ETIERFULL;
    case Errc::busy:
      return TIERMEM_EBUSY;
    case Errc::released:
      return TIERMEM_ERELEASED;
    case Errc::io:
      return TIERMEM_EIO;
    case Errc::unsupported:
      return TIERMEM_EUNSUPPORTED;
    case Errc::system:
      return TIERMEM_ESYSTEM;
    case Errc::corrupt:
      return TIERMEM_ECORRUPT;
  }
  return TIERMEM_ESYSTEM;
}

// The status of the exception being handled, its message made this thread's. Only for use
// inside a catch block.
int caught() noexcept {
  try {
    throw;
  } catch (const Error& e) {
    return fail(status_of(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(TIERMEM_ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(TIERMEM_ESYSTEM, e.what());
  } catch (...) {
    return fail(TIERMEM_ESYSTEM, "an exception that is no std::exception");
  }
}

// Runs body, which returns a status or nothing (TIERMEM_OK); an exception becomes a status.
// Every call of the API that can fail runs inside one, so that none lets an exception out.
template <class Body>
int guarded(Body&& body) noexcept {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Body&>>) {
      body();
      return TIERMEM_OK;
    } else {
      return body();
    }
  } catch (...) {
    return caught();
  }
}

void require(const void* p, const char* what) {
  if (p == nullptr) throw Error(Errc::invalid_argument, std::string(what) + " is NULL");
}

tiermem::Tier tier_of(int tier) {
  if (tier < TIERMEM_TIER_GPU || tier > TIERMEM_TIER_NVME) {
    throw Error(Errc::invalid_argument,
                "tier " + std::to_string(tier) + " is not one of 0 (gpu), 1 (dram), 2 (nvme)");
  }
  return static_cast<tiermem::Tier>(tier);
}

tiermem::Access access_of(int access) {
  if (access < TIERMEM_READ || access > TIERMEM_READ_WRITE) {
    throw Error(Errc::invalid_argument, "access " + std::to_string(access) +
                                            " is not one of 0 (read), 1 (write), 2 (read_write)");
  }
  return static_cast<tiermem::Access>(access);
}

// Copies text into buffer of size bytes, NUL-terminated; TIERMEM_ETRUNCATED, with as much as
// fits, when it does not fit.
int copy_out(const std::string& text, char* buffer, size_t size) {
  if (buffer != nullptr && size != 0) {
    size_t n = std::min(text.size(), size - 1);
    std::memcpy(buffer, text.data(), n);
    buffer[n] = '\0';
    if (n == text.size()) return TIERMEM_OK;
  }
  return fail(TIERMEM_ETRUNCATED, "output buffer of " + std::to_string(size) + " bytes; " +
                                      std::to_string(text.size() + 1) + " are needed");
}

// A new handle for tensor, registered with its pool so that closing the pool frees it.
tiermem_tensor* new_handle(tiermem_pool* pool, const tiermem::Tensor& tensor) {
  auto handle = std::make_unique<tiermem_tensor>(tiermem_tensor{pool, tensor});
  std::lock_guard lock(pool->mutex);
  pool->tensors.insert(handle.get());
  return handle.release();
}

void free_handle(tiermem_tensor* tensor) noexcept {
  {
    std::lock_guard lock(tensor->owner->mutex);
    tensor->owner->tensors.erase(tensor);
  }
  delete tensor;
}

// Moves the request's outcome out of its future if it has arrived; never blocks.
void settle(tiermem_pin_request& request) {
  using namespace std::chrono_literals;
  if (!request.future.valid() || request.future.wait_for(0s) != std::future_status::ready) return;
  try {
    request.pin = request.future.get();
  } catch (...) {
    request.error = std::current_exception();
  }
}

void require_not_taken(const tiermem_pin_request& request) {
  if (request.taken) throw Error(Errc::invalid_argument, "the pin of this request was taken");
}

// Runs the virtual clock of the request's pool until the request is done, or up to now +
// timeout_ns: TIERMEM_ETIMEDOUT, the clock at that deadline, when the next event lies beyond
// it; TIERMEM_EBUSY when nothing scheduled is left to complete it.
int run_clock_for(tiermem_pin_request& request, uint64_t timeout_ns) {
  tiermem::Pool& pool = *request.clock;
  const uint64_t start = pool.now_ns();
  const uint64_t deadline = timeout_ns > UINT64_MAX - start ? UINT64_MAX : start + timeout_ns;
  for (settle(request); request.future.valid(); settle(request)) {
    const std::optional<uint64_t> next = pool.next_event_ns();
    if (!next) {
      return fail(TIERMEM_EBUSY,
                  "the pin is still under way and nothing scheduled on the virtual clock (at " +
                      std::to_string(pool.now_ns()) + " ns) will complete it");
    }
    if (*next > deadline) {
      pool.advance(deadline);
      return fail(TIERMEM_ETIMEDOUT, "the pin is still under way after " +
                                         std::to_string(timeout_ns) + " ns of virtual time (at " +
                                         std::to_string(deadline) + " ns)");
    }
    pool.advance(*next);
  }
  return TIERMEM_OK;
}

// Looks up one counter of the stats by its dotted name.
struct StatFinder final : tiermem::StatsVisitor {
  std::string_view wanted;
  std::optional<uint64_t> value;
  bool is_label = false;
  void counter(std::string_view name, uint64_t v) override {
    if (name == wanted) value = v;
  }
  void label(std::string_view name, std::string_view) override { is_label |= name == wanted; }
};

tiermem::sim::Link link_of(const tiermem_link& link) {
  return {link.gbps, link.write_gbps, link.latency_us, link.queue_depth};
}

// One member of a JSON options object: a non-negative integer of at most max.
uint64_t json_count(std::string_view key, const boost::json::value& v, uint64_t max) {
  if (v.is_uint64() && v.as_uint64() <= max) return v.as_uint64();
  if (v.is_int64() && v.as_int64() >= 0 && static_cast<uint64_t>(v.as_int64()) <= max) {
    return static_cast<uint64_t>(v.as_int64());
  }
  if (v.is_int64() || v.is_uint64()) {
    throw Error(Errc::invalid_argument, "checkpoint option " + std::string(key) + " = " +
                                            boost::json::serialize(v) + " is not in [0, " +
                                            std::to_string(max) + "]");
  }
  throw Error(Errc::config, "checkpoint option " + std::string(key) + " must be an integer, not " +
                                boost::json::serialize(v));
}

// A size: an integer, or text as parse_size reads it ("1GiB").
uint64_t json_size(std::string_view key, const boost::json::value& v) {
  return v.is_string() ? tiermem::parse_size(std::string(v.as_string()))
                       : json_count(key, v, UINT64_MAX);
}

// A scalar as the text Config::set takes.
std::string json_text(std::string_view key, const boost::json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_int64() || v.is_uint64()) return boost::json::serialize(v);
  throw Error(Errc::config, "checkpoint option " + std::string(key) +
                                " must be a string, a number or a boolean, not " +
                                boost::json::serialize(v));
}

// The options of tiermem_checkpoint_save_start (tiermem.h lists the keys). The io keys go
// through the pool config's own io.* parsing and checks.
tiermem::CheckpointOptions checkpoint_options_of(const char* json) {
  tiermem::CheckpointOptions options;
  if (json == nullptr) return options;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) {
    throw Error(Errc::config, std::string("checkpoint options are not a JSON object: ") + json);
  }
  tiermem::Config io_keys;
  for (const auto& [key, v] : value.as_object()) {
    if (key == "rank") {
      options.rank = static_cast<uint32_t>(json_count(key, v, UINT32_MAX));
    } else if (key == "world_size") {
      options.world_size = static_cast<uint32_t>(json_count(key, v, UINT32_MAX));
    } else if (key == "max_shard_bytes") {
      options.max_shard_bytes = json_size(key, v);
    } else if (key == "tag" && v.is_string()) {
      options.tag = std::string(v.as_string());
    } else if (key == "metadata" && v.is_object()) {
      for (const auto& [name, text] : v.as_object()) {
        if (!text.is_string()) {
          throw Error(Errc::config, "checkpoint option metadata." + std::string(name) +
                                        " must be a string, not " + boost::json::serialize(text));
        }
        options.metadata[std::string(name)] = std::string(text.as_string());
      }
    } else if (key == "checksums" && v.is_bool()) {
      options.checksums = v.as_bool();
    } else if (key == "staging_bytes") {
      options.staging_bytes = json_size(key, v);
    } else if (key == "staging_buffers") {
      options.staging_buffers = static_cast<uint32_t>(json_count(key, v, UINT32_MAX));
    } else if (key == "io" && v.is_object()) {
      for (const auto& [name, item] : v.as_object()) {
        io_keys.set("io." + std::string(name), json_text(name, item));
      }
    } else {
      throw Error(Errc::config, "checkpoint options: unknown key or a value of the wrong type: '" +
                                    std::string(key) + "': " + boost::json::serialize(v) +
                                    " (known: rank, world_size, max_shard_bytes, tag, metadata, "
                                    "checksums, staging_bytes, staging_buffers, io)");
    }
  }
  io_keys.validate();
  options.io = io_keys.io;
  return options;
}

std::string result_json(const tiermem::CheckpointResult& result) {
  boost::json::object out;
  out["files"] = boost::json::array(result.files.begin(), result.files.end());
  out["bytes_written"] = result.bytes_written;
  out["tensors"] = result.tensors;
  out["seconds"] = result.seconds;
  out["direct"] = result.direct;
  out["index_written"] = result.index_written;
  return boost::json::serialize(out);
}

std::string report_json(const tiermem::CheckpointReport& report) {
  boost::json::object out;
  out["files"] = boost::json::array(report.files.begin(), report.files.end());
  out["tensors"] = report.tensors;
  out["bytes"] = report.bytes;
  out["checksums_verified"] = report.checksums_verified;
  return boost::json::serialize(out);
}

// The request's state as tiermem_pin_poll reports it.
int outcome(const tiermem_pin_request& request) {
  require_not_taken(request);
  if (request.future.valid()) return fail(TIERMEM_EAGAIN, "the pin is still under way");
  if (request.error) std::rethrow_exception(request.error);
  return TIERMEM_OK;
}

}  // namespace

extern "C" {

// ---- status and version ----------------------------------------------------------------------

const char* tiermem_last_error(void) {
  return last_error.c_str();
}

const char* tiermem_status_name(int status) {
  switch (status) {
    case TIERMEM_OK:
      return "TIERMEM_OK";
    case TIERMEM_EINVAL:
      return "TIERMEM_EINVAL";
    case TIERMEM_ECONFIG:
      return "TIERMEM_ECONFIG";
    case TIERMEM_ENOSPACE:
      return "TIERMEM_ENOSPACE";
    case TIERMEM_ETIERFULL:
      return "TIERMEM_ETIERFULL";
    case TIERMEM_EBUSY:
      return "TIERMEM_EBUSY";
    case TIERMEM_ERELEASED:
      return "TIERMEM_ERELEASED";
    case TIERMEM_EIO:
      return "TIERMEM_EIO";
    case TIERMEM_EUNSUPPORTED:
      return "TIERMEM_EUNSUPPORTED";
    case TIERMEM_ESYSTEM:
      return "TIERMEM_ESYSTEM";
    case TIERMEM_ETRUNCATED:
      return "TIERMEM_ETRUNCATED";
    case TIERMEM_EAGAIN:
      return "TIERMEM_EAGAIN";
    case TIERMEM_ETIMEDOUT:
      return "TIERMEM_ETIMEDOUT";
    case TIERMEM_ENOMEM:
      return "TIERMEM_ENOMEM";
    case TIERMEM_ECORRUPT:
      return "TIERMEM_ECORRUPT";
  }
  return "unknown status";
}

const char* tiermem_version(int* major, int* minor, int* patch) {
  if (major != nullptr) *major = TIERMEM_VERSION_MAJOR;
  if (minor != nullptr) *minor = TIERMEM_VERSION_MINOR;
  if (patch != nullptr) *patch = TIERMEM_VERSION_PATCH;
  return TIERMEM_VERSION;
}

// ---- configuration and pools -----------------------------------------------------------------

int tiermem_config_check(const char* config_json, char* buffer, size_t size) {
  return guarded([&]() -> int {
    tiermem::Config config =
        config_json != nullptr ? tiermem::Config::from_json(config_json) : tiermem::Config();
    config.validate();
    return buffer != nullptr ? copy_out(config.to_json(), buffer, size) : TIERMEM_OK;
  });
}

int tiermem_pool_open(const char* config_json, tiermem_pool** pool) {
  return guarded([&] {
    require(pool, "pool");
    tiermem::Config config =
        config_json != nullptr ? tiermem::Config::from_json(config_json) : tiermem::Config();
    auto handle = std::make_unique<tiermem_pool>();
    handle->pool = std::make_unique<tiermem::Pool>(config);
    *pool = handle.release();
  });
}

void tiermem_pool_close(tiermem_pool* pool) {
  if (pool == nullptr) return;
  for (tiermem_tensor* tensor : pool->tensors) delete tensor;
  delete pool;
}

int tiermem_pool_flush(tiermem_pool* pool) {
  return guarded([&] {
    require(pool, "pool");
    pool->pool->flush();
  });
}

int tiermem_pool_stats(tiermem_pool* pool, char* buffer, size_t size) {
  return guarded([&]() -> int {
    require(pool, "pool");
    return copy_out(pool->pool->stats().to_json(), buffer, size);
  });
}

int tiermem_pool_start_trace(tiermem_pool* pool, const char* path) {
  return guarded([&] {
    require(pool, "pool");
    require(path, "path");
    pool->pool->start_trace(path);
  });
}

int tiermem_pool_stop_trace(tiermem_pool* pool) {
  return guarded([&] {
    require(pool, "pool");
    pool->pool->stop_trace();
  });
}

int tiermem_compute_begin(tiermem_pool* pool) {
  return guarded([&] {
    require(pool, "pool");
    pool->pool->compute_begin();
  });
}

int tiermem_compute_end(tiermem_pool* pool) {
  return guarded([&] {
    require(pool, "pool");
    pool->pool->compute_end();
  });
}

int tiermem_pool_set_schedule(tiermem_pool* pool, const tiermem_schedule_step* steps,
                              size_t count) {
  return guarded([&] {
    require(pool, "pool");
    if (count > 0) require(steps, "steps");
    std::vector<tiermem::ScheduleStep> schedule;
    schedule.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      const tiermem_schedule_step& step = steps[i];
      const std::string which = "schedule step " + std::to_string(i);
      if (step.tensor == nullptr) throw Error(Errc::invalid_argument, which + ": tensor is NULL");
      if (step.tensor->owner != pool) {
        throw Error(Errc::invalid_argument, which + ": the tensor is of another pool");
      }
      tiermem::Tier tier;
      try {
        tier = tier_of(step.tier);
      } catch (const Error& e) {
        throw Error(e.code(), which + ": " + e.what());
      }
      schedule.push_back({step.tensor->tensor, {step.offset, step.length}, tier});
    }
    pool->pool->set_schedule(schedule);
  });
}

// ---- tensors ---------------------------------------------------------------------------------

int tiermem_tensor_allocate(tiermem_pool* pool, const uint64_t* shape, size_t rank,
                            const char* dtype, const char* name, tiermem_tensor** tensor) {
  return tiermem_tensor_allocate_with(pool, shape, rank, dtype, name, 0, tensor);
}

int tiermem_tensor_allocate_with(tiermem_pool* pool, const uint64_t* shape, size_t rank,
                                 const char* dtype, const char* name, uint32_t flags,
                                 tiermem_tensor** tensor) {
  return guarded([&] {
    require(pool, "pool");
    require(dtype, "dtype");
    require(name, "name");
    require(tensor, "tensor");
    if (rank > 0) require(shape, "shape");
    if ((flags & ~uint32_t{TIERMEM_WRITE_THROUGH}) != 0) {
      throw Error(Errc::invalid_argument,
                  "flags " + std::to_string(flags) + " has bits beyond TIERMEM_WRITE_THROUGH (1)");
    }
    tiermem::TensorOptions options;
    options.write_through = (flags & TIERMEM_WRITE_THROUGH) != 0;
    tiermem::Tensor allocated = pool->pool->allocate(std::span<const uint64_t>(shape, rank),
                                                     tiermem::parse_dtype(dtype), name, options);
    try {
      *tensor = new_handle(pool, allocated);
    } catch (...) {
      allocated.release();  // a tensor without a handle could never be released
      throw;
    }
  });
}

int tiermem_tensor_dup(const tiermem_tensor* tensor, tiermem_tensor** copy) {
  return guarded([&] {
    require(tensor, "tensor");
    require(copy, "copy");
    (void)tensor->tensor.size_bytes();  // fails for a stale handle
    *copy = new_handle(tensor->owner, tensor->tensor);
  });
}

int tiermem_tensor_release(tiermem_tensor* tensor) {
  return guarded([&] {
    require(tensor, "tensor");
    tensor->tensor.release();
    free_handle(tensor);
  });
}

void tiermem_tensor_free(tiermem_tensor* tensor) {
  if (tensor != nullptr) free_handle(tensor);
}

int tiermem_tensor_size(const tiermem_tensor* tensor, uint64_t* bytes) {
  return guarded([&] {
    require(tensor, "tensor");
    require(bytes, "bytes");
    *bytes = tensor->tensor.size_bytes();
  });
}

int tiermem_tensor_name(const tiermem_tensor* tensor, char* buffer, size_t size) {
  return guarded([&]() -> int {
    require(tensor, "tensor");
    return copy_out(tensor->tensor.name(), buffer, size);
  });
}

int tiermem_tensor_rank(const tiermem_tensor* tensor, size_t* rank) {
  return guarded([&] {
    require(tensor, "tensor");
    require(rank, "rank");
    *rank = tensor->tensor.shape().size();
  });
}

int tiermem_tensor_shape(const tiermem_tensor* tensor, uint64_t* shape, size_t capacity) {
  return guarded([&]() -> int {
    require(tensor, "tensor");
    if (capacity > 0) require(shape, "shape");
    std::vector<uint64_t> dims = tensor->tensor.shape();
    std::copy_n(dims.begin(), std::min(capacity, dims.size()), shape);
    if (capacity >= dims.size()) return TIERMEM_OK;
    return fail(TIERMEM_ETRUNCATED, "room for " + std::to_string(capacity) +
                                        " dimensions; the tensor has " +
                                        std::to_string(dims.size()));
  });
}

int tiermem_tensor_dtype(const tiermem_tensor* tensor, const char** dtype) {
  return guarded([&] {
    require(tensor, "tensor");
    require(dtype, "dtype");
    // The names are string literals, so the view's data is NUL-terminated static storage.
    *dtype = tiermem::to_string(tensor->tensor.dtype()).data();
  });
}

int tiermem_tensor_page_count(const tiermem_tensor* tensor, uint64_t* pages) {
  return guarded([&] {
    require(tensor, "tensor");
    require(pages, "pages");
    *pages = tensor->tensor.page_count();
  });
}

int tiermem_tensor_residency(const tiermem_tensor* tensor, uint64_t first_page, uint64_t count,
                             tiermem_residency* pages) {
  return guarded([&] {
    require(tensor, "tensor");
    if (count > 0) require(pages, "pages");
    const uint64_t page_count = tensor->tensor.page_count();
    if (first_page > page_count || count > page_count - first_page) {
      throw Error(Errc::invalid_argument, "pages " + std::to_string(first_page) + " + " +
                                              std::to_string(count) + " go beyond tensor '" +
                                              tensor->tensor.name() + "' (" +
                                              std::to_string(page_count) + " pages)");
    }
    for (uint64_t i = 0; i < count; ++i) {
      const tiermem::PageResidency r = tensor->tensor.residency(first_page + i);
      tiermem_residency& out = pages[i];
      out.valid = 0;
      for (int t = 0; t < tiermem::kTierCount; ++t) out.valid |= r.valid[t] ? 1u << t : 0;
      out.dirty = r.dirty;
      out.in_flight = r.in_flight;
      out.pins[0] = r.pins[0];
      out.pins[1] = r.pins[1];
    }
  });
}

int tiermem_tensor_prefetch(tiermem_tensor* tensor, int tier, uint64_t offset, uint64_t length) {
  return guarded([&] {
    require(tensor, "tensor");
    tensor->tensor.prefetch(tier_of(tier), {offset, length});
  });
}

int tiermem_tensor_evict(tiermem_tensor* tensor, int tier, uint64_t* evicted) {
  return guarded([&] {
    require(tensor, "tensor");
    uint64_t count = tensor->tensor.evict(tier_of(tier));
    if (evicted != nullptr) *evicted = count;
  });
}

int tiermem_tensor_flush(tiermem_tensor* tensor) {
  return guarded([&] {
    require(tensor, "tensor");
    tensor->tensor.flush();
  });
}

// ---- pins ------------------------------------------------------------------------------------

int tiermem_tensor_pin(tiermem_tensor* tensor, int tier, int access, uint64_t offset,
                       uint64_t length, tiermem_pin** pin) {
  return guarded([&] {
    require(tensor, "tensor");
    require(pin, "pin");
    auto handle = std::make_unique<tiermem_pin>();
    handle->pin = tensor->tensor.pin(tier_of(tier), access_of(access), {offset, length});
    *pin = handle.release();
  });
}

void* tiermem_pin_data(const tiermem_pin* pin) {
  return pin != nullptr ? pin->pin.data() : nullptr;
}

uint64_t tiermem_pin_size(const tiermem_pin* pin) {
  return pin != nullptr ? pin->pin.size() : 0;
}

void tiermem_unpin(tiermem_pin* pin) {
  delete pin;
}

int tiermem_pin_start(tiermem_tensor* tensor, int tier, int access, uint64_t offset,
                      uint64_t length, tiermem_pin_request** request) {
  return guarded([&] {
    require(tensor, "tensor");
    require(request, "request");
    auto handle = std::make_unique<tiermem_pin_request>();
    handle->future = tensor->tensor.pin_async(tier_of(tier), access_of(access), {offset, length});
    if (tensor->owner->virtual_clock) handle->clock = tensor->owner->pool.get();
    *request = handle.release();
  });
}

int tiermem_pin_poll(tiermem_pin_request* request) {
  return guarded([&]() -> int {
    require(request, "request");
    require_not_taken(*request);
    settle(*request);
    return outcome(*request);
  });
}

int tiermem_pin_wait(tiermem_pin_request* request, uint64_t timeout_ns) {
  return guarded([&]() -> int {
    require(request, "request");
    require_not_taken(*request);
    if (request->future.valid() && request->clock != nullptr) {
      if (int status = run_clock_for(*request, timeout_ns); status != TIERMEM_OK) return status;
    } else if (request->future.valid()) {
      // Beyond a century the end of the wait would overflow steady_clock: no limit then.
      if (timeout_ns >= (1ull << 62)) {
        request->future.wait();
      } else if (request->future.wait_for(std::chrono::nanoseconds(timeout_ns)) !=
                 std::future_status::ready) {
        return fail(TIERMEM_ETIMEDOUT,
                    "the pin is still under way after " + std::to_string(timeout_ns) + " ns");
      }
      settle(*request);
    }
    return outcome(*request);
  });
}

int tiermem_pin_request_take(tiermem_pin_request* request, tiermem_pin** pin) {
  return guarded([&]() -> int {
    require(request, "request");
    require(pin, "pin");
    require_not_taken(*request);
    settle(*request);
    int status = outcome(*request);
    if (status != TIERMEM_OK) return status;
    auto handle = std::make_unique<tiermem_pin>();
    handle->pin = std::move(request->pin);
    request->taken = true;
    *pin = handle.release();
    return TIERMEM_OK;
  });
}

void tiermem_pin_request_free(tiermem_pin_request* request) {
  // A future dropped before its pin arrives leaves the pin to the library, which ends it.
  delete request;
}

// ---- pools on a virtual clock ----------------------------------------------------------------

void tiermem_virtual_devices_init(tiermem_virtual_devices* devices) {
  if (devices == nullptr) return;
  const tiermem::VirtualDevices defaults;
  auto c_link = [](const tiermem::sim::Link& link) {
    return tiermem_link{link.gbps, link.write_gbps, link.latency_us, link.queue_depth};
  };
  *devices = {c_link(defaults.nvme), c_link(defaults.pcie), defaults.data ? 1 : 0,
              defaults.tensors_start_on_nvme ? 1 : 0};
}

int tiermem_pool_open_virtual(const char* config_json, const tiermem_virtual_devices* devices,
                              tiermem_pool** pool) {
  return guarded([&] {
    require(pool, "pool");
    tiermem::Config config =
        config_json != nullptr ? tiermem::Config::from_json(config_json) : tiermem::Config();
    tiermem::VirtualDevices modelled;
    if (devices != nullptr) {
      modelled.nvme = link_of(devices->nvme);
      modelled.pcie = link_of(devices->pcie);
      modelled.data = devices->data != 0;
      modelled.tensors_start_on_nvme = devices->tensors_start_on_nvme != 0;
    }
    auto handle = std::make_unique<tiermem_pool>();
    handle->pool = std::make_unique<tiermem::Pool>(config, modelled);
    handle->virtual_clock = true;
    *pool = handle.release();
  });
}

int tiermem_pool_now(const tiermem_pool* pool, uint64_t* ns) {
  return guarded([&] {
    require(pool, "pool");
    require(ns, "ns");
    *ns = pool->pool->now_ns();
  });
}

int tiermem_pool_advance(tiermem_pool* pool, uint64_t until_ns, uint64_t* events) {
  return guarded([&] {
    require(pool, "pool");
    const uint64_t ran = pool->pool->advance(until_ns);
    if (events != nullptr) *events = ran;
  });
}

int tiermem_pool_next_event(tiermem_pool* pool, uint64_t* ns) {
  return guarded([&] {
    require(pool, "pool");
    require(ns, "ns");
    *ns = pool->pool->next_event_ns().value_or(UINT64_MAX);
  });
}

int tiermem_pool_stat(tiermem_pool* pool, const char* name, uint64_t* value) {
  return guarded([&] {
    require(pool, "pool");
    require(name, "name");
    require(value, "value");
    StatFinder finder;
    finder.wanted = name;
    pool->pool->stats().visit(finder);
    if (finder.is_label) {
      throw Error(Errc::invalid_argument, "stat '" + std::string(name) +
                                              "' is text, not a counter: read it from "
                                              "tiermem_pool_stats");
    }
    if (!finder.value) {
      throw Error(Errc::invalid_argument,
                  "stat '" + std::string(name) +
                      "' is no counter of the pool (tiermem_pool_stats names them all)");
    }
    *value = *finder.value;
  });
}

// ---- persistent pools and checkpoints --------------------------------------------------------

int tiermem_pool_find(tiermem_pool* pool, const char* name, tiermem_tensor** tensor) {
  return guarded([&] {
    require(pool, "pool");
    require(name, "name");
    require(tensor, "tensor");
    const tiermem::Tensor found = pool->pool->find(name);
    *tensor = found ? new_handle(pool, found) : nullptr;
  });
}

int tiermem_pool_verify(tiermem_pool* pool, uint64_t* pages) {
  return guarded([&] {
    require(pool, "pool");
    const uint64_t checked = pool->pool->verify();
    if (pages != nullptr) *pages = checked;
  });
}

int tiermem_checkpoint_save_start(const tiermem_tensor* const* tensors, size_t count,
                                  const char* path, const char* options_json,
                                  tiermem_checkpoint_save** save) {
  return guarded([&] {
    if (count > 0) require(tensors, "tensors");
    require(path, "path");
    require(save, "save");
    std::vector<tiermem::Tensor> chosen;
    chosen.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (tensors[i] == nullptr) {
        throw Error(Errc::invalid_argument, "tensors[" + std::to_string(i) + "] is NULL");
      }
      // Nothing would run a virtual clock for the save's pins: it would wait for ever.
      if (tensors[i]->owner->virtual_clock) {
        throw Error(Errc::invalid_argument, "tensors[" + std::to_string(i) +
                                                "] is of a pool on a virtual clock, which "
                                                "checkpoints cannot be saved from");
      }
      chosen.push_back(tensors[i]->tensor);
    }
    const tiermem::CheckpointOptions options = checkpoint_options_of(options_json);
    auto handle = std::make_unique<tiermem_checkpoint_save>();
    handle->future = tiermem::save_checkpoint(chosen, path, options);
    *save = handle.release();
  });
}

int tiermem_checkpoint_save_wait(tiermem_checkpoint_save* save, uint64_t timeout_ns,
                                 char* result_json_buffer, size_t size) {
  return guarded([&]() -> int {
    require(save, "save");
    if (save->future.valid()) {
      // Beyond a century the end of the wait would overflow steady_clock: no limit then.
      if (timeout_ns >= (1ull << 62)) {
        save->future.wait();
      } else if (save->future.wait_for(std::chrono::nanoseconds(timeout_ns)) !=
                 std::future_status::ready) {
        return fail(TIERMEM_ETIMEDOUT,
                    "the save is still under way after " + std::to_string(timeout_ns) + " ns");
      }
      try {
        save->result = result_json(save->future.get());
      } catch (...) {
        save->error = std::current_exception();
      }
    }
    if (save->error) std::rethrow_exception(save->error);
    return result_json_buffer != nullptr ? copy_out(save->result, result_json_buffer, size)
                                         : TIERMEM_OK;
  });
}

void tiermem_checkpoint_save_free(tiermem_checkpoint_save* save) {
  delete save;
}

int tiermem_checkpoint_check(const char* path, char* report, size_t size) {
  return guarded([&]() -> int {
    require(path, "path");
    const std::string text = report_json(tiermem::check_checkpoint(path));
    return report != nullptr ? copy_out(text, report, size) : TIERMEM_OK;
  });
}

int tiermem_checkpoint_open(tiermem_pool* pool, const char* path, size_t* count) {
  return guarded([&] {
    require(pool, "pool");
    require(path, "path");
    const size_t opened = tiermem::open_checkpoint(*pool->pool, path).size();
    if (count != nullptr) *count = opened;
  });
}

// ---- the simulator ---------------------------------------------------------------------------

int tiermem_simulate(const char* trace_path, const char* config_json, char* result_json,
                     size_t size) {
  return guarded([&]() -> int {
    require(trace_path, "trace_path");
    tiermem::Trace trace = tiermem::read_trace(trace_path);
    tiermem::sim::Config config;
    config.dram_bytes = trace.footprint_bytes() / 2;
    bool on_pool = false;
    if (config_json != nullptr) {
      boost::system::error_code ec;
      boost::json::value value = boost::json::parse(config_json, ec);
      if (ec || !value.is_object()) {
        throw Error(Errc::config,
                    std::string("simulator config is not a JSON object: ") + config_json);
      }
      for (const auto& [key, v] : value.as_object()) {
        auto text = [&] {
          if (v.is_string()) return std::string(v.as_string());
          if (v.is_int64()) return std::to_string(v.as_int64());
          throw Error(Errc::config, "simulator config: " + std::string(key) + " must be a string");
        };
        if (key == "eviction") {
          config.eviction = text();
        } else if (key == "prefetch") {
          config.prefetch = text();
        } else if (key == "dram") {
          config.dram_bytes = tiermem::parse_size(text());
        } else if (key == "gpu") {
          config.gpu_bytes = tiermem::parse_size(text());
        } else if (key == "nvme") {
          config.nvme = tiermem::sim::Link::parse(text(), config.nvme);
        } else if (key == "pcie") {
          config.pcie = tiermem::sim::Link::parse(text(), config.pcie);
        } else if (key == "prefetch_budget") {
          config.prefetch_budget = tiermem::parse_size(text());
        } else if (key == "memory_limit") {
          config.memory_limit = tiermem::parse_size(text());
        } else if (key == "baseline" && v.is_bool()) {
          config.belady_baseline = v.as_bool();
        } else if (key == "trace_prefetches" && v.is_bool()) {
          config.trace_prefetches = v.as_bool();
        } else if (key == "model") {
          const std::string model = text();
          if (model != "fast" && model != "pool") {
            throw Error(Errc::config,
                        "simulator config: model '" + model + "' is not fast or pool");
          }
          on_pool = model == "pool";
        } else {
          throw Error(Errc::config, "simulator config: unknown key or value '" + std::string(key) +
                                        "' (known: eviction, prefetch, dram, gpu, nvme, pcie, "
                                        "prefetch_budget, baseline, trace_prefetches, "
                                        "memory_limit, model)");
        }
      }
    }
    const tiermem::sim::Result result = on_pool ? tiermem::sim::simulate_on_pool(trace, config)
                                                : tiermem::sim::simulate(trace, config);
    return copy_out(result.to_json(), result_json, size);
  });
}

}  // extern "C"
