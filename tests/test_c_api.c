/* tests/test_c_api.c: the C API, from C: every call, and the status and message of every error
 * path: NULL arguments, bad tiers and accesses, bad JSON, stale tensors, pin requests polled,
 * waited for with time-outs, failed, taken and dropped before their pins arrive; schedules,
 * write-through tensors, traces, stats and the simulator; pools on a virtual clock; persistent
 * pools reopened, verified and damaged; checkpoints saved, checked, opened in place and damaged.
 * Run under
 * the asan preset, it also shows that nothing leaks. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tiermem/tiermem.h"

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                                     \
  do {                                                                                  \
    ++checks;                                                                           \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: %s failed (last error: %s)\n", __FILE__, __LINE__, #cond, \
              tiermem_last_error());                                                    \
      ++failures;                                                                       \
    }                                                                                   \
  } while (0)

/* call fails with status, and this thread's message contains text. */
#define CHECK_FAILS(call, status, text)                                             \
  do {                                                                              \
    int got_ = (call);                                                              \
    CHECK(got_ == (status));                                                        \
    if (got_ != (status)) fprintf(stderr, "  got %s\n", tiermem_status_name(got_)); \
    CHECK(strstr(tiermem_last_error(), (text)) != NULL);                            \
  } while (0)

static const uint64_t kWhole = UINT64_MAX;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* A pool of 64 KiB pages, a 1 MiB DRAM tier and its NVMe files in dir; faults: io.faults (the
 * failures they cause are expected: only errors are logged). */
static tiermem_pool* open_pool(const char* dir, const char* faults) {
  char config[512];
  snprintf(config, sizeof config,
           "{\"page_size\": \"64KiB\", \"dram\": {\"capacity\": \"1MiB\"},"
           " \"nvme\": {\"dirs\": [\"%s\"], \"capacity\": \"32MiB\"}, \"io.faults\": \"%s\","
           " \"log_level\": \"error\"}",
           dir, faults);
  tiermem_pool* pool = NULL;
  CHECK(tiermem_pool_open(config, &pool) == TIERMEM_OK);
  return pool;
}

/* A tensor of pages 64 KiB pages of uint32 counting up from 0, written and evicted to NVMe. */
static tiermem_tensor* counted_on_nvme(tiermem_pool* pool, uint64_t pages, const char* name) {
  const uint64_t shape[1] = {pages * 16384};
  tiermem_tensor* t = NULL;
  CHECK(tiermem_tensor_allocate(pool, shape, 1, "i32", name, &t) == TIERMEM_OK);
  if (t == NULL) return NULL;
  tiermem_pin* pin = NULL;
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_WRITE, 0, kWhole, &pin) == TIERMEM_OK);
  if (pin != NULL) {
    uint32_t* values = tiermem_pin_data(pin);
    for (uint64_t i = 0; i < shape[0]; ++i) values[i] = (uint32_t)i;
    tiermem_unpin(pin);
  }
  uint64_t evicted = 0;
  CHECK(tiermem_tensor_evict(t, TIERMEM_TIER_DRAM, &evicted) == TIERMEM_OK);
  CHECK(evicted == pages);
  return t;
}

/* Whether pin holds the counting values of counted_on_nvme from element first on. */
static int counts_up(const tiermem_pin* pin, uint32_t first) {
  const uint32_t* values = tiermem_pin_data(pin);
  uint64_t n = tiermem_pin_size(pin) / 4;
  for (uint64_t i = 0; i < n; ++i) {
    if (values[i] != first + (uint32_t)i) return 0;
  }
  return n > 0;
}

static void test_version_and_status(void) {
  CHECK(strcmp(tiermem_last_error(), "") == 0);
  int major = -1, minor = -1, patch = -1;
  const char* version = tiermem_version(&major, &minor, &patch);
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", major, minor, patch);
  CHECK(strcmp(version, expected) == 0);
  CHECK(major >= 0 && minor >= 0 && patch >= 0);
  CHECK(tiermem_version(NULL, NULL, NULL) == version);
  CHECK(strcmp(tiermem_status_name(TIERMEM_OK), "TIERMEM_OK") == 0);
  CHECK(strcmp(tiermem_status_name(TIERMEM_ETIMEDOUT), "TIERMEM_ETIMEDOUT") == 0);
  CHECK(strcmp(tiermem_status_name(TIERMEM_ENOMEM), "TIERMEM_ENOMEM") == 0);
  CHECK(strcmp(tiermem_status_name(TIERMEM_ECORRUPT), "TIERMEM_ECORRUPT") == 0);
  CHECK(strcmp(tiermem_status_name(42), "unknown status") == 0);
}

static void test_config_check(void) {
  char json[16384];
  CHECK(tiermem_config_check(NULL, NULL, 0) == TIERMEM_OK);
  CHECK(tiermem_config_check(NULL, json, sizeof json) == TIERMEM_OK);
  CHECK(strstr(json, "\"dram.capacity\":\"1GiB\"") != NULL);
  CHECK(tiermem_config_check("{\"dram\": {\"capacity\": \"2GiB\"}}", json, sizeof json) ==
        TIERMEM_OK);
  CHECK(strstr(json, "\"dram.capacity\":\"2GiB\"") != NULL);
  char tiny[4];
  CHECK_FAILS(tiermem_config_check(NULL, tiny, sizeof tiny), TIERMEM_ETRUNCATED, "4 bytes");
  CHECK(strlen(tiny) == 3);
  CHECK_FAILS(tiermem_config_check("{\"dram\": ", NULL, 0), TIERMEM_ECONFIG, "");
  CHECK_FAILS(tiermem_config_check("[1, 2]", NULL, 0), TIERMEM_ECONFIG, "");
  CHECK_FAILS(tiermem_config_check("{\"volume\": 11}", NULL, 0), TIERMEM_ECONFIG, "volume");
  CHECK_FAILS(tiermem_config_check("{\"page_size\": \"3MiB\"}", json, sizeof json), TIERMEM_EINVAL,
              "page_size 3MiB");
}

