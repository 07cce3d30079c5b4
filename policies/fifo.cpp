// policies/fifo.cpp: first in, first out eviction: accesses do not change the order.
#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

class Fifo final : public EvictionPolicy {
 public:
  std::string_view name() const noexcept override { return "fifo"; }
  void insert(const AccessEvent& event) override { queue_.push_front(links_, event.page); }
  void touch(const AccessEvent&) override {}
  std::optional<PageId> victim(const VictimFilter& filter) override {
    return queue_.oldest(links_, filter);
  }
  void evict(PageId page) override { queue_.remove(links_, page); }
  void remove(PageId page) override { queue_.remove(links_, page); }
  uint64_t size() const noexcept override { return queue_.size(); }

 private:
  PageLinks links_;
  PageList queue_{1};
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_fifo(const Params&, const Context&) {
  return std::make_unique<Fifo>();
}

}  // namespace tiermem::policies
