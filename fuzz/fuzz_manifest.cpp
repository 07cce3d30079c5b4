// fuzz/fuzz_manifest.cpp: a persistent pool's manifest decoder (persist::decode), which reads
// whatever is on disk; what it accepts encodes back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "persist/manifest.hpp"

using namespace tiermem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const char> bytes(reinterpret_cast<const char*>(data), size);
  constexpr uint64_t kSlots = 1 << 20;
  persist::Manifest manifest;
  if (!fuzz::accepted([&] { manifest = persist::decode(bytes, "<fuzz>", kSlots); })) return 0;
  for (const persist::ManifestTensor& tensor : manifest.tensors) {
    for (const persist::ManifestPage& page : tensor.pages) {
      fuzz::require(page.slot[0] < kSlots && page.slot[1] < kSlots, "slots within the pool");
    }
  }
  const std::vector<char> again = persist::encode(manifest);
  fuzz::require(again.size() == size && std::equal(again.begin(), again.end(), bytes.begin()),
                "what decodes encodes back to the same bytes");
  return 0;
}