/* Every call given NULL where it needs a handle or an output. */
static void test_null_arguments(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "");
  if (pool == NULL) return;
  const uint64_t shape[1] = {16384};
  tiermem_tensor* t = NULL;
  CHECK(tiermem_tensor_allocate(pool, shape, 1, "i32", "t", &t) == TIERMEM_OK);
  tiermem_tensor* out_tensor = NULL;
  tiermem_pin* out_pin = NULL;
  tiermem_pin_request* request = NULL;
  uint64_t u64 = 0;
  size_t rank = 0;
  const char* text = NULL;
  char buffer[64];
  tiermem_residency residency;

  CHECK_FAILS(tiermem_pool_open(NULL, NULL), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_flush(NULL), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_stats(NULL, buffer, sizeof buffer), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_start_trace(NULL, "x"), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_start_trace(pool, NULL), TIERMEM_EINVAL, "path is NULL");
  CHECK_FAILS(tiermem_pool_stop_trace(NULL), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_compute_begin(NULL), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_compute_end(NULL), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_set_schedule(NULL, NULL, 0), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_set_schedule(pool, NULL, 1), TIERMEM_EINVAL, "steps is NULL");

  CHECK_FAILS(tiermem_tensor_allocate(NULL, shape, 1, "u8", "n", &out_tensor), TIERMEM_EINVAL,
              "pool is NULL");
  CHECK_FAILS(tiermem_tensor_allocate(pool, NULL, 1, "u8", "n", &out_tensor), TIERMEM_EINVAL,
              "shape is NULL");
  CHECK_FAILS(tiermem_tensor_allocate(pool, shape, 1, NULL, "n", &out_tensor), TIERMEM_EINVAL,
              "dtype is NULL");
  CHECK_FAILS(tiermem_tensor_allocate(pool, shape, 1, "u8", NULL, &out_tensor), TIERMEM_EINVAL,
              "name is NULL");
  CHECK_FAILS(tiermem_tensor_allocate(pool, shape, 1, "u8", "n", NULL), TIERMEM_EINVAL,
              "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_allocate_with(NULL, shape, 1, "u8", "n", 0, &out_tensor),
              TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_tensor_allocate_with(pool, shape, 1, "u8", "n", 0, NULL), TIERMEM_EINVAL,
              "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_dup(NULL, &out_tensor), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_dup(t, NULL), TIERMEM_EINVAL, "copy is NULL");
  CHECK(out_tensor == NULL);
  CHECK_FAILS(tiermem_tensor_release(NULL), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_size(NULL, &u64), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_size(t, NULL), TIERMEM_EINVAL, "bytes is NULL");
  CHECK_FAILS(tiermem_tensor_name(NULL, buffer, sizeof buffer), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_rank(NULL, &rank), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_rank(t, NULL), TIERMEM_EINVAL, "rank is NULL");
  CHECK_FAILS(tiermem_tensor_shape(NULL, &u64, 1), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_shape(t, NULL, 1), TIERMEM_EINVAL, "shape is NULL");
  CHECK_FAILS(tiermem_tensor_dtype(NULL, &text), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_dtype(t, NULL), TIERMEM_EINVAL, "dtype is NULL");
  CHECK_FAILS(tiermem_tensor_page_count(NULL, &u64), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_page_count(t, NULL), TIERMEM_EINVAL, "pages is NULL");
  CHECK_FAILS(tiermem_tensor_residency(NULL, 0, 1, &residency), TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_residency(t, 0, 1, NULL), TIERMEM_EINVAL, "pages is NULL");
  CHECK_FAILS(tiermem_tensor_prefetch(NULL, TIERMEM_TIER_DRAM, 0, kWhole), TIERMEM_EINVAL,
              "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_evict(NULL, TIERMEM_TIER_DRAM, &u64), TIERMEM_EINVAL,
              "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_flush(NULL), TIERMEM_EINVAL, "tensor is NULL");

  CHECK_FAILS(tiermem_tensor_pin(NULL, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &out_pin),
              TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, NULL),
              TIERMEM_EINVAL, "pin is NULL");
  CHECK_FAILS(tiermem_pin_start(NULL, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request),
              TIERMEM_EINVAL, "tensor is NULL");
  CHECK_FAILS(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, NULL),
              TIERMEM_EINVAL, "request is NULL");
  CHECK_FAILS(tiermem_pin_poll(NULL), TIERMEM_EINVAL, "request is NULL");
  CHECK_FAILS(tiermem_pin_wait(NULL, 0), TIERMEM_EINVAL, "request is NULL");
  CHECK_FAILS(tiermem_pin_request_take(NULL, &out_pin), TIERMEM_EINVAL, "request is NULL");
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) == TIERMEM_OK);
  CHECK_FAILS(tiermem_pin_request_take(request, NULL), TIERMEM_EINVAL, "pin is NULL");
  tiermem_pin_request_free(request);
  CHECK(out_pin == NULL);

  CHECK_FAILS(tiermem_simulate(NULL, NULL, buffer, sizeof buffer), TIERMEM_EINVAL,
              "trace_path is NULL");

  /* The calls that end handles, and the pin accessors, take NULL quietly. */
  CHECK(tiermem_pin_data(NULL) == NULL);
  CHECK(tiermem_pin_size(NULL) == 0);
  tiermem_unpin(NULL);
  tiermem_pin_request_free(NULL);
  tiermem_tensor_free(NULL);
  tiermem_pool_close(NULL);
  tiermem_pool_close(pool);
}

/* Tiers and accesses outside their enumerations, and ranges beyond the tensor. */
static void test_bad_values(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "");
  if (pool == NULL) return;
  const uint64_t shape[2] = {4, 16384};
  tiermem_tensor* t = NULL;
  CHECK(tiermem_tensor_allocate(pool, shape, 2, "i32", "t", &t) == TIERMEM_OK);
  tiermem_pin* pin = NULL;
  tiermem_pin_request* request = NULL;
  uint64_t evicted = 99;

  CHECK_FAILS(tiermem_tensor_prefetch(t, 3, 0, kWhole), TIERMEM_EINVAL, "tier 3 is not");
  CHECK_FAILS(tiermem_tensor_prefetch(t, -1, 0, kWhole), TIERMEM_EINVAL, "tier -1 is not");
  CHECK_FAILS(tiermem_tensor_evict(t, 7, &evicted), TIERMEM_EINVAL, "tier 7 is not");
  CHECK(evicted == 99);
  CHECK_FAILS(tiermem_tensor_pin(t, 5, TIERMEM_READ, 0, kWhole, &pin), TIERMEM_EINVAL,
              "tier 5 is not");
  CHECK_FAILS(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, 7, 0, kWhole, &pin), TIERMEM_EINVAL,
              "access 7 is not");
  CHECK_FAILS(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, -1, 0, kWhole, &pin), TIERMEM_EINVAL,
              "access -1 is not");
  CHECK_FAILS(tiermem_tensor_pin(t, TIERMEM_TIER_NVME, TIERMEM_READ, 0, kWhole, &pin),
              TIERMEM_EINVAL, "nvme");
  CHECK_FAILS(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 1 << 18, 1, &pin),
              TIERMEM_EINVAL, "beyond the end");
  CHECK_FAILS(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 4096, 1 << 18, &pin),
              TIERMEM_EINVAL, "does not fit");
  CHECK(pin == NULL);
  CHECK_FAILS(tiermem_pin_start(t, 3, TIERMEM_READ, 0, kWhole, &request), TIERMEM_EINVAL,
              "tier 3 is not");
  CHECK_FAILS(tiermem_pin_start(t, TIERMEM_TIER_DRAM, 3, 0, kWhole, &request), TIERMEM_EINVAL,
              "access 3 is not");
  CHECK_FAILS(tiermem_pin_start(t, TIERMEM_TIER_NVME, TIERMEM_READ, 0, kWhole, &request),
              TIERMEM_EINVAL, "nvme");
  CHECK_FAILS(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 1 << 18, 1, &request),
              TIERMEM_EINVAL, "beyond the end");
  CHECK(request == NULL);

  tiermem_residency pages[4];
  CHECK_FAILS(tiermem_tensor_residency(t, 3, 2, pages), TIERMEM_EINVAL, "(4 pages)");
  CHECK_FAILS(tiermem_tensor_residency(t, 5, 0, pages), TIERMEM_EINVAL, "(4 pages)");
  CHECK(tiermem_tensor_residency(t, 4, 0, NULL) == TIERMEM_OK);

  tiermem_tensor* other = NULL;
  CHECK_FAILS(tiermem_tensor_allocate(pool, shape, 2, "f24", "bad", &other), TIERMEM_EINVAL,
              "'f24'");
  const uint64_t zero[1] = {0};
  CHECK(tiermem_tensor_allocate(pool, zero, 1, "u8", "empty", &other) == TIERMEM_EINVAL);
  CHECK(tiermem_tensor_allocate(pool, shape, 0, "u8", "rankless", &other) == TIERMEM_EINVAL);
  CHECK(tiermem_tensor_allocate(pool, shape, 2, "u8", "", &other) == TIERMEM_EINVAL);
  CHECK_FAILS(tiermem_tensor_allocate_with(pool, shape, 2, "u8", "flagged", 2, &other),
              TIERMEM_EINVAL, "flags 2");
  const uint64_t huge[2] = {1ull << 40, 1ull << 40};
  CHECK(tiermem_tensor_allocate(pool, huge, 1, "u8", "huge", &other) == TIERMEM_ENOSPACE);
  CHECK(tiermem_tensor_allocate(pool, huge, 2, "u8", "overflow", &other) == TIERMEM_EINVAL);
  CHECK(other == NULL);

  tiermem_pool* bad = NULL;
  CHECK_FAILS(tiermem_pool_open("{\"page_size\": \"3MiB\"}", &bad), TIERMEM_EINVAL,
              "page_size 3MiB");
  CHECK(tiermem_pool_open("{\"dram\": ", &bad) == TIERMEM_ECONFIG);
  CHECK_FAILS(tiermem_pool_open("{\"io.faults\": \"eio=2\"}", &bad), TIERMEM_EINVAL, "eio=2");
  CHECK(bad == NULL);
  tiermem_pool_close(pool);
}

