// tiermem/c_api.cpp: the C interface (include/tiermem/tiermem.h) over the C++ API: handles
// that own C++ objects, and exceptions turned into status codes and a per-thread message.
#include <boost/json.hpp>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "tiermem/tiermem.h"
#include "tiermem/tiermem.hpp"

struct tiermem_pool {
  std::unique_ptr<tiermem::Pool> pool;
  std::mutex mutex;                             // guards tensors
  std::unordered_set<tiermem_tensor*> tensors;  // handles to free at close
};

struct tiermem_tensor {
  tiermem_pool* owner;
  tiermem::Tensor tensor;
};

struct tiermem_pin {
  tiermem::Pin pin;
};

namespace {

thread_local std::string last_error;

int status_of(tiermem::Errc code) {
  using tiermem::Errc;
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
  }
  return TIERMEM_ESYSTEM;
}

// Runs body; an exception becomes a status and this thread's last error.
template <class Body>
int guarded(Body&& body) noexcept {
  try {
    body();
    return TIERMEM_OK;
  } catch (const tiermem::Error& e) {
    last_error = e.what();
    return status_of(e.code());
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return TIERMEM_ESYSTEM;
  } catch (const std::exception& e) {
    last_error = e.what();
    return TIERMEM_ESYSTEM;
  }
}

void require(const void* p, const char* what) {
  if (p == nullptr) {
    throw tiermem::Error(tiermem::Errc::invalid_argument, std::string(what) + " is NULL");
  }
}

tiermem::Tier tier_of(int tier) {
  if (tier < TIERMEM_TIER_GPU || tier > TIERMEM_TIER_NVME) {
    throw tiermem::Error(
        tiermem::Errc::invalid_argument,
        "tier " + std::to_string(tier) + " is not one of 0 (gpu), 1 (dram), 2 (nvme)");
  }
  return static_cast<tiermem::Tier>(tier);
}

// Copies text into buffer of size bytes, NUL-terminated; ETRUNCATED when it does not fit.
int copy_out(const std::string& text, char* buffer, size_t size) {
  if (buffer != nullptr && size != 0) {
    size_t n = std::min(text.size(), size - 1);
    std::memcpy(buffer, text.data(), n);
    buffer[n] = '\0';
    if (n == text.size()) return TIERMEM_OK;
  }
  last_error = "output buffer of " + std::to_string(size) + " bytes; " +
               std::to_string(text.size() + 1) + " are needed";
  return TIERMEM_ETRUNCATED;
}

}  // namespace

extern "C" {

const char* tiermem_last_error(void) {
  return last_error.c_str();
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
  std::string json;
  int status = guarded([&] {
    require(pool, "pool");
    json = pool->pool->stats().to_json();
  });
  return status != TIERMEM_OK ? status : copy_out(json, buffer, size);
}

int tiermem_tensor_allocate(tiermem_pool* pool, const uint64_t* shape, size_t rank,
                            const char* dtype, const char* name, tiermem_tensor** tensor) {
  return guarded([&] {
    require(pool, "pool");
    require(dtype, "dtype");
    require(name, "name");
    require(tensor, "tensor");
    if (rank > 0) require(shape, "shape");
    auto handle = std::make_unique<tiermem_tensor>(
        tiermem_tensor{pool, pool->pool->allocate(std::span<const uint64_t>(shape, rank),
                                                  tiermem::parse_dtype(dtype), name)});
    std::lock_guard lock(pool->mutex);
    pool->tensors.insert(handle.get());
    *tensor = handle.release();
  });
}

int tiermem_tensor_release(tiermem_tensor* tensor) {
  return guarded([&] {
    require(tensor, "tensor");
    tensor->tensor.release();
    tiermem_pool* pool = tensor->owner;
    {
      std::lock_guard lock(pool->mutex);
      pool->tensors.erase(tensor);
    }
    delete tensor;
  });
}

uint64_t tiermem_tensor_size(const tiermem_tensor* tensor) {
  uint64_t size = 0;
  guarded([&] {
    require(tensor, "tensor");
    size = tensor->tensor.size_bytes();
  });
  return size;
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

int tiermem_tensor_pin(tiermem_tensor* tensor, int tier, int access, uint64_t offset,
                       uint64_t length, tiermem_pin** pin) {
  return guarded([&] {
    require(tensor, "tensor");
    require(pin, "pin");
    if (access < TIERMEM_READ || access > TIERMEM_READ_WRITE) {
      throw tiermem::Error(tiermem::Errc::invalid_argument,
                           "access " + std::to_string(access) +
                               " is not one of 0 (read), 1 (write), 2 (read_write)");
    }
    auto handle = std::make_unique<tiermem_pin>();
    handle->pin =
        tensor->tensor.pin(tier_of(tier), static_cast<tiermem::Access>(access), {offset, length});
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

int tiermem_simulate(const char* trace_path, const char* config_json, char* result_json,
                     size_t size) {
  std::string json;
  int status = guarded([&] {
    require(trace_path, "trace_path");
    tiermem::Trace trace = tiermem::read_trace(trace_path);
    tiermem::sim::Config config;
    config.dram_bytes = trace.footprint_bytes() / 2;
    if (config_json != nullptr) {
      boost::system::error_code ec;
      boost::json::value value = boost::json::parse(config_json, ec);
      if (ec || !value.is_object()) {
        throw tiermem::Error(tiermem::Errc::config,
                             std::string("simulator config is not a JSON object: ") + config_json);
      }
      for (const auto& [key, v] : value.as_object()) {
        auto text = [&] {
          if (v.is_string()) return std::string(v.as_string());
          if (v.is_int64()) return std::to_string(v.as_int64());
          throw tiermem::Error(tiermem::Errc::config,
                               "simulator config: " + std::string(key) + " must be a string");
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
        } else {
          throw tiermem::Error(tiermem::Errc::config,
                               "simulator config: unknown key or value '" + std::string(key) +
                                   "' (known: eviction, prefetch, dram, gpu, nvme, pcie, "
                                   "prefetch_budget, baseline, memory_limit)");
        }
      }
    }
    json = tiermem::sim::simulate(trace, config).to_json();
  });
  return status != TIERMEM_OK ? status : copy_out(json, result_json, size);
}

}  // extern "C"
