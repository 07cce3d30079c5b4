/* examples/simulator_embed.c: a simulator, in C, that embeds a tiermem pool on a virtual
 * clock to model three training steps of a model offloaded ZeRO-Infinity style: fp16
 * parameters on NVMe, streamed through DRAM into the GPU layer by layer for the forward and
 * backward passes; fp16 gradients written in the GPU; the optimizer's fp32 state (master
 * weights, momentum, variance) on NVMe, updated in DRAM. The pool makes the placement,
 * eviction and migration decisions; this program decides when things happen and how long
 * compute takes, and advances the pool's clock by it.
 *
 * The pool is data-less (sizes and decisions, no bytes), so the 8 GB of modelled state takes
 * a few megabytes. Everything printed is virtual time or counted bytes: two runs print the
 * same, and the pool starts no thread, which the last line shows.
 *
 *   simulator_embed   (no arguments)
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "tiermem/tiermem.h"

enum {
  kLayers = 8,
  kSteps = 3,
  kMaxPins = 5 /* pins of one layer's work, at most */
};
static const uint64_t kParamsPerLayer = 64ull << 20; /* 8 x 64 Mi parameters: a 0.5 B model */
static const double kTokensPerStep = 16384;          /* 16 sequences of 1024 tokens */
static const double kGpuTflops = 100;                /* sustained, fp16 */
static const double kCpuTflops = 0.2;                /* for the optimizer, sustained */
static const double kOptimizerFlopsPerParam = 12;    /* Adam */

/* Stops the program with the call's status and message when a call fails. */
static void check(int status, const char* call) {
  if (status != TIERMEM_OK) {
    fprintf(stderr, "%s: %s: %s\n", call, tiermem_status_name(status), tiermem_last_error());
    exit(1);
  }
}
#define CHECK(call) check((call), #call)

static uint64_t now_ns(const tiermem_pool* pool) {
  uint64_t ns = 0;
  CHECK(tiermem_pool_now(pool, &ns));
  return ns;
}

static uint64_t counter(tiermem_pool* pool, const char* name) {
  uint64_t value = 0;
  CHECK(tiermem_pool_stat(pool, name, &value));
  return value;
}

static uint64_t flops_ns(double flops, double tflops) {
  return (uint64_t)(flops / (tflops * 1e12) * 1e9);
}

/* One layer's work in a phase: the pins it needs, then its compute. */
typedef struct work {
  tiermem_tensor* tensor[kMaxPins];
  int tier[kMaxPins];
  int access[kMaxPins];
  int pins;
  uint64_t compute_ns;
} work;

static void need(work* w, tiermem_tensor* tensor, int tier, int access) {
  w->tensor[w->pins] = tensor;
  w->tier[w->pins] = tier;
  w->access[w->pins] = access;
  ++w->pins;
}

static void start(const work* w, tiermem_pin_request** requests) {
  for (int p = 0; p < w->pins; ++p) {
    CHECK(tiermem_pin_start(w->tensor[p], w->tier[p], w->access[p], 0, UINT64_MAX, &requests[p]));
  }
}

/* Runs a phase's works in order, as a training loop would: wait for this layer's pins (the
 * wait is stall), start the next layer's so that they come in while this one computes, then
 * compute, advancing the clock by the compute time. Returns the stall. */
static uint64_t run_phase(tiermem_pool* pool, const work* works, int count) {
  tiermem_pin_request* requests[2][kMaxPins];
  uint64_t stall = 0;
  start(&works[0], requests[0]);
  for (int i = 0; i < count; ++i) {
    tiermem_pin_request** mine = requests[i % 2];
    tiermem_pin* pins[kMaxPins];
    const uint64_t before = now_ns(pool);
    for (int p = 0; p < works[i].pins; ++p) {
      CHECK(tiermem_pin_wait(mine[p], UINT64_MAX));
      CHECK(tiermem_pin_request_take(mine[p], &pins[p]));
      tiermem_pin_request_free(mine[p]);
    }
    stall += now_ns(pool) - before;
    if (i + 1 < count) start(&works[i + 1], requests[(i + 1) % 2]);
    CHECK(tiermem_pool_advance(pool, now_ns(pool) + works[i].compute_ns, NULL));
    for (int p = 0; p < works[i].pins; ++p) tiermem_unpin(pins[p]);
  }
  return stall;
}

static tiermem_tensor* allocate(tiermem_pool* pool, const char* dtype, const char* kind,
                                int layer) {
  char name[64];
  snprintf(name, sizeof name, "layer%d.%s", layer, kind);
  tiermem_tensor* tensor = NULL;
  CHECK(tiermem_tensor_allocate(pool, &kParamsPerLayer, 1, dtype, name, &tensor));
  return tensor;
}

/* Bytes each link direction has moved so far, from the pool's counters. */
typedef struct moved {
  uint64_t nvme_to_dram, dram_to_nvme, dram_to_gpu, gpu_to_dram;
} moved;

static moved read_moved(tiermem_pool* pool) {
  moved m;
  m.nvme_to_dram = counter(pool, "moves.nvme_to_dram.bytes");
  m.dram_to_nvme = counter(pool, "moves.dram_to_nvme.bytes");
  m.dram_to_gpu = counter(pool, "moves.dram_to_gpu.bytes");
  m.gpu_to_dram = counter(pool, "moves.gpu_to_dram.bytes");
  return m;
}