/* The accessors and residency; a tensor written, evicted and read back; stats; flush. */
static void test_tensor(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "");
  if (pool == NULL) return;
  const uint64_t shape[2] = {64, 4096}; /* 1 MiB of float32: 16 pages */
  tiermem_tensor* t = NULL;
  CHECK(tiermem_tensor_allocate(pool, shape, 2, "float32", "layer0.w", &t) == TIERMEM_OK);
  if (t == NULL) return;

  uint64_t u64 = 0;
  CHECK(tiermem_tensor_size(t, &u64) == TIERMEM_OK && u64 == (1u << 20));
  CHECK(tiermem_tensor_page_count(t, &u64) == TIERMEM_OK && u64 == 16);
  char name[16];
  CHECK(tiermem_tensor_name(t, name, sizeof name) == TIERMEM_OK);
  CHECK(strcmp(name, "layer0.w") == 0);
  CHECK_FAILS(tiermem_tensor_name(t, name, 4), TIERMEM_ETRUNCATED, "9 are needed");
  CHECK(strcmp(name, "lay") == 0);
  size_t rank = 0;
  CHECK(tiermem_tensor_rank(t, &rank) == TIERMEM_OK && rank == 2);
  uint64_t dims[3] = {0, 0, 0};
  CHECK(tiermem_tensor_shape(t, dims, 3) == TIERMEM_OK);
  CHECK(dims[0] == 64 && dims[1] == 4096 && dims[2] == 0);
  dims[0] = 0;
  CHECK_FAILS(tiermem_tensor_shape(t, dims, 1), TIERMEM_ETRUNCATED, "the tensor has 2");
  CHECK(dims[0] == 64);
  const char* dtype = NULL;
  CHECK(tiermem_tensor_dtype(t, &dtype) == TIERMEM_OK && strcmp(dtype, "f32") == 0);

  tiermem_residency pages[16];
  CHECK(tiermem_tensor_residency(t, 0, 16, pages) == TIERMEM_OK);
  CHECK(pages[0].valid == 0 && pages[15].valid == 0 && pages[3].pins[1] == 0);

  tiermem_pin* pin = NULL;
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_WRITE, 0, kWhole, &pin) == TIERMEM_OK);
  if (pin != NULL) {
    float* values = tiermem_pin_data(pin);
    CHECK(tiermem_pin_size(pin) == (1u << 20));
    for (int i = 0; i < 64 * 4096; ++i) values[i] = (float)i;
    CHECK(tiermem_tensor_residency(t, 2, 1, pages) == TIERMEM_OK);
    CHECK(pages[0].valid == 1u << TIERMEM_TIER_DRAM && pages[0].dirty == 1);
    CHECK(pages[0].pins[1] == 1 && pages[0].pins[0] == 0);
    CHECK(tiermem_tensor_release(t) == TIERMEM_EBUSY);
    tiermem_unpin(pin);
  }
  uint64_t evicted = 0;
  CHECK(tiermem_tensor_evict(t, TIERMEM_TIER_DRAM, &evicted) == TIERMEM_OK);
  CHECK(evicted == 16);
  CHECK(tiermem_tensor_evict(t, TIERMEM_TIER_DRAM, NULL) == TIERMEM_OK);
  CHECK(tiermem_tensor_residency(t, 15, 1, pages) == TIERMEM_OK);
  CHECK(pages[0].valid == 1u << TIERMEM_TIER_NVME && pages[0].dirty == 0);
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 4096, 8192, &pin) == TIERMEM_OK);
  if (pin != NULL) {
    const float* values = tiermem_pin_data(pin);
    int bad_values = 0;
    for (int i = 0; i < 2048; ++i) bad_values += values[i] != (float)(1024 + i);
    CHECK(bad_values == 0);
    tiermem_unpin(pin);
  }
  CHECK(tiermem_tensor_prefetch(t, TIERMEM_TIER_DRAM, 0, kWhole) == TIERMEM_OK);

  char stats[16384];
  CHECK(tiermem_pool_stats(pool, stats, sizeof stats) == TIERMEM_OK);
  CHECK(strstr(stats, "\"dram.misses\"") != NULL);
  char tiny[8];
  CHECK(tiermem_pool_stats(pool, tiny, sizeof tiny) == TIERMEM_ETRUNCATED);
  CHECK(strlen(tiny) == 7);
  CHECK(tiermem_pool_stats(pool, NULL, 0) == TIERMEM_ETRUNCATED);
  CHECK(tiermem_tensor_flush(t) == TIERMEM_OK);
  CHECK(tiermem_pool_flush(pool) == TIERMEM_OK);
  CHECK(tiermem_tensor_release(t) == TIERMEM_OK);

  /* Tensors left allocated, one with two handles: closing the pool frees every handle. */
  CHECK(tiermem_tensor_allocate(pool, shape, 2, "bf16", "left", &t) == TIERMEM_OK);
  tiermem_tensor* copy = NULL;
  CHECK(tiermem_tensor_dup(t, &copy) == TIERMEM_OK);
  CHECK(tiermem_tensor_allocate(pool, shape, 1, "u8", "also left", &t) == TIERMEM_OK);
  tiermem_pool_close(pool);
}

/* Handles made by tiermem_tensor_dup, and the stale ones a release leaves. */
static void test_stale_tensor(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "");
  if (pool == NULL) return;
  tiermem_tensor* t = counted_on_nvme(pool, 2, "t");
  if (t == NULL) return;
  tiermem_tensor* copy = NULL;
  tiermem_tensor* third = NULL;
  CHECK(tiermem_tensor_dup(t, &copy) == TIERMEM_OK && copy != NULL && copy != t);
  CHECK(tiermem_tensor_dup(copy, &third) == TIERMEM_OK);
  /* Freeing a handle leaves the tensor to the others. */
  tiermem_tensor_free(third);
  tiermem_pin* pin = NULL;
  CHECK(tiermem_tensor_pin(copy, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &pin) == TIERMEM_OK);
  CHECK(pin != NULL && counts_up(pin, 0));
  CHECK_FAILS(tiermem_tensor_release(t), TIERMEM_EBUSY, "");
  tiermem_unpin(pin);
  pin = NULL;
  CHECK(tiermem_tensor_release(t) == TIERMEM_OK);

  /* copy is stale now: every call on it fails the same way, and changes nothing. */
  uint64_t u64 = 7;
  size_t rank = 7;
  const char* text = NULL;
  char buffer[32] = "untouched";
  tiermem_residency residency;
  tiermem_tensor* out_tensor = NULL;
  tiermem_pin_request* request = NULL;
  const char* released = "released";
  CHECK_FAILS(tiermem_tensor_size(copy, &u64), TIERMEM_ERELEASED, released);
  CHECK_FAILS(tiermem_tensor_page_count(copy, &u64), TIERMEM_ERELEASED, released);
  CHECK(u64 == 7);
  CHECK_FAILS(tiermem_tensor_name(copy, buffer, sizeof buffer), TIERMEM_ERELEASED, released);
  CHECK(strcmp(buffer, "untouched") == 0);
  CHECK_FAILS(tiermem_tensor_rank(copy, &rank), TIERMEM_ERELEASED, released);
  CHECK(rank == 7);
  CHECK_FAILS(tiermem_tensor_shape(copy, &u64, 1), TIERMEM_ERELEASED, released);
  CHECK_FAILS(tiermem_tensor_dtype(copy, &text), TIERMEM_ERELEASED, released);
  CHECK(text == NULL);
  CHECK_FAILS(tiermem_tensor_residency(copy, 0, 1, &residency), TIERMEM_ERELEASED, released);
  CHECK_FAILS(tiermem_tensor_dup(copy, &out_tensor), TIERMEM_ERELEASED, released);
  CHECK(out_tensor == NULL);
  CHECK_FAILS(tiermem_tensor_prefetch(copy, TIERMEM_TIER_DRAM, 0, kWhole), TIERMEM_ERELEASED,
              released);
  CHECK_FAILS(tiermem_tensor_evict(copy, TIERMEM_TIER_DRAM, &u64), TIERMEM_ERELEASED, released);
  CHECK_FAILS(tiermem_tensor_flush(copy), TIERMEM_ERELEASED, released);
  CHECK_FAILS(tiermem_tensor_pin(copy, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &pin),
              TIERMEM_ERELEASED, released);
  CHECK(pin == NULL);
  CHECK_FAILS(tiermem_pin_start(copy, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request),
              TIERMEM_ERELEASED, released);
  CHECK(request == NULL);
  CHECK_FAILS(tiermem_tensor_release(copy), TIERMEM_ERELEASED, released);
  tiermem_tensor_free(copy);
  tiermem_pool_close(pool);
}

