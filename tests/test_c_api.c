/* tests/test_c_api.c: the C interface, from C: a pool, a tensor written, evicted and read back,
 * the status codes and messages of bad calls, stats, and the simulator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void test_pool(const char* dir) {
  char config[512];
  snprintf(config, sizeof config,
           "{\"page_size\": \"64KiB\", \"dram\": {\"capacity\": \"1MiB\"},"
           " \"nvme\": {\"dirs\": [\"%s\"], \"capacity\": \"32MiB\"}}",
           dir);
  tiermem_pool* pool = NULL;
  CHECK(tiermem_pool_open(config, &pool) == TIERMEM_OK);
  if (pool == NULL) return;

  tiermem_pool* bad = NULL;
  CHECK(tiermem_pool_open("{\"page_size\": \"3MiB\"}", &bad) == TIERMEM_EINVAL);
  CHECK(strstr(tiermem_last_error(), "page_size 3MiB") != NULL);
  CHECK(tiermem_pool_open("{\"dram\": ", &bad) == TIERMEM_ECONFIG);
  CHECK(bad == NULL);
  /* Issue 9: the origin once, and the JSON type found and wanted. */
  CHECK(tiermem_pool_open("{\"dram\": {\"capacity\": true}}", &bad) == TIERMEM_ECONFIG);
  CHECK(strcmp(tiermem_last_error(),
               "<json>: dram.capacity: expected a size (a number or a string like \"256MiB\"), "
               "found a boolean") == 0);
  CHECK(tiermem_pool_open("{\"policy\": {\"eviction\": \"lru:x=1\"}}", &bad) == TIERMEM_ECONFIG);
  CHECK(strstr(tiermem_last_error(), "policy.eviction 'lru:x=1'") != NULL);

  const uint64_t shape[2] = {64, 4096}; /* 1 MiB of float32: 16 pages */
  tiermem_tensor* t = NULL;
  CHECK(tiermem_tensor_allocate(pool, shape, 2, "float32", "w", &t) == TIERMEM_OK);
  CHECK(tiermem_tensor_size(t) == (1u << 20));
  tiermem_tensor* other = NULL;
  CHECK(tiermem_tensor_allocate(pool, shape, 2, "f24", "bad", &other) == TIERMEM_EINVAL);
  CHECK(strstr(tiermem_last_error(), "'f24'") != NULL);
  const uint64_t zero[1] = {0};
  CHECK(tiermem_tensor_allocate(pool, zero, 1, "u8", "empty", &other) == TIERMEM_EINVAL);

  tiermem_pin* pin = NULL;
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_WRITE, 0, UINT64_MAX, &pin) == TIERMEM_OK);
  if (pin != NULL) {
    float* values = tiermem_pin_data(pin);
    CHECK(tiermem_pin_size(pin) == (1u << 20));
    for (int i = 0; i < 64 * 4096; ++i) values[i] = (float)i;
    tiermem_unpin(pin);
  }
  uint64_t evicted = 0;
  CHECK(tiermem_tensor_evict(t, TIERMEM_TIER_DRAM, &evicted) == TIERMEM_OK);
  CHECK(evicted == 16);
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_NVME, TIERMEM_READ, 0, UINT64_MAX, &pin) ==
        TIERMEM_EINVAL);
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, 7, 0, UINT64_MAX, &pin) == TIERMEM_EINVAL);
  CHECK(tiermem_tensor_pin(t, TIERMEM_TIER_DRAM, TIERMEM_READ, 4096, 8192, &pin) == TIERMEM_OK);
  if (pin != NULL) {
    const float* values = tiermem_pin_data(pin);
    int bad_values = 0;
    for (int i = 0; i < 2048; ++i) bad_values += values[i] != (float)(1024 + i);
    CHECK(bad_values == 0);
    CHECK(tiermem_tensor_release(t) == TIERMEM_EBUSY);
    tiermem_unpin(pin);
  }

  char stats[16384];
  CHECK(tiermem_pool_stats(pool, stats, sizeof stats) == TIERMEM_OK);
  CHECK(strstr(stats, "\"dram.misses\"") != NULL);
  char tiny[8];
  CHECK(tiermem_pool_stats(pool, tiny, sizeof tiny) == TIERMEM_ETRUNCATED);
  CHECK(strlen(tiny) == 7);
  CHECK(tiermem_tensor_flush(t) == TIERMEM_OK);
  CHECK(tiermem_pool_flush(pool) == TIERMEM_OK);
  CHECK(tiermem_tensor_release(t) == TIERMEM_OK);

  /* A tensor left allocated: closing the pool frees its handle too. */
  CHECK(tiermem_tensor_allocate(pool, shape, 2, "bf16", "left", &t) == TIERMEM_OK);
  tiermem_pool_close(pool);
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
  CHECK(tiermem_simulate(path, "{\"eviction\": \"mru\"}", result, sizeof result) ==
        TIERMEM_ECONFIG);
  CHECK(strstr(tiermem_last_error(), "'mru'") != NULL);
  CHECK(tiermem_simulate(path, "{\"volume\": \"1\"}", result, sizeof result) == TIERMEM_ECONFIG);
  remove(path);
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

int main(void) {
  const char* base = getenv("TMPDIR");
  char dir[256];
  snprintf(dir, sizeof dir, "%s/tiermem-c-XXXXXX", base != NULL && *base != '\0' ? base : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_pool(dir);
  test_simulate(dir);
  test_simulate_hostile_traces(dir);
  rmdir(dir);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
