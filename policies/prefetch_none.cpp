// policies/prefetch_none.cpp: the prefetch policy that never prefetches (the default).
#include "policies/builtin.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

class NoPrefetch final : public PrefetchPolicy {
 public:
  std::string_view name() const noexcept override { return "none"; }
  void on_access(const AccessEvent&, PrefetchSink&) override {}
};

}  // namespace

std::unique_ptr<PrefetchPolicy> make_no_prefetch(const Params&, const Context&) {
  return std::make_unique<NoPrefetch>();
}

}  // namespace tiermem::policies
