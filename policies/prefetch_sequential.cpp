// policies/prefetch_sequential.cpp: prefetch the next `depth` pages of the tensor accessed.
//
// Only the pages that entered the window since the last proposal for the same tensor are
// proposed, so a sequential scan costs one single-page proposal per access.
#include <algorithm>

#include "policies/builtin.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

class Sequential final : public PrefetchPolicy {
 public:
  Sequential(uint32_t depth, std::optional<uint8_t> tier) : depth_(depth), tier_(tier) {}

  std::string_view name() const noexcept override { return "sequential"; }
  void on_access(const AccessEvent& event, PrefetchSink& sink) override {
    PageId first_page = event.page - event.index;
    uint64_t end = std::min<uint64_t>(event.tensor_pages, uint64_t{event.index} + 1 + depth_);
    uint64_t begin = event.index + 1;
    if (first_page == window_tensor_ && event.index < window_end_) {
      begin = std::max<uint64_t>(begin, window_end_);
    }
    window_tensor_ = first_page;
    window_end_ = std::max<uint64_t>(end, event.index + 1);
    if (begin >= end) return;
    sink.propose({first_page + begin, static_cast<uint32_t>(end - begin),
                  tier_.value_or(event.tier), kNever});
  }

 private:
  uint32_t depth_;
  std::optional<uint8_t> tier_;
  PageId window_tensor_ = kNever;  // first page of the tensor of the last proposal
  uint64_t window_end_ = 0;        // index after the last page proposed for it
};

}  // namespace

std::unique_ptr<PrefetchPolicy> make_sequential(const Params& params, const Context&) {
  // Read in order, so that an error lists the accepted parameters in it.
  const auto depth = static_cast<uint32_t>(params.get_uint("depth", 8, 1, 1u << 20));
  return std::make_unique<Sequential>(depth, param_tier(params));
}

}  // namespace tiermem::policies
