// policies/two_q.cpp: 2Q eviction (Johnson and Shasha, VLDB 1994), the full version.
//
// New pages enter A1in, a FIFO of about kin x capacity pages. Pages evicted from A1in are
// remembered in A1out, a ghost FIFO of kout x capacity ids. A page that comes back while
// remembered in A1out is hot: it enters Am, an LRU list. Eviction takes from A1in while it
// is over its share, else from Am.
#include <algorithm>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

enum : uint8_t { kIn = 1, kMain = 2, kOut = 3 };

class TwoQ final : public EvictionPolicy {
 public:
  TwoQ(uint64_t in_limit, uint64_t out_limit) : in_limit_(in_limit), out_limit_(out_limit) {}

  std::string_view name() const noexcept override { return "2q"; }
  void insert(const AccessEvent& event) override {
    if (links_.list_of(event.page) == kOut) {
      out_.remove(links_, event.page);
      main_.push_front(links_, event.page);
    } else {
      in_.push_front(links_, event.page);
    }
    out_.trim(links_, out_limit_);
  }
  void touch(const AccessEvent& event) override {
    if (links_.list_of(event.page) == kMain) main_.move_to_front(links_, event.page);
  }
  std::optional<PageId> victim(const VictimFilter& filter) override {
    bool from_in = in_.size() > in_limit_ || main_.empty();
    PageList& first = from_in ? in_ : main_;
    PageList& second = from_in ? main_ : in_;
    if (auto page = first.oldest(links_, filter)) return page;
    return second.oldest(links_, filter);
  }
  void evict(PageId page) override {
    if (links_.list_of(page) == kMain) {
      main_.remove(links_, page);
      return;
    }
    in_.remove(links_, page);
    // A1out may hold one id over its limit until the next insert, which looks the incoming
    // page up before trimming: evicting for a page must not forget that very page.
    out_.push_bounded(links_, page, out_limit_);
  }
  void remove(PageId page) override {
    (links_.list_of(page) == kMain ? main_ : in_).remove(links_, page);
  }
  uint64_t size() const noexcept override { return in_.size() + main_.size(); }

 private:
  uint64_t in_limit_;
  uint64_t out_limit_;
  PageLinks links_;
  PageList in_{kIn};
  PageList main_{kMain};
  PageList out_{kOut};
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_two_q(const Params& params, const Context& context) {
  uint64_t capacity = required_capacity(params, context);
  double kin = params.get_double("kin", 0.25, 0.0, 1.0);
  double kout = params.get_double("kout", 0.5, 0.0, 8.0);
  return std::make_unique<TwoQ>(std::max<uint64_t>(1, static_cast<uint64_t>(kin * capacity)),
                                static_cast<uint64_t>(kout * capacity));
}

}  // namespace tiermem::policies