/* Requests whose pins are ready at once or after a fetch: polled, waited for, taken once. */
static void test_pin_requests(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "");
  if (pool == NULL) return;
  tiermem_tensor* t = counted_on_nvme(pool, 4, "t");
  if (t == NULL) return;

  tiermem_pin_request* request = NULL;
  tiermem_pin* pin = NULL;
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 65536, kWhole, &request) ==
        TIERMEM_OK);
  CHECK(tiermem_pin_wait(request, UINT64_MAX) == TIERMEM_OK);
  CHECK(tiermem_pin_poll(request) == TIERMEM_OK);
  CHECK(tiermem_pin_wait(request, 0) == TIERMEM_OK);
  CHECK(tiermem_pin_request_take(request, &pin) == TIERMEM_OK);
  CHECK(pin != NULL && tiermem_pin_size(pin) == 3 * 65536 && counts_up(pin, 16384));
  tiermem_pin* again = NULL;
  CHECK_FAILS(tiermem_pin_request_take(request, &again), TIERMEM_EINVAL, "was taken");
  CHECK(again == NULL);
  CHECK_FAILS(tiermem_pin_poll(request), TIERMEM_EINVAL, "was taken");
  CHECK_FAILS(tiermem_pin_wait(request, UINT64_MAX), TIERMEM_EINVAL, "was taken");
  tiermem_pin_request_free(request);
  /* The pin outlives its request. */
  CHECK(counts_up(pin, 16384));
  tiermem_unpin(pin);
  pin = NULL;

  /* Resident now: the request is done when it is made. Taken without a wait. */
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 65536, kWhole, &request) ==
        TIERMEM_OK);
  CHECK(tiermem_pin_request_take(request, &pin) == TIERMEM_OK);
  tiermem_pin_request_free(request);
  /* The tensor handle may go while a request is out. */
  tiermem_tensor* copy = NULL;
  CHECK(tiermem_tensor_dup(t, &copy) == TIERMEM_OK);
  CHECK(tiermem_pin_start(copy, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) ==
        TIERMEM_OK);
  tiermem_tensor_free(copy);
  CHECK(tiermem_pin_wait(request, 10000000000ull) == TIERMEM_OK);
  tiermem_pin* whole = NULL;
  CHECK(tiermem_pin_request_take(request, &whole) == TIERMEM_OK);
  CHECK(whole != NULL && counts_up(whole, 0));
  tiermem_pin_request_free(request);
  tiermem_unpin(whole);
  tiermem_unpin(pin);
  tiermem_pool_close(pool);
}

/* Requests over a disk whose every completion comes 300 ms late: not done yet, timed out,
 * and dropped before their pins arrive, which then end without a leak. */
static void test_slow_requests(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "latency=300ms");
  if (pool == NULL) return;
  tiermem_tensor* t = counted_on_nvme(pool, 2, "slow");
  if (t == NULL) return;

  tiermem_pin_request* request = NULL;
  tiermem_pin* pin = NULL;
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) == TIERMEM_OK);
  CHECK_FAILS(tiermem_pin_poll(request), TIERMEM_EAGAIN, "under way");
  CHECK_FAILS(tiermem_pin_request_take(request, &pin), TIERMEM_EAGAIN, "under way");
  CHECK(pin == NULL);
  double start = now_s();
  CHECK_FAILS(tiermem_pin_wait(request, 20000000), TIERMEM_ETIMEDOUT, "after 20000000 ns");
  CHECK(now_s() - start >= 0.019);
  CHECK_FAILS(tiermem_pin_wait(request, 0), TIERMEM_ETIMEDOUT, "after 0 ns");
  CHECK(tiermem_pin_wait(request, UINT64_MAX) == TIERMEM_OK);
  CHECK(tiermem_pin_request_take(request, &pin) == TIERMEM_OK);
  CHECK(pin != NULL && counts_up(pin, 0));
  tiermem_pin_request_free(request);
  tiermem_unpin(pin);

  /* Dropped while its pages are still coming in: the pin arrives later and is ended for us,
   * so the tensor can be released. */
  uint64_t evicted = 0;
  CHECK(tiermem_tensor_evict(t, TIERMEM_TIER_DRAM, &evicted) == TIERMEM_OK && evicted == 2);
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) == TIERMEM_OK);
  CHECK(tiermem_pin_poll(request) == TIERMEM_EAGAIN);
  tiermem_pin_request_free(request);
  tiermem_residency pages[2];
  int arrived = 0;
  for (double deadline = now_s() + 30; !arrived && now_s() < deadline; sleep_ms(10)) {
    CHECK(tiermem_tensor_residency(t, 0, 2, pages) == TIERMEM_OK);
    arrived = (pages[0].valid & pages[1].valid & (1u << TIERMEM_TIER_DRAM)) &&
              pages[0].pins[1] == 0 && pages[1].pins[1] == 0 && !pages[0].in_flight &&
              !pages[1].in_flight;
  }
  CHECK(arrived);
  CHECK(tiermem_tensor_release(t) == TIERMEM_OK);

  /* Dropped, and the pool closed before the pin arrives: closing waits for it and ends it. */
  t = counted_on_nvme(pool, 2, "dropped at close");
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) == TIERMEM_OK);
  tiermem_pin_request_free(request);
  tiermem_pool_close(pool);
}

/* Requests over a disk whose every read fails: the error comes through the request. */
static void test_failed_requests(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "eio.read=1");
  if (pool == NULL) return;
  tiermem_tensor* t = counted_on_nvme(pool, 2, "unreadable");
  if (t == NULL) return;
  tiermem_pin_request* request = NULL;
  tiermem_pin* pin = NULL;
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) == TIERMEM_OK);
  CHECK(tiermem_pin_wait(request, UINT64_MAX) == TIERMEM_EIO);
  CHECK(strstr(tiermem_last_error(), "unreadable") != NULL ||
        strstr(tiermem_last_error(), "nvme") != NULL);
  char first[512];
  snprintf(first, sizeof first, "%s", tiermem_last_error());
  CHECK(tiermem_pin_poll(request) == TIERMEM_EIO);
  CHECK(strcmp(tiermem_last_error(), first) == 0);
  CHECK(tiermem_pin_request_take(request, &pin) == TIERMEM_EIO);
  CHECK(pin == NULL);
  tiermem_pin_request_free(request);
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &pin) == TIERMEM_EIO);
  CHECK(pin == NULL);
  /* Dropped before its failure arrives: nothing is left behind either. */
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) == TIERMEM_OK);
  tiermem_pin_request_free(request);
  tiermem_pool_close(pool);
}

/* A registered schedule: accepted, replaced, withdrawn, and refused step by step. */
static void test_schedule(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "");
  tiermem_pool* other_pool = open_pool(dir, "");
  if (pool == NULL || other_pool == NULL) return;
  const uint64_t shape[1] = {4 * 16384};
  tiermem_tensor* a = NULL;
  tiermem_tensor* b = NULL;
  tiermem_tensor* foreign = NULL;
  CHECK(tiermem_tensor_allocate(pool, shape, 1, "i32", "a", &a) == TIERMEM_OK);
  CHECK(tiermem_tensor_allocate(pool, shape, 1, "i32", "b", &b) == TIERMEM_OK);
  CHECK(tiermem_tensor_allocate(other_pool, shape, 1, "i32", "foreign", &foreign) == TIERMEM_OK);
  tiermem_schedule_step steps[2] = {{a, 0, kWhole, TIERMEM_TIER_DRAM},
                                    {b, 65536, 65536, TIERMEM_TIER_DRAM}};
  CHECK(tiermem_pool_set_schedule(pool, steps, 2) == TIERMEM_OK);
  CHECK(tiermem_pool_set_schedule(pool, steps + 1, 1) == TIERMEM_OK);
  CHECK(tiermem_pool_set_schedule(pool, NULL, 0) == TIERMEM_OK);

  steps[1].tensor = NULL;
  CHECK_FAILS(tiermem_pool_set_schedule(pool, steps, 2), TIERMEM_EINVAL,
              "schedule step 1: tensor is NULL");
  steps[1].tensor = foreign;
  CHECK_FAILS(tiermem_pool_set_schedule(pool, steps, 2), TIERMEM_EINVAL,
              "schedule step 1: the tensor is of another pool");
  steps[1].tensor = b;
  steps[1].tier = 9;
  CHECK_FAILS(tiermem_pool_set_schedule(pool, steps, 2), TIERMEM_EINVAL,
              "schedule step 1: tier 9 is not");
  steps[1].tier = TIERMEM_TIER_NVME;
  CHECK_FAILS(tiermem_pool_set_schedule(pool, steps, 2), TIERMEM_EINVAL, "nvme");
  steps[1].tier = TIERMEM_TIER_DRAM;
  steps[1].offset = 1 << 20;
  CHECK_FAILS(tiermem_pool_set_schedule(pool, steps, 2), TIERMEM_EINVAL, "beyond the end");
  steps[1].offset = 0;
  tiermem_tensor* stale = NULL;
  CHECK(tiermem_tensor_dup(b, &stale) == TIERMEM_OK);
  CHECK(tiermem_tensor_release(b) == TIERMEM_OK);
  steps[1].tensor = stale;
  CHECK(tiermem_pool_set_schedule(pool, steps, 2) == TIERMEM_ERELEASED);
  tiermem_tensor_free(stale);
  tiermem_pool_close(other_pool);
  tiermem_pool_close(pool);
}

