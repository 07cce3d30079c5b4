// policies/prefetch_stride.cpp: detect a constant stride between accesses to each tensor and
// prefetch `depth` strides ahead once it repeated `confirm` times, like a hardware stride
// prefetcher keyed by tensor instead of by instruction.
#include <algorithm>
#include <vector>

#include "policies/builtin.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

class Stride final : public PrefetchPolicy {
 public:
  Stride(uint32_t depth, uint32_t confirm, std::optional<uint8_t> tier)
      : depth_(depth), confirm_(confirm), tier_(tier) {}

  std::string_view name() const noexcept override { return "stride"; }
  void on_access(const AccessEvent& event, PrefetchSink& sink) override {
    if (event.tensor >= streams_.size()) streams_.resize(event.tensor + 1);
    Stream& stream = streams_[event.tensor];
    int64_t stride = int64_t{event.index} - stream.last;
    stream.last = event.index;
    if (stride == 0) return;
    if (stride != stream.stride) {
      stream.stride = stride;
      stream.seen = 0;
      return;
    }
    if (++stream.seen < confirm_) return;
    // On confirmation the whole window is new; afterwards only its far end is.
    uint32_t from = stream.seen == confirm_ ? 1 : depth_;
    PageId first_page = event.page - event.index;
    for (uint32_t k = from; k <= depth_; ++k) {
      int64_t index = int64_t{event.index} + stride * k;
      if (index < 0 || index >= int64_t{event.tensor_pages}) break;
      sink.propose(
          {first_page + static_cast<uint64_t>(index), 1, tier_.value_or(event.tier), kNever});
    }
    stream.seen = std::min(stream.seen, confirm_ + 1);
  }

 private:
  struct Stream {
    int64_t last = -1;  // index of the last access
    int64_t stride = 0;
    uint32_t seen = 0;  // consecutive repeats of stride
  };

  uint32_t depth_;
  uint32_t confirm_;
  std::optional<uint8_t> tier_;
  std::vector<Stream> streams_;  // by tensor id
};

}  // namespace

std::unique_ptr<PrefetchPolicy> make_stride(const Params& params, const Context&) {
  // Read in order, so that an error lists the accepted parameters in it.
  const auto depth = static_cast<uint32_t>(params.get_uint("depth", 4, 1, 1024));
  const auto confirm = static_cast<uint32_t>(params.get_uint("confirm", 2, 1, 64));
  return std::make_unique<Stride>(depth, confirm, param_tier(params));
}

}  // namespace tiermem::policies
