// policies/lru.cpp: least recently used eviction.
#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

class Lru final : public EvictionPolicy {
 public:
  std::string_view name() const noexcept override { return "lru"; }
  void insert(const AccessEvent& event) override { list_.push_front(links_, event.page); }
  void touch(const AccessEvent& event) override { list_.move_to_front(links_, event.page); }
  void will_access(PageId page) const noexcept override { links_.prefetch(page); }
  std::optional<PageId> victim(const VictimFilter& filter) override {
    return list_.oldest(links_, filter);
  }
  void evict(PageId page) override { list_.remove(links_, page); }
  void remove(PageId page) override { list_.remove(links_, page); }
  uint64_t size() const noexcept override { return list_.size(); }

 private:
  PageLinks links_;
  PageList list_{1};
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_lru(const Params&, const Context&) {
  return std::make_unique<Lru>();
}

}  // namespace tiermem::policies
