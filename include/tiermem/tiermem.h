/* tiermem/tiermem.h: the C API, for C programs, simulators and other languages (Python's
 * ctypes, Rust's FFI), over the same library as the C++ API (tiermem/tiermem.hpp).
 *
 * Status: every call that can fail returns TIERMEM_OK (0) or a negative TIERMEM_E* status,
 * and then tiermem_last_error() gives the calling thread's message for it, naming the value
 * and the limit it broke. A call that fails changes nothing, its outputs included, unless its
 * description says otherwise. No C++ exception ever leaves a call; running out of memory is
 * TIERMEM_ENOMEM. NULL where a handle or output is required, and a tier or access outside its
 * enumeration, are TIERMEM_EINVAL.
 *
 * Ownership: each handle (pool, tensor, pin, pin request, checkpoint save) belongs to the
 * caller from the call that makes it until the call that ends it: tiermem_pool_close,
 * tiermem_tensor_release or tiermem_tensor_free, tiermem_unpin, tiermem_pin_request_free,
 * tiermem_checkpoint_save_free. Those accept NULL and then do nothing. Strings and arrays
 * passed in are read during the call only; text comes out copied into the caller's buffer
 * (NUL-terminated; TIERMEM_ETRUNCATED, with as much as fits, when the buffer is too small) or
 * as a pointer to static storage.
 *
 * Blocking: a call returns without waiting for I/O unless its description says it blocks.
 *
 * Threads: every call may be made from any thread, at the same time as any other, except
 * that a pin or pin request belongs to one thread at a time, a tensor must not be released
 * while another thread uses it (through any of its handles), a handle must not be freed while
 * another thread uses it, and a pool must not be used while another thread closes it.
 *
 * Pools on a virtual clock (tiermem_pool_open_virtual) start no thread and are driven by one
 * thread of the host: every call on such a pool, its tensors, pins and requests comes from
 * one thread at a time. Nothing of theirs moves between calls; the calls that block (pin,
 * evict, flush, release, close, tiermem_pin_wait) run the clock forward themselves instead of
 * waiting, and the others complete only when the host advances the clock.
 */
#ifndef TIERMEM_TIERMEM_H
#define TIERMEM_TIERMEM_H

#include <stddef.h>
#include <stdint.h>

#include "tiermem/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tiermem_status {
  TIERMEM_OK = 0,
  TIERMEM_EINVAL = -1,       /* a value outside its range, or NULL where one is needed */
  TIERMEM_ECONFIG = -2,      /* a configuration that cannot be understood */
  TIERMEM_ENOSPACE = -3,     /* the NVMe tier or a tier can never hold what was asked */
  TIERMEM_ETIERFULL = -4,    /* every frame of the tier is pinned right now */
  TIERMEM_EBUSY = -5,        /* conflicts with pins or I/O still active */
  TIERMEM_ERELEASED = -6,    /* the tensor was released (through another handle) */
  TIERMEM_EIO = -7,          /* an I/O request failed */
  TIERMEM_EUNSUPPORTED = -8, /* the machine lacks a facility */
  TIERMEM_ESYSTEM = -9,      /* an operating-system call failed while setting up */
  TIERMEM_ETRUNCATED = -10,  /* an output buffer was too small; the output was cut short */
  TIERMEM_EAGAIN = -11,      /* a pin request is still under way */
  TIERMEM_ETIMEDOUT = -12,   /* a wait ended before what it waited for */
  TIERMEM_ENOMEM = -13,      /* the process ran out of memory */
  TIERMEM_ECORRUPT = -14     /* stored data failed its checks (manifest, checksum, header) */
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
typedef struct tiermem_pin_request tiermem_pin_request;
typedef struct tiermem_checkpoint_save tiermem_checkpoint_save;

/* ---- status and version ------------------------------------------------------------------ */

/* The message of the calling thread's last failure ("" before any); valid until the thread's
 * next call into the library. Never fails. */
TIERMEM_API const char* tiermem_last_error(void);

/* The name of a status, e.g. "TIERMEM_EIO" (static storage); "unknown status" for a value
 * that is none. Never fails. */
