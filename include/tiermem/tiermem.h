/* tiermem/tiermem.h: the C interface, for simulators and other languages (C, Python's ctypes,
 * Rust's FFI), over the same library as the C++ API.
 *
 * Errors: every call that can fail returns TIERMEM_OK (0) or a negative TIERMEM_E* code, and
 * tiermem_last_error() gives the message of the calling thread's last failure; nothing is
 * changed by a call that fails. Ownership: each handle belongs to the caller until the call
 * that ends it (tiermem_pool_close, tiermem_tensor_release, tiermem_unpin). Blocking and
 * thread safety are as in the C++ API (tiermem/tiermem.hpp): every call may be made from any
 * thread, a pin blocks until its pages are resident, and a pin handle belongs to one thread.
 */
#ifndef TIERMEM_TIERMEM_H
#define TIERMEM_TIERMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tiermem_status {
  TIERMEM_OK = 0,
  TIERMEM_EINVAL = -1,       /* a value outside its range */
  TIERMEM_ECONFIG = -2,      /* a configuration that cannot be understood */
  TIERMEM_ENOSPACE = -3,     /* the NVMe tier or a tier can never hold what was asked */
  TIERMEM_ETIERFULL = -4,    /* every frame of the tier is pinned right now */
  TIERMEM_EBUSY = -5,        /* conflicts with pins or I/O still active */
  TIERMEM_ERELEASED = -6,    /* the tensor was released */
  TIERMEM_EIO = -7,          /* an I/O request failed */
  TIERMEM_EUNSUPPORTED = -8, /* the machine lacks a facility */
  TIERMEM_ESYSTEM = -9,      /* an operating-system call failed while setting up */
  TIERMEM_ETRUNCATED = -10   /* an output buffer was too small; the output was cut short */
};

enum tiermem_tier { TIERMEM_TIER_GPU = 0, TIERMEM_TIER_DRAM = 1, TIERMEM_TIER_NVME = 2 };
enum tiermem_access {
  TIERMEM_READ = 0,
  TIERMEM_WRITE = 1, /* every byte of the range will be overwritten */
  TIERMEM_READ_WRITE = 2
};

typedef struct tiermem_pool tiermem_pool;
typedef struct tiermem_tensor tiermem_tensor;
typedef struct tiermem_pin tiermem_pin;

/* The message of this thread's last failure ("" before any); valid until its next call. */
const char* tiermem_last_error(void);

/* Opens a pool. config_json: a JSON object with the keys `tiermem config --keys` lists (nested
 * or dotted), or NULL for the defaults. */
int tiermem_pool_open(const char* config_json, tiermem_pool** pool);
/* Closes a pool, freeing the handles of its tensors still allocated. Every pin must have
 * ended. */
void tiermem_pool_close(tiermem_pool* pool);
/* Writes every dirty page down to NVMe; blocks until confirmed. */
int tiermem_pool_flush(tiermem_pool* pool);
/* The pool's counters as one JSON object, NUL-terminated, into buffer of size bytes;
 * TIERMEM_ETRUNCATED (with as much as fits) when it is too small. */
int tiermem_pool_stats(tiermem_pool* pool, char* buffer, size_t size);

/* Allocates a tensor of rank dimensions; dtype by name ("bf16", "float32", ...). Its pages
 * read as zeros until written. */
int tiermem_tensor_allocate(tiermem_pool* pool, const uint64_t* shape, size_t rank,
                            const char* dtype, const char* name, tiermem_tensor** tensor);
/* Frees the tensor's memory and NVMe space, and its handle; TIERMEM_EBUSY (nothing freed)
 * while any of its pages is pinned. */
int tiermem_tensor_release(tiermem_tensor* tensor);
uint64_t tiermem_tensor_size(const tiermem_tensor* tensor);
/* Starts bringing [offset, offset + length) into tier and returns at once. length UINT64_MAX:
 * to the end. */
int tiermem_tensor_prefetch(tiermem_tensor* tensor, int tier, uint64_t offset, uint64_t length);
/* Moves the tensor's unpinned pages out of tier; *evicted (may be NULL) gets their count. */
int tiermem_tensor_evict(tiermem_tensor* tensor, int tier, uint64_t* evicted);
/* Writes the tensor's dirty pages down to NVMe; blocks until confirmed. */
int tiermem_tensor_flush(tiermem_tensor* tensor);

/* Pins [offset, offset + length) of tensor in tier (GPU or DRAM) for access and gives one
 * contiguous pointer to it; blocks until resident. length UINT64_MAX: to the end. */
int tiermem_tensor_pin(tiermem_tensor* tensor, int tier, int access, uint64_t offset,
                       uint64_t length, tiermem_pin** pin);
void* tiermem_pin_data(const tiermem_pin* pin);
uint64_t tiermem_pin_size(const tiermem_pin* pin);
/* Ends a pin and frees its handle; never blocks on I/O. */
void tiermem_unpin(tiermem_pin* pin);

/* Replays the trace file at trace_path (binary, or CSV with 2 MiB pages) in the simulator.
 * config_json: {"eviction": "lru", "prefetch": "none", "dram": "1GiB", "gpu": "0",
 * "nvme": "gbps=2,lat_us=100,qd=32", "pcie": "gbps=55,lat_us=10,qd=4",
 * "prefetch_budget": "256MiB", "baseline": true, "memory_limit": "4GiB"}, any subset; dram
 * defaults to half the trace's footprint; memory_limit bounds the replay's tables (see
 * tiermem/sim.hpp). The result, as `tiermem sim --json` prints it, goes to result_json as in
 * tiermem_pool_stats. */
int tiermem_simulate(const char* trace_path, const char* config_json, char* result_json,
                     size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TIERMEM_TIERMEM_H */
