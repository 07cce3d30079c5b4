// policies/prefetch_markov.cpp: history-based prefetch: a first-order Markov model of page
// transitions. For each page it remembers up to `width` successors with saturating counts;
// on an access it proposes the likeliest successors, following the likeliest chain `depth`
// pages ahead. Tables are vectors indexed by page id: no hashing per access.
#include <algorithm>
#include <vector>

#include "policies/builtin.hpp"
#include "policies/huge_pages.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

constexpr uint32_t kNone = UINT32_MAX;

class Markov final : public PrefetchPolicy {
 public:
  Markov(uint32_t width, uint32_t depth, std::optional<uint8_t> tier)
      : width_(width), depth_(depth), tier_(tier) {}

  std::string_view name() const noexcept override { return "markov"; }
  void on_access(const AccessEvent& event, PrefetchSink& sink) override {
    if (last_ != kNever && last_ != event.page) learn(last_, event.page);
    last_ = event.page;
    // The likeliest chain, then the other successors of this page.
    const Successor* best = likeliest(event.page);
    const Successor* next = best;
    for (uint32_t step = 0; step < depth_; ++step) {
      if (next == nullptr || next->page == event.page) break;
      propose(sink, next->page, event.tier);
      if (step + 1 < depth_) next = likeliest(next->page);
    }
    if (best != nullptr && width_ > 1) {
      const Successor* slots = &table_[row(event.page)];
      for (uint32_t j = 0; j < width_; ++j) {
        if (slots[j].page != kNone && &slots[j] != best) propose(sink, slots[j].page, event.tier);
      }
    }
  }

 private:
  struct Successor {
    uint32_t page = kNone;
    uint32_t count = 0;
  };

  uint64_t row(PageId page) const { return page * width_; }

  void learn(PageId from, PageId to) {
    uint64_t base = row(from);
    if (base + width_ > table_.size()) table_.resize(base + width_ + table_.size() / 2);
    Successor* slots = &table_[base];
    Successor* weakest = slots;
    for (uint32_t j = 0; j < width_; ++j) {
      if (slots[j].page == to) {
        slots[j].count = std::min<uint32_t>(slots[j].count + 1, 1u << 16);
        return;
      }
      if (slots[j].count < weakest->count) weakest = &slots[j];
    }
    // Replace the weakest successor; the others age so that a changed pattern wins soon.
    for (uint32_t j = 0; j < width_; ++j) slots[j].count /= 2;
    *weakest = {static_cast<uint32_t>(to), 1};
  }

  const Successor* likeliest(PageId page) const {
    uint64_t base = row(page);
    if (base + width_ > table_.size()) return nullptr;
    const Successor* best = nullptr;
    for (uint32_t j = 0; j < width_; ++j) {
      const Successor& candidate = table_[base + j];
      if (candidate.page != kNone && (best == nullptr || candidate.count > best->count)) {
        best = &candidate;
      }
    }
    return best;
  }

  void propose(PrefetchSink& sink, PageId page, uint8_t tier) {
    sink.propose({page, 1, tier_.value_or(tier), kNever});
  }

  uint32_t width_;
  uint32_t depth_;
  std::optional<uint8_t> tier_;
  PageTable<Successor> table_;  // width_ slots per page id
  PageId last_ = kNever;
};

}  // namespace

std::unique_ptr<PrefetchPolicy> make_markov(const Params& params, const Context&) {
  // Read in order, so that an error lists the accepted parameters in it.
  const auto width = static_cast<uint32_t>(params.get_uint("width", 2, 1, 8));
  const auto depth = static_cast<uint32_t>(params.get_uint("depth", 2, 1, 64));
  return std::make_unique<Markov>(width, depth, param_tier(params));
}

}  // namespace tiermem::policies