TIERMEM_API const char* tiermem_status_name(int status);

/* The library's version as "MAJOR.MINOR.PATCH" (static storage); major, minor and patch, each
 * of which may be NULL, get its numbers. Never fails. */
TIERMEM_API const char* tiermem_version(int* major, int* minor, int* patch);

/* ---- configuration and pools ------------------------------------------------------------- */

/* Checks a configuration as tiermem_pool_open would (understood, then every value in range),
 * and opens nothing. config_json: a JSON object with the keys `tiermem config --keys` lists,
 * nested or dotted ({"dram": {"capacity": "1GiB"}} or {"dram.capacity": "1GiB"}), or NULL for
 * the defaults. When buffer is not NULL, the whole configuration (every key, defaults filled
 * in) goes to it as one JSON object of dotted keys. TIERMEM_ECONFIG: not understood (syntax,
 * unknown key, a value of the wrong type); TIERMEM_EINVAL: a value out of its range. */
TIERMEM_API int tiermem_config_check(const char* config_json, char* buffer, size_t size);

/* Opens a pool: allocates its tiers and reserves its NVMe space; blocks while it does.
 * config_json as for tiermem_config_check. Errors: TIERMEM_ECONFIG, TIERMEM_EINVAL as there,
 * TIERMEM_ESYSTEM or TIERMEM_ENOSPACE when memory or disk cannot be had. */
TIERMEM_API int tiermem_pool_open(const char* config_json, tiermem_pool** pool);

/* Closes a pool: blocks until its I/O has ended (pins under way included), frees every tensor
 * handle of the pool still unfreed, and gives back its memory and files. Pins and pin requests
 * should have ended: one that outlives its pool is logged as an error and keeps the pool's
 * memory until it ends (its pointer stays valid), so ending it later is safe. */
TIERMEM_API void tiermem_pool_close(tiermem_pool* pool);

/* Writes every dirty page down to NVMe; blocks until confirmed. TIERMEM_EIO when a write
 * failed (the data stays valid above), TIERMEM_ETIERFULL when a page only in gpu must pass
 * through a dram tier whose every frame is pinned. */
TIERMEM_API int tiermem_pool_flush(tiermem_pool* pool);

/* The pool's counters, as one JSON object of dotted names, into buffer of size bytes
 * (TIERMEM_ETRUNCATED, with as much as fits, when it is too small). Never blocks on I/O. */
TIERMEM_API int tiermem_pool_stats(tiermem_pool* pool, char* buffer, size_t size);

/* Records every access from now on to the file at path (created with mode 0600, replaced if
 * there), in tiermem's binary trace format, for `tiermem sim` or tiermem_simulate to replay.
 * TIERMEM_EBUSY while recording already, TIERMEM_ESYSTEM when the file cannot be created. */
TIERMEM_API int tiermem_pool_start_trace(tiermem_pool* pool, const char* path);
/* Finishes the trace file; does nothing when not recording. Recording stops even when the
 * file's end cannot be written: that failure is logged, not returned. */
TIERMEM_API int tiermem_pool_stop_trace(tiermem_pool* pool);
/* Mark where a span of the application's compute begins and ends in the trace being recorded,
 * so that a replay can tell how much I/O it could hide. Spans of several threads at once make
 * one span, from the first begin to the last end; an end without a begin is ignored. They do
 * nothing when not recording. */
TIERMEM_API int tiermem_compute_begin(tiermem_pool* pool);
TIERMEM_API int tiermem_compute_end(tiermem_pool* pool);

/* One step of the application's access order: a byte range of a tensor, used in a tier. */
typedef struct tiermem_schedule_step {
  const tiermem_tensor* tensor; /* of the pool the schedule is for */
  uint64_t offset;
  uint64_t length; /* UINT64_MAX: to the end */
  int tier;        /* gpu or dram */
} tiermem_schedule_step;