static int thread_count(void) {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == NULL) return -1;
  for (struct dirent* e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

int main(void) {
  tiermem_virtual_devices devices;
  tiermem_virtual_devices_init(&devices);
  devices.nvme =
      (tiermem_link){.gbps = 6.0, .write_gbps = 3.0, .latency_us = 80, .queue_depth = 64};
  devices.pcie =
      (tiermem_link){.gbps = 25.0, .write_gbps = 25.0, .latency_us = 10, .queue_depth = 8};
  devices.data = 0;
  devices.tensors_start_on_nvme = 1; /* loaded from a checkpoint */
  tiermem_pool* pool = NULL;
  CHECK(
      tiermem_pool_open_virtual("{\"page_size\": \"2MiB\", \"gpu.capacity\": \"1GiB\","
                                " \"dram.capacity\": \"4GiB\", \"nvme.capacity\": \"16GiB\"}",
                                &devices, &pool));

  tiermem_tensor *params[kLayers], *grads[kLayers], *master[kLayers], *momentum[kLayers],
      *variance[kLayers];
  for (int i = 0; i < kLayers; ++i) {
    params[i] = allocate(pool, "f16", "param", i);
    grads[i] = allocate(pool, "f16", "grad", i);
    master[i] = allocate(pool, "f32", "master", i);
    momentum[i] = allocate(pool, "f32", "momentum", i);
    variance[i] = allocate(pool, "f32", "variance", i);
  }

  /* Forward reads each layer's parameters in order; backward reads them in reverse and writes
   * the gradients (2x the forward's FLOPs); the optimizer, on the CPU, reads the gradients,
   * updates its state and writes the new fp16 parameters. */
  const double forward_flops = 2.0 * (double)kParamsPerLayer * kTokensPerStep;
  work forward[kLayers] = {0}, backward[kLayers] = {0}, optimizer[kLayers] = {0};
  for (int i = 0; i < kLayers; ++i) {
    work* f = &forward[i];
    need(f, params[i], TIERMEM_TIER_GPU, TIERMEM_READ);
    f->compute_ns = flops_ns(forward_flops, kGpuTflops);
    work* b = &backward[kLayers - 1 - i];
    need(b, params[i], TIERMEM_TIER_GPU, TIERMEM_READ);
    need(b, grads[i], TIERMEM_TIER_GPU, TIERMEM_WRITE);
    b->compute_ns = flops_ns(2 * forward_flops, kGpuTflops);
    work* o = &optimizer[i];
    need(o, grads[i], TIERMEM_TIER_DRAM, TIERMEM_READ);
    need(o, master[i], TIERMEM_TIER_DRAM, TIERMEM_READ_WRITE);
    need(o, momentum[i], TIERMEM_TIER_DRAM, TIERMEM_READ_WRITE);
    need(o, variance[i], TIERMEM_TIER_DRAM, TIERMEM_READ_WRITE);
    need(o, params[i], TIERMEM_TIER_DRAM, TIERMEM_WRITE);
    o->compute_ns = flops_ns(kOptimizerFlopsPerParam * (double)kParamsPerLayer, kCpuTflops);
  }

  printf("%d layers of %" PRIu64
         " Mi parameters, %d steps of %.0f tokens; nvme %.0f/%.0f GB/s, pcie %.0f GB/s\n",
         kLayers, kParamsPerLayer >> 20, kSteps, kTokensPerStep, devices.nvme.gbps,
         devices.nvme.write_gbps, devices.pcie.gbps);
  for (int step = 0; step < kSteps; ++step) {
    const uint64_t began = now_ns(pool);
    const moved before = read_moved(pool);
    const uint64_t stall_forward = run_phase(pool, forward, kLayers);
    const uint64_t stall_backward = run_phase(pool, backward, kLayers);
    const uint64_t stall_optimizer = run_phase(pool, optimizer, kLayers);
    const moved after = read_moved(pool);
    const double nvme_to_dram = (double)(after.nvme_to_dram - before.nvme_to_dram);
    const double dram_to_nvme = (double)(after.dram_to_nvme - before.dram_to_nvme);
    const double dram_to_gpu = (double)(after.dram_to_gpu - before.dram_to_gpu);
    const double gpu_to_dram = (double)(after.gpu_to_dram - before.gpu_to_dram);
    const double ns_to_ms = 1e-6, bytes_to_mb = 1e-6;
    printf("step %d: %.1f ms, stall %.1f ms (forward %.1f, backward %.1f, optimizer %.1f)\n", step,
           (double)(now_ns(pool) - began) * ns_to_ms,
           (double)(stall_forward + stall_backward + stall_optimizer) * ns_to_ms,
           (double)stall_forward * ns_to_ms, (double)stall_backward * ns_to_ms,
           (double)stall_optimizer * ns_to_ms);
    printf("  moved MB: nvme->dram %.0f, dram->nvme %.0f, dram->gpu %.0f, gpu->dram %.0f\n",
           nvme_to_dram * bytes_to_mb, dram_to_nvme * bytes_to_mb, dram_to_gpu * bytes_to_mb,
           gpu_to_dram * bytes_to_mb);
    /* Each link direction's busy time: its bytes over its bandwidth (1 GB/s: a byte a ns). */
    printf("  transfer ms: nvme read %.1f, nvme write %.1f, pcie up %.1f, pcie down %.1f\n",
           nvme_to_dram / devices.nvme.gbps * ns_to_ms,
           dram_to_nvme / devices.nvme.write_gbps * ns_to_ms,
           dram_to_gpu / devices.pcie.gbps * ns_to_ms,
           gpu_to_dram / devices.pcie.write_gbps * ns_to_ms);
  }
  printf("dram misses %" PRIu64 ", gpu misses %" PRIu64 ", evictions dram %" PRIu64 ", gpu %" PRIu64
         "\n",
         counter(pool, "dram.misses"), counter(pool, "gpu.misses"), counter(pool, "dram.evictions"),
         counter(pool, "gpu.evictions"));
  const int threads = thread_count();
  tiermem_pool_close(pool); /* the tensor handles go with it */
  printf("threads %d\n", threads);
  return 0;
}