/* A write-through tensor is on NVMe soon after a write pin ends, without a flush. */
static void test_write_through(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "");
  if (pool == NULL) return;
  const uint64_t shape[1] = {2 * 16384};
  tiermem_tensor* t = NULL;
  CHECK(tiermem_tensor_allocate_with(pool, shape, 1, "i32", "durable", TIERMEM_WRITE_THROUGH, &t) ==
        TIERMEM_OK);
  tiermem_pin* pin = NULL;
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_WRITE, 0, kWhole, &pin) == TIERMEM_OK);
  tiermem_unpin(pin);
  tiermem_residency pages[2];
  int durable = 0;
  for (double deadline = now_s() + 30; !durable && now_s() < deadline; sleep_ms(5)) {
    CHECK(tiermem_tensor_residency(t, 0, 2, pages) == TIERMEM_OK);
    durable = (pages[0].valid & pages[1].valid & (1u << TIERMEM_TIER_NVME)) && !pages[0].dirty &&
              !pages[1].dirty;
  }
  CHECK(durable);
  tiermem_pool_close(pool);
}

/* A trace recorded through the C API, with compute spans, replayed by the simulator. */
static void test_trace(const char* dir) {
  tiermem_pool* pool = open_pool(dir, "");
  if (pool == NULL) return;
  char path[512];
  snprintf(path, sizeof path, "%s/recorded.trace", dir);
  char missing[512];
  snprintf(missing, sizeof missing, "%s/no/such/dir/x.trace", dir);
  CHECK_FAILS(tiermem_pool_start_trace(pool, missing), TIERMEM_ESYSTEM, "no/such/dir");
  CHECK(tiermem_pool_stop_trace(pool) == TIERMEM_OK); /* not recording: nothing to do */
  CHECK(tiermem_compute_begin(pool) == TIERMEM_OK);
  CHECK(tiermem_compute_end(pool) == TIERMEM_OK);

  tiermem_tensor* t = counted_on_nvme(pool, 4, "t");
  CHECK(tiermem_pool_start_trace(pool, path) == TIERMEM_OK);
  CHECK_FAILS(tiermem_pool_start_trace(pool, path), TIERMEM_EBUSY, "already");
  for (int step = 0; step < 3; ++step) {
    for (uint64_t page = 0; page < 4; ++page) {
      tiermem_pin* pin = NULL;
      CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_READ, page * 65536, 65536, &pin) ==
            TIERMEM_OK);
      CHECK(tiermem_compute_begin(pool) == TIERMEM_OK);
      CHECK(tiermem_compute_end(pool) == TIERMEM_OK);
      tiermem_unpin(pin);
    }
  }
  CHECK(tiermem_pool_stop_trace(pool) == TIERMEM_OK);
  CHECK(tiermem_pool_stop_trace(pool) == TIERMEM_OK);
  tiermem_pool_close(pool);

  char result[8192];
  CHECK(tiermem_simulate(path, "{\"dram\": \"1MiB\"}", result, sizeof result) == TIERMEM_OK);
  CHECK(strstr(result, "\"accesses\":12") != NULL);
  remove(path);
}

static void test_simulate(const char* dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/loop.csv", dir);
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f == NULL) return;
  /* Three pages read in a loop, twice, through a tier of two: LRU misses all six. */
  fputs("tensor,page,op\n0,0,r\n0,1,r\n0,2,r\n0,0,r\n0,1,r\n0,2,r\n", f);
  fclose(f);
  char result[8192];
  CHECK(tiermem_simulate(path, "{\"eviction\": \"lru\", \"dram\": \"4MiB\"}", result,
                         sizeof result) == TIERMEM_OK);
  CHECK(strstr(result, "\"misses\":6") != NULL);
  CHECK(tiermem_simulate(path, NULL, result, sizeof result) == TIERMEM_OK);
  CHECK_FAILS(tiermem_simulate(path, "{\"eviction\": \"mru\"}", result, sizeof result),
              TIERMEM_ECONFIG, "'mru'");
  CHECK(tiermem_simulate(path, "{\"volume\": \"1\"}", result, sizeof result) == TIERMEM_ECONFIG);
  CHECK(tiermem_simulate(path, "{\"dram\": ", result, sizeof result) == TIERMEM_ECONFIG);
  /* Through a pool on a virtual clock, which agrees on misses. */
  CHECK(tiermem_simulate(path, "{\"dram\": \"4MiB\", \"model\": \"pool\"}", result,
                         sizeof result) == TIERMEM_OK);
  CHECK(strstr(result, "\"misses\":6") != NULL);
  CHECK(tiermem_simulate(path, "{\"model\": \"fast\"}", result, sizeof result) == TIERMEM_OK);
  CHECK_FAILS(tiermem_simulate(path, "{\"model\": \"exact\"}", result, sizeof result),
              TIERMEM_ECONFIG, "model 'exact' is not fast or pool");
  char tiny[16];
  CHECK(tiermem_simulate(path, NULL, tiny, sizeof tiny) == TIERMEM_ETRUNCATED);
  CHECK(tiermem_simulate("/nonexistent/trace", NULL, result, sizeof result) == TIERMEM_ESYSTEM);
  remove(path);
}

/* A pool on a virtual clock of 64 KiB pages, 1 MiB of dram and 256 KiB of gpu, on devices
 * whose nvme link takes 50 us and then 65.536 us for each page, and whose tensors start on
 * the modelled NVMe. */
static tiermem_pool* open_virtual_pool(int data) {
  tiermem_virtual_devices devices;
  tiermem_virtual_devices_init(&devices);
  devices.nvme.gbps = 1.0;
  devices.nvme.latency_us = 50;
  devices.nvme.queue_depth = 4;
  devices.data = data;
  devices.tensors_start_on_nvme = 1;
  tiermem_pool* pool = NULL;
  CHECK(tiermem_pool_open_virtual("{\"page_size\": \"64KiB\", \"dram.capacity\": \"1MiB\","
                                  " \"gpu.capacity\": \"256KiB\", \"nvme.capacity\": \"32MiB\"}",
                                  &devices, &pool) == TIERMEM_OK);
  return pool;
}

/* The defaults, the clock moved by hand, links refused field by field, NULLs, and the calls
 * a live pool has no clock for. */