/* Registers the application's access order, count steps: one iteration of an order that
 * repeats, such as every layer's weights in forward order, once per token. The "schedule"
 * prefetch policy reads ahead along it and the "belady" eviction policy judges next uses by it.
 * Replaces an earlier schedule; count 0 withdraws it. Register it again after releasing
 * tensors in it. TIERMEM_EINVAL for a step whose tensor is NULL or of another pool, or whose
 * tier or range is bad, TIERMEM_ERELEASED for a stale tensor; the earlier schedule stays
 * then. Never blocks on I/O. */
TIERMEM_API int tiermem_pool_set_schedule(tiermem_pool* pool, const tiermem_schedule_step* steps,
                                          size_t count);

/* ---- tensors ----------------------------------------------------------------------------- */

/* Allocates a tensor of rank dimensions (shape: rank entries, each at least 1); dtype by name
 * ("bf16", "float32", ...); name non-empty. Its pages read as zeros until written; its NVMe
 * space is reserved now. TIERMEM_EINVAL for a bad shape, dtype or name, TIERMEM_ENOSPACE when
 * the NVMe tier cannot hold it. */
TIERMEM_API int tiermem_tensor_allocate(tiermem_pool* pool, const uint64_t* shape, size_t rank,
                                        const char* dtype, const char* name,
                                        tiermem_tensor** tensor);

/* Options of tiermem_tensor_allocate_with, or-ed together. */
enum tiermem_tensor_flags {
  /* Each write or read_write pin, when it ends, starts writing its pages down to NVMe (without
   * waiting), so that the tensor is durable soon after it is written. */
  TIERMEM_WRITE_THROUGH = 1
};
/* tiermem_tensor_allocate with flags; TIERMEM_EINVAL for a flag that is none of the above. */
TIERMEM_API int tiermem_tensor_allocate_with(tiermem_pool* pool, const uint64_t* shape, size_t rank,
                                             const char* dtype, const char* name, uint32_t flags,
                                             tiermem_tensor** tensor);

/* A second handle to the same tensor, as copying a tiermem::Tensor gives: each handle is ended
 * on its own. TIERMEM_ERELEASED when the tensor was released. */
TIERMEM_API int tiermem_tensor_dup(const tiermem_tensor* tensor, tiermem_tensor** copy);

/* Frees the tensor's memory and NVMe space, and this handle. Every other handle to it becomes
 * stale: its calls fail with TIERMEM_ERELEASED, and it is still to be freed (tiermem_tensor_free).
 * Blocks until the tensor's I/O in flight has ended. TIERMEM_EBUSY while any of its pages is
 * pinned, TIERMEM_ERELEASED for a stale handle; nothing is freed then. */
TIERMEM_API int tiermem_tensor_release(tiermem_tensor* tensor);

/* Frees this handle only; the tensor stays (for its other handles, until released or until
 * its pool closes). Works on stale handles. Never blocks. */
TIERMEM_API void tiermem_tensor_free(tiermem_tensor* tensor);

/* What the tensor is. Each fails with TIERMEM_ERELEASED for a stale handle.
 * name: copied into buffer as tiermem_pool_stats does. dtype: its canonical name ("bf16",
 * "f32", ...; static storage). shape: its rank dimensions into shape, which has room for
 * capacity of them (TIERMEM_ETRUNCATED, with the first capacity, when that is fewer). */
TIERMEM_API int tiermem_tensor_size(const tiermem_tensor* tensor, uint64_t* bytes);
TIERMEM_API int tiermem_tensor_name(const tiermem_tensor* tensor, char* buffer, size_t size);
TIERMEM_API int tiermem_tensor_rank(const tiermem_tensor* tensor, size_t* rank);
TIERMEM_API int tiermem_tensor_shape(const tiermem_tensor* tensor, uint64_t* shape,
                                     size_t capacity);
TIERMEM_API int tiermem_tensor_dtype(const tiermem_tensor* tensor, const char** dtype);
TIERMEM_API int tiermem_tensor_page_count(const tiermem_tensor* tensor, uint64_t* pages);

/* Where one page of a tensor is, at the moment of asking. */
typedef struct tiermem_residency {
  uint32_t valid;     /* bit (1 << tier) set: the tier holds an up-to-date copy; 0: the page was
                         never written and reads as zeros */
  uint32_t dirty;     /* 1: no tier below the highest valid one holds a copy */
  uint32_t in_flight; /* 1: a migration of the page is under way */
  uint32_t pins[2];   /* pins active on it, in gpu and in dram */
} tiermem_residency;

