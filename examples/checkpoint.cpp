// examples/checkpoint.cpp: a checkpoint written while computing continues, FastPersist
// style. The tensors are write-through: each write pin, when it ends, starts writing its pages
// to NVMe in the background; flush() then waits only for what is still under way.
//
//   checkpoint [DIR]
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tiermem/tiermem.hpp"

int main(int argc, char** argv) {
  using namespace tiermem;
  Config config;
  config.dram.capacity = 128ull << 20;
  config.nvme.capacity = 512ull << 20;
  if (argc > 1) config.nvme.dirs = {argv[1]};
  Pool pool(config);

  std::vector<Tensor> shards;
  for (int i = 0; i < 8; ++i) {
    shards.push_back(pool.allocate({8ull << 20}, DType::u8, "ckpt.shard" + std::to_string(i),
                                   {.write_through = true}));
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    Pin pin = shards[i].pin(Tier::dram, Access::write);
    std::memset(pin.data(), static_cast<int>(i), pin.size());  // serialise the model here
  }  // each shard starts on its way to NVMe as its pin ends

  // ... compute goes on here while the shards are written ...

  pool.flush();  // the checkpoint is durable when this returns
  uint64_t dirty = 0;
  for (const Tensor& shard : shards) {
    for (const PageResidency& page : shard.residency()) dirty += page.dirty;
  }
  std::printf("checkpoint of %zu shards written: %llu bytes to nvme, %llu dirty pages left\n",
              shards.size(), static_cast<unsigned long long>(pool.stats().moved_bytes[1][2]),
              static_cast<unsigned long long>(dirty));
  return dirty == 0 ? 0 : 1;
}