static void test_virtual_clock(const char* dir) {
  tiermem_virtual_devices_init(NULL);
  tiermem_virtual_devices devices;
  memset(&devices, 0xff, sizeof devices);
  tiermem_virtual_devices_init(&devices);
  CHECK(devices.nvme.gbps == 2.0 && devices.nvme.write_gbps == 0 &&
        devices.nvme.latency_us == 100.0 && devices.nvme.queue_depth == 32);
  CHECK(devices.pcie.gbps == 55.0 && devices.pcie.latency_us == 10.0 &&
        devices.pcie.queue_depth == 4);
  CHECK(devices.data == 1 && devices.tensors_start_on_nvme == 0);

  tiermem_pool* pool = NULL;
  CHECK(tiermem_pool_open_virtual("{\"dram.capacity\": \"64MiB\"}", NULL, &pool) == TIERMEM_OK);
  if (pool == NULL) return;
  uint64_t ns = 7, events = 7;
  CHECK(tiermem_pool_now(pool, &ns) == TIERMEM_OK && ns == 0);
  CHECK(tiermem_pool_next_event(pool, &ns) == TIERMEM_OK && ns == UINT64_MAX);
  CHECK(tiermem_pool_advance(pool, 1000, &events) == TIERMEM_OK && events == 0);
  CHECK(tiermem_pool_advance(pool, 1000, NULL) == TIERMEM_OK);
  CHECK(tiermem_pool_now(pool, &ns) == TIERMEM_OK && ns == 1000);
  CHECK_FAILS(tiermem_pool_advance(pool, 999, &events), TIERMEM_EINVAL,
              "advance to 999 ns: the clock is already at 1000 ns");
  CHECK(events == 0);

  CHECK_FAILS(tiermem_pool_open_virtual(NULL, NULL, NULL), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_now(NULL, &ns), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_now(pool, NULL), TIERMEM_EINVAL, "ns is NULL");
  CHECK_FAILS(tiermem_pool_advance(NULL, 1, NULL), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_next_event(NULL, &ns), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_next_event(pool, NULL), TIERMEM_EINVAL, "ns is NULL");
  CHECK_FAILS(tiermem_pool_stat(NULL, "pins", &ns), TIERMEM_EINVAL, "pool is NULL");
  CHECK_FAILS(tiermem_pool_stat(pool, NULL, &ns), TIERMEM_EINVAL, "name is NULL");
  CHECK_FAILS(tiermem_pool_stat(pool, "pins", NULL), TIERMEM_EINVAL, "value is NULL");
  tiermem_pool_close(pool);
  pool = NULL;

  /* Each field of each link out of its range, named with its value and the range. */
  struct {
    int pcie;
    int field;
    double value;
    const char* message;
  } bad[] = {
      {0, 0, 0, "link nvme: gbps 0 is not in [1e-06, 1000000]"},
      {1, 0, -2, "link pcie: gbps -2 is not in [1e-06, 1000000]"},
      {0, 0, 1e7, "link nvme: gbps 10000000 is not in"},
      {1, 0, INFINITY, "link pcie: gbps inf is not in"},
      {0, 0, NAN, "link nvme: gbps nan is not in"},
      {0, 1, -1, "link nvme: write_gbps -1 is not in [0, 1000000]"},
      {1, 1, INFINITY, "link pcie: write_gbps inf is not in [0, 1000000]"},
      {0, 2, -0.5, "link nvme: latency_us -0.5 is not in [0, 1000000000]"},
      {1, 2, 2e9, "link pcie: latency_us 2000000000 is not in [0, 1000000000]"},
      {0, 3, 0, "link nvme: queue_depth 0 is not in [1, 65536]"},
      {1, 3, 65537, "link pcie: queue_depth 65537 is not in [1, 65536]"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    tiermem_virtual_devices_init(&devices);
    tiermem_link* link = bad[i].pcie ? &devices.pcie : &devices.nvme;
    switch (bad[i].field) {
      case 0:
        link->gbps = bad[i].value;
        break;
      case 1:
        link->write_gbps = bad[i].value;
        break;
      case 2:
        link->latency_us = bad[i].value;
        break;
      default:
        link->queue_depth = (uint32_t)bad[i].value;
    }
    CHECK_FAILS(tiermem_pool_open_virtual(NULL, &devices, &pool), TIERMEM_EINVAL, bad[i].message);
  }
  CHECK_FAILS(tiermem_pool_open_virtual("{\"volume\": 11}", NULL, &pool), TIERMEM_ECONFIG,
              "volume");
  CHECK_FAILS(tiermem_pool_open_virtual("{\"page_size\": \"3MiB\"}", NULL, &pool), TIERMEM_EINVAL,
              "page_size 3MiB");
  CHECK(pool == NULL);

  /* A live pool runs on the steady clock: it tells the time, and has counters, but no events. */
  tiermem_pool* live = open_pool(dir, "");
  if (live == NULL) return;
  CHECK(tiermem_pool_now(live, &ns) == TIERMEM_OK && ns > 0);
  CHECK_FAILS(tiermem_pool_advance(live, UINT64_MAX, &events), TIERMEM_EUNSUPPORTED,
              "steady clock");
  CHECK_FAILS(tiermem_pool_next_event(live, &ns), TIERMEM_EUNSUPPORTED, "steady clock");
  tiermem_tensor* t = counted_on_nvme(live, 2, "t");
  CHECK(tiermem_pool_stat(live, "moves.dram_to_nvme.pages", &ns) == TIERMEM_OK && ns == 2);
  CHECK(tiermem_pool_stat(live, "tensors", &ns) == TIERMEM_OK && ns == 1);
  CHECK(t != NULL);
  tiermem_pool_close(live);
}

/* Pin requests on a virtual clock: polls never move it, waits run it in virtual time, time
 * out leaving it at their deadline, and end when nothing can complete them; the counters, one
 * by one. */
static void test_virtual_pins(void) {
  tiermem_pool* pool = open_virtual_pool(1);
  if (pool == NULL) return;
  const uint64_t shape[1] = {4 * 65536};
  tiermem_tensor* t = NULL;
  CHECK(tiermem_tensor_allocate(pool, shape, 1, "u8", "weights", &t) == TIERMEM_OK);
  tiermem_pin_request* request = NULL;
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) == TIERMEM_OK);
  uint64_t now = 7, next = 0;
  CHECK_FAILS(tiermem_pin_poll(request), TIERMEM_EAGAIN, "under way");
  CHECK(tiermem_pool_now(pool, &now) == TIERMEM_OK && now == 0);
  /* Four pages, four deep: each is 50 us of latency and then 65536 ns of streaming, one at a
   * time, so the first arrives at 115536 ns and the last 3 * 65536 ns later. */
  CHECK(tiermem_pool_next_event(pool, &next) == TIERMEM_OK && next == 115536);
  CHECK_FAILS(tiermem_pin_wait(request, 100000), TIERMEM_ETIMEDOUT,
              "after 100000 ns of virtual time (at 100000 ns)");
  CHECK(tiermem_pool_now(pool, &now) == TIERMEM_OK && now == 100000);
  CHECK_FAILS(tiermem_pin_wait(request, 0), TIERMEM_ETIMEDOUT, "after 0 ns");
  /* Up to the third page: the waits run events, and stop short of the deadline's. */
  CHECK_FAILS(tiermem_pin_wait(request, 115536 + 2 * 65536 - 100000), TIERMEM_ETIMEDOUT, "");
  CHECK(tiermem_pool_now(pool, &now) == TIERMEM_OK && now == 115536 + 2 * 65536);
  uint64_t pages = 0;
  CHECK(tiermem_pool_stat(pool, "moves.nvme_to_dram.pages", &pages) == TIERMEM_OK && pages == 3);
  CHECK(tiermem_pin_poll(request) == TIERMEM_EAGAIN);
  CHECK(tiermem_pin_wait(request, UINT64_MAX) == TIERMEM_OK);
  CHECK(tiermem_pool_now(pool, &now) == TIERMEM_OK && now == 115536 + 3 * 65536);
  tiermem_pin* pin = NULL;
  CHECK(tiermem_pin_request_take(request, &pin) == TIERMEM_OK);
  tiermem_pin_request_free(request);
  CHECK(pin != NULL && tiermem_pin_data(pin) != NULL && tiermem_pin_size(pin) == shape[0]);
  tiermem_unpin(pin);

  uint64_t value = 0;
  CHECK(tiermem_pool_stat(pool, "moves.nvme_to_dram.bytes", &value) == TIERMEM_OK &&
        value == 4 * 65536);
  CHECK(tiermem_pool_stat(pool, "dram.misses", &value) == TIERMEM_OK && value == 4);
  CHECK(tiermem_pool_stat(pool, "pins", &value) == TIERMEM_OK && value == 1);
  CHECK_FAILS(tiermem_pool_stat(pool, "dram.nosuch", &value), TIERMEM_EINVAL,
              "stat 'dram.nosuch' is no counter");
  CHECK_FAILS(tiermem_pool_stat(pool, "gpu.backend", &value), TIERMEM_EINVAL,
              "stat 'gpu.backend' is text");
  CHECK(value == 1);
  /* Resident now: done at once, without moving the clock. */
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &request) == TIERMEM_OK);
  CHECK(tiermem_pin_wait(request, 0) == TIERMEM_OK);
  CHECK(tiermem_pool_now(pool, &now) == TIERMEM_OK && now == 115536 + 3 * 65536);
  tiermem_pin_request_free(request);

  /* Every dram frame pinned and nothing under way: a wait, even one without limit, for a pin
   * no frame can ever hold ends at once (the engine fails it) and the clock stays. */
  const uint64_t whole_dram[1] = {1 << 20};
  tiermem_tensor* big = NULL;
  CHECK(tiermem_tensor_allocate(pool, whole_dram, 1, "u8", "big", &big) == TIERMEM_OK);
  CHECK(tiermem_tensor_pin(big, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &pin) == TIERMEM_OK);
  CHECK(tiermem_pool_now(pool, &now) == TIERMEM_OK);
  CHECK(tiermem_pool_next_event(pool, &next) == TIERMEM_OK && next == UINT64_MAX);
  CHECK(tiermem_pin_start(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, 65536, &request) == TIERMEM_OK);
  CHECK_FAILS(tiermem_pin_wait(request, UINT64_MAX), TIERMEM_ETIERFULL, "are pinned");
  uint64_t later = 0;
  CHECK(tiermem_pool_now(pool, &later) == TIERMEM_OK && later == now);
  tiermem_pin_request_free(request);
  tiermem_unpin(pin);
  tiermem_pool_close(pool);
}