/* The residency of pages first_page .. first_page + count - 1 of the tensor, into pages
 * (count entries). TIERMEM_EINVAL when they go beyond the tensor's pages. Never blocks. */
TIERMEM_API int tiermem_tensor_residency(const tiermem_tensor* tensor, uint64_t first_page,
                                         uint64_t count, tiermem_residency* pages);

/* Starts bringing [offset, offset + length) into tier and returns at once: the application's
 * hint that it needs the range soon (Tensor::prefetch; recorded in traces). Pages that do not
 * fit without evicting pinned ones, or beyond the prefetch budget, are skipped; pages it
 * brings into dram are evicted before their first pin only when no other page can go. length
 * UINT64_MAX: to the end. */
TIERMEM_API int tiermem_tensor_prefetch(tiermem_tensor* tensor, int tier, uint64_t offset,
                                        uint64_t length);
/* Moves the tensor's unpinned pages out of tier (gpu or dram), writing dirty ones down one
 * tier first; blocks until done. *evicted (may be NULL) gets their count. TIERMEM_EIO when a
 * write-back failed (the page stays in tier). */
TIERMEM_API int tiermem_tensor_evict(tiermem_tensor* tensor, int tier, uint64_t* evicted);
/* Writes the tensor's dirty pages down to NVMe; blocks until confirmed. In a persistent pool
 * it then publishes a manifest in which only this tensor changes (Tensor::flush). Errors as
 * tiermem_pool_flush. */
TIERMEM_API int tiermem_tensor_flush(tiermem_tensor* tensor);

/* ---- pins -------------------------------------------------------------------------------- */

/* Pins [offset, offset + length) of tensor in tier (gpu or dram) for access and gives one
 * contiguous pointer to it; blocks until every page is resident. length UINT64_MAX: to the
 * end. While the pin lives its pages stay in tier. TIERMEM_EINVAL for a range beyond the
 * tensor or the nvme tier, TIERMEM_ENOSPACE for a range larger than the tier can ever hold,
 * TIERMEM_ETIERFULL when every frame of the tier is pinned by others, TIERMEM_EBUSY for a
 * conflicting pin (a write pin needs the pages unpinned in the other tier), TIERMEM_EIO when
 * reading failed. */
TIERMEM_API int tiermem_tensor_pin(tiermem_tensor* tensor, int tier, int access, uint64_t offset,
                                   uint64_t length, tiermem_pin** pin);
/* The pinned bytes (a device pointer for the gpu tier) and their count; NULL and 0 for a NULL
 * pin. The memory may be used from any thread while the pin lives. */
TIERMEM_API void* tiermem_pin_data(const tiermem_pin* pin);
TIERMEM_API uint64_t tiermem_pin_size(const tiermem_pin* pin);
/* Ends a pin and frees its handle; never blocks on I/O. */
TIERMEM_API void tiermem_unpin(tiermem_pin* pin);

/* Starts the work of tiermem_tensor_pin and returns at once with a request for its result.
 * Errors in the arguments (and a stale tensor) are returned here, and no request is made.
 * The request does not refer to the tensor handle, which may be freed meanwhile. */
TIERMEM_API int tiermem_pin_start(tiermem_tensor* tensor, int tier, int access, uint64_t offset,
                                  uint64_t length, tiermem_pin_request** request);
/* Whether the request is done; never blocks. TIERMEM_OK: the pin is ready to take;
 * TIERMEM_EAGAIN: still under way; else the status tiermem_tensor_pin would have returned,
 * with its message (the same on every later call); TIERMEM_EINVAL once the pin was taken. */
