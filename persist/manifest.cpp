// persist/manifest.cpp: the manifest's binary encoding, and every check made on reading it.
#include "persist/manifest.hpp"

#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "persist/checksum.hpp"
#include "tiermem/error.hpp"

namespace tiermem::persist {

namespace {

constexpr char kMagic[8] = {'t', 'i', 'e', 'r', 'm', 'a', 'n', 'i'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kMaxRank = 64;  // dimensions of a tensor

class Writer {
 public:
  template <class T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const char* p = reinterpret_cast<const char*>(&value);
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  void put_text(const std::string& text) {
    put(static_cast<uint32_t>(text.size()));
    out_.insert(out_.end(), text.begin(), text.end());
  }
  void put_checksum_since(size_t start) { put(checksum(out_.data() + start, out_.size() - start)); }
  size_t size() const { return out_.size(); }
  // Writes a length in the room reserved at `at` (by put(uint64_t{0})).
  void patch(size_t at, uint64_t value) { std::memcpy(out_.data() + at, &value, sizeof value); }
  std::vector<char> take() { return std::move(out_); }

 private:
  std::vector<char> out_;
};

class Reader {
 public:
  Reader(std::span<const char> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  // what: the part being read, for the error when the file ends inside it.
  template <class T>
  T get(const std::string& what) {
    T value;
    need(sizeof(T), what);
    std::memcpy(&value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  std::string get_text(const std::string& what) {
    const auto length = get<uint32_t>(what);
    need(length, what);
    std::string text(bytes_.data() + at_, length);
    at_ += length;
    return text;
  }
  // Checks the checksum that follows bytes [start, here).
  bool checksum_matches(size_t start, const std::string& what) {
    const uint64_t computed = checksum(bytes_.data() + start, at_ - start);
    return get<uint64_t>(what) == computed;
  }
  size_t at() const { return at_; }
  size_t left() const { return bytes_.size() - at_; }
  void need(uint64_t bytes, const std::string& what) const {
    if (bytes > left()) fail(fmt::format("it ends inside {}", what));
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::corrupt, fmt::format("manifest {} is damaged: {}", path_, what));
  }

 private:
  std::span<const char> bytes_;
  const std::string& path_;
  size_t at_ = 0;
};

void encode_tensor(Writer& out, const ManifestTensor& tensor) {
  const size_t length_at = out.size();
  out.put(uint64_t{0});  // the record's length, patched below
  const size_t start = out.size();
  out.put_text(tensor.name);
  out.put(static_cast<uint8_t>(tensor.dtype));
  out.put(static_cast<uint32_t>(tensor.shape.size()));
  for (uint64_t dim : tensor.shape) out.put(dim);
  out.put(tensor.bytes);
  out.put(tensor.generation);
  out.put(static_cast<uint64_t>(tensor.pages.size()));
  for (const ManifestPage& page : tensor.pages) {
    out.put(page.slot[0]);
    out.put(page.slot[1]);
    out.put(page.durable);
    out.put(page.checksum);
  }
  out.put_checksum_since(start);
  out.patch(length_at, out.size() - start);
}

ManifestTensor decode_tensor(Reader& in, uint64_t index, const std::string& previous,
                             const Manifest& manifest, uint64_t slot_count) {
  const std::string where = previous.empty()
                                ? fmt::format("tensor record {}", index)
                                : fmt::format("tensor record {} (after '{}')", index, previous);
  const auto length = in.get<uint64_t>(where);
  in.need(length, where);
  const size_t start = in.at();
  ManifestTensor tensor;
  tensor.name = in.get_text(where);
  const std::string named = fmt::format("tensor '{}' (record {})", tensor.name, index);
  tensor.dtype = static_cast<DType>(in.get<uint8_t>(named));
  const auto rank = in.get<uint32_t>(named);
  if (rank > kMaxRank)
    in.fail(fmt::format("{} has {} dimensions (at most {})", named, rank, kMaxRank));
  tensor.shape.resize(rank);
  for (uint64_t& dim : tensor.shape) dim = in.get<uint64_t>(named);
  tensor.bytes = in.get<uint64_t>(named);
  tensor.generation = in.get<uint64_t>(named);
  const auto pages = in.get<uint64_t>(named);
  constexpr uint64_t kPageRecord = 3 * sizeof(uint64_t) + 1;
  in.need(pages * kPageRecord, named);
  tensor.pages.resize(pages);
  for (ManifestPage& page : tensor.pages) {
    page.slot[0] = in.get<uint64_t>(named);
    page.slot[1] = in.get<uint64_t>(named);
    page.durable = in.get<uint8_t>(named);
    page.checksum = in.get<uint64_t>(named);
  }
  if (in.at() - start + sizeof(uint64_t) != length || !in.checksum_matches(start, named)) {
    in.fail(fmt::format("{} fails its checksum", named));
  }
  // A record that passes its checksum but holds impossible values was written wrong, or
  // damaged together with its checksum: either way it is not to be trusted.
  if (dtype_size(tensor.dtype) == 0) {
    in.fail(fmt::format("{} has dtype {}, which is no DType", named,
                        static_cast<unsigned>(tensor.dtype)));
  }
  uint64_t bytes = dtype_size(tensor.dtype);
  for (uint64_t dim : tensor.shape) {
    bytes = dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / dim ? 0 : bytes * dim;
  }
  const uint64_t page_size = manifest.geometry.page_size;
  if (bytes != tensor.bytes || pages != (bytes + page_size - 1) / page_size) {
    in.fail(fmt::format("{}: shape [{}] of {} does not match its {} bytes in {} pages", named,
                        fmt::join(tensor.shape, ", "), to_string(tensor.dtype), tensor.bytes,
                        pages));
  }
  for (uint64_t i = 0; i < pages; ++i) {
    const ManifestPage& page = tensor.pages[i];
    if (page.slot[0] >= slot_count || page.slot[1] >= slot_count || page.slot[0] == page.slot[1] ||
        page.durable > kNoSlot) {
      in.fail(fmt::format("{}: page {} names slots {} and {} (side {}); the pool has {} slots",
                          named, i, page.slot[0], page.slot[1], page.durable, slot_count));
    }
  }
  return tensor;
}

}  // namespace

std::vector<char> encode(const Manifest& manifest) {
  Writer out;
  for (char c : kMagic) out.put(c);
  out.put(kVersion);
  out.put(manifest.generation);
  out.put(manifest.geometry.page_size);
  out.put(manifest.geometry.capacity);
  out.put(manifest.geometry.file_size);
  out.put(manifest.geometry.stripe);
  out.put(manifest.geometry.dirs);
  out.put(static_cast<uint64_t>(manifest.tensors.size()));
  out.put_checksum_since(0);
  for (const ManifestTensor& tensor : manifest.tensors) encode_tensor(out, tensor);
  return out.take();
}

Manifest decode(std::span<const char> bytes, const std::string& path, uint64_t slot_count) {
  Reader in(bytes, path);
  for (char c : kMagic) {
    if (in.get<char>("the header") != c) in.fail("it does not start with tiermem's magic");
  }
  const auto version = in.get<uint32_t>("the header");
  if (version != kVersion) {
    throw Error(Errc::corrupt, fmt::format("manifest {} has version {}; this tiermem reads "
                                           "version {}",
                                           path, version, kVersion));
  }
  Manifest manifest;
  manifest.generation = in.get<uint64_t>("the header");
  PoolGeometry& g = manifest.geometry;
  g.page_size = in.get<uint64_t>("the header");
  g.capacity = in.get<uint64_t>("the header");
  g.file_size = in.get<uint64_t>("the header");
  g.stripe = in.get<uint64_t>("the header");
  g.dirs = in.get<uint32_t>("the header");
  const auto tensors = in.get<uint64_t>("the header");
  if (!in.checksum_matches(0, "the header")) in.fail("the header fails its checksum");
  if (g.page_size == 0 || (g.page_size & (g.page_size - 1)) != 0) {
    in.fail(fmt::format("the header's page size {} is not a power of two", g.page_size));
  }
  std::string previous;
  for (uint64_t i = 0; i < tensors; ++i) {
    manifest.tensors.push_back(decode_tensor(in, i, previous, manifest, slot_count));
    previous = manifest.tensors.back().name;
  }
  if (in.left() != 0) {
    in.fail(fmt::format("{} bytes follow the last of its {} tensor records", in.left(), tensors));
  }
  return manifest;
}

}  // namespace tiermem::persist
