/* tests/consumers/c/main.c: a C application of an installed tiermem, built with pkg-config: a
 * pool over a directory of its own, a tensor written, evicted to NVMe and read back through a
 * pin request. */
#include <stdint.h>
#include <stdio.h>
#include <tiermem/tiermem.h>

static int failed(const char* call) {
  fprintf(stderr, "%s: %s\n", call, tiermem_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  char config[512];
  snprintf(config, sizeof config,
           "{\"page_size\": \"64KiB\", \"dram.capacity\": \"1MiB\", \"nvme.dirs\": [\"%s\"],"
           " \"nvme.capacity\": \"8MiB\"}",
           argv[1]);
  tiermem_pool* pool = NULL;
  if (tiermem_pool_open(config, &pool) != TIERMEM_OK) return failed("tiermem_pool_open");
  const uint64_t shape[2] = {4, 16384};
  tiermem_tensor* tensor = NULL;
  tiermem_pin* pin = NULL;
  tiermem_pin_request* request = NULL;
  int status = 1;
  if (tiermem_tensor_allocate(pool, shape, 2, "i32", "consumer", &tensor) != TIERMEM_OK) {
    status = failed("tiermem_tensor_allocate");
  } else if (tiermem_tensor_pin(tensor, TIERMEM_TIER_DRAM, TIERMEM_WRITE, 0, UINT64_MAX, &pin) !=
             TIERMEM_OK) {
    status = failed("tiermem_tensor_pin");
  } else {
    int32_t* values = tiermem_pin_data(pin);
    for (int32_t i = 0; i < 4 * 16384; ++i) values[i] = i;
    tiermem_unpin(pin);
    uint64_t evicted = 0;
    if (tiermem_tensor_evict(tensor, TIERMEM_TIER_DRAM, &evicted) != TIERMEM_OK || evicted != 4) {
      status = failed("tiermem_tensor_evict");
    } else if (tiermem_pin_start(tensor, TIERMEM_TIER_DRAM, TIERMEM_READ, 0, UINT64_MAX,
                                 &request) != TIERMEM_OK ||
               tiermem_pin_wait(request, UINT64_MAX) != TIERMEM_OK ||
               tiermem_pin_request_take(request, &pin) != TIERMEM_OK) {
      status = failed("a pin request");
    } else {
      const int32_t* read = tiermem_pin_data(pin);
      int bad = 0;
      for (int32_t i = 0; i < 4 * 16384; ++i) bad += read[i] != i;
      tiermem_unpin(pin);
      status = bad != 0;
      if (bad != 0) fprintf(stderr, "%d elements read back wrong\n", bad);
    }
  }
  tiermem_pin_request_free(request);
  tiermem_pool_close(pool);
  if (status == 0) printf("C consumer of tiermem %s: ok\n", tiermem_version(NULL, NULL, NULL));
  return status;
}