TIERMEM_API int tiermem_pin_poll(tiermem_pin_request* request);
/* As tiermem_pin_poll, but blocks up to timeout_ns nanoseconds (UINT64_MAX, or anything over
 * a century: for as long as it takes) for the request to be done, and returns
 * TIERMEM_ETIMEDOUT when it still is not.
 * On a pool on a virtual clock the timeout is virtual time and nothing blocks: the call runs
 * the clock's events, in time order, until the request is done, and returns TIERMEM_ETIMEDOUT
 * with the clock moved to now + timeout_ns when the next event lies beyond that. When the
 * events run out first it returns TIERMEM_EBUSY, whatever the timeout, rather than wait for
 * ever (the pool fails a pin no frame can ever hold with TIERMEM_ETIERFULL itself, so this
 * would show a wait no modelled transfer can end). Events run before a failure stay run.
 * tiermem_pin_poll and tiermem_pin_request_take never move the clock. */
TIERMEM_API int tiermem_pin_wait(tiermem_pin_request* request, uint64_t timeout_ns);
/* Hands over the pin of a done request: TIERMEM_OK and *pin, the caller's from then on (to end
 * with tiermem_unpin); else the status tiermem_pin_poll returns, and nothing is handed over.
 * Never blocks. */
TIERMEM_API int tiermem_pin_request_take(tiermem_pin_request* request, tiermem_pin** pin);
/* Ends a request and frees it, with any pin it got that was not taken. A pin still under way
 * is not stopped (its pages may still come in), but is ended by the library as soon as it
 * arrives; the call never blocks. */
TIERMEM_API void tiermem_pin_request_free(tiermem_pin_request* request);

/* ---- pools on a virtual clock ------------------------------------------------------------ */

/* A modelled link between two tiers: each direction a queue of page requests, at most
 * queue_depth in service, each waiting latency_us before it streams at the bandwidth. */
typedef struct tiermem_link {
  double gbps;          /* bandwidth up (reads), 1e9 bytes per second: in [1e-6, 1e6] */
  double write_gbps;    /* bandwidth down (writes): 0 (the same as gbps) or up to 1e6 */
  double latency_us;    /* before each request streams: in [0, 1e9] */
  uint32_t queue_depth; /* requests in service at once: in [1, 65536] */
} tiermem_link;

/* The devices a pool on a virtual clock models. */
typedef struct tiermem_virtual_devices {
  tiermem_link nvme; /* nvme <-> dram */
  tiermem_link pcie; /* dram <-> gpu */
  int data; /* 0: data-less: pages, sizes and decisions but no bytes (pins' data is NULL) */
  /* Not 0: every new tensor's pages start on the modelled NVMe, as weights loaded from a
   * checkpoint do, so that their first pins read them from there; 0: they start unbacked and
   * their first pins fill zeros. With data, they read as zeros either way. */
  int tensors_start_on_nvme;
} tiermem_virtual_devices;

/* Fills devices with the defaults: nvme 2 GB/s, 100 us, 32 deep; pcie 55 GB/s, 10 us, 4 deep;
 * with data; tensors start unbacked. NULL is ignored. Never fails. */
TIERMEM_API void tiermem_virtual_devices_init(tiermem_virtual_devices* devices);

/* Opens a pool on modelled devices and a virtual clock that starts at 0 ns: the same
 * placement, eviction, prefetch and migration decisions as a live pool, on the host's time.
 * It starts no thread and touches no disk or GPU; the same calls give the same results on
 * every run. config_json as for tiermem_pool_open (tier capacities, page size and policies
 * apply; nvme.dirs, io and gpu.backend do not); devices NULL: the defaults. A data-less pool
 * allocates no memory for its tiers, so terabytes of modelled state fit. Errors as
 * tiermem_pool_open, and TIERMEM_EINVAL naming the link, field, value and range of a link
 * value out of the ranges of tiermem_link. */
TIERMEM_API int tiermem_pool_open_virtual(const char* config_json,
                                          const tiermem_virtual_devices* devices,
                                          tiermem_pool** pool);

/* The pool's clock in nanoseconds into *ns: virtual time on a virtual clock, the steady
 * clock's otherwise. */
TIERMEM_API int tiermem_pool_now(const tiermem_pool* pool, uint64_t* ns);

