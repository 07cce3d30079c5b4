/* tests/test_dlopen.c: libtiermem.so loads with dlopen into a process that is already running
 * and was linked without it, as Python's ctypes and extension modules load it, and works there.
 * Nothing linked into the library may use initial-exec TLS: glibc has too little static TLS
 * left for it after start (see tiermem/locked_arena.hpp).
 *
 * usage: test_dlopen PATH_TO_LIBTIERMEM_SO */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct tiermem_pool tiermem_pool;
typedef struct tiermem_tensor tiermem_tensor;
typedef struct tiermem_pin tiermem_pin;

/* The C API's calls that this test makes, looked up by name. */
struct api {
  const char* (*last_error)(void);
  int (*pool_open)(const char*, tiermem_pool**);
  void (*pool_close)(tiermem_pool*);
  int (*tensor_allocate)(tiermem_pool*, const uint64_t*, size_t, const char*, const char*,
                         tiermem_tensor**);
  int (*tensor_evict)(tiermem_tensor*, int, uint64_t*);
  int (*tensor_pin)(tiermem_tensor*, int, int, uint64_t, uint64_t, tiermem_pin**);
  void* (*pin_data)(const tiermem_pin*);
  void (*unpin)(tiermem_pin*);
};

static void* symbol(void* library, const char* name) {
  void* address = dlsym(library, name);
  if (address == NULL) {
    fprintf(stderr, "test_dlopen: %s not found: %s\n", name, dlerror());
    exit(1);
  }
  return address;
}

static int fail(const struct api* api, const char* what) {
  fprintf(stderr, "test_dlopen: %s failed: %s\n", what, api->last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_dlopen PATH_TO_LIBTIERMEM_SO\n");
    return 2;
  }
  void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    fprintf(stderr, "test_dlopen: dlopen failed: %s\n", dlerror());
    return 1;
  }
  /* Function pointers from dlsym's void*, copied as bytes: ISO C has no cast between them. */
  struct api api;
#define LOAD(field, name)                           \
  do {                                              \
    void* address = symbol(library, name);          \
    memcpy(&api.field, &address, sizeof api.field); \
  } while (0)
  LOAD(last_error, "tiermem_last_error");
  LOAD(pool_open, "tiermem_pool_open");
  LOAD(pool_close, "tiermem_pool_close");
  LOAD(tensor_allocate, "tiermem_tensor_allocate");
  LOAD(tensor_evict, "tiermem_tensor_evict");
  LOAD(tensor_pin, "tiermem_tensor_pin");
  LOAD(pin_data, "tiermem_pin_data");
  LOAD(unpin, "tiermem_unpin");
#undef LOAD

  char dir[] = "/tmp/tiermem_dlopen_XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("test_dlopen: mkdtemp");
    return 1;
  }
  char config[256];
  snprintf(config, sizeof config,
           "{\"page_size\": \"64KiB\", \"dram.capacity\": \"1MiB\", \"nvme.dirs\": [\"%s\"],"
           " \"nvme.capacity\": \"8MiB\"}",
           dir);
  int status = 1;
  tiermem_pool* pool = NULL;
  tiermem_tensor* tensor = NULL;
  tiermem_pin* pin = NULL;
  const uint64_t shape[1] = {256 << 10};
  if (api.pool_open(config, &pool) != 0) {
    status = fail(&api, "tiermem_pool_open");
  } else if (api.tensor_allocate(pool, shape, 1, "u8", "t", &tensor) != 0) {
    status = fail(&api, "tiermem_tensor_allocate");
  } else if (api.tensor_pin(tensor, 1, 1, 0, UINT64_MAX, &pin) != 0) {
    status = fail(&api, "tiermem_tensor_pin for writing");
  } else {
    memset(api.pin_data(pin), 0x5a, shape[0]);
    api.unpin(pin);
    /* Out to NVMe and back: the I/O engine's threads run in the loaded library too. */
    uint64_t evicted = 0;
    if (api.tensor_evict(tensor, 1, &evicted) != 0 || evicted != 4) {
      status = fail(&api, "tiermem_tensor_evict of 4 pages");
    } else if (api.tensor_pin(tensor, 1, 0, 0, UINT64_MAX, &pin) != 0) {
      status = fail(&api, "tiermem_tensor_pin for reading");
    } else {
      const unsigned char* bytes = api.pin_data(pin);
      status = bytes[0] == 0x5a && bytes[shape[0] - 1] == 0x5a ? 0 : 1;
      if (status != 0) fprintf(stderr, "test_dlopen: the bytes read back differ\n");
      api.unpin(pin);
    }
  }
  if (pool != NULL) api.pool_close(pool);
  rmdir(dir);
  if (status == 0) printf("test_dlopen: ok\n");
  return status;
}