/* A binary trace of one tensor declared with file id `id` and `pages` pages, and one read of
 * its first page (see tiermem/trace.hpp for the layout). */
static int write_one_tensor_trace(const char* path, uint32_t id, uint32_t pages) {
  unsigned char bytes[64 + 2 * 24];
  memset(bytes, 0, sizeof bytes);
  memcpy(bytes, "TMTRACE1", 8);
  const uint32_t version = 1, header_bytes = 64, record_bytes = 24, one = 1;
  const uint64_t page_size = 4096, records = 2;
  memcpy(bytes + 8, &version, 4);
  memcpy(bytes + 12, &header_bytes, 4);
  memcpy(bytes + 16, &page_size, 8);
  memcpy(bytes + 24, &records, 8);
  memcpy(bytes + 32, &record_bytes, 4);
  unsigned char* declare = bytes + 64; /* u64 time | u32 tensor | u32 first | u32 count | kind */
  memcpy(declare + 8, &id, 4);
  memcpy(declare + 16, &pages, 4);
  declare[20] = 8;
  unsigned char* read = bytes + 88;
  memcpy(read + 8, &id, 4);
  memcpy(read + 16, &one, 4);
  read[21] = 1; /* dram */
  FILE* f = fopen(path, "wb");
  if (f == NULL) return 0;
  size_t wrote = fwrite(bytes, 1, sizeof bytes, f);
  return fclose(f) == 0 && wrote == sizeof bytes;
}

/* Issue 9: hostile trace files reach the simulator through the C API too. */
static void test_simulate_hostile_traces(const char* dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/hostile.bin", dir);
  char result[8192];
  /* Tensor id 0xFFFFFFFF once wrapped a table's size to zero and wrote beyond it. */
  CHECK(write_one_tensor_trace(path, 0xFFFFFFFFu, 2));
  CHECK(tiermem_simulate(path, "{\"dram\": \"1MiB\"}", result, sizeof result) == TIERMEM_OK);
  CHECK(strstr(result, "\"misses\":1") != NULL);
  /* A tensor of 2^31 pages once made the replay allocate about 20 GB. */
  CHECK(write_one_tensor_trace(path, 0, 1u << 31));
  CHECK(tiermem_simulate(path, "{\"dram\": \"1MiB\"}", result, sizeof result) == TIERMEM_EINVAL);
  CHECK(strstr(tiermem_last_error(), "replaying 2147483648 pages") != NULL);
  remove(path);
}

/* Issue 9: a pool refused at open names the key once, and the JSON type found and wanted. */
static void test_config_errors(void) {
  tiermem_pool* bad = NULL;
  CHECK(tiermem_pool_open("{\"page_size\": \"3MiB\"}", &bad) == TIERMEM_EINVAL);
  CHECK(strstr(tiermem_last_error(), "page_size 3MiB") != NULL);
  CHECK(tiermem_pool_open("{\"dram\": ", &bad) == TIERMEM_ECONFIG);
  CHECK(bad == NULL);
  CHECK(tiermem_pool_open("{\"dram\": {\"capacity\": true}}", &bad) == TIERMEM_ECONFIG);
  CHECK(strcmp(tiermem_last_error(),
               "<json>: dram.capacity: expected a size (a number or a string like \"256MiB\"), "
               "found a boolean") == 0);
  CHECK(tiermem_pool_open("{\"policy\": {\"eviction\": \"lru:x=1\"}}", &bad) == TIERMEM_ECONFIG);
  CHECK(strstr(tiermem_last_error(), "policy.eviction 'lru:x=1'") != NULL);
}