/* Runs every event of the virtual clock due by until_ns (transfers ending, and the pins,
 * prefetches and write-backs waiting for them), in time order, then moves the clock to
 * until_ns; *events (may be NULL) gets how many ran. TIERMEM_EINVAL for a time before the
 * clock's (it never goes back), TIERMEM_EUNSUPPORTED for a live pool. */
TIERMEM_API int tiermem_pool_advance(tiermem_pool* pool, uint64_t until_ns, uint64_t* events);

/* When the next event of the virtual clock is due, into *ns; UINT64_MAX when nothing is
 * scheduled. TIERMEM_EUNSUPPORTED for a live pool. */
TIERMEM_API int tiermem_pool_next_event(tiermem_pool* pool, uint64_t* ns);

/* One counter of the pool's stats, by the dotted name tiermem_pool_stats gives it (e.g.
 * "dram.misses", "moves.nvme_to_dram.bytes"), into *value, so that a C program needs no JSON
 * parser. Any pool, live or virtual. TIERMEM_EINVAL naming a name that is no counter (the
 * text stats, such as "gpu.backend", are only in tiermem_pool_stats). Never blocks on I/O. */
TIERMEM_API int tiermem_pool_stat(tiermem_pool* pool, const char* name, uint64_t* value);

/* ---- persistent pools and checkpoints ------------------------------------------------------
 * A persistent pool ({"nvme": {"persistent": true, "dirs": [...]}}) outlives its process: a
 * pool opened later on the same directories finds its tensors, as the last flush left them, by
 * name (tiermem_pool_find). Checkpoints are safetensors files (or a directory of shards and
 * model.safetensors.index.json), saved while the caller computes, checked, and opened in place
 * as read-only tensors whose pages are read straight from the file (see tiermem/checkpoint.hpp
 * for every rule). */

/* A new handle to the live tensor of that name into *tensor, or NULL there when no tensor of
 * the pool has it: not finding one is no failure (TIERMEM_OK either way), so test *tensor.
 * Names are unique in a persistent pool; elsewhere it is one of the tensors of that name. The
 * handle is the caller's, as tiermem_tensor_allocate's is. Never blocks on I/O. */
TIERMEM_API int tiermem_pool_find(tiermem_pool* pool, const char* name, tiermem_tensor** tensor);

/* Reads the durable copy of every page of a persistent pool from its files and checks it
 * against its checksum; blocks (allocations, releases and flushes wait meanwhile). *pages (may
 * be NULL) gets the pages checked. TIERMEM_ECORRUPT naming every damaged tensor and page (the
 * first 16), its file and offset; TIERMEM_EIO when a file cannot be read;
 * TIERMEM_EUNSUPPORTED for a pool that is not persistent. */
TIERMEM_API int tiermem_pool_verify(tiermem_pool* pool, uint64_t* pages);

/* Starts saving count tensors (of one pool or several, live pools only) as a safetensors
 * checkpoint at path and returns at once with a save to wait for; each tensor goes in as it
 * was at this call (a write pin taken meanwhile first copies what the save has not yet
 * copied). path names one .safetensors file, or a directory for shards. options_json: a JSON
 * object, any subset, or NULL for the defaults: {"rank": 0, "world_size": 1,
 * "max_shard_bytes": 0, "tag": "", "metadata": {"key": "text"}, "checksums": true,
 * "staging_bytes": "16MiB", "staging_buffers": 4, "io": {"engine": "auto", "block_size":
 * "1MiB", "queue_depth": 32, ...}} (sizes as numbers or size text; io keys as the pool
 * config's io.* keys; see CheckpointOptions in tiermem/checkpoint.hpp). TIERMEM_ECONFIG for
 * options that are not understood (syntax, unknown key, wrong type); TIERMEM_EINVAL for an
 * option out of range, a NULL or stale tensor (TIERMEM_ERELEASED), a tensor of a pool on a
 * virtual clock, a name or tensor given twice; no save is made then. The tensors' pools must
 * stay open, and the tensors unreleased, until the save has ended (its wait returned its
 * outcome, or it was freed). */
TIERMEM_API int tiermem_checkpoint_save_start(const tiermem_tensor* const* tensors, size_t count,
                                              const char* path, const char* options_json,
                                              tiermem_checkpoint_save** save);
