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
  rmdir(dir);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