/* Removes every file of dir, then dir itself (no subdirectories). */
static void remove_dir(const char* dir) {
  DIR* d = opendir(dir);
  if (d == NULL) return;
  char path[600];
  for (struct dirent* e = readdir(d); e != NULL; e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Inverts the byte at offset of the file at path. */
static void flip_byte(const char* path, off_t offset) {
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  if (fd < 0) return;
  unsigned char b = 0;
  CHECK(pread(fd, &b, 1, offset) == 1);
  b = (unsigned char)~b;
  CHECK(pwrite(fd, &b, 1, offset) == 1);
  close(fd);
}

static tiermem_pool* open_persistent_pool(const char* dir) {
  char config[512];
  snprintf(config, sizeof config,
           "{\"page_size\": \"64KiB\", \"dram\": {\"capacity\": \"1MiB\"}, \"nvme\": {\"dirs\":"
           " [\"%s\"], \"capacity\": \"32MiB\", \"persistent\": true}, \"log_level\": \"error\"}",
           dir);
  tiermem_pool* pool = NULL;
  CHECK(tiermem_pool_open(config, &pool) == TIERMEM_OK);
  return pool;
}

static void test_persistent_pool(const char* base) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/persistent", base);
  CHECK(mkdir(dir, 0700) == 0);
  tiermem_pool* pool = open_persistent_pool(dir);
  if (pool == NULL) return;
  tiermem_tensor* written = counted_on_nvme(pool, 4, "weights");
  CHECK(tiermem_pool_flush(pool) == TIERMEM_OK);
  tiermem_tensor* found = NULL;
  CHECK(tiermem_pool_find(pool, "weights", &found) == TIERMEM_OK);
  CHECK(found != NULL);
  tiermem_tensor_free(found);
  found = (tiermem_tensor*)1;
  CHECK(tiermem_pool_find(pool, "absent", &found) == TIERMEM_OK);
  CHECK(found == NULL);
  CHECK_FAILS(tiermem_pool_find(pool, NULL, &found), TIERMEM_EINVAL, "name is NULL");
  CHECK_FAILS(tiermem_pool_find(NULL, "weights", &found), TIERMEM_EINVAL, "pool is NULL");
  uint64_t pages = 0;
  CHECK(tiermem_pool_verify(pool, &pages) == TIERMEM_OK);
  CHECK(pages == 4);
  CHECK(tiermem_pool_verify(pool, NULL) == TIERMEM_OK);
  tiermem_tensor_free(written);
  tiermem_pool_close(pool);

  /* Reopened: the tensor is there, whole. */
  pool = open_persistent_pool(dir);
  if (pool == NULL) return;
  found = NULL;
  CHECK(tiermem_pool_find(pool, "weights", &found) == TIERMEM_OK);
  CHECK(found != NULL);
  tiermem_pin* pin = NULL;
  if (found != NULL) {
    CHECK(tiermem_tensor_pin(found, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &pin) ==
          TIERMEM_OK);
    CHECK(pin != NULL && counts_up(pin, 0));
    tiermem_unpin(pin);
  }
  pages = 0;
  CHECK(tiermem_pool_verify(pool, &pages) == TIERMEM_OK);
  CHECK(pages == 4);
  tiermem_pool_close(pool);

  /* A damaged page (the first write of page 0 went to the first slot, at the start of the first
   * file) fails its pin and verify, naming the tensor. */
  char data[400];
  snprintf(data, sizeof data, "%s/tiermem.0.data", dir);
  flip_byte(data, 100);
  pool = open_persistent_pool(dir);
  if (pool == NULL) return;
  CHECK(tiermem_pool_find(pool, "weights", &found) == TIERMEM_OK);
  pin = NULL;
  CHECK_FAILS(tiermem_tensor_pin(found, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &pin),
              TIERMEM_ECORRUPT, "tensor 'weights'");
  CHECK(pin == NULL);
  CHECK_FAILS(tiermem_pool_verify(pool, &pages), TIERMEM_ECORRUPT, "tensor 'weights'");
  tiermem_pool_close(pool);
  remove_dir(dir);

  /* A pool that is not persistent has nothing durable to verify. */
  pool = open_pool(base, "");
  if (pool == NULL) return;
  CHECK_FAILS(tiermem_pool_verify(pool, &pages), TIERMEM_EUNSUPPORTED, "");
  tiermem_pool_close(pool);
}

/* Waits for a save to end and returns its status; its result JSON goes to result. */
static int save_and_wait(tiermem_tensor** tensors, size_t count, const char* path,
                         const char* options, char* result, size_t size) {
  tiermem_checkpoint_save* save = NULL;
  int status = tiermem_checkpoint_save_start((const tiermem_tensor* const*)tensors, count, path,
                                             options, &save);
  if (status != TIERMEM_OK) return status;
  status = tiermem_checkpoint_save_wait(save, UINT64_MAX, result, size);
  tiermem_checkpoint_save_free(save);
  return status;
}

static void test_checkpoints(const char* base) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/checkpoint", base);
  CHECK(mkdir(dir, 0700) == 0);
  char path[400];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  tiermem_pool* pool = open_pool(base, "");
  if (pool == NULL) return;
  tiermem_tensor* tensors[2] = {counted_on_nvme(pool, 2, "layer0"),
                                counted_on_nvme(pool, 1, "layer1")};
  char json[2048];

  /* Options and arguments refused at once. */
  tiermem_checkpoint_save* save = NULL;
  CHECK_FAILS(tiermem_checkpoint_save_start((const tiermem_tensor* const*)tensors, 2, path,
                                            "{\"rank\": ", &save),
              TIERMEM_ECONFIG, "not a JSON object");
  CHECK_FAILS(save_and_wait(tensors, 2, path, "{\"shards\": 2}", NULL, 0), TIERMEM_ECONFIG,
              "'shards'");
  CHECK_FAILS(save_and_wait(tensors, 2, path, "{\"rank\": \"one\"}", NULL, 0), TIERMEM_ECONFIG,
              "rank must be an integer");
  CHECK_FAILS(save_and_wait(tensors, 2, path, "{\"staging_bytes\": \"lots\"}", NULL, 0),
              TIERMEM_ECONFIG, "lots");
  CHECK_FAILS(save_and_wait(tensors, 2, path, "{\"io\": {\"engine\": \"warp\"}}", NULL, 0),
              TIERMEM_EINVAL, "warp");
  CHECK_FAILS(save_and_wait(tensors, 2, path, "{\"rank\": -1}", NULL, 0), TIERMEM_EINVAL,
              "rank = -1");
  tiermem_tensor* twice[2] = {tensors[0], tensors[0]};
  CHECK_FAILS(save_and_wait(twice, 2, path, NULL, NULL, 0), TIERMEM_EINVAL, "layer0");
  tiermem_tensor* with_null[2] = {tensors[0], NULL};
  CHECK_FAILS(save_and_wait(with_null, 2, path, NULL, NULL, 0), TIERMEM_EINVAL,
              "tensors[1] is NULL");
  CHECK_FAILS(
      tiermem_checkpoint_save_start((const tiermem_tensor* const*)tensors, 2, path, NULL, NULL),
      TIERMEM_EINVAL, "save is NULL");
  CHECK(access(path, F_OK) != 0);

  /* Saved, waited for twice (the same result), checked. */
  CHECK(tiermem_checkpoint_save_start(
            (const tiermem_tensor* const*)tensors, 2, path,
            "{\"metadata\": {\"by\": \"test_c_api\"}, \"staging_bytes\": \"1MiB\", \"io\":"
            " {\"engine\": \"psync\", \"block_size\": 65536}}",
            &save) == TIERMEM_OK);
  CHECK(tiermem_checkpoint_save_wait(save, UINT64_MAX, json, sizeof json) == TIERMEM_OK);
  CHECK(strstr(json, "\"tensors\":2") != NULL);
  CHECK(strstr(json, "model.safetensors\"]") != NULL);
  CHECK(tiermem_checkpoint_save_wait(save, 0, NULL, 0) == TIERMEM_OK);
  char tiny[8];
  CHECK_FAILS(tiermem_checkpoint_save_wait(save, 0, tiny, sizeof tiny), TIERMEM_ETRUNCATED,
              "8 bytes");
  tiermem_checkpoint_save_free(save);
  tiermem_checkpoint_save_free(NULL);
  CHECK(tiermem_checkpoint_check(path, json, sizeof json) == TIERMEM_OK);
  CHECK(strstr(json, "\"tensors\":2") != NULL);
  CHECK(strstr(json, "\"bytes\":196608") != NULL);
  CHECK(strstr(json, "\"checksums_verified\":2") != NULL);
  CHECK(tiermem_checkpoint_check(path, NULL, 0) == TIERMEM_OK);

  /* A save whose file cannot be made fails in its wait, the same way every time. */
  char bad_path[500];
  snprintf(bad_path, sizeof bad_path, "%s/not-a-directory.safetensors", path);
  CHECK(tiermem_checkpoint_save_start((const tiermem_tensor* const*)tensors, 2, bad_path, NULL,
                                      &save) == TIERMEM_OK);
  CHECK_FAILS(tiermem_checkpoint_save_wait(save, UINT64_MAX, json, sizeof json), TIERMEM_ESYSTEM,
              "not-a-directory");
  CHECK_FAILS(tiermem_checkpoint_save_wait(save, 0, json, sizeof json), TIERMEM_ESYSTEM,
              "not-a-directory");
  tiermem_checkpoint_save_free(save);
  tiermem_tensor_free(tensors[0]);
  tiermem_tensor_free(tensors[1]);
  tiermem_pool_close(pool);

  /* Opened in place in another pool: found by name, read, never written. */
  pool = open_pool(base, "");
  if (pool == NULL) return;
  size_t count = 0;
  CHECK(tiermem_checkpoint_open(pool, path, &count) == TIERMEM_OK);
  CHECK(count == 2);
  tiermem_tensor* layer0 = NULL;
  CHECK(tiermem_pool_find(pool, "layer0", &layer0) == TIERMEM_OK);
  CHECK(layer0 != NULL);
  tiermem_pin* pin = NULL;
  if (layer0 != NULL) {
    CHECK(tiermem_tensor_pin(layer0, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, kWhole, &pin) ==
          TIERMEM_OK);
    CHECK(pin != NULL && tiermem_pin_size(pin) == 131072 && counts_up(pin, 0));
    tiermem_unpin(pin);
    pin = NULL;
    CHECK_FAILS(tiermem_tensor_pin(layer0, TIERMEM_TIER_DRAM, TIERMEM_WRITE, 0, kWhole, &pin),
                TIERMEM_EINVAL, "model.safetensors");
    CHECK(pin == NULL);
    CHECK(tiermem_tensor_release(layer0) == TIERMEM_OK);
  }
  CHECK(tiermem_pool_find(pool, "layer0", &layer0) == TIERMEM_OK);
  CHECK(layer0 == NULL);

  /* Missing and damaged files. */
  char missing[400];
  snprintf(missing, sizeof missing, "%s/missing.safetensors", dir);
  CHECK_FAILS(tiermem_checkpoint_check(missing, json, sizeof json), TIERMEM_ESYSTEM,
              "missing.safetensors");
  CHECK_FAILS(tiermem_checkpoint_open(pool, missing, &count), TIERMEM_ESYSTEM,
              "missing.safetensors");
  CHECK_FAILS(tiermem_checkpoint_check(NULL, json, sizeof json), TIERMEM_EINVAL, "path is NULL");
  struct stat st;
  CHECK(stat(path, &st) == 0);
  flip_byte(path, st.st_size - 1); /* the last byte of layer1 */
  CHECK_FAILS(tiermem_checkpoint_check(path, json, sizeof json), TIERMEM_ECORRUPT, "'layer1'");
  flip_byte(path, 12); /* inside the JSON header */
  CHECK_FAILS(tiermem_checkpoint_check(path, json, sizeof json), TIERMEM_ECORRUPT,
              "model.safetensors");
  count = 7;
  CHECK_FAILS(tiermem_checkpoint_open(pool, path, &count), TIERMEM_ECORRUPT, "model.safetensors");
  CHECK(count == 7);
  tiermem_pool_close(pool);
  remove_dir(dir);
}

int main(void) {
  const char* base = getenv("TMPDIR");
  char dir[256];
  snprintf(dir, sizeof dir, "%s/tiermem-c-XXXXXX", base != NULL && *base != '\0' ? base : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_version_and_status();
  test_config_check();
  test_config_errors();
  test_null_arguments(dir);
  test_bad_values(dir);
  test_tensor(dir);
  test_stale_tensor(dir);
  test_pin_requests(dir);
  test_slow_requests(dir);
  test_failed_requests(dir);
  test_schedule(dir);
  test_write_through(dir);
  test_trace(dir);
  test_simulate(dir);
  test_simulate_hostile_traces(dir);
  test_virtual_clock(dir);
  test_virtual_pins();
  test_persistent_pool(dir);
  test_checkpoints(dir);
  rmdir(dir);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