/* Waits up to timeout_ns nanoseconds (0: only looks; UINT64_MAX: as long as it takes) for the
 * save to end, the files durable. TIERMEM_OK: the result, a JSON object {"files": [...],
 * "bytes_written": N, "tensors": N, "seconds": S, "direct": bool, "index_written": bool}, goes
 * to result_json (may be NULL) as tiermem_pool_stats writes; TIERMEM_ETIMEDOUT while it is
 * under way; else the save's error (TIERMEM_ESYSTEM for files that cannot be made, TIERMEM_EIO
 * for failed writes, a pin's error), the same with its message on every later call. */
TIERMEM_API int tiermem_checkpoint_save_wait(tiermem_checkpoint_save* save, uint64_t timeout_ns,
                                             char* result_json, size_t size);
/* Frees a save; blocks until it has ended, if it has not (its error, if any, is dropped). */
TIERMEM_API void tiermem_checkpoint_save_free(tiermem_checkpoint_save* save);

/* Checks the checkpoint at path (a .safetensors file, an index ending in .json, or a directory
 * holding model.safetensors.index.json): every header, the index against its shards, every
 * stored checksum (reading the data); blocks. The report, {"files": [...], "tensors": N,
 * "bytes": N, "checksums_verified": N}, goes to report_json (may be NULL) as
 * tiermem_pool_stats writes. TIERMEM_ECORRUPT naming the file, the tensor and what is wrong;
 * TIERMEM_EUNSUPPORTED for a dtype tiermem lacks; TIERMEM_ESYSTEM when a file cannot be opened,
 * TIERMEM_EIO when it cannot be read. */
TIERMEM_API int tiermem_checkpoint_check(const char* path, char* report_json, size_t size);

/* Opens the checkpoint at path (as tiermem_checkpoint_check takes it) as read-only tensors of
 * pool, copying nothing: pins read their pages from the file. *count (may be NULL) gets the
 * number of tensors opened; find each by its name with tiermem_pool_find (names must then be
 * unique in the pool: a persistent pool refuses a checkpoint whose names its live tensors
 * have). A write or read_write pin of them fails with TIERMEM_EINVAL. They live until released
 * or until the pool closes; each file stays open until the last of its tensors goes. Reads and
 * checks every header first; blocks. Errors as tiermem_checkpoint_check (no data is read),
 * TIERMEM_EINVAL for a name a live tensor of a persistent pool has; the pool is unchanged then. */
TIERMEM_API int tiermem_checkpoint_open(tiermem_pool* pool, const char* path, size_t* count);

/* ---- the simulator ----------------------------------------------------------------------- */

/* Replays the trace file at trace_path (binary, or CSV with 2 MiB pages) in the simulator;
 * blocks until done. config_json: {"eviction": "lru", "prefetch": "none", "dram": "1GiB",
 * "gpu": "0", "nvme": "gbps=2,lat_us=100,qd=32", "pcie": "gbps=55,lat_us=10,qd=4",
 * "prefetch_budget": "256MiB", "baseline": true, "trace_prefetches": true, "memory_limit":
 * "4GiB", "model": "fast"}, any subset, or NULL; trace_prefetches false ignores the trace's
 * prefetch records (the application's recorded tiermem_tensor_prefetch calls); dram defaults to
 * half the trace's footprint; memory_limit bounds the replay's tables (see tiermem/sim.hpp); model
 * "fast" replays in the simulator's own model, "pool" through a data-less pool on a virtual clock
 * (the migration engine's own decisions; slower; see tiermem/virtual_clock.hpp). The result, as
 * `tiermem sim --json` prints it, goes to result_json as tiermem_pool_stats writes. TIERMEM_ECONFIG
 * for an unknown key, policy, model or value, TIERMEM_EINVAL for a malformed trace, TIERMEM_ESYSTEM
 * when it cannot be read. */
TIERMEM_API int tiermem_simulate(const char* trace_path, const char* config_json, char* result_json,
                                 size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TIERMEM_TIERMEM_H */
